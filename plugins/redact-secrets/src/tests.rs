use super::*;
use serde_json::{Value, json};

fn redactor(config: Value) -> Redactor {
    Redactor::new(&serde_json::from_value(config).unwrap()).unwrap()
}

fn redact(text: &str) -> (String, Counts) {
    let mut counts = Counts::new();
    let out = redactor(json!({})).redact_text(text, &mut counts).unwrap_or_else(|| text.to_owned());
    (out, counts)
}

fn count(counts: &Counts, kind: &str) -> usize {
    counts.get(kind).copied().unwrap_or(0)
}

/// Assembles fake secrets at run time, so no scanner mistakes this file for a leak.
fn fake(prefix: &str, body: &str, len: usize) -> String {
    let mut s = prefix.to_owned();
    while s.len() < prefix.len() + len {
        s.push_str(body);
    }
    s.truncate(prefix.len() + len);
    s
}

#[test]
fn aws_access_key_ids() {
    let (out, c) = redact("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A.");
    assert_eq!(out, "export AWS_ACCESS_KEY_ID=[REDACTED:aws_access_key_id] and [REDACTED:aws_access_key_id].");
    assert_eq!(count(&c, "aws_access_key_id"), 2);
    // too short, lower case, or embedded in a longer word: not keys
    let text = "AKIA1234 akiaiosfodnn7example XAKIAIOSFODNN7EXAMPLE";
    assert_eq!(redact(text).0, text);
}

#[test]
fn aws_secret_access_keys_in_assignments() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    for line in [
        format!("aws_secret_access_key = {secret}"),
        format!("AWS_SECRET_ACCESS_KEY={secret}"),
        format!("\"SecretAccessKey\": \"{secret}\","),
        format!("secret_access_key: '{secret}'"),
    ] {
        let (out, c) = redact(&line);
        assert!(!out.contains(secret), "{line} -> {out}");
        assert!(out.contains("[REDACTED:aws_secret_access_key]"), "{out}");
        assert_eq!(count(&c, "aws_secret_access_key"), 1);
    }
    // 40 base64 characters alone (e.g. a git sha is 40 hex too) are not redacted
    let text = "commit 0123456789abcdef0123456789abcdef01234567";
    assert_eq!(redact(text).0, text);
}

#[test]
fn github_tokens() {
    let classic = fake("ghp_", "A1b2C3d4E5", 36);
    let oauth = fake("gho_", "zY9xW8", 36);
    let fine = fake("github_pat_", "11ABCDEFG0_xyz", 82);
    let text = format!("token {classic}\nGH_TOKEN={oauth} pat={fine}");
    let (out, c) = redact(&text);
    assert_eq!(out, "token [REDACTED:github_token]\nGH_TOKEN=[REDACTED:github_token] pat=[REDACTED:github_token]");
    assert_eq!(count(&c, "github_token"), 3);
    let text = "see ghp_short and gh_abcdefghijklmnopqrstuvwxyz0123456789";
    assert_eq!(redact(text).0, text);
}

#[test]
fn anthropic_and_openai_keys() {
    let ant = fake("sk-ant-api03-", "Ab3_-Xy9", 95);
    let oai = fake("sk-proj-", "Qw3rTy8Uiop", 120);
    let (out, c) = redact(&format!("ANTHROPIC_API_KEY={ant}\nOPENAI_API_KEY={oai}"));
    assert_eq!(out, "ANTHROPIC_API_KEY=[REDACTED:anthropic_api_key]\nOPENAI_API_KEY=[REDACTED:openai_api_key]");
    assert_eq!((count(&c, "anthropic_api_key"), count(&c, "openai_api_key")), (1, 1));
    let text = "use scikit-learn; task-1234 ran; risk-assessment-for-the-quarterly-report-2024 done";
    assert_eq!(redact(text).0, text);
}

