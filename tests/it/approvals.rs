//! Permission prompts answered by the gateway: the real CLI asks before tool calls
//! it will not make on its own, and the gateway allows a tool the task allows by
//! name, denies the rest, and records both sides.

use ccgate::scripted_model::Step;
use serde_json::{Value, json};

use crate::support::*;

/// The `approval_*` events of a finished task, and its tool results.
async fn prompts_of(gateway: &Gateway, key: &str, id: &str) -> (Vec<Value>, Vec<Value>) {
    let events = gateway.events(key, id, None).await;
    let approvals = events.iter().filter(|(_, kind, _)| kind.starts_with("approval_")).map(|e| e.2.clone()).collect();
    let results = events.iter().filter(|(_, kind, _)| kind == "tool_result").map(|e| e.2.clone()).collect();
    (approvals, results)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sensitive_write_of_an_allowed_tool_is_allowed_and_recorded() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // The CLI asks before writing files it calls sensitive, even with Write allowed;
    // in don't-ask mode that write was denied.
    let write = Step::tool("Write", json!({"file_path": "/workspace/.vscode/settings.json", "content": "{\"a\": 1}"}));
    let task = gateway.submit(&key, task_body(vec![write, say("written")])).await;
    let id = task["id"].as_str().unwrap();
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    assert_eq!(approvals.len(), 2, "{approvals:?}");
    assert_eq!(approvals[0]["tool"], "Write");
    assert_eq!(approvals[0]["input"]["file_path"], "/workspace/.vscode/settings.json");
    assert!(approvals[0]["reason"].as_str().is_some_and(|r| r.contains("sensitive")), "{approvals:?}");
    assert_eq!(approvals[1]["decision"], "allow");
    assert_eq!(approvals[1]["decided_by"], "mode");
    assert_eq!(approvals[0]["approval_id"], approvals[1]["approval_id"]);
    assert_eq!(approvals[0]["id"], approvals[0]["approval_id"], "the approval's id, as the API names it");
    assert!(approvals[0]["requested_at"].is_string() && approvals[0]["expires_at"].is_null(), "{approvals:?}");
    assert_eq!(results[0]["is_error"], false, "{results:?}");
    // Decided at once, it is listed with the task's prompts all the same (recorded
    // in the background, so looked for until it is there).
    let listed = wait_for_listed(&gateway, &key, id, 1).await;
    let shown = &listed[0];
    assert_eq!((&shown["id"], shown["state"].as_str()), (&approvals[0]["id"], Some("decided")), "{shown}");
    assert_eq!((shown["decision"].as_str(), shown["decided_by"].as_str()), (Some("allow"), Some("mode")));
    assert_eq!(shown["input"]["file_path"], "/workspace/.vscode/settings.json");
    assert_eq!(shown["requested_at"], approvals[0]["requested_at"]);
    let (status, _) = gateway.get(&format!("/v1/tasks/{id}/files"), &key).await;
    assert_eq!(status, 200);
    let file = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/files/.vscode/settings.json"), &key);
    assert_eq!(file.send().await.unwrap().text().await.unwrap(), "{\"a\": 1}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prompts_outside_what_the_task_allows_are_denied_with_a_reason_the_model_sees() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let steps = vec![
        // Outside the only Bash the task allows.
        bash("(echo a; echo b) > out.txt"),
        // Claude Code's own settings: denied even though Write is allowed.
        Step::tool("Write", json!({"file_path": "/workspace/.claude/settings.json", "content": "{}"})),
        // A tool the task does not allow.
        Step::tool("WebFetch", json!({"url": "https://example.com", "prompt": "read"})),
        say("done"),
    ];
    let body = json!({"prompt": scripted(steps), "options": {"allowed_tools": ["Read", "Write", "Bash(echo:*)"]}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap();
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    let resolved: Vec<&Value> = approvals.iter().filter(|a| a["decision"].is_string()).collect();
    let messages: Vec<&str> = resolved.iter().map(|a| a["message"].as_str().unwrap_or_default()).collect();
    assert_eq!(resolved.len(), 3, "{approvals:?}");
    assert!(resolved.iter().all(|a| a["decision"] == "deny"), "{approvals:?}");
    assert!(messages[0].contains("only as Bash(echo:*)"), "{messages:?}");
    assert!(messages[1].contains("Claude Code's own configuration"), "{messages:?}");
    assert!(messages[2].contains("does not allow the WebFetch tool"), "{messages:?}");
    // The model saw each denial as the tool's error; nothing was written.
    assert_eq!(results.len(), 3, "{results:?}");
    for (result, message) in results.iter().zip(&messages) {
        assert_eq!(result["is_error"], true, "{result}");
        assert!(result["output"].as_str().unwrap().contains(message), "{result} / {message}");
    }
    let listing = gateway.get(&format!("/v1/tasks/{id}/files"), &key).await.1;
    assert!(!listing.to_string().contains("out.txt") && !listing.to_string().contains("settings.json"), "{listing}");
}

/// Polls the task until it has a pending approval; returns it.
/// The task's listed prompts once there are `count` of them.
async fn wait_for_listed(gateway: &Gateway, key: &str, id: &str, count: usize) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let (_, listed) = gateway.get(&format!("/v1/tasks/{id}/approvals"), key).await;
        let data = listed["data"].as_array().cloned().unwrap_or_default();
        if data.len() >= count {
            return data;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{count} prompts were not listed: {listed}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn pending(gateway: &Gateway, key: &str, id: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        let (_, task) = gateway.get(&format!("/v1/tasks/{id}"), key).await;
        if let Some(first) = task["pending_approvals"].as_array().and_then(|p| p.first()) {
            assert_eq!(task["status"], "running", "{task}");
            return first.clone();
        }
        assert!(task["status"] == "running" || task["status"] == "queued", "no prompt came: {task}");
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "no prompt came: {task}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn decide(gateway: &Gateway, key: &str, id: &str, approval: &str, body: Value) -> (u16, Value) {
    gateway.post(&format!("/v1/tasks/{id}/approvals/{approval}"), key, &body).await
}

#[tokio::test(flavor = "multi_thread")]
async fn in_ask_mode_a_tool_call_waits_for_a_client_who_allows_changes_or_denies_it() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let steps = vec![bash("echo first > a.txt"), bash("echo second > b.txt"), bash("echo third > d.txt"), say("done")];
    let body = json!({"prompt": scripted(steps), "options": {"approvals": {"mode": "ask", "timeout_seconds": 120}}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap();
    assert_eq!(
        task["options"]["approvals"],
        json!({"mode": "ask", "timeout_seconds": 120, "auto_allow": [], "auto_deny": []})
    );

    // First call: it waits; the file does not exist until a client allows it.
    let first = pending(&gateway, &key, id).await;
    assert_eq!((first["tool"].as_str(), first["state"].as_str()), (Some("Bash"), Some("pending")), "{first}");
    assert_eq!(first["input"]["command"], "echo first > a.txt");
    let workspace = gateway.data.path().join(format!("tasks/{id}/workspace"));
    assert!(!workspace.join("a.txt").exists(), "the call ran before it was allowed");
    let (_, listed) = gateway.get(&format!("/v1/tasks/{id}/approvals"), &key).await;
    assert_eq!(listed["data"][0]["id"], first["id"]);
    let (status, problem) =
        decide(&gateway, &key, id, first["id"].as_str().unwrap(), json!({"decision": "perhaps"})).await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/decision")), "{problem}");
    let (status, decided) =
        decide(&gateway, &key, id, first["id"].as_str().unwrap(), json!({"decision": "allow"})).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!((decided["state"].as_str(), decided["decided_by"].as_str()), (Some("decided"), Some("client")));
    let (status, _) = decide(&gateway, &key, id, first["id"].as_str().unwrap(), json!({"decision": "deny"})).await;
    assert_eq!(status, 409, "a prompt is decided once");

    // Second call: allowed with another command in its place.
    let second = pending(&gateway, &key, id).await;
    assert_ne!(second["id"], first["id"]);
    let changed = json!({"decision": "allow", "updated_input": {"command": "echo changed > c.txt"}});
    assert_eq!(decide(&gateway, &key, id, second["id"].as_str().unwrap(), changed).await.0, 200);

    // Third call: denied with a message the model sees.
    let third = pending(&gateway, &key, id).await;
    let deny = json!({"decision": "deny", "message": "not in this sprint"});
    assert_eq!(decide(&gateway, &key, id, third["id"].as_str().unwrap(), deny).await.0, 200);

    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(workspace.join("a.txt").exists());
    assert!(workspace.join("c.txt").exists() && !workspace.join("b.txt").exists(), "updated_input ran instead");
    assert!(!workspace.join("d.txt").exists(), "the denied call ran");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    let resolved: Vec<&Value> = approvals.iter().filter(|a| a["decision"].is_string()).collect();
    assert_eq!(resolved.len(), 3, "{approvals:?}");
    // The first request event is the first approval as the API shows it.
    let (_, listed) = gateway.get(&format!("/v1/tasks/{id}/approvals"), &key).await;
    let shown = listed["data"].as_array().unwrap().iter().find(|a| a["id"] == first["id"]).unwrap();
    let requested = &approvals[0];
    for field in ["id", "tool", "input", "requested_at", "expires_at"] {
        assert_eq!(requested[field], shown[field], "{field}: {requested} against {shown}");
    }
    assert!(resolved.iter().all(|a| a["decided_by"] == "client"), "{approvals:?}");
    assert_eq!(results.last().unwrap()["is_error"], true);
    assert!(results.last().unwrap()["output"].as_str().unwrap().contains("not in this sprint"), "{results:?}");
    let (_, task) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
    assert_eq!(task["pending_approvals"], json!([]));
    let other = gateway.create_key(&["--name", "other"]);
    assert_eq!(gateway.get(&format!("/v1/tasks/{id}/approvals"), &other).await.0, 404, "another key sees nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unanswered_prompt_is_denied_at_its_deadline_and_a_cancelled_run_expires_its_prompts() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let body = json!({"prompt": scripted(vec![bash("echo late > late.txt"), say("done")]),
                      "options": {"approvals": {"mode": "ask", "timeout_seconds": 1}}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap();
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    let resolved = approvals.iter().find(|a| a["decision"].is_string()).expect("resolved");
    assert_eq!((resolved["decision"].as_str(), resolved["decided_by"].as_str()), (Some("deny"), Some("timeout")));
    assert!(results[0]["output"].as_str().unwrap().contains("options.approvals.timeout_seconds"), "{results:?}");

    // A prompt still waiting when its run is cancelled expires with it.
    let body = json!({"prompt": scripted(vec![bash("echo never > never.txt"), say("done")]),
                      "options": {"approvals": {"mode": "ask"}}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap();
    let waiting = pending(&gateway, &key, id).await;
    let (status, _) = gateway.post(&format!("/v1/tasks/{id}/cancel"), &key, &json!({})).await;
    assert_eq!(status, 200);
    gateway.wait_done(&key, id).await;
    let (_, listed) = gateway.get(&format!("/v1/tasks/{id}/approvals"), &key).await;
    assert_eq!(listed["data"][0]["state"], "expired", "{listed}");
    let (status, problem) =
        decide(&gateway, &key, id, waiting["id"].as_str().unwrap(), json!({"decision": "allow"})).await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("expired"), "{problem}");
    // Options are checked like the rest.
    let bad = json!({"prompt": "p", "options": {"approvals": {"mode": "later", "timeout_seconds": 0}}});
    let (status, problem) = gateway.post("/v1/tasks", &key, &bad).await;
    assert_eq!(status, 422);
    let pointers: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/options/approvals/mode", "/options/approvals/timeout_seconds"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compound_command_a_newer_cli_asks_about_runs_in_auto_mode() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // Claude Code 2.1.332 asks before this ("This command reaches …/.credentials.json");
    // in don't-ask mode it was denied, and 2.1.197 runs it without asking.
    let command = "mkdir -p real && ln -s ../../.. data && (echo a; echo b) > real/out.txt && echo ran > ran.txt";
    let task = gateway.submit(&key, task_body(vec![bash(command), say("done")])).await;
    let id = task["id"].as_str().unwrap();
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    assert_eq!(results[0]["is_error"], false, "{results:?} {approvals:?}");
    assert!(approvals.iter().filter(|a| a["decision"].is_string()).all(|a| a["decision"] == "allow"), "{approvals:?}");
    let ran = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/files/ran.txt"), &key).send().await;
    assert_eq!(ran.unwrap().text().await.unwrap(), "ran\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prompt_waiting_when_the_gateway_dies_expires_and_the_recovered_run_asks_again() {
    let model = Model::start().await;
    let mut gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let body = json!({"prompt": scripted(vec![bash("echo after > after.txt"), say("done")]),
                      "options": {"approvals": {"mode": "ask", "timeout_seconds": 300}}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap().to_string();
    let before = pending(&gateway, &key, &id).await;
    gateway.kill();
    gateway.restart().await;
    // The recovered run asks again: a new prompt, and the old one no longer pending.
    let started = std::time::Instant::now();
    let again = loop {
        let (_, task) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
        let fresh = task["pending_approvals"].as_array().and_then(|p| p.iter().find(|a| a["id"] != before["id"]));
        if let Some(asked) = fresh {
            break asked.clone();
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the recovered run did not ask: {task}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let (_, listed) = gateway.get(&format!("/v1/tasks/{id}/approvals"), &key).await;
    let old = listed["data"].as_array().unwrap().iter().find(|a| a["id"] == before["id"]).unwrap().clone();
    assert_eq!(old["state"], "expired", "{listed}");
    let (status, _) = decide(&gateway, &key, &id, again["id"].as_str().unwrap(), json!({"decision": "allow"})).await;
    assert_eq!(status, 200);
    let task = gateway.wait_done(&key, &id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["pending_approvals"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tasks_own_rules_answer_prompts_before_anyone_is_asked() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // In ask mode, with rules: the plain `touch` runs without a person, the line with
    // curl in it is denied by the rule, and the compound touch still waits.
    let steps = vec![
        bash("touch ruled.txt; true"),
        bash("touch plain.txt"),
        bash("cd . && curl -s http://127.0.0.1:9/ > fetched.txt"),
        say("done"),
    ];
    let approvals = json!({"mode": "ask", "timeout_seconds": 120, "auto_allow": ["Bash(touch:*)"],
                           "auto_deny": ["Bash(curl:*)"]});
    let body = json!({"prompt": scripted(steps), "options": {"approvals": approvals}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap();
    assert_eq!(task["options"]["approvals"]["auto_deny"], json!(["Bash(curl:*)"]));
    let waiting = pending(&gateway, &key, id).await;
    assert_eq!(waiting["input"]["command"], "touch ruled.txt; true", "a compound line is not ruled");
    assert_eq!(decide(&gateway, &key, id, waiting["id"].as_str().unwrap(), json!({"decision": "allow"})).await.0, 200);
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    let resolved: Vec<(&str, &str)> = approvals
        .iter()
        .filter(|a| a["decision"].is_string())
        .map(|a| (a["decision"].as_str().unwrap(), a["decided_by"].as_str().unwrap()))
        .collect();
    assert_eq!(resolved, [("allow", "client"), ("allow", "rule"), ("deny", "rule")], "{approvals:?}");
    assert!(resolved.iter().all(|r| *r != ("allow", "mode")), "{approvals:?}");
    let denied = results.last().unwrap();
    assert_eq!(denied["is_error"], true, "{results:?}");
    assert!(denied["output"].as_str().unwrap().contains("auto_deny: Bash(curl:*)"), "{denied}");
    let workspace = gateway.data.path().join(format!("tasks/{id}/workspace"));
    assert!(workspace.join("ruled.txt").exists() && workspace.join("plain.txt").exists());
    assert!(!workspace.join("fetched.txt").exists());

    // Bad rules are named one by one; a rule may not hand the task a tool.
    let bad = json!({"prompt": "p", "options": {"allowed_tools": ["Read", "Bash(git:*)"], "approvals": {
        "auto_allow": ["Bash(make:*)", "WebFetch", "Read(src/**"], "auto_deny": ["Task(x)"]}}});
    let (status, problem) = gateway.post("/v1/tasks", &key, &bad).await;
    assert_eq!(status, 422, "{problem}");
    let pointers: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(
        pointers,
        ["/options/approvals/auto_allow/2", "/options/approvals/auto_deny/0", "/options/approvals/auto_allow/1"],
        "{problem}"
    );
    assert!(problem["errors"][2]["message"].as_str().unwrap().contains("WebFetch, which the task does not allow"));
}

#[tokio::test(flavor = "multi_thread")]
async fn questions_the_model_asks_are_answered_over_http_or_left_to_the_model() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let questions = json!({"questions": [
        {"question": "Which color?", "header": "Color", "multiSelect": false,
         "options": [{"label": "Blue", "description": "cool"}, {"label": "Red", "description": "warm"}]},
        {"question": "Which sizes?", "header": "Sizes", "multiSelect": true,
         "options": [{"label": "S", "description": "small"}, {"label": "M", "description": "medium"}]}]});
    let ask = |mode: &str| {
        json!({"prompt": scripted(vec![Step::tool("AskUserQuestion", questions.clone()), bash("touch x"), say("done")]),
               "options": {"allowed_tools": ["Read", "Bash", "AskUserQuestion"],
                           "approvals": {"mode": mode, "timeout_seconds": 120, "auto_allow": ["Bash"]}}})
    };

    // Ask mode: the question waits; answers are checked against what was asked.
    let task = gateway.submit(&key, ask("ask")).await;
    let id = task["id"].as_str().unwrap();
    let waiting = pending(&gateway, &key, id).await;
    assert_eq!(waiting["tool"], "AskUserQuestion");
    let approval = waiting["id"].as_str().unwrap();
    let wrong = json!({"decision": "allow", "answers": {"Which car?": "Volvo", "Which color?": ["Blue", "Red"]}});
    let (status, problem) = decide(&gateway, &key, id, approval, wrong).await;
    assert_eq!(status, 422, "{problem}");
    let pointers: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/answers/Which car?", "/answers/Which color?"], "{problem}");
    let (status, problem) = decide(&gateway, &key, id, approval, json!({"decision": "deny", "answers": {}})).await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/answers")), "{problem}");
    let answers = json!({"decision": "allow", "answers": {"Which color?": "Blue", "Which sizes?": ["S", "M"]}});
    let (status, decided) = decide(&gateway, &key, id, approval, answers).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["updated_input"]["answers"], json!({"Which color?": "Blue", "Which sizes?": "S, M"}));
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (_, results) = prompts_of(&gateway, &key, id).await;
    let answered = results[0]["output"].as_str().unwrap();
    assert_eq!(results[0]["is_error"], false, "{results:?}");
    assert!(answered.contains("Blue") && answered.contains("S, M"), "the model got the answers: {answered}");
    // Answers go with AskUserQuestion prompts only.
    let body = json!({"prompt": scripted(vec![bash("touch y"), say("done")]),
                      "options": {"approvals": {"mode": "ask", "timeout_seconds": 120}}});
    let other = gateway.submit(&key, body).await;
    let other_id = other["id"].as_str().unwrap();
    let bash_prompt = pending(&gateway, &key, other_id).await;
    let (status, problem) = decide(
        &gateway,
        &key,
        other_id,
        bash_prompt["id"].as_str().unwrap(),
        json!({"decision": "allow", "answers": {"q": "a"}}),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("this one is for Bash"), "{problem}");
    gateway.post(&format!("/v1/tasks/{other_id}/cancel"), &key, &json!({})).await;

    // Auto mode: nobody is there to answer, and the model is told to choose itself.
    let task = gateway.submit(&key, ask("auto")).await;
    let id = task["id"].as_str().unwrap();
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    assert!(results[0]["output"].as_str().unwrap().contains("choose the option you judge best"), "{results:?}");
    assert!(approvals.iter().any(|a| a["decided_by"] == "mode" && a["decision"] == "deny"), "{approvals:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_taken_before_the_gateway_died_is_not_asked_again() {
    let model = Model::start().await;
    let mut gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // The allowed call marks that it started, then takes long enough for the gateway
    // to die under it.
    let command = "touch started.txt && sleep 8 && touch finished.txt";
    let body = json!({"prompt": scripted(vec![bash(command), say("done")]),
                      "options": {"approvals": {"mode": "ask", "timeout_seconds": 300}}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap().to_string();
    let first = pending(&gateway, &key, &id).await;
    assert_eq!(decide(&gateway, &key, &id, first["id"].as_str().unwrap(), json!({"decision": "allow"})).await.0, 200);
    let started = gateway.data.path().join(format!("tasks/{id}/workspace/started.txt"));
    let since = std::time::Instant::now();
    while !started.exists() {
        assert!(since.elapsed() < std::time::Duration::from_secs(60), "the allowed call did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    gateway.kill();
    gateway.restart().await;
    // The recovered run asks for the same call; the recorded decision answers it.
    let since = std::time::Instant::now();
    let reused = loop {
        let events = gateway.events(&key, &id, None).await;
        if let Some(reused) = events.iter().find(|e| e.1 == "approval_resolved" && e.2["reused_from"].is_string()) {
            break reused.2.clone();
        }
        let (_, task) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
        assert_eq!(task["pending_approvals"], json!([]), "asked twice: {task}");
        assert!(since.elapsed() < std::time::Duration::from_secs(90), "the recovered run did not ask: {task}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(reused["reused_from"], first["id"]);
    assert_eq!((reused["decision"].as_str(), reused["decided_by"].as_str()), (Some("allow"), Some("client")));
    let task = gateway.wait_done(&key, &id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (_, listed) = gateway.get(&format!("/v1/tasks/{id}/approvals"), &key).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "nobody was asked again: {listed}");
}
