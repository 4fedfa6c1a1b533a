//! From inside an `allowlist` run: the egress proxy's CONNECT tunnel used to reach
//! another virtual host behind an allowed address (plain HTTP in the tunnel, any
//! `Host`). Every tunnel must now be TLS naming the vetted host; plain HTTP goes
//! through the forwarding path, which sets `Host` itself.

use serde_json::json;

use crate::sandbox::{assert_all_blocked, attempt, gateway_with, run_steps};
use crate::support::*;

const ALLOWED_PAGE: &str = "the allowed site";
const NEIGHBOUR_PAGE: &str = "NEIGHBOUR-SECRET";
const NEIGHBOUR: &str = "neighbour.internal";

/// One loopback server with two virtual hosts: `NEIGHBOUR` answers with its secret,
/// any other `Host` with the allowed site. Returns its port.
async fn two_virtual_hosts() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(|headers: axum::http::HeaderMap| async move {
        let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
        if host.split(':').next() == Some(NEIGHBOUR) { NEIGHBOUR_PAGE } else { ALLOWED_PAGE }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// Bash writing a CONNECT for `localhost:port` to the run's proxy by hand (with the
/// credentials from `HTTP_PROXY`), then a plain HTTP request for `host` through the
/// tunnel; prints all that comes back between two markers.
fn hand_made_tunnel(port: u16, host: &str) -> String {
    format!(
        r#"u=${{HTTP_PROXY#http://}}; auth=$(printf %s "${{u%@*}}" | base64 -w0); hp=${{u#*@}}; hp=${{hp%/}}
exec 3<>/dev/tcp/${{hp%:*}}/${{hp##*:}}
printf 'CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\nProxy-Authorization: Basic %s\r\n\r\n' "$auth" >&3
printf 'GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n' >&3
echo tunnel-start; timeout 10 cat <&3; echo; echo tunnel-end"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connect_tunnel_cannot_reach_another_virtual_host() {
    let port = two_virtual_hosts().await;
    let model = Model::start().await;
    let config = format!("[sandbox]\nallowed_hosts = [\"localhost:{port}\"]\nprivate_hosts = [\"localhost\"]\n");
    let (gateway, _config) = gateway_with(&model, &config, "auto").await;
    let key = gateway.create_key(&["--name", "dev"]);
    // The neighbour is really there, at the allowed address, for whoever names it.
    let direct = gateway.http.get(format!("http://127.0.0.1:{port}/")).header("host", NEIGHBOUR).send().await;
    assert_eq!(direct.unwrap().text().await.unwrap(), NEIGHBOUR_PAGE);
    let commands = [
        // The forwarding path works, and names the vetted host whatever the run asks.
        format!("curl -sS -m 10 http://localhost:{port}/ && echo"),
        format!("curl -sS -m 10 -H 'Host: {NEIGHBOUR}' http://localhost:{port}/ && echo"),
        hand_made_tunnel(port, NEIGHBOUR),
        attempt("curl-tunnel", &format!("curl -sSfp -m 10 -H 'Host: {NEIGHBOUR}' http://localhost:{port}/")),
    ];
    let (task, output) = run_steps(&gateway, &key, json!({"network": "allowlist"}), &commands).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(output.matches(ALLOWED_PAGE).count(), 2, "both forwarded requests:\n{output}");
    assert!(output.contains("200 Connection Established") && output.contains("tunnel-end"), "{output}");
    assert!(!output.contains(NEIGHBOUR_PAGE), "a tunnel reached the neighbour:\n{output}");
    assert_all_blocked(&output, &["curl-tunnel"]);
}
