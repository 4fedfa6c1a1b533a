//! `options.output_schema` with the real CLI: the `StructuredOutput` tool call is
//! the answer; a plain-text answer is parsed and checked; a bad schema is a 422.

use ccgate::scripted_model::Step;
use serde_json::json;

use crate::support::*;

fn schema() -> serde_json::Value {
    json!({"type": "object", "required": ["files", "ok"],
           "properties": {"files": {"type": "integer", "minimum": 1}, "ok": {"type": "boolean"}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn structured_answers_are_validated_against_the_schema() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let submit = |steps: Vec<Step>| json!({"prompt": scripted(steps), "options": {"output_schema": schema()}, "wait_seconds": 60});

    let answer = json!({"files": 3, "ok": true});
    let tool = submit(vec![Step::tool("StructuredOutput", answer.clone()), say("reported")]);
    let (status, task) = gateway.post("/v1/execute", &key, &tool).await;
    assert_eq!((status, task["status"].as_str()), (200, Some("completed")), "{task}");
    assert_eq!(task["result"]["structured"], answer, "{task}");

    // Answered in text, the CLI nudges the model once to call the tool; a model that
    // answers in text again ends the turn with that text.
    let in_text = |answer: &str| submit(vec![say(answer), say(answer)]);
    let text = in_text(r#"{"files": 2, "ok": false}"#);
    let (_, task) = gateway.post("/v1/execute", &key, &text).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["result"]["structured"], json!({"files": 2, "ok": false}));

    let wrong = in_text(r#"{"files": 0}"#);
    let (_, task) = gateway.post("/v1/execute", &key, &wrong).await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["error"]["kind"], "output_schema_mismatch");
    let paths: Vec<&str> = task["error"]["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["instance_path"].as_str())
        .collect();
    assert!(paths.contains(&"/files") && paths.contains(&""), "{task}");
    assert_eq!(task["result"]["text"], r#"{"files": 0}"#, "the answer is kept");
    assert!(task["result"]["structured"].is_null());

    let prose = in_text("Three files, all fine.");
    let (_, task) = gateway.post("/v1/execute", &key, &prose).await;
    assert_eq!(task["error"]["kind"], "output_schema_mismatch", "{task}");
    assert!(task["error"]["details"]["parse_error"].is_string());

    let bad = json!({"prompt": "x", "options": {"output_schema": {"type": "integer", "minimum": "one"}}});
    let (status, problem) = gateway.post("/v1/tasks", &key, &bad).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/options/output_schema");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("not a valid JSON Schema"));
}
