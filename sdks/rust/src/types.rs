// Generated from openapi.json by sdks/rust/generate (typify): do not edit.
// Regenerate with `cargo run --manifest-path sdks/rust/generate/Cargo.toml`.
// `unused_comparisons`: typify checks a `minLength` of 0 (metadata values) as `< 0`.
#![allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all, unused_comparisons)]

///Run the tool call, with `updated_input` instead of its input when given.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AllowDecision {
    pub decision: AllowVerdict,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub message: ::std::option::Option<DecisionMessage>,
    ///The tool input to run instead (at most 256 KiB of JSON).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub updated_input: ::std::option::Option<
        ::serde_json::Map<::std::string::String, ::serde_json::Value>,
    >,
}
///`AllowVerdict`
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum AllowVerdict {
    #[serde(rename = "allow")]
    Allow,
}
impl ::std::fmt::Display for AllowVerdict {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Allow => f.write_str("allow"),
        }
    }
}
impl ::std::str::FromStr for AllowVerdict {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "allow" => Ok(Self::Allow),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for AllowVerdict {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for AllowVerdict {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///Answer an `AskUserQuestion` prompt: the answers become the tool's input.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AnswerDecision {
    /**Keyed by each question's text: a label, free text, or (multi-select) a list
of labels; at most 16.*/
    pub answers: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
    pub decision: AllowVerdict,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub message: ::std::option::Option<DecisionMessage>,
}
///The body of `POST /v1/tasks/{id}/approvals/{approval_id}`: allow, answer, or deny.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum ApprovalDecisionRequest {
    AllowDecision(AllowDecision),
    AnswerDecision(AnswerDecision),
    DenyDecision(DenyDecision),
}
impl ::std::convert::From<AllowDecision> for ApprovalDecisionRequest {
    fn from(value: AllowDecision) -> Self {
        Self::AllowDecision(value)
    }
}
impl ::std::convert::From<AnswerDecision> for ApprovalDecisionRequest {
    fn from(value: AnswerDecision) -> Self {
        Self::AnswerDecision(value)
    }
}
impl ::std::convert::From<DenyDecision> for ApprovalDecisionRequest {
    fn from(value: DenyDecision) -> Self {
        Self::DenyDecision(value)
    }
}
///A page of a task's permission prompts, newest first.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct ApprovalList {
    pub data: ::std::vec::Vec<ApprovalView>,
    ///The `cursor` of the next page; `null` on the last.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub next_cursor: ::std::option::Option<::std::string::String>,
}
///How a task's prompts are answered.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum ApprovalMode {
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "ask")]
    Ask,
}
impl ::std::fmt::Display for ApprovalMode {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Auto => f.write_str("auto"),
            Self::Ask => f.write_str("ask"),
        }
    }
}
impl ::std::str::FromStr for ApprovalMode {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "auto" => Ok(Self::Auto),
            "ask" => Ok(Self::Ask),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for ApprovalMode {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ApprovalMode {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///`options.approvals`.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct ApprovalOptions {
    #[doc = "Prompts these rules match are allowed without asking (CLI rule syntax:\n`Bash(git status:*)`, `Edit(src/**)`). A Bash rule matches one plain command\nonly, never a compound line."]
    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
    pub auto_allow: ::std::vec::Vec<::std::string::String>,
    /**Prompts these rules match are denied, before `auto_allow` is looked at. A Bash
rule matches when any command of a compound line does.*/
    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
    pub auto_deny: ::std::vec::Vec<::std::string::String>,
    #[serde(default = "defaults::approval_options_mode")]
    pub mode: ApprovalMode,
    ///How long an `ask` prompt waits before it is denied.
    #[serde(default = "defaults::default_u64::<i64, 600>")]
    pub timeout_seconds: i64,
}
impl ::std::default::Default for ApprovalOptions {
    fn default() -> Self {
        Self {
            auto_allow: Default::default(),
            auto_deny: Default::default(),
            mode: defaults::approval_options_mode(),
            timeout_seconds: defaults::default_u64::<i64, 600>(),
        }
    }
}
/**A rule of `options.approvals`: a tool name, or a pattern the gateway reads for
Bash, the file tools and WebFetch (`domain:HOST`); at most 64 characters here.*/
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct ApprovalRule(::std::string::String);
impl ::std::ops::Deref for ApprovalRule {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<ApprovalRule> for ::std::string::String {
    fn from(value: ApprovalRule) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for ApprovalRule {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 64usize {
            return Err("longer than 64 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        {
            ::regress::Regex::new(
                    "^(?:[A-Za-z][A-Za-z0-9_-]*|(?:Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Glob|Grep|LS)\\([^)\\x00\\n,]*[^\\s)\\x00,][^)\\x00\\n,]*\\)|WebFetch\\(domain:[^)\\x00\\n,]*[^\\s)\\x00,][^)\\x00\\n,]*\\))$",
                )
                .unwrap()
        });
        if PATTERN.find(value).is_none() {
            return Err(
                "doesn't match pattern \"^(?:[A-Za-z][A-Za-z0-9_-]*|(?:Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Glob|Grep|LS)\\([^)\\x00\\n,]*[^\\s)\\x00,][^)\\x00\\n,]*\\)|WebFetch\\(domain:[^)\\x00\\n,]*[^\\s)\\x00,][^)\\x00\\n,]*\\))$\""
                    .into(),
            );
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for ApprovalRule {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ApprovalRule {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for ApprovalRule {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///Where a prompt stands.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum ApprovalState {
    #[serde(rename = "pending")]
    Pending,
    #[serde(rename = "decided")]
    Decided,
    #[serde(rename = "expired")]
    Expired,
}
impl ::std::fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Pending => f.write_str("pending"),
            Self::Decided => f.write_str("decided"),
            Self::Expired => f.write_str("expired"),
        }
    }
}
impl ::std::str::FromStr for ApprovalState {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "pending" => Ok(Self::Pending),
            "decided" => Ok(Self::Decided),
            "expired" => Ok(Self::Expired),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for ApprovalState {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ApprovalState {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///A permission prompt as the API shows it.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct ApprovalView {
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub decided_at: ::std::option::Option<::std::string::String>,
    ///`client` or `timeout`, once decided.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub decided_by: ::std::option::Option<::std::string::String>,
    ///`allow` or `deny`, once decided.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub decision: ::std::option::Option<::std::string::String>,
    pub expires_at: ::std::string::String,
    pub id: ::std::string::String,
    ///The tool's input (withheld past 16 KiB of JSON).
    pub input: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
    ///The denial's message the model sees, or the client's note.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub message: ::std::option::Option<::std::string::String>,
    ///Why the CLI asked, when it said.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub reason: ::std::option::Option<::std::string::String>,
    pub requested_at: ::std::string::String,
    pub state: ApprovalState,
    pub task_id: ::std::string::String,
    pub tool: ::std::string::String,
    ///The task's turn it came up in.
    pub turn: i32,
    ///What the client had run instead of `input` (withheld past 16 KiB of JSON).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub updated_input: ::std::option::Option<
        ::serde_json::Map<::std::string::String, ::serde_json::Value>,
    >,
}
///`options.approvals` of a request.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsRequest {
    #[doc = "Rules in Claude Code's syntax whose prompts are allowed without asking:\n`Tool`, `Bash(prefix:*)` or `Bash(command with *)` (one plain command only, never\na compound line), `Edit(src/**)` and the other file tools (globs from the\nworkspace; `~/` the home, `//` the root), `WebFetch(domain:HOST)`. Each must name\na tool of `allowed_tools`."]
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub auto_allow: ::std::option::Option<::std::vec::Vec<ApprovalRule>>,
    /**Rules whose prompts are denied, before `auto_allow`; a Bash rule matches when
any command of a compound line does.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub auto_deny: ::std::option::Option<::std::vec::Vec<ApprovalRule>>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub mode: ::std::option::Option<ApprovalMode>,
    ///At most `tasks.max_approval_timeout_seconds` (3600 by default).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub timeout_seconds: ::std::option::Option<::std::num::NonZeroU64>,
}
///One collected file.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct Artifact {
    pub content_type: ::std::string::String,
    /**Unique within the task: the file's name, or its path with `/` as `_` when
two collected files share a name.*/
    pub name: ::std::string::String,
    ///Where it was in the workspace.
    pub path: ::std::string::String,
    pub sha256: ::std::string::String,
    pub size: i64,
}
/**A workspace glob: `*` and `?` within a segment, `**` as a whole segment; no `..`.
(The gateway also takes `{a,b}` alternatives and any characters but `\`, NUL and `[]`.)*/
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct ArtifactGlob(::std::string::String);
impl ::std::ops::Deref for ArtifactGlob {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<ArtifactGlob> for ::std::string::String {
    fn from(value: ArtifactGlob) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for ArtifactGlob {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 256usize {
            return Err("longer than 256 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        {
            ::regress::Regex::new(
                    "^(\\*\\*|(?!\\.\\.(/|$))([A-Za-z0-9._?-]|\\*(?!\\*)){1,64})(/(\\*\\*|(?!\\.\\.(/|$))([A-Za-z0-9._?-]|\\*(?!\\*)){1,64}))*$",
                )
                .unwrap()
        });
        if PATTERN.find(value).is_none() {
            return Err(
                "doesn't match pattern \"^(\\*\\*|(?!\\.\\.(/|$))([A-Za-z0-9._?-]|\\*(?!\\*)){1,64})(/(\\*\\*|(?!\\.\\.(/|$))([A-Za-z0-9._?-]|\\*(?!\\*)){1,64}))*$\""
                    .into(),
            );
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for ArtifactGlob {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ArtifactGlob {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for ArtifactGlob {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///A page of a task's artifacts, by name.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct ArtifactList {
    pub data: ::std::vec::Vec<Artifact>,
    ///The `cursor` of the next page; `null` on the last.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub next_cursor: ::std::option::Option<::std::string::String>,
}
///One audit event.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub action: ::std::string::String,
    pub at: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub client_addr: ::std::option::Option<::std::string::String>,
    ///The `X-Request-Id` the client sent, as sent.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub client_request_id: ::std::option::Option<::std::string::String>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub details: ::std::option::Option<::serde_json::Value>,
    pub id: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub key_id: ::std::option::Option<::std::string::String>,
    pub outcome: ::std::string::String,
    ///The gateway's own id of the request.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub request_id: ::std::option::Option<::std::string::String>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub target: ::std::option::Option<::std::string::String>,
}
///A page of the audit log, newest first.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct AuditPage {
    pub data: ::std::vec::Vec<AuditEvent>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub next_cursor: ::std::option::Option<::std::string::String>,
}
///A file given as base64.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Base64FileRequest {
    ///Standard base64, padded, without stray bits.
    pub content_base64: Base64FileRequestContentBase64,
    pub path: WorkspacePath,
}
///Standard base64, padded, without stray bits.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct Base64FileRequestContentBase64(::std::string::String);
impl ::std::ops::Deref for Base64FileRequestContentBase64 {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<Base64FileRequestContentBase64> for ::std::string::String {
    fn from(value: Base64FileRequestContentBase64) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for Base64FileRequestContentBase64 {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        {
            ::regress::Regex::new(
                    "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$",
                )
                .unwrap()
        });
        if PATTERN.find(value).is_none() {
            return Err(
                "doesn't match pattern \"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$\""
                    .into(),
            );
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for Base64FileRequestContentBase64 {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for Base64FileRequestContentBase64 {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for Base64FileRequestContentBase64 {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
/**What the model is told: no NUL, at most 4096 bytes (here 1024 characters, which
always fit).*/
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct DecisionMessage(::std::string::String);
impl ::std::ops::Deref for DecisionMessage {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<DecisionMessage> for ::std::string::String {
    fn from(value: DecisionMessage) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for DecisionMessage {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 1024usize {
            return Err("longer than 1024 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[^\\x00]*$").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^[^\\x00]*$\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for DecisionMessage {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for DecisionMessage {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for DecisionMessage {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///How a message reaches the task (`POST /v1/tasks/{id}/messages`).
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum Delivery {
    #[serde(rename = "next_turn")]
    NextTurn,
    #[serde(rename = "queue")]
    Queue,
    #[serde(rename = "interrupt")]
    Interrupt,
}
impl ::std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::NextTurn => f.write_str("next_turn"),
            Self::Queue => f.write_str("queue"),
            Self::Interrupt => f.write_str("interrupt"),
        }
    }
}
impl ::std::str::FromStr for Delivery {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "next_turn" => Ok(Self::NextTurn),
            "queue" => Ok(Self::Queue),
            "interrupt" => Ok(Self::Interrupt),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for Delivery {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for Delivery {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///A page of a task's webhook deliveries, newest first.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct DeliveryList {
    pub data: ::std::vec::Vec<WebhookDelivery>,
    ///The `cursor` of the next page; `null` on the last.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub next_cursor: ::std::option::Option<::std::string::String>,
}
///Make the tool call fail; the model sees `message`.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DenyDecision {
    pub decision: DenyVerdict,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub message: ::std::option::Option<DecisionMessage>,
}
///`DenyVerdict`
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum DenyVerdict {
    #[serde(rename = "deny")]
    Deny,
}
impl ::std::fmt::Display for DenyVerdict {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Deny => f.write_str("deny"),
        }
    }
}
impl ::std::str::FromStr for DenyVerdict {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "deny" => Ok(Self::Deny),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for DenyVerdict {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for DenyVerdict {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///`Environment`
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum Environment {
    #[serde(rename = "live")]
    Live,
    #[serde(rename = "test")]
    Test,
}
impl ::std::fmt::Display for Environment {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Live => f.write_str("live"),
            Self::Test => f.write_str("test"),
        }
    }
}
impl ::std::str::FromStr for Environment {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "live" => Ok(Self::Live),
            "test" => Ok(Self::Test),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for Environment {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for Environment {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///Why a task failed or was cancelled.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum ErrorKind {
    #[serde(rename = "timeout")]
    Timeout,
    #[serde(rename = "cancelled")]
    Cancelled,
    #[serde(rename = "max_turns")]
    MaxTurns,
    #[serde(rename = "agent_error")]
    AgentError,
    #[serde(rename = "agent_crashed")]
    AgentCrashed,
    #[serde(rename = "rejected_by_plugin")]
    RejectedByPlugin,
    #[serde(rename = "resource_limit")]
    ResourceLimit,
    #[serde(rename = "output_schema_mismatch")]
    OutputSchemaMismatch,
    #[serde(rename = "internal")]
    Internal,
}
impl ::std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Timeout => f.write_str("timeout"),
            Self::Cancelled => f.write_str("cancelled"),
            Self::MaxTurns => f.write_str("max_turns"),
            Self::AgentError => f.write_str("agent_error"),
            Self::AgentCrashed => f.write_str("agent_crashed"),
            Self::RejectedByPlugin => f.write_str("rejected_by_plugin"),
            Self::ResourceLimit => f.write_str("resource_limit"),
            Self::OutputSchemaMismatch => f.write_str("output_schema_mismatch"),
            Self::Internal => f.write_str("internal"),
        }
    }
}
impl ::std::str::FromStr for ErrorKind {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "timeout" => Ok(Self::Timeout),
            "cancelled" => Ok(Self::Cancelled),
            "max_turns" => Ok(Self::MaxTurns),
            "agent_error" => Ok(Self::AgentError),
            "agent_crashed" => Ok(Self::AgentCrashed),
            "rejected_by_plugin" => Ok(Self::RejectedByPlugin),
            "resource_limit" => Ok(Self::ResourceLimit),
            "output_schema_mismatch" => Ok(Self::OutputSchemaMismatch),
            "internal" => Ok(Self::Internal),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for ErrorKind {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ErrorKind {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///The body of `POST /v1/execute`: a task, and how long to wait for it.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    /**Workspace globs collected as artifacts after each turn (default: the server's;
at most `tasks.max_artifact_patterns`, 32 by default).*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub artifacts: ::std::option::Option<::std::vec::Vec<ArtifactGlob>>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub files: ::std::option::Option<::std::vec::Vec<InputFileRequest>>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub metadata: ::std::option::Option<Metadata>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub options: ::std::option::Option<TaskOptionsRequest>,
    ///Higher runs first; FIFO within a priority.
    #[serde(default = "defaults::execute_request_priority")]
    pub priority: ::std::option::Option<i32>,
    ///What the agent should do: not blank, no NUL, at most `tasks.max_prompt_bytes`.
    pub prompt: ExecuteRequestPrompt,
    /**How long to wait for the task to finish (default `tasks.default_wait_seconds`,
at most `tasks.max_wait_seconds`).*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub wait_seconds: ::std::option::Option<i64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook: ::std::option::Option<WebhookRequest>,
}
///What the agent should do: not blank, no NUL, at most `tasks.max_prompt_bytes`.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct ExecuteRequestPrompt(::std::string::String);
impl ::std::ops::Deref for ExecuteRequestPrompt {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<ExecuteRequestPrompt> for ::std::string::String {
    fn from(value: ExecuteRequestPrompt) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for ExecuteRequestPrompt {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() < 1usize {
            return Err("shorter than 1 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[^\\x00]*[^\\s\\x00][^\\x00]*$").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err(
                "doesn't match pattern \"^[^\\x00]*[^\\s\\x00][^\\x00]*$\"".into(),
            );
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for ExecuteRequestPrompt {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ExecuteRequestPrompt {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for ExecuteRequestPrompt {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///The multipart form of `POST /v1/execute`: as `TaskUpload`, with `wait_seconds` in the `task` part.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecuteUpload {
    ///A `.tar.gz`, `.tgz` or `.zip` to unpack into the workspace.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub archive: ::std::option::Option<::std::string::String>,
    pub task: ExecuteRequest,
}
///One invalid field of a request.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct FieldError {
    pub message: ::std::string::String,
    pub pointer: ::std::string::String,
}
///A page of the workspace's regular files, sorted by path.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct FileListing {
    pub data: ::std::vec::Vec<WorkspaceFile>,
    ///The `cursor` of the next page; `null` on the last (always, without `limit`).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub next_cursor: ::std::option::Option<::std::string::String>,
    ///The workspace had more entries than a listing walks.
    pub truncated: bool,
}
///The body of `POST /v1/tasks/{id}/messages`.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub delivery: ::std::option::Option<Delivery>,
    pub prompt: FollowUpRequestPrompt,
}
///`FollowUpRequestPrompt`
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct FollowUpRequestPrompt(::std::string::String);
impl ::std::ops::Deref for FollowUpRequestPrompt {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<FollowUpRequestPrompt> for ::std::string::String {
    fn from(value: FollowUpRequestPrompt) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for FollowUpRequestPrompt {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() < 1usize {
            return Err("shorter than 1 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[^\\x00]*[^\\s\\x00][^\\x00]*$").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err(
                "doesn't match pattern \"^[^\\x00]*[^\\s\\x00][^\\x00]*$\"".into(),
            );
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for FollowUpRequestPrompt {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for FollowUpRequestPrompt {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for FollowUpRequestPrompt {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///The extension points a plugin can serve.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum Hook {
    #[serde(rename = "policy")]
    Policy,
    #[serde(rename = "result")]
    Result,
    #[serde(rename = "artifacts")]
    Artifacts,
    #[serde(rename = "webhook")]
    Webhook,
    #[serde(rename = "tool_approval")]
    ToolApproval,
}
impl ::std::fmt::Display for Hook {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Policy => f.write_str("policy"),
            Self::Result => f.write_str("result"),
            Self::Artifacts => f.write_str("artifacts"),
            Self::Webhook => f.write_str("webhook"),
            Self::ToolApproval => f.write_str("tool_approval"),
        }
    }
}
impl ::std::str::FromStr for Hook {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "policy" => Ok(Self::Policy),
            "result" => Ok(Self::Result),
            "artifacts" => Ok(Self::Artifacts),
            "webhook" => Ok(Self::Webhook),
            "tool_approval" => Ok(Self::ToolApproval),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for Hook {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for Hook {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///A file placed in the workspace before the first turn: its text, or its bytes in base64.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum InputFileRequest {
    TextFileRequest(TextFileRequest),
    Base64FileRequest(Base64FileRequest),
}
impl ::std::convert::From<TextFileRequest> for InputFileRequest {
    fn from(value: TextFileRequest) -> Self {
        Self::TextFileRequest(value)
    }
}
impl ::std::convert::From<Base64FileRequest> for InputFileRequest {
    fn from(value: Base64FileRequest) -> Self {
        Self::Base64FileRequest(value)
    }
}
///A new key and its secret, shown this once.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct KeyCreated {
    ///Spending caps: past one, submits get 402 (running tasks finish).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub budget_usd_per_day: ::std::option::Option<f64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub budget_usd_per_month: ::std::option::Option<f64>,
    pub created_at: ::std::string::String,
    ///`live`, or `test`: tasks against the built-in scripted model, cost 0.
    pub environment: Environment,
    pub id: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub last_used_at: ::std::option::Option<::std::string::String>,
    pub max_concurrent_tasks: i64,
    pub max_queued_tasks: i64,
    pub name: ::std::string::String,
    ///The first characters of the secret, to recognise it.
    pub prefix: ::std::string::String,
    pub rate_limit_per_minute: i64,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub revoked_at: ::std::option::Option<::std::string::String>,
    pub scopes: ::std::vec::Vec<::std::string::String>,
    pub secret: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub spend: ::std::option::Option<KeySpend>,
    /**Token caps (input, cache and output together): past one, submits get 402 and
the model proxy refuses the key's running tasks more model requests.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub token_budget_per_day: ::std::option::Option<i64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub token_budget_per_month: ::std::option::Option<i64>,
    ///The events the default webhook receives.
    pub webhook_events: ::std::vec::Vec<::std::string::String>,
    ///Signs this key's webhooks (Standard Webhooks); shown this once.
    pub webhook_secret: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook_secret_rotated_at: ::std::option::Option<::std::string::String>,
    ///The default webhook of this key's tasks.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook_url: ::std::option::Option<::std::string::String>,
}
///A page of keys, newest first.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct KeyPage {
    pub data: ::std::vec::Vec<KeyView>,
    ///The `cursor` of the next page; `null` on the last.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub next_cursor: ::std::option::Option<::std::string::String>,
}
///The body of `POST /v1/keys`.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    ///Spending caps in US dollars (UTC day and month); past one, submits get 402.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub budget_usd_per_day: ::std::option::Option<f64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub budget_usd_per_month: ::std::option::Option<f64>,
    /**`test` makes a `ccg_test_…` key, whose tasks run against the built-in
scripted model (no upstream request, cost 0). Fixed once the key exists.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub environment: ::std::option::Option<Environment>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub max_concurrent_tasks: ::std::option::Option<::std::num::NonZeroU32>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub max_queued_tasks: ::std::option::Option<::std::num::NonZeroU32>,
    ///Not blank; at most 200 characters.
    pub name: KeyRequestName,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub rate_limit_per_minute: ::std::option::Option<::std::num::NonZeroU32>,
    ///Defaults to `["tasks"]`.
    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
    pub scopes: ::std::vec::Vec<ScopeName>,
    /**Token caps (input, cache and output together; UTC day and month): past one,
submits get 402, and the model proxy refuses the key's running tasks more.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub token_budget_per_day: ::std::option::Option<::std::num::NonZeroU64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub token_budget_per_month: ::std::option::Option<::std::num::NonZeroU64>,
    /**The events the default webhook receives (default, and with `null`:
`task.completed`, `task.failed`, `task.cancelled`); add
`task.approval_requested` to hear of permission prompts that wait.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook_events: ::std::option::Option<::std::vec::Vec<WebhookEventName>>,
    ///The default webhook of the key's tasks (those without a `webhook` of their own).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook_url: ::std::option::Option<KeyRequestWebhookUrl>,
}
///Not blank; at most 200 characters.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct KeyRequestName(::std::string::String);
impl ::std::ops::Deref for KeyRequestName {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<KeyRequestName> for ::std::string::String {
    fn from(value: KeyRequestName) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for KeyRequestName {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 200usize {
            return Err("longer than 200 characters".into());
        }
        if value.chars().count() < 1usize {
            return Err("shorter than 1 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("[^\\s]").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"[^\\s]\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for KeyRequestName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for KeyRequestName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for KeyRequestName {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///The default webhook of the key's tasks (those without a `webhook` of their own).
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct KeyRequestWebhookUrl(::std::string::String);
impl ::std::ops::Deref for KeyRequestWebhookUrl {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<KeyRequestWebhookUrl> for ::std::string::String {
    fn from(value: KeyRequestWebhookUrl) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for KeyRequestWebhookUrl {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 512usize {
            return Err("longer than 512 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[Hh][Tt][Tt][Pp][Ss]?://").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^[Hh][Tt][Tt][Pp][Ss]?://\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for KeyRequestWebhookUrl {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for KeyRequestWebhookUrl {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for KeyRequestWebhookUrl {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///A key's spending today and this month (UTC).
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct KeySpend {
    pub this_month: SpendView,
    pub today: SpendView,
}
/**The body of `PATCH /v1/keys/{id}`: the fields to change; `null` clears
`webhook_url` and the budgets, and restores the default `webhook_events`.*/
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdate {
    ///Spending caps in US dollars (UTC day and month); past one, submits get 402.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub budget_usd_per_day: ::std::option::Option<f64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub budget_usd_per_month: ::std::option::Option<f64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub max_concurrent_tasks: ::std::option::Option<::std::num::NonZeroU32>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub max_queued_tasks: ::std::option::Option<::std::num::NonZeroU32>,
    ///Not blank; at most 200 characters.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub name: ::std::option::Option<KeyUpdateName>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub rate_limit_per_minute: ::std::option::Option<::std::num::NonZeroU32>,
    ///Defaults to `["tasks"]`.
    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
    pub scopes: ::std::vec::Vec<ScopeName>,
    /**Token caps (input, cache and output together; UTC day and month): past one,
submits get 402, and the model proxy refuses the key's running tasks more.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub token_budget_per_day: ::std::option::Option<::std::num::NonZeroU64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub token_budget_per_month: ::std::option::Option<::std::num::NonZeroU64>,
    /**The events the default webhook receives (default, and with `null`:
`task.completed`, `task.failed`, `task.cancelled`); add
`task.approval_requested` to hear of permission prompts that wait.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook_events: ::std::option::Option<::std::vec::Vec<WebhookEventName>>,
    ///The default webhook of the key's tasks (those without a `webhook` of their own).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook_url: ::std::option::Option<KeyUpdateWebhookUrl>,
}
///Not blank; at most 200 characters.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct KeyUpdateName(::std::string::String);
impl ::std::ops::Deref for KeyUpdateName {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<KeyUpdateName> for ::std::string::String {
    fn from(value: KeyUpdateName) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for KeyUpdateName {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 200usize {
            return Err("longer than 200 characters".into());
        }
        if value.chars().count() < 1usize {
            return Err("shorter than 1 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("[^\\s]").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"[^\\s]\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for KeyUpdateName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for KeyUpdateName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for KeyUpdateName {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///The default webhook of the key's tasks (those without a `webhook` of their own).
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct KeyUpdateWebhookUrl(::std::string::String);
impl ::std::ops::Deref for KeyUpdateWebhookUrl {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<KeyUpdateWebhookUrl> for ::std::string::String {
    fn from(value: KeyUpdateWebhookUrl) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for KeyUpdateWebhookUrl {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 512usize {
            return Err("longer than 512 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[Hh][Tt][Tt][Pp][Ss]?://").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^[Hh][Tt][Tt][Pp][Ss]?://\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for KeyUpdateWebhookUrl {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for KeyUpdateWebhookUrl {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for KeyUpdateWebhookUrl {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///An API key, without its secret.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct KeyView {
    ///Spending caps: past one, submits get 402 (running tasks finish).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub budget_usd_per_day: ::std::option::Option<f64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub budget_usd_per_month: ::std::option::Option<f64>,
    pub created_at: ::std::string::String,
    ///`live`, or `test`: tasks against the built-in scripted model, cost 0.
    pub environment: Environment,
    pub id: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub last_used_at: ::std::option::Option<::std::string::String>,
    pub max_concurrent_tasks: i64,
    pub max_queued_tasks: i64,
    pub name: ::std::string::String,
    ///The first characters of the secret, to recognise it.
    pub prefix: ::std::string::String,
    pub rate_limit_per_minute: i64,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub revoked_at: ::std::option::Option<::std::string::String>,
    pub scopes: ::std::vec::Vec<::std::string::String>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub spend: ::std::option::Option<KeySpend>,
    /**Token caps (input, cache and output together): past one, submits get 402 and
the model proxy refuses the key's running tasks more model requests.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub token_budget_per_day: ::std::option::Option<i64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub token_budget_per_month: ::std::option::Option<i64>,
    ///The events the default webhook receives.
    pub webhook_events: ::std::vec::Vec<::std::string::String>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook_secret_rotated_at: ::std::option::Option<::std::string::String>,
    ///The default webhook of this key's tasks.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook_url: ::std::option::Option<::std::string::String>,
}
///Labels to filter lists by: at most 32 keys of 1-64 bytes, values of at most 512 bytes
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(transparent)]
pub struct Metadata(pub ::std::collections::HashMap<MetadataKey, MetadataValue>);
impl ::std::ops::Deref for Metadata {
    type Target = ::std::collections::HashMap<MetadataKey, MetadataValue>;
    fn deref(&self) -> &::std::collections::HashMap<MetadataKey, MetadataValue> {
        &self.0
    }
}
impl ::std::convert::From<Metadata>
for ::std::collections::HashMap<MetadataKey, MetadataValue> {
    fn from(value: Metadata) -> Self {
        value.0
    }
}
impl ::std::convert::From<::std::collections::HashMap<MetadataKey, MetadataValue>>
for Metadata {
    fn from(value: ::std::collections::HashMap<MetadataKey, MetadataValue>) -> Self {
        Self(value)
    }
}
///`MetadataKey`
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct MetadataKey(::std::string::String);
impl ::std::ops::Deref for MetadataKey {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<MetadataKey> for ::std::string::String {
    fn from(value: MetadataKey) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for MetadataKey {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 16usize {
            return Err("longer than 16 characters".into());
        }
        if value.chars().count() < 1usize {
            return Err("shorter than 1 characters".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for MetadataKey {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for MetadataKey {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for MetadataKey {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///`MetadataValue`
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct MetadataValue(::std::string::String);
impl ::std::ops::Deref for MetadataValue {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<MetadataValue> for ::std::string::String {
    fn from(value: MetadataValue) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for MetadataValue {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 128usize {
            return Err("longer than 128 characters".into());
        }
        if value.chars().count() < 0usize {
            return Err("shorter than 0 characters".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for MetadataValue {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for MetadataValue {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for MetadataValue {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///A page of nodes, the latest started first.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct NodeList {
    pub data: ::std::vec::Vec<NodeView>,
    ///The `cursor` of the next page; `null` on the last.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub next_cursor: ::std::option::Option<::std::string::String>,
}
///Whether a node takes work.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum NodeState {
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "draining")]
    Draining,
    #[serde(rename = "drained")]
    Drained,
    #[serde(rename = "stopping")]
    Stopping,
    #[serde(rename = "stopped")]
    Stopped,
}
impl ::std::fmt::Display for NodeState {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Active => f.write_str("active"),
            Self::Draining => f.write_str("draining"),
            Self::Drained => f.write_str("drained"),
            Self::Stopping => f.write_str("stopping"),
            Self::Stopped => f.write_str("stopped"),
        }
    }
}
impl ::std::str::FromStr for NodeState {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "active" => Ok(Self::Active),
            "draining" => Ok(Self::Draining),
            "drained" => Ok(Self::Drained),
            "stopping" => Ok(Self::Stopping),
            "stopped" => Ok(Self::Stopped),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for NodeState {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for NodeState {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
/**A node's state as the API names it: whether it takes work, stopped taking it,
or is gone. (The node's own finer account is its `phase`.)*/
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum NodeStatus {
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "draining")]
    Draining,
    #[serde(rename = "gone")]
    Gone,
}
impl ::std::fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Active => f.write_str("active"),
            Self::Draining => f.write_str("draining"),
            Self::Gone => f.write_str("gone"),
        }
    }
}
impl ::std::str::FromStr for NodeStatus {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "active" => Ok(Self::Active),
            "draining" => Ok(Self::Draining),
            "gone" => Ok(Self::Gone),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for NodeStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for NodeStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///A gateway node sharing the database.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct NodeView {
    ///`node.advertise_url`, when set.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub advertise_url: ::std::option::Option<::std::string::String>,
    /**Whether the node heartbeats: not stopped, and last seen within a lease
(`queue.lease_seconds`).*/
    pub alive: bool,
    ///When a drain was asked for (cleared by a resume).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub drain_requested_at: ::std::option::Option<::std::string::String>,
    ///The node's id, new at each start (the `node` of its runs' audit entries).
    pub id: ::std::string::String,
    pub last_seen_at: ::std::string::String,
    ///`node.name`, else the machine's hostname.
    pub name: ::std::string::String,
    /**What the node last said of itself: `active`, `draining` (its runs finish),
`drained` (nothing runs; `resume` makes it active), `stopping` (shutting
down), `stopped` (exited cleanly). A node that died keeps its last phase.*/
    pub phase: NodeState,
    ///Runs in progress, as of its last heartbeat.
    pub running: i32,
    pub started_at: ::std::string::String,
    /**`active` (alive, claims work), `draining` (alive, claims nothing: draining,
drained or shutting down; `phase` says which) or `gone` (stopped, or silent
for longer than a lease).*/
    pub state: NodeStatus,
    ///Whether this is the node that answered.
    pub this_node: bool,
    ///The gateway's version.
    pub version: ::std::string::String,
    ///`queue.workers`: 0 for a node that only answers the API.
    pub workers: i32,
}
///The plugins a caller may see.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct PluginList {
    /**`sha256:<hex>` of the whole chain in effect (names, hooks, keys, `on_error`,
component digests, configurations); for admin keys only.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub config_digest: ::std::option::Option<::std::string::String>,
    pub data: ::std::vec::Vec<PluginView>,
}
///How a plugin stands.
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum PluginState {
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "quarantined")]
    Quarantined,
}
impl ::std::fmt::Display for PluginState {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Active => f.write_str("active"),
            Self::Quarantined => f.write_str("quarantined"),
        }
    }
}
impl ::std::str::FromStr for PluginState {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "active" => Ok(Self::Active),
            "quarantined" => Ok(Self::Quarantined),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for PluginState {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for PluginState {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///What `GET /v1/plugins` shows of one plugin.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct PluginView {
    pub calls: i64,
    ///`sha256:<hex>` of the plugin's configuration in effect (the JSON it gets).
    pub config_digest: ::std::string::String,
    ///The name and version the plugin declares.
    pub declared_name: ::std::string::String,
    ///`sha256:<hex>` of the component file.
    pub digest: ::std::string::String,
    pub failures: i64,
    ///The hooks it is used for (of those it exports).
    pub hooks: ::std::vec::Vec<Hook>,
    ///Key names or ids it applies to; empty: every key.
    pub keys: ::std::vec::Vec<::std::string::String>,
    ///Its (first) hook: what kind of plugin it is.
    pub kind: Hook,
    ///The most recent failure, if any.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub last_error: ::std::option::Option<::std::string::String>,
    ///The name in the gateway config.
    pub name: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub p50_ms: ::std::option::Option<f64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub p99_ms: ::std::option::Option<f64>,
    pub path: ::std::string::String,
    pub state: PluginState,
    pub version: ::std::string::String,
}
///An error, as RFC 9457 `application/problem+json`.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct Problem {
    pub detail: ::std::string::String,
    ///Every invalid field, by JSON Pointer (validation errors only).
    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
    pub errors: ::std::vec::Vec<FieldError>,
    pub status: i32,
    pub title: ::std::string::String,
    ///`https://ccgate.dev/errors/<slug>`: the stable identifier of the error.
    #[serde(rename = "type")]
    pub type_: ::std::string::String,
}
///A key's permission: `tasks`, `admin` or `network:full` (tasks may use the open network).
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum ScopeName {
    #[serde(rename = "tasks")]
    Tasks,
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "network:full")]
    NetworkFull,
}
impl ::std::fmt::Display for ScopeName {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Tasks => f.write_str("tasks"),
            Self::Admin => f.write_str("admin"),
            Self::NetworkFull => f.write_str("network:full"),
        }
    }
}
impl ::std::str::FromStr for ScopeName {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "tasks" => Ok(Self::Tasks),
            "admin" => Ok(Self::Admin),
            "network:full" => Ok(Self::NetworkFull),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for ScopeName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ScopeName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
/**Spending over a period: tokens as the model proxy counted them, and their cost
at the gateway's `[pricing]`.*/
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct SpendView {
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub runs: i64,
}
///One Server-Sent Event of a task's stream.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct SseEvent {
    ///JSON with at least `seq`, `type`, `at` and `task_id`.
    pub data: ::std::string::String,
    /**The event type: `status`, `assistant`, `tool_use`, `tool_result`, `log`,
`result`, `error`, … and `task` (the finished task) at the end of `/v1/execute`.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub event: ::std::option::Option<::std::string::String>,
    ///The event's sequence number (send it back as `Last-Event-ID` to resume).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub id: ::std::option::Option<::std::string::String>,
}
///A snapshot for `GET /v1/plugins`.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct StatsView {
    pub calls: i64,
    pub failures: i64,
    ///The most recent failure, if any.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub last_error: ::std::option::Option<::std::string::String>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub p50_ms: ::std::option::Option<f64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub p99_ms: ::std::option::Option<f64>,
    pub state: PluginState,
}
///The `error` object of a failed or cancelled task.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct TaskError {
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub details: ::std::option::Option<::serde_json::Value>,
    pub kind: ErrorKind,
    pub message: ::std::string::String,
}
///Where to go next from a task.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct TaskLinks {
    pub approvals: ::std::string::String,
    pub archive: ::std::string::String,
    pub artifacts: ::std::string::String,
    pub cancel: ::std::string::String,
    pub events: ::std::string::String,
    pub files: ::std::string::String,
    pub messages: ::std::string::String,
    #[serde(rename = "self")]
    pub self_: ::std::string::String,
}
///Resolved options of a task: every field has its value (defaults applied).
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct TaskOptions {
    pub allowed_tools: ::std::vec::Vec<::std::string::String>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub append_system_prompt: ::std::option::Option<::std::string::String>,
    ///How the CLI's permission prompts are answered.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub approvals: ::std::option::Option<ApprovalOptions>,
    pub disallowed_tools: ::std::vec::Vec<::std::string::String>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub max_budget_usd: ::std::option::Option<f64>,
    pub max_turns: i32,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub model: ::std::option::Option<::std::string::String>,
    pub network: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub output_schema: ::std::option::Option<::serde_json::Value>,
    /**Load the workspace's own Claude Code context: `CLAUDE.md`, project settings
and hooks, `.mcp.json`. Off by default, so uploaded files never configure
or run anything by accident.*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub project_context: ::std::option::Option<bool>,
    pub timeout_seconds: i64,
}
/**Options of a task; each is optional, with defaults and caps from the server.
(The same names as `TaskOptions`; a test in `openapi` holds them together.)*/
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskOptionsRequest {
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub allowed_tools: ::std::option::Option<::std::vec::Vec<ToolRule>>,
    /**No NUL; at most `tasks.max_append_system_prompt_bytes` (32768 by default; here
in characters that always fit).*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub append_system_prompt: ::std::option::Option<
        TaskOptionsRequestAppendSystemPrompt,
    >,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub approvals: ::std::option::Option<ApprovalsRequest>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub disallowed_tools: ::std::option::Option<::std::vec::Vec<ToolRule>>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub max_budget_usd: ::std::option::Option<f64>,
    ///At most `tasks.max_max_turns` (200 by default).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub max_turns: ::std::option::Option<::std::num::NonZeroU32>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub model: ::std::option::Option<TaskOptionsRequestModel>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub network: ::std::option::Option<TaskOptionsRequestNetwork>,
    ///A JSON Schema the final answer must match.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub output_schema: ::std::option::Option<
        ::serde_json::Map<::std::string::String, ::serde_json::Value>,
    >,
    /**Load the workspace's `CLAUDE.md`, project settings and hooks, and `.mcp.json`
(default false: uploaded files configure and run nothing).*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub project_context: ::std::option::Option<bool>,
    ///At most `tasks.max_timeout_seconds` (21600 by default).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub timeout_seconds: ::std::option::Option<::std::num::NonZeroU64>,
}
/**No NUL; at most `tasks.max_append_system_prompt_bytes` (32768 by default; here
in characters that always fit).*/
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct TaskOptionsRequestAppendSystemPrompt(::std::string::String);
impl ::std::ops::Deref for TaskOptionsRequestAppendSystemPrompt {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<TaskOptionsRequestAppendSystemPrompt>
for ::std::string::String {
    fn from(value: TaskOptionsRequestAppendSystemPrompt) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for TaskOptionsRequestAppendSystemPrompt {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 8192usize {
            return Err("longer than 8192 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[^\\x00]*$").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^[^\\x00]*$\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for TaskOptionsRequestAppendSystemPrompt {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String>
for TaskOptionsRequestAppendSystemPrompt {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for TaskOptionsRequestAppendSystemPrompt {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///`TaskOptionsRequestModel`
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct TaskOptionsRequestModel(::std::string::String);
impl ::std::ops::Deref for TaskOptionsRequestModel {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<TaskOptionsRequestModel> for ::std::string::String {
    fn from(value: TaskOptionsRequestModel) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for TaskOptionsRequestModel {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[A-Za-z0-9._:/@-]{1,128}$").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^[A-Za-z0-9._:/@-]{1,128}$\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for TaskOptionsRequestModel {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for TaskOptionsRequestModel {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for TaskOptionsRequestModel {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///`TaskOptionsRequestNetwork`
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct TaskOptionsRequestNetwork(::std::string::String);
impl ::std::ops::Deref for TaskOptionsRequestNetwork {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<TaskOptionsRequestNetwork> for ::std::string::String {
    fn from(value: TaskOptionsRequestNetwork) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for TaskOptionsRequestNetwork {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^(none|allowlist|full)$").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^(none|allowlist|full)$\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for TaskOptionsRequestNetwork {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for TaskOptionsRequestNetwork {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for TaskOptionsRequestNetwork {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///A page of the key's tasks, newest first.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct TaskPage {
    pub data: ::std::vec::Vec<TaskView>,
    ///Pass as `cursor` for the next page; null on the last page.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub next_cursor: ::std::option::Option<::std::string::String>,
}
///The body of `POST /v1/tasks`. Unknown fields are refused.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /**Workspace globs collected as artifacts after each turn (default: the server's;
at most `tasks.max_artifact_patterns`, 32 by default).*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub artifacts: ::std::option::Option<::std::vec::Vec<ArtifactGlob>>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub files: ::std::option::Option<::std::vec::Vec<InputFileRequest>>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub metadata: ::std::option::Option<Metadata>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub options: ::std::option::Option<TaskOptionsRequest>,
    ///Higher runs first; FIFO within a priority.
    #[serde(default = "defaults::task_request_priority")]
    pub priority: ::std::option::Option<i32>,
    ///What the agent should do: not blank, no NUL, at most `tasks.max_prompt_bytes`.
    pub prompt: TaskRequestPrompt,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub webhook: ::std::option::Option<WebhookRequest>,
}
///What the agent should do: not blank, no NUL, at most `tasks.max_prompt_bytes`.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct TaskRequestPrompt(::std::string::String);
impl ::std::ops::Deref for TaskRequestPrompt {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<TaskRequestPrompt> for ::std::string::String {
    fn from(value: TaskRequestPrompt) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for TaskRequestPrompt {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() < 1usize {
            return Err("shorter than 1 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[^\\x00]*[^\\s\\x00][^\\x00]*$").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err(
                "doesn't match pattern \"^[^\\x00]*[^\\s\\x00][^\\x00]*$\"".into(),
            );
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for TaskRequestPrompt {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for TaskRequestPrompt {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for TaskRequestPrompt {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///What the agent produced in its last turn.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct TaskResult {
    /**What the run cost: its metered tokens at the gateway's `[pricing]` (what
budgets and spend count).*/
    pub cost_usd: f64,
    pub duration_ms: i64,
    pub num_turns: i32,
    /**True when the run was interrupted (timeout, cancel, crash): what is here is
what the agent produced until then.*/
    pub partial: bool,
    ///The cost Claude Code itself printed, kept as information only.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub reported_cost_usd: ::std::option::Option<f64>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub session_id: ::std::option::Option<::std::string::String>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub structured: ::std::option::Option<::serde_json::Value>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub text: ::std::option::Option<::std::string::String>,
    pub usage: Usage,
}
/**Where a task is in its life. Only moves forward, except that a follow-up
message moves a finished task back to `queued` for its next turn.*/
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum TaskStatus {
    #[serde(rename = "queued")]
    Queued,
    #[serde(rename = "running")]
    Running,
    #[serde(rename = "completed")]
    Completed,
    #[serde(rename = "failed")]
    Failed,
    #[serde(rename = "cancelled")]
    Cancelled,
}
impl ::std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Queued => f.write_str("queued"),
            Self::Running => f.write_str("running"),
            Self::Completed => f.write_str("completed"),
            Self::Failed => f.write_str("failed"),
            Self::Cancelled => f.write_str("cancelled"),
        }
    }
}
impl ::std::str::FromStr for TaskStatus {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "completed" => Ok(Self::Completed),
            "failed" => Ok(Self::Failed),
            "cancelled" => Ok(Self::Cancelled),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for TaskStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for TaskStatus {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///The multipart form of a task: a `task` part with its JSON and an `archive`. Any other part is a file and needs a `filename`, which is its path in the workspace (as `files[].path`).
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskUpload {
    ///A `.tar.gz`, `.tgz` or `.zip` to unpack into the workspace.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub archive: ::std::option::Option<::std::string::String>,
    pub task: TaskRequest,
}
///A task: its input, state, turns, and what the agent produced.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct TaskView {
    ///Files collected after the last turn (see `artifacts` in the request).
    pub artifacts: ::std::vec::Vec<Artifact>,
    ///When the retention policy deleted the artifacts.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub artifacts_expired_at: ::std::option::Option<::std::string::String>,
    pub attempts: i32,
    pub created_at: ::std::string::String,
    ///Its key's: `live`, or `test` (run against the built-in scripted model, cost 0).
    pub environment: Environment,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub error: ::std::option::Option<TaskError>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub finished_at: ::std::option::Option<::std::string::String>,
    pub id: ::std::string::String,
    pub links: TaskLinks,
    pub metadata: ::std::collections::HashMap<
        ::std::string::String,
        ::std::string::String,
    >,
    ///The resolved options: the request's, with the server's defaults filled in.
    pub options: TaskOptions,
    ///Permission prompts waiting for a decision (`options.approvals.mode = "ask"`).
    pub pending_approvals: ::std::vec::Vec<ApprovalView>,
    pub priority: i32,
    pub prompt: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub result: ::std::option::Option<TaskResult>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub started_at: ::std::option::Option<::std::string::String>,
    pub status: TaskStatus,
    pub turns: ::std::vec::Vec<TurnView>,
    ///When the retention policy deleted the workspace; its file endpoints answer 410.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub workspace_expired_at: ::std::option::Option<::std::string::String>,
}
///A file given as UTF-8 text.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TextFileRequest {
    pub content: ::std::string::String,
    pub path: WorkspacePath,
}
/**A tool name or permission rule (`Bash`, `Bash(git status:*)`): not blank, no
NUL, newline or comma, at most 256 bytes (here 64 characters, which always fit).*/
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct ToolRule(::std::string::String);
impl ::std::ops::Deref for ToolRule {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<ToolRule> for ::std::string::String {
    fn from(value: ToolRule) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for ToolRule {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 64usize {
            return Err("longer than 64 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[^\\x00\\n,]*[^\\s\\x00,][^\\x00\\n,]*$").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err(
                "doesn't match pattern \"^[^\\x00\\n,]*[^\\s\\x00,][^\\x00\\n,]*$\""
                    .into(),
            );
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for ToolRule {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ToolRule {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for ToolRule {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///One turn: the first prompt, or a follow-up message.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct TurnView {
    ///The Claude Code version that ran it (from its `system/init` event).
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub claude_code_version: ::std::option::Option<::std::string::String>,
    pub created_at: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub finished_at: ::std::option::Option<::std::string::String>,
    pub index: i32,
    pub prompt: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub started_at: ::std::option::Option<::std::string::String>,
    pub status: ::std::string::String,
}
/**Token usage of a run, as the model proxy counted it (as Claude Code reported it
only for unconfined runs, which hold the real credential).*/
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct Usage {
    pub cache_creation_input_tokens: i64,
    pub cache_read_input_tokens: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}
///One attempt: the receiver's status code, or the error.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct WebhookAttempt {
    pub at: ::std::string::String,
    pub duration_ms: i64,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub error: ::std::option::Option<::std::string::String>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub status_code: ::std::option::Option<i32>,
}
///One webhook delivery of a task and each attempt to make it.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct WebhookDelivery {
    pub attempts: ::std::vec::Vec<WebhookAttempt>,
    pub created_at: ::std::string::String,
    pub event_type: ::std::string::String,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub finished_at: ::std::option::Option<::std::string::String>,
    ///The `webhook-id` header, the same on every attempt.
    pub id: ::std::string::String,
    ///When the next attempt is due, while pending.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub next_attempt_at: ::std::option::Option<::std::string::String>,
    ///`pending`, `delivered`, `failed` (gave up) or `disabled` (the receiver said 410).
    pub status: ::std::string::String,
    pub url: ::std::string::String,
}
///A webhook event a task can subscribe to (`webhooks::EVENTS`; a test holds them together).
#[derive(
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd
)]
pub enum WebhookEventName {
    #[serde(rename = "task.started")]
    TaskStarted,
    #[serde(rename = "task.completed")]
    TaskCompleted,
    #[serde(rename = "task.failed")]
    TaskFailed,
    #[serde(rename = "task.cancelled")]
    TaskCancelled,
    #[serde(rename = "task.approval_requested")]
    TaskApprovalRequested,
}
impl ::std::fmt::Display for WebhookEventName {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::TaskStarted => f.write_str("task.started"),
            Self::TaskCompleted => f.write_str("task.completed"),
            Self::TaskFailed => f.write_str("task.failed"),
            Self::TaskCancelled => f.write_str("task.cancelled"),
            Self::TaskApprovalRequested => f.write_str("task.approval_requested"),
        }
    }
}
impl ::std::str::FromStr for WebhookEventName {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "task.started" => Ok(Self::TaskStarted),
            "task.completed" => Ok(Self::TaskCompleted),
            "task.failed" => Ok(Self::TaskFailed),
            "task.cancelled" => Ok(Self::TaskCancelled),
            "task.approval_requested" => Ok(Self::TaskApprovalRequested),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for WebhookEventName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for WebhookEventName {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
///A task's webhook.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /**The events to send (default: `task.completed`, `task.failed`, `task.cancelled`);
`task.approval_requested` tells of each permission prompt that waits for a
client (the payload's `data.approval` is the prompt).*/
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub events: ::std::option::Option<::std::vec::Vec<WebhookEventName>>,
    ///An http(s) URL of at most 2048 bytes.
    pub url: WebhookRequestUrl,
}
///An http(s) URL of at most 2048 bytes.
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct WebhookRequestUrl(::std::string::String);
impl ::std::ops::Deref for WebhookRequestUrl {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<WebhookRequestUrl> for ::std::string::String {
    fn from(value: WebhookRequestUrl) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for WebhookRequestUrl {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 512usize {
            return Err("longer than 512 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        { ::regress::Regex::new("^[Hh][Tt][Tt][Pp][Ss]?://").unwrap() });
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^[Hh][Tt][Tt][Pp][Ss]?://\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for WebhookRequestUrl {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for WebhookRequestUrl {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for WebhookRequestUrl {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
///A rotated webhook secret.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct WebhookSecret {
    pub webhook_secret: ::std::string::String,
}
///One file of a workspace listing.
#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]
pub struct WorkspaceFile {
    pub modified_at: ::std::string::String,
    pub path: ::std::string::String,
    pub size: i64,
}
/**A path relative to the workspace: segments of 1-63 characters (no control
characters, `/` or `\`), none `..`, not only `.` segments; at most 256 characters.
(The gateway counts bytes — 255 a segment, 1024 in all — so these always fit.)*/
#[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct WorkspacePath(::std::string::String);
impl ::std::ops::Deref for WorkspacePath {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<WorkspacePath> for ::std::string::String {
    fn from(value: WorkspacePath) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for WorkspacePath {
    type Err = self::error::ConversionError;
    fn from_str(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        if value.chars().count() > 256usize {
            return Err("longer than 256 characters".into());
        }
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> = ::std::sync::LazyLock::new(||
        {
            ::regress::Regex::new(
                    "^(?!(\\.(/|$))+$)(?!\\.\\.(/|$))[^/\\\\\\x00-\\x1f\\x7f-\\x9f]{1,63}(/(?!\\.\\.(/|$))[^/\\\\\\x00-\\x1f\\x7f-\\x9f]{1,63})*$",
                )
                .unwrap()
        });
        if PATTERN.find(value).is_none() {
            return Err(
                "doesn't match pattern \"^(?!(\\.(/|$))+$)(?!\\.\\.(/|$))[^/\\\\\\x00-\\x1f\\x7f-\\x9f]{1,63}(/(?!\\.\\.(/|$))[^/\\\\\\x00-\\x1f\\x7f-\\x9f]{1,63})*$\""
                    .into(),
            );
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for WorkspacePath {
    type Error = self::error::ConversionError;
    fn try_from(
        value: &str,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for WorkspacePath {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for WorkspacePath {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
/// Generation of default values for serde.
pub mod defaults {
    pub(super) fn default_u64<T, const V: u64>() -> T
    where
        T: ::std::convert::TryFrom<u64>,
        <T as ::std::convert::TryFrom<u64>>::Error: ::std::fmt::Debug,
    {
        T::try_from(V).unwrap()
    }
    pub(super) fn approval_options_mode() -> super::ApprovalMode {
        super::ApprovalMode::Auto
    }
    pub(super) fn execute_request_priority() -> ::std::option::Option<i32> {
        ::std::option::Option::Some(0_i32)
    }
    pub(super) fn task_request_priority() -> ::std::option::Option<i32> {
        ::std::option::Option::Some(0_i32)
    }
}
/// Error types.
pub mod error {
    /// Error from a `TryFrom` or `FromStr` implementation.
    pub struct ConversionError(::std::borrow::Cow<'static, str>);
    impl ::std::error::Error for ConversionError {}
    impl ::std::fmt::Display for ConversionError {
        fn fmt(
            &self,
            f: &mut ::std::fmt::Formatter<'_>,
        ) -> Result<(), ::std::fmt::Error> {
            ::std::fmt::Display::fmt(&self.0, f)
        }
    }
    impl ::std::fmt::Debug for ConversionError {
        fn fmt(
            &self,
            f: &mut ::std::fmt::Formatter<'_>,
        ) -> Result<(), ::std::fmt::Error> {
            ::std::fmt::Debug::fmt(&self.0, f)
        }
    }
    impl From<&'static str> for ConversionError {
        fn from(value: &'static str) -> Self {
            Self(value.into())
        }
    }
    impl From<String> for ConversionError {
        fn from(value: String) -> Self {
            Self(value.into())
        }
    }
}
