use super::*;

fn config(value: Value) -> Config {
    serde_json::from_value(value).unwrap()
}

fn event(kind: EventKind, data: Value) -> WebhookEvent {
    WebhookEvent {
        kind,
        id: "msg_1".into(),
        timestamp: "2025-01-02T03:04:05Z".into(),
        payload: json!({"type": kind.name(), "timestamp": "2025-01-02T03:04:05Z", "data": data}).to_string(),
    }
}

fn completed() -> WebhookEvent {
    event(
        EventKind::TaskCompleted,
        json!({
            "id": "tsk_01ABC", "status": "completed", "prompt": "Fix the bug", "metadata": {"ticket": "OPS-1"},
            "result": {"text": "Fixed <b> & done", "cost_usd": 0.01234, "duration_ms": 83_000, "num_turns": 4,
                       "partial": false, "usage": {"input_tokens": 1}}
        }),
    )
}

fn failed() -> WebhookEvent {
    event(
        EventKind::TaskFailed,
        json!({
            "id": "tsk_02", "status": "failed", "prompt": "p", "metadata": {},
            "result": null, "error": {"kind": "timeout", "message": "ran out of time after 600 s"}
        }),
    )
}

fn started() -> WebhookEvent {
    event(
        EventKind::TaskStarted,
        json!({"id": "tsk_03", "status": "running", "prompt": "p", "metadata": {}, "result": null}),
    )
}

fn block_types(message: &Value) -> Vec<&str> {
    message["blocks"].as_array().unwrap().iter().map(|b| b["type"].as_str().unwrap()).collect()
}

#[test]
fn slack_completed() {
    let c = config(json!({"format": "slack", "task_url": "https://dash.example.com/tasks/{task_id}"}));
    let m = render(&c, &completed());
    assert_eq!(m["text"], "✅ ccgate task completed (tsk_01ABC)");
    assert_eq!(block_types(&m), ["header", "section", "section", "actions", "context"]);
    assert_eq!(m["blocks"][0]["text"], json!({"type": "plain_text", "text": "ccgate task completed", "emoji": true}));
    let fields: Vec<&str> =
        m["blocks"][1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["*Status*\n✅ completed", "*Task*\n`tsk_01ABC`", "*Duration*\n1m 23s", "*Cost*\n$0.0123", "*Turns*\n4"]
    );
    assert_eq!(m["blocks"][2]["text"]["text"], "*Result*\nFixed &lt;b&gt; &amp; done");
    assert_eq!(m["blocks"][3]["elements"][0]["url"], "https://dash.example.com/tasks/tsk_01ABC");
    assert_eq!(m["blocks"][4]["elements"][0]["text"], "ccgate · task.completed · 2025-01-02T03:04:05Z");
}

#[test]
fn slack_failed_and_started() {
    let c = config(json!({"format": "slack", "title": "Nightly run"}));
    let m = render(&c, &failed());
    assert_eq!(block_types(&m), ["header", "section", "section", "context"]);
    assert_eq!(m["blocks"][0]["text"]["text"], "Nightly run");
    assert_eq!(m["blocks"][1]["fields"][0]["text"], "*Status*\n❌ failed");
    assert_eq!(m["blocks"][2]["text"]["text"], "*Error* (`timeout`)\nran out of time after 600 s");

    let m = render(&c, &started());
    assert_eq!(block_types(&m), ["header", "section", "context"]);
    assert_eq!(m["blocks"][1]["fields"].as_array().unwrap().len(), 2);
    assert_eq!(m["blocks"][1]["fields"][0]["text"], "*Status*\n▶️ running");
}

#[test]
fn text_is_truncated_or_left_out() {
    let long = "x".repeat(1000);
    let mut e = completed();
    let mut payload: Value = serde_json::from_str(&e.payload).unwrap();
    payload["data"]["result"]["text"] = long.into();
    e.payload = payload.to_string();
    let m = render(&config(json!({"format": "slack", "max_text_chars": 10})), &e);
    assert_eq!(m["blocks"][2]["text"]["text"], "*Result*\nxxxxxxxxx…");
    let m = render(&config(json!({"format": "slack", "include_text": false})), &e);
    assert_eq!(block_types(&m), ["header", "section", "context"]);
    let m = render(&config(json!({"format": "slack", "max_text_chars": 100000})), &e);
    assert_eq!(m["blocks"][2]["text"]["text"].as_str().unwrap().chars().count(), "*Result*\n".len() + 1000);
    assert_eq!(truncate("héllo wörld", 7), "héllo…");
}

