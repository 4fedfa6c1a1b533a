# Generated from openapi.json by sdks/python/generate.sh: do not edit.

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, RootModel, StringConstraints
from typing_extensions import TypeAliasType


class AllowVerdict(StrEnum):
    allow = "allow"


class ApprovalMode(StrEnum):
    auto = "auto"
    ask = "ask"


class ApprovalOptions(BaseModel):
    auto_allow: Annotated[
        list[str] | None,
        Field(
            description="Prompts these rules match are allowed without asking (CLI rule syntax:\n`Bash(git status:*)`, `Edit(src/**)`). A Bash rule matches one plain command\nonly, never a compound line."
        ),
    ] = []
    auto_deny: Annotated[
        list[str] | None,
        Field(
            description="Prompts these rules match are denied, before `auto_allow` is looked at. A Bash\nrule matches when any command of a compound line does."
        ),
    ] = []
    mode: ApprovalMode | None = ApprovalMode.auto
    timeout_seconds: Annotated[
        int | None,
        Field(description="How long an `ask` prompt waits before it is denied.", ge=0),
    ] = 600


class ApprovalRule(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="A rule of `options.approvals`: a tool name, or a pattern the gateway reads for\nBash, the file tools and WebFetch (`domain:HOST`); at most 64 characters here.",
            examples=["Bash(git status:*)"],
            max_length=64,
            pattern="^(?:[A-Za-z][A-Za-z0-9_-]*|(?:Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Glob|Grep|LS)\\([^)\\x00\\n,]*[^\\s)\\x00,][^)\\x00\\n,]*\\)|WebFetch\\(domain:[^)\\x00\\n,]*[^\\s)\\x00,][^)\\x00\\n,]*\\))$",
        ),
    ]


class ApprovalState(StrEnum):
    pending = "pending"
    decided = "decided"
    expired = "expired"


class ApprovalView(BaseModel):
    decided_at: str | None = None
    decided_by: Annotated[
        str | None, Field(description="`client` or `timeout`, once decided.")
    ] = None
    decision: Annotated[
        str | None, Field(description="`allow` or `deny`, once decided.")
    ] = None
    expires_at: str
    id: Annotated[str, Field(examples=["apr_01JD…"])]
    input: Annotated[
        dict[str, Any],
        Field(description="The tool's input (withheld past 16 KiB of JSON)."),
    ]
    message: Annotated[
        str | None,
        Field(description="The denial's message the model sees, or the client's note."),
    ] = None
    reason: Annotated[
        str | None, Field(description="Why the CLI asked, when it said.")
    ] = None
    requested_at: str
    state: ApprovalState
    task_id: str
    tool: Annotated[str, Field(examples=["Bash"])]
    turn: Annotated[int, Field(description="The task's turn it came up in.")]
    updated_input: Annotated[
        dict[str, Any] | None,
        Field(
            description="What the client had run instead of `input` (withheld past 16 KiB of JSON)."
        ),
    ] = None


class ApprovalsRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    auto_allow: Annotated[
        list[ApprovalRule] | None,
        Field(
            description="Rules in Claude Code's syntax whose prompts are allowed without asking:\n`Tool`, `Bash(prefix:*)` or `Bash(command with *)` (one plain command only, never\na compound line), `Edit(src/**)` and the other file tools (globs from the\nworkspace; `~/` the home, `//` the root), `WebFetch(domain:HOST)`. Each must name\na tool of `allowed_tools`.",
            examples=[["Read", "Bash(git status:*)", "Edit(src/**)"]],
            max_length=128,
        ),
    ] = None
    auto_deny: Annotated[
        list[ApprovalRule] | None,
        Field(
            description="Rules whose prompts are denied, before `auto_allow`; a Bash rule matches when\nany command of a compound line does.",
            examples=[["Bash(curl:*)", "Edit(.github/**)"]],
            max_length=128,
        ),
    ] = None
    mode: ApprovalMode | None = None
    timeout_seconds: Annotated[
        int | None,
        Field(
            description="At most `tasks.max_approval_timeout_seconds` (3600 by default).",
            ge=1,
            le=3600,
        ),
    ] = None