#[test]
fn openai_kind_can_be_disabled() {
    let oai = fake("sk-", "Qw3rTy8Uiop", 48);
    let r = redactor(json!({"disabled": ["openai_api_key"]}));
    assert_eq!(r.redact_text(&oai, &mut Counts::new()), None);
}

#[test]
fn slack_tokens_and_webhooks() {
    let bot = format!("xoxb-{}-{}-{}", "1234567890", "0987654321", fake("", "AbCdEf123", 24));
    let hook = format!("https://hooks.slack.com/services/T00000000/B00000000/{}", fake("", "XxYy12", 24));
    let (out, c) = redact(&format!("bot token {bot}, post to {hook} now"));
    assert_eq!(out, "bot token [REDACTED:slack_token], post to [REDACTED:slack_webhook] now");
    assert_eq!((count(&c, "slack_token"), count(&c, "slack_webhook")), (1, 1));
    let text = "the xoxo- greeting; https://hooks.slack.com/ is the docs host";
    assert_eq!(redact(text).0, text);
}

#[test]
fn jwts() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    let (out, c) = redact(&format!("Authorization: Bearer {jwt}\n"));
    assert_eq!(out, "Authorization: Bearer [REDACTED:jwt]\n");
    assert_eq!(count(&c, "jwt"), 1);
    let text = "eyJ is how base64 JSON starts; a.b.c is not a token";
    assert_eq!(redact(text).0, text);
}

