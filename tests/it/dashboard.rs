//! The dashboard without a browser: signing in, sessions, CSRF tokens on forms,
//! what a `tasks` key may see, a revoked key's session, and the usage rollup on
//! the overview. (`dashboard_browser` drives the same pages in Chromium.)

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::support::*;

/// A browser's worth of state: no redirects followed, cookies kept by hand.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
}

impl Browser {
    pub(crate) fn new(gateway: &Gateway) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Self { http, base: gateway.url.clone(), session: None }
    }

    fn cookie(&self) -> String {
        self.session.as_ref().map(|s| format!("ccgate_session={s}")).unwrap_or_default()
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let response =
            self.http.get(format!("{}{path}", self.base)).header(COOKIE, self.cookie()).send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, response.text().await.unwrap(), headers)
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, reqwest::header::HeaderMap) {
        self.post_with_cookie(path, form, &self.cookie()).await
    }

    async fn post_with_cookie(
        &self,
        path: &str,
        form: &[(&str, &str)],
        cookie: &str,
    ) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, response.text().await.unwrap(), headers)
    }

    /// Signs in with `key` through the form, as a person would.
    pub(crate) async fn sign_in(&mut self, key: &str) {
        let (status, html, headers) = self.get("/dashboard/sign-in").await;
        assert_eq!(status, 200, "{html}");
        let form_cookie = cookie_named(&headers, "ccgate_sign_in").expect("the sign-in form sets its token cookie");
        let token = csrf_of(&html);
        let cookie = format!("ccgate_sign_in={form_cookie}");
        let (status, body, headers) =
            self.post_with_cookie("/dashboard/sign-in", &[("csrf", &token), ("key", key)], &cookie).await;
        assert_eq!(status, 303, "{body}");
        let set = headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>();
        let session = set.iter().find(|c| c.starts_with("ccgate_session=")).expect("a session cookie");
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
        self.session = cookie_named(&headers, "ccgate_session");
    }

    /// The CSRF token of the signed-in pages' forms.
    async fn csrf(&self) -> String {
        let (status, html, _) = self.get("/dashboard/tasks").await;
        assert_eq!(status, 200, "{html}");
        csrf_of(&html)
    }
}

fn cookie_named(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|cookie| {
        let value = cookie.strip_prefix(&format!("{name}="))?;
        Some(value.split(';').next().unwrap_or("").to_string()).filter(|v| !v.is_empty())
    })
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + "name=\"csrf\" value=\"".len();
    html[at..].chars().take_while(|c| *c != '"').collect()
}

/// The secret starting with `prefix` that a "shown once" page shows.
fn secret_on(page: &str, prefix: &str) -> String {
    let at = page.find(&format!("<code class=\"secret\">{prefix}")).expect("a secret on the page")
        + "<code class=\"secret\">".len();
    page[at..].chars().take_while(|c| *c != '<').collect()
}