class Artifact(BaseModel):
    content_type: Annotated[str, Field(examples=["text/markdown"])]
    name: Annotated[
        str,
        Field(
            description="Unique within the task: the file's name, or its path with `/` as `_` when\ntwo collected files share a name.",
            examples=["report.md"],
        ),
    ]
    path: Annotated[
        str,
        Field(description="Where it was in the workspace.", examples=["out/report.md"]),
    ]
    sha256: str
    size: Annotated[int, Field(ge=0)]


class ArtifactGlob(RootModel[str]):
    model_config = ConfigDict(
        regex_engine="python-re",
    )
    root: Annotated[
        str,
        Field(
            description="A workspace glob: `*` and `?` within a segment, `**` as a whole segment; no `..`.\n(The gateway also takes `{a,b}` alternatives and any characters but `\\`, NUL and `[]`.)",
            examples=["out/**"],
            max_length=256,
            pattern="^(\\*\\*|(?!\\.\\.(/|$))([A-Za-z0-9._?-]|\\*(?!\\*)){1,64})(/(\\*\\*|(?!\\.\\.(/|$))([A-Za-z0-9._?-]|\\*(?!\\*)){1,64}))*$",
        ),
    ]


class ArtifactList(BaseModel):
    data: list[Artifact]
    next_cursor: Annotated[
        str | None,
        Field(description="The `cursor` of the next page; `null` on the last."),
    ] = None


class AuditEvent(BaseModel):
    action: Annotated[str, Field(examples=["task.create"])]
    at: str
    client_addr: str | None = None
    client_request_id: Annotated[
        str | None, Field(description="The `X-Request-Id` the client sent, as sent.")
    ] = None
    details: Any | None = None
    id: str
    key_id: str | None = None
    outcome: Annotated[str, Field(examples=["ok"])]
    request_id: Annotated[
        str | None, Field(description="The gateway's own id of the request.")
    ] = None
    target: str | None = None


class AuditPage(BaseModel):
    data: list[AuditEvent]
    next_cursor: str | None = None


class DecisionMessage(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="What the model is told: no NUL, at most 4096 bytes (here 1024 characters, which\nalways fit).",
            examples=["not on a Friday"],
            max_length=1024,
            pattern="^[^\\x00]*$",
        ),
    ]


class Delivery(StrEnum):
    next_turn = "next_turn"
    queue = "queue"
    interrupt = "interrupt"


class DenyVerdict(StrEnum):
    deny = "deny"


class Environment(StrEnum):
    live = "live"
    test = "test"


class ErrorKind(StrEnum):
    timeout = "timeout"
    cancelled = "cancelled"
    max_turns = "max_turns"
    agent_error = "agent_error"
    agent_crashed = "agent_crashed"
    rejected_by_plugin = "rejected_by_plugin"
    resource_limit = "resource_limit"
    output_schema_mismatch = "output_schema_mismatch"
    internal = "internal"


class FieldError(BaseModel):
    message: str
    pointer: str


class FollowUpRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    delivery: Delivery | None = None
    prompt: Annotated[
        str,
        Field(
            examples=["Now also handle time zones"],
            min_length=1,
            pattern="^[^\\x00]*[^\\s\\x00][^\\x00]*$",
        ),
    ]


class Hook(StrEnum):
    policy = "policy"
    result = "result"
    artifacts = "artifacts"
    webhook = "webhook"
    tool_approval = "tool_approval"


MetadataAdditionalProperty = TypeAliasType(
    "MetadataAdditionalProperty", Annotated[str, Field(max_length=128, min_length=0)]
)


class Metadata(
    RootModel[
        dict[
            Annotated[str, StringConstraints(min_length=1, max_length=16)],
            MetadataAdditionalProperty,
        ]
    ]
):
    root: Annotated[
        dict[
            Annotated[str, StringConstraints(min_length=1, max_length=16)],
            MetadataAdditionalProperty,
        ],
        Field(
            description="Labels to filter lists by: at most 32 keys of 1-64 bytes, values of at most 512 bytes",
            examples=[{"ticket": "ENG-42"}],
            max_length=32,
        ),
    ]


class NodeState(StrEnum):
    active = "active"
    draining = "draining"
    drained = "drained"
    stopping = "stopping"
    stopped = "stopped"


class NodeStatus(StrEnum):
    active = "active"
    draining = "draining"
    gone = "gone"