#[test]
fn teams_completed() {
    let c = config(json!({"format": "teams", "task_url": "https://dash.example.com/tasks/{task_id}"}));
    let m = render(&c, &completed());
    assert_eq!(m["type"], "message");
    let attachments = m["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &attachments[0]["content"];
    assert_eq!((card["type"].as_str(), card["version"].as_str()), (Some("AdaptiveCard"), Some("1.4")));
    let types: Vec<&str> = card["body"].as_array().unwrap().iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["TextBlock", "TextBlock", "FactSet", "TextBlock", "TextBlock", "TextBlock"]);
    assert_eq!(card["body"][1]["color"], "Good");
    assert_eq!(card["body"][2]["facts"][1], json!({"title": "Task", "value": "tsk_01ABC"}));
    assert_eq!(card["body"][4]["text"], "Fixed <b> & done");
    assert_eq!(
        card["actions"],
        json!([{"type": "Action.OpenUrl", "title": "Open task", "url": "https://dash.example.com/tasks/tsk_01ABC"}])
    );
}

#[test]
fn teams_failed_and_started() {
    let c = config(json!({"format": "teams"}));
    let card = render(&c, &failed())["attachments"][0]["content"].clone();
    assert_eq!(card["body"][1]["color"], "Attention");
    assert_eq!(card["body"][3]["text"], "Error (timeout)");
    assert_eq!(card["body"][4]["text"], "ran out of time after 600 s");
    assert!(card.get("actions").is_none());
    let card = render(&c, &started())["attachments"][0]["content"].clone();
    assert_eq!(card["body"].as_array().unwrap().len(), 4);
    assert_eq!(card["body"][2]["facts"].as_array().unwrap().len(), 2);
}

#[test]
fn malformed_payloads_still_format() {
    let c = config(json!({"format": "slack", "task_url": "https://x/{task_id}"}));
    let mut e = completed();
    e.payload = "not json".into();
    let m = render(&c, &e);
    assert_eq!(block_types(&m), ["header", "section", "context"]);
    assert_eq!(m["blocks"][1]["fields"][0]["text"], "*Status*\n✅ completed");
    let e = event(EventKind::TaskCompleted, json!({"id": 5, "status": ["x"], "result": {"text": 3, "cost_usd": "a"}}));
    let s = Summary::from_event(&e);
    assert_eq!((s.task_id.as_str(), s.status.as_str(), s.text, s.cost_usd), ("", "completed", None, None));
}

#[test]
fn formatting_helpers() {
    assert_eq!(format_duration(850), "850 ms");
    assert_eq!(format_duration(12_345), "12.3 s");
    assert_eq!(format_duration(125_000), "2m 05s");
    assert_eq!(format_duration(3_720_000), "1h 02m");
    assert_eq!(format_cost(1.5), "$1.50");
    assert_eq!(url_escape("a b/c"), "a%20b%2Fc");
    assert_eq!(slack_escape("<@U1> & co"), "&lt;@U1&gt; &amp; co");
}

#[test]
fn formatted_body_is_json() {
    let c = config(json!({"format": "teams"}));
    let f = ChatWebhook::format(&c, completed(), "https://example.webhook.office.com/x".into()).unwrap();
    assert_eq!(f.content_type, "application/json");
    assert!(f.headers.is_empty());
    serde_json::from_slice::<Value>(&f.body).unwrap();
}

#[test]
fn config_checks() {
    let v = ccgate_plugin_sdk::check_config_text::<ChatWebhook>("{}");
    assert_eq!(v.len(), 1);
    assert!(v[0].message.contains("format"));
    let v = ccgate_plugin_sdk::check_config_text::<ChatWebhook>(r#"{"format": "discord"}"#);
    assert_eq!(v.len(), 1);
    let v = ccgate_plugin_sdk::check_config_text::<ChatWebhook>(
        r#"{"format": "slack", "task_url": "ftp://x", "max_text_chars": 0}"#,
    );
    let p: Vec<_> = v.iter().map(|v| v.pointer.as_str()).collect();
    assert_eq!(p, ["/task_url", "/max_text_chars"]);
    let schema: Value = serde_json::from_str(ChatWebhook::config_schema().unwrap()).unwrap();
    assert_eq!(schema["additionalProperties"], false);
}