fn problem_pointer(body: &str) -> Option<String> {
    let problem: Value = serde_json::from_str(body).ok()?;
    problem["errors"][0]["pointer"].as_str().map(String::from)
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_takes_a_valid_key_and_every_form_needs_its_csrf_token() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let created = gateway.create_key_json(&["--name", "dev"]);
    let (dev_key, dev_id) = (created["secret"].as_str().unwrap(), created["id"].as_str().unwrap());
    let mut browser = Browser::new(&gateway);

    let (status, _, headers) = browser.get("/dashboard").await;
    assert_eq!(
        (status, headers.get(LOCATION).unwrap().to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/dashboard/sign-in")
    );
    let (_, html, headers) = browser.get("/dashboard/sign-in").await;
    let csp = headers.get(CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"), "{csp}");
    assert!(!html.contains("<script>") && !html.contains("style="), "nothing inline: {html}");

    // The sign-in form's own token: without it, or with another, nothing happens.
    let form_cookie = format!("ccgate_sign_in={}", cookie_named(&headers, "ccgate_sign_in").unwrap());
    let (status, body, _) =
        browser.post_with_cookie("/dashboard/sign-in", &[("key", &gateway.admin_key)], &form_cookie).await;
    assert_eq!((status, problem_pointer(&body).as_deref()), (StatusCode::FORBIDDEN, Some("/csrf")), "{body}");
    let (status, body, _) = browser
        .post_with_cookie("/dashboard/sign-in", &[("csrf", &"0".repeat(64)), ("key", &gateway.admin_key)], &form_cookie)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let token = csrf_of(&html);
    let (status, body, headers) = browser
        .post_with_cookie("/dashboard/sign-in", &[("csrf", &token), ("key", "ccg_live_nope")], &form_cookie)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(cookie_named(&headers, "ccgate_session").is_none());

    browser.sign_in(&gateway.admin_key).await;
    let (status, html, _) = browser.get("/dashboard").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Readiness") && html.contains("Finished runs"), "{html}");

    // A form without the session's token is refused, names the field, and changes nothing.
    let revoke = format!("/dashboard/keys/{dev_id}/revoke");
    let (status, body, _) = browser.post(&revoke, &[]).await;
    assert_eq!((status, problem_pointer(&body).as_deref()), (StatusCode::FORBIDDEN, Some("/csrf")), "{body}");
    let (status, body, _) = browser.post(&revoke, &[("csrf", &"f".repeat(64))]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(gateway.get("/v1/tasks", dev_key).await.0, 200, "the key still works");

    let csrf = browser.csrf().await;
    let (status, plugins, _) = browser.get("/dashboard/plugins").await;
    assert!(status == 200 && plugins.contains("Reload plugins"), "{plugins}");
    assert_eq!(browser.post("/dashboard/plugins/reload", &[]).await.0, StatusCode::FORBIDDEN);
    assert_eq!(browser.post("/dashboard/plugins/reload", &[("csrf", &csrf)]).await.0, StatusCode::SEE_OTHER);
    // Keys are created as through the API: checked field by field, shown once, audited.
    let (status, body, _) = browser.post("/dashboard/keys", &[("csrf", &csrf), ("name", ""), ("scope", "tasks")]).await;
    assert_eq!(
        (status, problem_pointer(&body).as_deref()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("/name")),
        "{body}"
    );
    let bad_budget = [("csrf", csrf.as_str()), ("name", "ci"), ("scope", "tasks"), ("budget_usd_per_day", "lots")];
    let (status, body, _) = browser.post("/dashboard/keys", &bad_budget).await;
    assert_eq!(problem_pointer(&body).as_deref(), Some("/budget_usd_per_day"), "{status} {body}");
    let form = [("csrf", csrf.as_str()), ("name", "ci"), ("scope", "tasks"), ("budget_usd_per_day", "2.5")];
    let (status, page, _) = browser.post("/dashboard/keys", &form).await;
    assert_eq!(status, StatusCode::CREATED, "{page}");
    let secret = secret_on(&page, "ccg_");
    assert_eq!(gateway.get("/v1/tasks", &secret).await.0, 200, "the new key works");
    let (_, keys, _) = browser.get("/dashboard/keys").await;
    assert!(keys.replace("&#x2f;", "/").contains("$2.5000/day"), "{keys}");
    // A key over its rate limit: the keys page counts what was refused.
    let limited = gateway.create_key_json(&["--name", "limited", "--rate-limit", "1"]);
    let limited_key = limited["secret"].as_str().unwrap();
    assert_eq!(gateway.get("/v1/tasks", limited_key).await.0, 200);
    assert_eq!(gateway.get("/v1/tasks", limited_key).await.0, 429);
    let (_, keys, _) = browser.get("/dashboard/keys").await;
    let row = keys.split("<tr data-key=").find(|row| row.contains(limited["id"].as_str().unwrap())).unwrap();
    assert!(row.contains("<td class=\"rate-limited\">1</td>"), "{row}");
    let (status, page, _) = browser.post(&format!("/dashboard/keys/{dev_id}/webhook-secret"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(secret_on(&page, "whsec_").len() > 10);
    let (_, audit) = gateway.get("/v1/audit?action=key.create", &gateway.admin_key).await;
    let from_the_dashboard =
        audit["data"].as_array().unwrap().iter().filter(|e| e["client_addr"] == "127.0.0.1").count();
    assert_eq!(from_the_dashboard, 1, "the CLI's keys are audited too, without an address: {audit}");

    let (status, body, _) = browser.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(gateway.get("/v1/tasks", dev_key).await.0, 401, "revoked from the dashboard");
    let (_, audit) = gateway.get("/v1/audit?action=key.revoke", &gateway.admin_key).await;
    assert_eq!(audit["data"][0]["target"].as_str(), Some(dev_id), "{audit}");

    // Signing out ends the session on the server, not only in the browser.
    let (status, _, _) = browser.post("/dashboard/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/dashboard").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tasks_key_sees_only_its_own_tasks_and_key_and_revocation_ends_its_session() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let (alice, bob) = (gateway.create_key_json(&["--name", "alice"]), gateway.create_key_json(&["--name", "bob"]));
    let (alice_key, alice_id) = (alice["secret"].as_str().unwrap(), alice["id"].as_str().unwrap());
    let (bob_key, bob_id) = (bob["secret"].as_str().unwrap(), bob["id"].as_str().unwrap());
    let steps = vec![bash("mkdir -p 'my notes' && echo hi > 'my notes/a#1.txt'"), say("hello from alice")];
    let task = gateway.submit(alice_key, task_body(steps)).await;
    let task_id = task["id"].as_str().unwrap();
    assert_eq!(gateway.wait_done(alice_key, task_id).await["status"], "completed");

    // Alice downloads her task's files from its page, through the API's own handlers.
    let mut alice_browser = Browser::new(&gateway);
    alice_browser.sign_in(alice_key).await;
    let (_, page, _) = alice_browser.get(&format!("/dashboard/tasks/{task_id}")).await;
    let file = format!("/dashboard/tasks/{task_id}/files/my%20notes/a%231.txt");
    // (The template escapes `/` as `&#x2f;`, which a browser reads back as `/`.)
    assert!(page.replace("&#x2f;", "/").contains(&format!("href=\"{file}\"")), "{page}");
    let (status, body, _) = alice_browser.get(&file).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "hi\n"));
    let (status, _, headers) = alice_browser.get(&format!("/dashboard/tasks/{task_id}/archive")).await;
    assert_eq!((status, headers.get("content-type").unwrap().to_str().unwrap()), (StatusCode::OK, "application/gzip"));
    assert_eq!(Browser::new(&gateway).get(&file).await.0, StatusCode::SEE_OTHER, "no session, no file");

    let mut bob_browser = Browser::new(&gateway);
    bob_browser.sign_in(bob_key).await;
    let (_, list, _) = bob_browser.get(&format!("/dashboard/tasks?key={alice_id}")).await;
    assert!(!list.contains(task_id), "bob's list shows alice's task: {list}");
    assert_eq!(bob_browser.get(&format!("/dashboard/tasks/{task_id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(bob_browser.get(&format!("/dashboard/tasks/{task_id}/events")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(bob_browser.get(&file).await.0, StatusCode::NOT_FOUND);
    let (_, keys, _) = bob_browser.get("/dashboard/keys").await;
    assert!(keys.contains(bob_id) && !keys.contains(alice_id), "{keys}");
    assert_eq!(bob_browser.get("/dashboard/audit").await.0, StatusCode::FORBIDDEN);
    let csrf = bob_browser.csrf().await;
    let (status, _, _) = bob_browser.post(&format!("/dashboard/tasks/{task_id}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = bob_browser.post(&format!("/dashboard/keys/{alice_id}/revoke"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, plugins, _) = bob_browser.get("/dashboard/plugins").await;
    assert!(!plugins.contains("Reload plugins"), "{plugins}");
    assert_eq!(bob_browser.post("/dashboard/plugins/reload", &[("csrf", &csrf)]).await.0, StatusCode::FORBIDDEN);
    // Refusals are audited as the API's are (written off the request path).
    let started = std::time::Instant::now();
    loop {
        let (_, audit) = gateway.get("/v1/audit?action=request.denied", &gateway.admin_key).await;
        let refused: Vec<&Value> =
            audit["data"].as_array().unwrap().iter().filter(|e| e["key_id"].as_str() == Some(bob_id)).collect();
        if refused.iter().any(|e| e["target"] == "POST /dashboard/plugins/reload") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "bob's refusals are not audited: {audit}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(gateway.get("/v1/tasks", alice_key).await.0, 200);

    // The admin sees alice's task and the rollup of its run.
    let mut admin = Browser::new(&gateway);
    admin.sign_in(&gateway.admin_key).await;
    let (_, list, _) = admin.get("/dashboard/tasks").await;
    assert!(list.contains(task_id), "{list}");
    let (status, page, _) = admin.get(&format!("/dashboard/tasks/{task_id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("hello from alice"), "{page}");
    let (_, overview, _) = admin.get("/dashboard").await;
    assert!(overview.contains("100.0 %"), "one completed run in the rollup: {overview}");
    assert!(overview.contains("No node is running a task."), "{overview}");
    let (status, body, _) = admin.get("/dashboard/tasks?status=done").await;
    assert_eq!((status, problem_pointer(&body).as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("/query/status")));

    // Revoking bob ends his session at once.
    let csrf = admin.csrf().await;
    assert_eq!(
        admin.post(&format!("/dashboard/keys/{bob_id}/revoke"), &[("csrf", &csrf)]).await.0,
        StatusCode::SEE_OTHER
    );
    let (status, _, headers) = bob_browser.get("/dashboard/tasks").await;
    assert_eq!(
        (status, headers.get(LOCATION).and_then(|l| l.to_str().ok())),
        (StatusCode::SEE_OTHER, Some("/dashboard/sign-in"))
    );
}