class NodeView(BaseModel):
    advertise_url: Annotated[
        str | None,
        Field(
            description="`node.advertise_url`, when set.",
            examples=["https://gw-3.internal:8080"],
        ),
    ] = None
    alive: Annotated[
        bool,
        Field(
            description="Whether the node heartbeats: not stopped, and last seen within a lease\n(`queue.lease_seconds`)."
        ),
    ]
    drain_requested_at: Annotated[
        str | None,
        Field(description="When a drain was asked for (cleared by a resume)."),
    ] = None
    id: Annotated[
        str,
        Field(
            description="The node's id, new at each start (the `node` of its runs' audit entries).",
            examples=["node_01JDX3N8Q6W2V0M1R5T7Y9B4C2"],
        ),
    ]
    last_seen_at: str
    name: Annotated[
        str,
        Field(
            description="`node.name`, else the machine's hostname.", examples=["gw-3"]
        ),
    ]
    phase: Annotated[
        NodeState,
        Field(
            description="What the node last said of itself: `active`, `draining` (its runs finish),\n`drained` (nothing runs; `resume` makes it active), `stopping` (shutting\ndown), `stopped` (exited cleanly). A node that died keeps its last phase."
        ),
    ]
    running: Annotated[
        int, Field(description="Runs in progress, as of its last heartbeat.")
    ]
    started_at: str
    state: Annotated[
        NodeStatus,
        Field(
            description="`active` (alive, claims work), `draining` (alive, claims nothing: draining,\ndrained or shutting down; `phase` says which) or `gone` (stopped, or silent\nfor longer than a lease)."
        ),
    ]
    this_node: Annotated[
        bool, Field(description="Whether this is the node that answered.")
    ]
    version: Annotated[
        str, Field(description="The gateway's version.", examples=["0.1.0"])
    ]
    workers: Annotated[
        int,
        Field(description="`queue.workers`: 0 for a node that only answers the API."),
    ]


class PluginState(StrEnum):
    active = "active"
    quarantined = "quarantined"


class Problem(BaseModel):
    detail: Annotated[str, Field(examples=["/prompt must not be empty"])]
    errors: Annotated[
        list[FieldError] | None,
        Field(
            description="Every invalid field, by JSON Pointer (validation errors only)."
        ),
    ] = None
    status: Annotated[int, Field(examples=[422], ge=0)]
    title: Annotated[str, Field(examples=["Invalid request"])]
    type: Annotated[
        str,
        Field(
            description="`https://ccgate.dev/errors/<slug>`: the stable identifier of the error.",
            examples=["https://ccgate.dev/errors/validation-error"],
        ),
    ]


class ScopeName(StrEnum):
    tasks = "tasks"
    admin = "admin"
    network_full = "network:full"


class SpendView(BaseModel):
    cost_usd: float
    input_tokens: int
    output_tokens: int
    runs: int


class SseEvent(BaseModel):
    data: Annotated[
        str,
        Field(
            description="JSON with at least `seq`, `type`, `at` and `task_id`.",
            json_schema_extra={"contentMediaType": "application/json"},
        ),
    ]
    event: Annotated[
        str | None,
        Field(
            description="The event type: `status`, `assistant`, `tool_use`, `tool_result`, `log`,\n`result`, `error`, … and `task` (the finished task) at the end of `/v1/execute`.",
            examples=["status"],
        ),
    ] = None
    id: Annotated[
        str | None,
        Field(
            description="The event's sequence number (send it back as `Last-Event-ID` to resume)."
        ),
    ] = None


class StatsView(BaseModel):
    calls: Annotated[int, Field(ge=0)]
    failures: Annotated[int, Field(ge=0)]
    last_error: Annotated[
        str | None, Field(description="The most recent failure, if any.")
    ] = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    state: PluginState


class TaskError(BaseModel):
    details: Any | None = None
    kind: ErrorKind
    message: str


class TaskLinks(BaseModel):
    approvals: str
    archive: str
    artifacts: str
    cancel: str
    events: str
    files: str
    messages: str
    self: str