#[test]
fn pem_private_key_blocks_whole() {
    let body = fake("", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 64);
    for label in ["PRIVATE KEY", "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PGP PRIVATE KEY BLOCK"] {
        let text = format!("key:\n-----BEGIN {label}-----\n{body}\n{body}\n-----END {label}-----\ndone");
        let (out, c) = redact(&text);
        assert_eq!(out, "key:\n[REDACTED:private_key]\ndone", "{label}");
        assert_eq!(count(&c, "private_key"), 1);
    }
    // a truncated block is redacted to its end
    let (out, _) = redact(&format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n"));
    assert_eq!(out, "[REDACTED:private_key]");
    // public keys and certificates stay
    let text = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----");
    assert_eq!(redact(&text).0, text);
    let text = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----");
    assert_eq!(redact(&text).0, text);
}

#[test]
fn passwords_in_assignments() {
    let cases = [
        ("password=hunter2", "password=[REDACTED:password]"),
        ("DB_PASSWORD=s3cr3t!x y", "DB_PASSWORD=[REDACTED:password] y"),
        ("password: correct-horse", "password: [REDACTED:password]"),
        ("  smtp_password: 'p@ss w0rd'", "  smtp_password: '[REDACTED:password]'"),
        (r#"{"password": "a\"b", "user": "bob"}"#, r#"{"password": "[REDACTED:password]", "user": "bob"}"#),
        ("url?user=bob&passwd=xyz&x=1", "url?user=bob&passwd=[REDACTED:password]&x=1"),
        ("Passphrase := abc123", "Passphrase := [REDACTED:password]"),
    ];
    for (input, expected) in cases {
        assert_eq!(redact(input).0, expected, "{input}");
    }
    // placeholders and prose without a value stay
    for text in [
        "password=${DB_PASSWORD}",
        "password: <your password>",
        "password = ****",
        "password: null",
        "\"password\": \"\"",
        "Reset your password via the portal.",
        "PWD=/home/user",
    ] {
        assert_eq!(redact(text).0, text);
    }
}

#[test]
fn url_userinfo_passwords() {
    let (out, c) = redact("DATABASE_URL=postgres://app:S3cr3t%21@db.internal:5432/prod and https://user@example.com/x");
    assert_eq!(
        out,
        "DATABASE_URL=postgres://app:[REDACTED:url_password]@db.internal:5432/prod and https://user@example.com/x"
    );
    assert_eq!(count(&c, "url_password"), 1);
    let text = "https://example.com:8443/path and git@github.com:org/repo.git";
    assert_eq!(redact(text).0, text);
}

#[test]
fn ordinary_text_is_untouched() {
    let text = "Refactored the parser (see src/lib.rs:42). Tests: 120 passed. Hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08. UUID 123e4567-e89b-12d3-a456-426614174000.";
    let mut counts = Counts::new();
    assert_eq!(redactor(json!({})).redact_text(text, &mut counts), None);
    assert!(counts.is_empty());
}

#[test]
fn structured_strings_and_password_members() {
    let r = redactor(json!({}));
    let structured = r#"{"z": 1, "summary": "key AKIAIOSFODNN7EXAMPLE leaked", "config": {"db_password": "hunter2", "port": 5432},
  "list": ["plain", "token ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}"#;
    let mut counts = Counts::new();
    let out = r.redact_json(structured, &mut counts).unwrap();
    assert_eq!(
        out,
        r#"{"z": 1, "summary": "key [REDACTED:aws_access_key_id] leaked", "config": {"db_password": "[REDACTED:password]", "port": 5432},
  "list": ["plain", "token [REDACTED:github_token]"]}"#
    );
    assert_eq!(counts.values().sum::<usize>(), 3);
    assert_eq!(r.redact_json(r#"{"a": "b", "password_hint": 3}"#, &mut Counts::new()), None);
}

#[test]
fn structured_pem_inside_a_json_string() {
    let r = redactor(json!({}));
    let structured = json!({"key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"}).to_string();
    let out = r.redact_json(&structured, &mut Counts::new()).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!({"key": "[REDACTED:private_key]\n"}));
}

#[test]
fn result_fields_and_counts() {
    let r = redactor(json!({"replacement": "***{kind}***"}));
    let result = TaskResult {
        text: Some("AKIAIOSFODNN7EXAMPLE".into()),
        structured: Some(r#"{"p":"password=x1"}"#.into()),
        session_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        num_turns: 2,
        usage: Usage { input_tokens: 1, output_tokens: 2, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
        cost_usd: 0.5,
        duration_ms: 10,
        partial: false,
    };
    let (out, counts) = r.redact_result(result);
    assert_eq!(out.text.as_deref(), Some("***aws_access_key_id***"));
    assert_eq!(out.structured.as_deref(), Some(r#"{"p":"password=***password***"}"#));
    assert_eq!(out.session_id.as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(counts, Counts::from([("aws_access_key_id".into(), 1), ("password".into(), 1)]));
}

#[test]
fn extra_patterns_and_secret_groups() {
    let r = redactor(json!({"extra_patterns": [
        {"name": "acme_token", "pattern": "acme_[0-9a-f]{16}"},
        {"name": "pin", "pattern": "PIN (?P<secret>[0-9]{4})"}
    ]}));
    let mut counts = Counts::new();
    let out = r.redact_text("t=acme_0123456789abcdef PIN 1234", &mut counts).unwrap();
    assert_eq!(out, "t=[REDACTED:acme_token] PIN [REDACTED:pin]");
}

#[test]
fn check_config_reports_problems() {
    let config: Config = serde_json::from_value(json!({
        "disabled": ["jwt", "nope"],
        "extra_patterns": [{"name": "", "pattern": "("}, {"name": "e", "pattern": "a*"}]
    }))
    .unwrap();
    let v = RedactSecrets::check_config(&config);
    let p: Vec<_> = v.iter().map(|v| v.pointer.as_str()).collect();
    assert_eq!(p, ["/disabled/1", "/extra_patterns/0/name", "/extra_patterns/0/pattern", "/extra_patterns/1/pattern"]);
    assert!(RedactSecrets::check_config(&Config::default()).is_empty());
}

#[test]
fn schema_lists_every_builtin_kind() {
    let schema: Value = serde_json::from_str(RedactSecrets::config_schema().unwrap()).unwrap();
    let kinds: Vec<&str> = schema["properties"]["disabled"]["items"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(kinds, BUILTIN.iter().map(|(k, _)| *k).collect::<Vec<_>>());
    assert_eq!(schema["additionalProperties"], false);
}