class TaskOptions(BaseModel):
    allowed_tools: list[str]
    append_system_prompt: str | None = None
    approvals: Annotated[
        ApprovalOptions | None,
        Field(description="How the CLI's permission prompts are answered."),
    ] = None
    disallowed_tools: list[str]
    max_budget_usd: float | None = None
    max_turns: Annotated[int, Field(ge=0)]
    model: str | None = None
    network: str
    output_schema: Any | None = None
    project_context: Annotated[
        bool | None,
        Field(
            description="Load the workspace's own Claude Code context: `CLAUDE.md`, project settings\nand hooks, `.mcp.json`. Off by default, so uploaded files never configure\nor run anything by accident."
        ),
    ] = None
    timeout_seconds: Annotated[int, Field(ge=0)]


class TaskStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


class ToolRule(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="A tool name or permission rule (`Bash`, `Bash(git status:*)`): not blank, no\nNUL, newline or comma, at most 256 bytes (here 64 characters, which always fit).",
            examples=["Bash(git status:*)"],
            max_length=64,
            pattern="^[^\\x00\\n,]*[^\\s\\x00,][^\\x00\\n,]*$",
        ),
    ]


class TurnView(BaseModel):
    claude_code_version: Annotated[
        str | None,
        Field(
            description="The Claude Code version that ran it (from its `system/init` event)."
        ),
    ] = None
    created_at: str
    finished_at: str | None = None
    index: int
    prompt: str
    started_at: str | None = None
    status: str


class Usage(BaseModel):
    cache_creation_input_tokens: Annotated[int, Field(ge=0)]
    cache_read_input_tokens: Annotated[int, Field(ge=0)]
    input_tokens: Annotated[int, Field(ge=0)]
    output_tokens: Annotated[int, Field(ge=0)]


class WebhookAttempt(BaseModel):
    at: str
    duration_ms: int
    error: str | None = None
    status_code: int | None = None


class WebhookDelivery(BaseModel):
    attempts: list[WebhookAttempt]
    created_at: str
    event_type: Annotated[str, Field(examples=["task.completed"])]
    finished_at: str | None = None
    id: Annotated[
        str, Field(description="The `webhook-id` header, the same on every attempt.")
    ]
    next_attempt_at: Annotated[
        str | None, Field(description="When the next attempt is due, while pending.")
    ] = None
    status: Annotated[
        str,
        Field(
            description="`pending`, `delivered`, `failed` (gave up) or `disabled` (the receiver said 410)."
        ),
    ]
    url: str


class WebhookEventName(StrEnum):
    task_started = "task.started"
    task_completed = "task.completed"
    task_failed = "task.failed"
    task_cancelled = "task.cancelled"
    task_approval_requested = "task.approval_requested"


class WebhookRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    events: Annotated[
        list[WebhookEventName] | None,
        Field(
            description="The events to send (default: `task.completed`, `task.failed`, `task.cancelled`);\n`task.approval_requested` tells of each permission prompt that waits for a\nclient (the payload's `data.approval` is the prompt).",
            max_length=5,
            min_length=1,
        ),
    ] = None
    url: Annotated[
        AnyUrl,
        Field(
            description="An http(s) URL of at most 2048 bytes.",
            examples=["https://hooks.example.com/ccgate"],
        ),
    ]


class WebhookSecret(BaseModel):
    webhook_secret: str


class WorkspaceFile(BaseModel):
    modified_at: str
    path: str
    size: Annotated[int, Field(ge=0)]


class WorkspacePath(RootModel[str]):
    model_config = ConfigDict(
        regex_engine="python-re",
    )
    root: Annotated[
        str,
        Field(
            description="A path relative to the workspace: segments of 1-63 characters (no control\ncharacters, `/` or `\\`), none `..`, not only `.` segments; at most 256 characters.\n(The gateway counts bytes — 255 a segment, 1024 in all — so these always fit.)",
            examples=["src/app.py"],
            max_length=256,
            pattern="^(?!(\\.(/|$))+$)(?!\\.\\.(/|$))[^/\\\\\\x00-\\x1f\\x7f-\\x9f]{1,63}(/(?!\\.\\.(/|$))[^/\\\\\\x00-\\x1f\\x7f-\\x9f]{1,63})*$",
        ),
    ]


class AllowDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    decision: AllowVerdict
    message: DecisionMessage | None = None
    updated_input: Annotated[
        dict[str, Any] | None,
        Field(description="The tool input to run instead (at most 256 KiB of JSON)."),
    ] = None


class AnswerDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    answers: Annotated[
        dict[str, Any],
        Field(
            description="Keyed by each question's text: a label, free text, or (multi-select) a list\nof labels; at most 16."
        ),
    ]
    decision: AllowVerdict
    message: DecisionMessage | None = None


class ApprovalList(BaseModel):
    data: list[ApprovalView]
    next_cursor: Annotated[
        str | None,
        Field(description="The `cursor` of the next page; `null` on the last."),
    ] = None


class Base64FileRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    content_base64: Annotated[
        str,
        Field(
            description="Standard base64, padded, without stray bits.",
            examples=["aGVsbG8K"],
            json_schema_extra={"contentEncoding": "base64"},
            pattern="^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$",
        ),
    ]
    path: WorkspacePath


class DeliveryList(BaseModel):
    data: list[WebhookDelivery]
    next_cursor: Annotated[
        str | None,
        Field(description="The `cursor` of the next page; `null` on the last."),
    ] = None


class DenyDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    decision: DenyVerdict
    message: DecisionMessage | None = None


class FileListing(BaseModel):
    data: list[WorkspaceFile]
    next_cursor: Annotated[
        str | None,
        Field(
            description="The `cursor` of the next page; `null` on the last (always, without `limit`)."
        ),
    ] = None
    truncated: Annotated[
        bool, Field(description="The workspace had more entries than a listing walks.")
    ]


class KeyRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    budget_usd_per_day: Annotated[
        float | None,
        Field(
            description="Spending caps in US dollars (UTC day and month); past one, submits get 402.",
            gt=0.0,
            le=1000000000.0,
        ),
    ] = None
    budget_usd_per_month: Annotated[float | None, Field(gt=0.0, le=1000000000.0)] = None
    environment: Annotated[
        Environment | None,
        Field(
            description="`test` makes a `ccg_test_…` key, whose tasks run against the built-in\nscripted model (no upstream request, cost 0). Fixed once the key exists."
        ),
    ] = None
    max_concurrent_tasks: Annotated[int | None, Field(ge=1, le=1000000)] = None
    max_queued_tasks: Annotated[int | None, Field(ge=1, le=1000000)] = None
    name: Annotated[
        str,
        Field(
            description="Not blank; at most 200 characters.",
            examples=["ci-pipeline"],
            max_length=200,
            min_length=1,
            pattern="[^\\s]",
        ),
    ]
    rate_limit_per_minute: Annotated[int | None, Field(ge=1, le=1000000)] = None
    scopes: Annotated[
        list[ScopeName] | None,
        Field(
            description='Defaults to `["tasks"]`.',
            examples=[["tasks"]],
            max_length=8,
            min_length=1,
        ),
    ] = None
    token_budget_per_day: Annotated[
        int | None,
        Field(
            description="Token caps (input, cache and output together; UTC day and month): past one,\nsubmits get 402, and the model proxy refuses the key's running tasks more.",
            ge=1,
            le=1000000000000,
        ),
    ] = None
    token_budget_per_month: Annotated[int | None, Field(ge=1, le=1000000000000)] = None
    webhook_events: Annotated[
        list[WebhookEventName] | None,
        Field(
            description="The events the default webhook receives (default, and with `null`:\n`task.completed`, `task.failed`, `task.cancelled`); add\n`task.approval_requested` to hear of permission prompts that wait.",
            examples=[["task.completed", "task.failed", "task.approval_requested"]],
            max_length=5,
            min_length=1,
        ),
    ] = None
    webhook_url: Annotated[
        AnyUrl | None,
        Field(
            description="The default webhook of the key's tasks (those without a `webhook` of their own)."
        ),
    ] = None


class KeySpend(BaseModel):
    this_month: SpendView
    today: SpendView


class KeyUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    budget_usd_per_day: Annotated[
        float | None,
        Field(
            description="Spending caps in US dollars (UTC day and month); past one, submits get 402.",
            gt=0.0,
            le=1000000000.0,
        ),
    ] = None
    budget_usd_per_month: Annotated[float | None, Field(gt=0.0, le=1000000000.0)] = None
    max_concurrent_tasks: Annotated[int | None, Field(ge=1, le=1000000)] = None
    max_queued_tasks: Annotated[int | None, Field(ge=1, le=1000000)] = None
    name: Annotated[
        str | None,
        Field(
            description="Not blank; at most 200 characters.",
            examples=["ci-pipeline"],
            max_length=200,
            min_length=1,
            pattern="[^\\s]",
        ),
    ] = None
    rate_limit_per_minute: Annotated[int | None, Field(ge=1, le=1000000)] = None
    scopes: Annotated[
        list[ScopeName] | None,
        Field(
            description='Defaults to `["tasks"]`.',
            examples=[["tasks"]],
            max_length=8,
            min_length=1,
        ),
    ] = None
    token_budget_per_day: Annotated[
        int | None,
        Field(
            description="Token caps (input, cache and output together; UTC day and month): past one,\nsubmits get 402, and the model proxy refuses the key's running tasks more.",
            ge=1,
            le=1000000000000,
        ),
    ] = None
    token_budget_per_month: Annotated[int | None, Field(ge=1, le=1000000000000)] = None
    webhook_events: Annotated[
        list[WebhookEventName] | None,
        Field(
            description="The events the default webhook receives (default, and with `null`:\n`task.completed`, `task.failed`, `task.cancelled`); add\n`task.approval_requested` to hear of permission prompts that wait.",
            examples=[["task.completed", "task.failed", "task.approval_requested"]],
            max_length=5,
            min_length=1,
        ),
    ] = None
    webhook_url: Annotated[
        AnyUrl | None,
        Field(
            description="The default webhook of the key's tasks (those without a `webhook` of their own)."
        ),
    ] = None


class KeyView(BaseModel):
    budget_usd_per_day: Annotated[
        float | None,
        Field(
            description="Spending caps: past one, submits get 402 (running tasks finish)."
        ),
    ] = None
    budget_usd_per_month: float | None = None
    created_at: str
    environment: Annotated[
        Environment,
        Field(
            description="`live`, or `test`: tasks against the built-in scripted model, cost 0."
        ),
    ]
    id: Annotated[str, Field(examples=["key_01JDX3N8Q6W2V0M1R5T7Y9B4C2"])]
    last_used_at: str | None = None
    max_concurrent_tasks: int
    max_queued_tasks: int
    name: str
    prefix: Annotated[
        str,
        Field(
            description="The first characters of the secret, to recognise it.",
            examples=["ccg_live_a4b1"],
        ),
    ]
    rate_limit_per_minute: int
    revoked_at: str | None = None
    scopes: Annotated[list[str], Field(examples=[["tasks"]])]
    spend: KeySpend | None = None
    token_budget_per_day: Annotated[
        int | None,
        Field(
            description="Token caps (input, cache and output together): past one, submits get 402 and\nthe model proxy refuses the key's running tasks more model requests."
        ),
    ] = None
    token_budget_per_month: int | None = None
    webhook_events: Annotated[
        list[str],
        Field(
            description="The events the default webhook receives.",
            examples=[["task.completed", "task.failed", "task.cancelled"]],
        ),
    ]
    webhook_secret_rotated_at: str | None = None
    webhook_url: Annotated[
        str | None, Field(description="The default webhook of this key's tasks.")
    ] = None


class NodeList(BaseModel):
    data: list[NodeView]
    next_cursor: Annotated[
        str | None,
        Field(description="The `cursor` of the next page; `null` on the last."),
    ] = None


class PluginView(StatsView):
    config_digest: Annotated[
        str,
        Field(
            description="`sha256:<hex>` of the plugin's configuration in effect (the JSON it gets)."
        ),
    ]
    declared_name: Annotated[
        str,
        Field(
            description="The name and version the plugin declares.",
            examples=["ccgate-policy"],
        ),
    ]
    digest: Annotated[str, Field(description="`sha256:<hex>` of the component file.")]
    hooks: Annotated[
        list[Hook], Field(description="The hooks it is used for (of those it exports).")
    ]
    keys: Annotated[
        list[str],
        Field(description="Key names or ids it applies to; empty: every key."),
    ]
    kind: Annotated[
        Hook, Field(description="Its (first) hook: what kind of plugin it is.")
    ]
    name: Annotated[
        str, Field(description="The name in the gateway config.", examples=["policy"])
    ]
    path: str
    version: Annotated[str, Field(examples=["0.1.0"])]


class TaskOptionsRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    allowed_tools: Annotated[list[ToolRule] | None, Field(max_length=128)] = None
    append_system_prompt: Annotated[
        str | None,
        Field(
            description="No NUL; at most `tasks.max_append_system_prompt_bytes` (32768 by default; here\nin characters that always fit).",
            max_length=8192,
            pattern="^[^\\x00]*$",
        ),
    ] = None
    approvals: ApprovalsRequest | None = None
    disallowed_tools: Annotated[list[ToolRule] | None, Field(max_length=128)] = None
    max_budget_usd: Annotated[float | None, Field(gt=0.0)] = None
    max_turns: Annotated[
        int | None,
        Field(
            description="At most `tasks.max_max_turns` (200 by default).", ge=1, le=200
        ),
    ] = None
    model: Annotated[
        str | None,
        Field(examples=["claude-sonnet-4-5"], pattern="^[A-Za-z0-9._:/@-]{1,128}$"),
    ] = None
    network: Annotated[str | None, Field(pattern="^(none|allowlist|full)$")] = None
    output_schema: Annotated[
        dict[str, Any] | None,
        Field(description="A JSON Schema the final answer must match."),
    ] = None
    project_context: Annotated[
        bool | None,
        Field(
            description="Load the workspace's `CLAUDE.md`, project settings and hooks, and `.mcp.json`\n(default false: uploaded files configure and run nothing)."
        ),
    ] = None
    timeout_seconds: Annotated[
        int | None,
        Field(
            description="At most `tasks.max_timeout_seconds` (21600 by default).",
            ge=1,
            le=21600,
        ),
    ] = None


class TaskResult(BaseModel):
    cost_usd: Annotated[
        float,
        Field(
            description="What the run cost: its metered tokens at the gateway's `[pricing]` (what\nbudgets and spend count)."
        ),
    ]
    duration_ms: Annotated[int, Field(ge=0)]
    num_turns: Annotated[int, Field(ge=0)]
    partial: Annotated[
        bool,
        Field(
            description="True when the run was interrupted (timeout, cancel, crash): what is here is\nwhat the agent produced until then."
        ),
    ]
    reported_cost_usd: Annotated[
        float | None,
        Field(
            description="The cost Claude Code itself printed, kept as information only."
        ),
    ] = None
    session_id: str | None = None
    structured: Any | None = None
    text: str | None = None
    usage: Usage


class TaskView(BaseModel):
    artifacts: Annotated[
        list[Artifact],
        Field(
            description="Files collected after the last turn (see `artifacts` in the request)."
        ),
    ]
    artifacts_expired_at: Annotated[
        str | None,
        Field(description="When the retention policy deleted the artifacts."),
    ] = None
    attempts: int
    created_at: str
    environment: Annotated[
        Environment,
        Field(
            description="Its key's: `live`, or `test` (run against the built-in scripted model, cost 0)."
        ),
    ]
    error: TaskError | None = None
    finished_at: str | None = None
    id: Annotated[str, Field(examples=["tsk_01JDX3N8Q6W2V0M1R5T7Y9B4C2"])]
    links: TaskLinks
    metadata: dict[str, str]
    options: Annotated[
        TaskOptions,
        Field(
            description="The resolved options: the request's, with the server's defaults filled in."
        ),
    ]
    pending_approvals: Annotated[
        list[ApprovalView],
        Field(
            description='Permission prompts waiting for a decision (`options.approvals.mode = "ask"`).'
        ),
    ]
    priority: Annotated[int, Field(ge=-10, le=10)]
    prompt: str
    result: TaskResult | None = None
    started_at: str | None = None
    status: TaskStatus
    turns: list[TurnView]
    workspace_expired_at: Annotated[
        str | None,
        Field(
            description="When the retention policy deleted the workspace; its file endpoints answer 410."
        ),
    ] = None


class TextFileRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    content: str
    path: WorkspacePath


class ApprovalDecisionRequest(RootModel[AllowDecision | AnswerDecision | DenyDecision]):
    root: Annotated[
        AllowDecision | AnswerDecision | DenyDecision,
        Field(
            description="The body of `POST /v1/tasks/{id}/approvals/{approval_id}`: allow, answer, or deny."
        ),
    ]


class InputFileRequest(RootModel[TextFileRequest | Base64FileRequest]):
    root: Annotated[
        TextFileRequest | Base64FileRequest,
        Field(
            description="A file placed in the workspace before the first turn: its text, or its bytes in base64."
        ),
    ]


class KeyCreated(KeyView):
    secret: Annotated[
        str,
        Field(examples=["ccg_live_a4b1d7d1b1d850088ee41c5e3c5d7e4261c600f5e7ffd572"]),
    ]
    webhook_secret: Annotated[
        str,
        Field(
            description="Signs this key's webhooks (Standard Webhooks); shown this once.",
            examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        ),
    ]


class KeyPage(BaseModel):
    data: list[KeyView]
    next_cursor: Annotated[
        str | None,
        Field(description="The `cursor` of the next page; `null` on the last."),
    ] = None


class PluginList(BaseModel):
    config_digest: Annotated[
        str | None,
        Field(
            description="`sha256:<hex>` of the whole chain in effect (names, hooks, keys, `on_error`,\ncomponent digests, configurations); for admin keys only.",
            examples=["sha256:9f2c…"],
        ),
    ] = None
    data: list[PluginView]


class TaskPage(BaseModel):
    data: list[TaskView]
    next_cursor: Annotated[
        str | None,
        Field(description="Pass as `cursor` for the next page; null on the last page."),
    ] = None


class TaskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    artifacts: Annotated[
        list[ArtifactGlob] | None,
        Field(
            description="Workspace globs collected as artifacts after each turn (default: the server's;\nat most `tasks.max_artifact_patterns`, 32 by default).",
            examples=[["out/**", "*.patch"]],
            max_length=32,
        ),
    ] = None
    files: Annotated[list[InputFileRequest] | None, Field(max_length=1000)] = None
    metadata: Metadata | None = None
    options: TaskOptionsRequest | None = None
    priority: Annotated[
        int | None,
        Field(description="Higher runs first; FIFO within a priority.", ge=-10, le=10),
    ] = 0
    prompt: Annotated[
        str,
        Field(
            description="What the agent should do: not blank, no NUL, at most `tasks.max_prompt_bytes`.",
            examples=["Add a test for parse_date and make it pass"],
            min_length=1,
            pattern="^[^\\x00]*[^\\s\\x00][^\\x00]*$",
        ),
    ]
    webhook: WebhookRequest | None = None


class TaskUpload(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    archive: Annotated[
        bytes | None,
        Field(
            description="A `.tar.gz`, `.tgz` or `.zip` to unpack into the workspace.",
            json_schema_extra={"contentMediaType": "application/octet-stream"},
        ),
    ] = None
    task: TaskRequest


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    artifacts: Annotated[
        list[ArtifactGlob] | None,
        Field(
            description="Workspace globs collected as artifacts after each turn (default: the server's;\nat most `tasks.max_artifact_patterns`, 32 by default).",
            examples=[["out/**", "*.patch"]],
            max_length=32,
        ),
    ] = None
    files: Annotated[list[InputFileRequest] | None, Field(max_length=1000)] = None
    metadata: Metadata | None = None
    options: TaskOptionsRequest | None = None
    priority: Annotated[
        int | None,
        Field(description="Higher runs first; FIFO within a priority.", ge=-10, le=10),
    ] = 0
    prompt: Annotated[
        str,
        Field(
            description="What the agent should do: not blank, no NUL, at most `tasks.max_prompt_bytes`.",
            examples=["Add a test for parse_date and make it pass"],
            min_length=1,
            pattern="^[^\\x00]*[^\\s\\x00][^\\x00]*$",
        ),
    ]
    wait_seconds: Annotated[
        int | None,
        Field(
            description="How long to wait for the task to finish (default `tasks.default_wait_seconds`,\nat most `tasks.max_wait_seconds`).",
            ge=0,
        ),
    ] = None
    webhook: WebhookRequest | None = None


class ExecuteUpload(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    archive: Annotated[
        bytes | None,
        Field(
            description="A `.tar.gz`, `.tgz` or `.zip` to unpack into the workspace.",
            json_schema_extra={"contentMediaType": "application/octet-stream"},
        ),
    ] = None
    task: ExecuteRequest
