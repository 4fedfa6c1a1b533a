//! Runs confined by the sandbox, attacked from inside by the real Claude Code CLI's
//! Bash tool: every attempt ends blocked, the task says what happened, the gateway
//! stays up, and the next task starts clean.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// Runs `commands` as one task's Bash steps (with `options`); returns the finished
/// task and all the commands' output.
pub(crate) async fn run_steps(gateway: &Gateway, key: &str, options: Value, commands: &[String]) -> (Value, String) {
    let mut steps: Vec<_> = commands.iter().map(|c| bash(c)).collect();
    steps.push(say("done"));
    let task = gateway.submit(key, json!({"prompt": scripted(steps), "options": options})).await;
    let id = task["id"].as_str().unwrap().to_string();
    let task = gateway.wait_done(key, &id).await;
    (task, tool_output(gateway, key, &id).await)
}

/// The output of all the task's tool calls, in order.
pub(crate) async fn tool_output(gateway: &Gateway, key: &str, id: &str) -> String {
    gateway
        .events(key, id, None)
        .await
        .into_iter()
        .filter(|(_, kind, _)| kind == "tool_result")
        .map(|(_, _, data)| data["output"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `attempt` must fail: prints `blocked:NAME`, or `ESCAPED:NAME` if it worked.
pub(crate) fn attempt(name: &str, command: &str) -> String {
    format!("if {command} >/dev/null 2>&1; then echo ESCAPED:{name}; else echo blocked:{name}; fi")
}

pub(crate) fn assert_all_blocked(output: &str, names: &[&str]) {
    assert!(!output.contains("ESCAPED"), "an attempt got through:\n{output}");
    for name in names {
        assert!(output.contains(&format!("blocked:{name}")), "{name} did not run:\n{output}");
    }
}

/// A `perl` one-liner calling syscall `number` with `args`, printing its errno.
fn syscall(name: &str, number: u32, args: &str) -> String {
    format!(r#"perl -e 'my $r = syscall({number}, {args}); print $r == -1 ? "{name}: $!\n" : "ESCAPED:{name}\n"'"#)
}

pub(crate) async fn gateway_with(model: &Model, config: &str, mode: &str) -> (Gateway, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), config).unwrap();
    let env = vec![
        ("CCGATE_CONFIG".to_string(), file.path().display().to_string()),
        ("CCGATE_SANDBOX_MODE".to_string(), mode.to_string()),
    ];
    (Gateway::start(model, GatewayOptions { env, ..Default::default() }).await, file)
}

#[tokio::test(flavor = "multi_thread")]
async fn files_processes_and_kernel_interfaces_outside_the_run_are_out_of_reach() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let (_, checks) = gateway.get("/readyz", &key).await;
    assert_eq!(checks["checks"]["sandbox"]["confinement"], "bwrap", "{checks}");
    let other = gateway.submit(&key, task_body(vec![bash("echo top-secret > secret.txt"), say("ok")])).await;
    let other_id = other["id"].as_str().unwrap();
    gateway.wait_done(&key, other_id).await;
    let data = gateway.data.path().display().to_string();
    let commands = [
        "id -u; pwd; echo private > /tmp/mine && cat /tmp/mine && echo wrote > inside.txt".to_string(),
        attempt("shadow", "cat /etc/shadow"),
        attempt("database", &format!("cat {data}/ccgate.db")),
        attempt("other-workspace", &format!("cat {data}/tasks/{other_id}/workspace/secret.txt")),
        attempt("write-usr", "touch /usr/planted"),
        attempt("write-etc", "touch /etc/planted"),
        attempt("write-root", "touch /planted"),
        attempt("write-helper", "touch /run/ccgate/planted"),
        attempt("write-data", &format!("touch {data}/planted")),
        attempt("hard-link-out", "ln /etc/hosts hosts-link"),
        attempt("see-host-pids", "test $(ls /proc | grep -c '^[0-9]') -gt 20"),
        attempt("signal-gateway", &format!("kill -0 {}", gateway.pid())),
        attempt("unshare-user", "unshare -U true"),
        attempt("unshare-net", "unshare -n true"),
        attempt("mount", "mkdir -p /tmp/m && mount -t tmpfs x /tmp/m"),
        syscall("ptrace", 101, "0, 0, 0, 0"),
        syscall("keyctl", 250, "0, -3, 0"),
        syscall("io_uring", 425, "1, 0"),
        syscall("bpf", 321, "0, 0, 0"),
        // getpid as an x32 call (bit 30): EPERM from the filter, where a kernel
        // without x32 would say ENOSYS and one with x32 would answer.
        syscall("x32", 0x4000_0000 + 39, "0"),
        // socket(AF_APPLETALK, SOCK_DGRAM, 0): not a family a run may use.
        syscall("appletalk", 41, "5, 2, 0"),
        // Each answers otherwise without the filter: EFAULT (no attributes), a user-mode
        // descriptor, 0 bytes read from itself, EINVAL (no arguments).
        syscall("perf_event_open", 298, "0, 0, -1, -1, 0"),
        syscall("userfaultfd", 323, "1"),
        syscall("process_vm_readv", 310, "$$, 0, 0, 0, 0, 0"),
        syscall("clone3", 435, "0, 0"),
        "echo core-limit:$(ulimit -c)".to_string(),
    ];
    let (task, output) = run_steps(&gateway, &key, json!({}), &commands).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(output.contains("1000\n/workspace\nprivate"), "runs as the sandbox user in /workspace:\n{output}");
    assert_all_blocked(
        &output,
        &[
            "shadow",
            "database",
            "other-workspace",
            "write-usr",
            "write-etc",
            "write-root",
            "write-helper",
            "write-data",
            "hard-link-out",
            "see-host-pids",
            "signal-gateway",
            "unshare-user",
            "unshare-net",
            "mount",
        ],
    );
    for (name, errno) in [
        ("ptrace", "Operation not permitted"),
        ("keyctl", "Operation not permitted"),
        ("io_uring", "Function not implemented"),
        ("bpf", "Operation not permitted"),
        ("x32", "Operation not permitted"),
        ("appletalk", "Operation not permitted"),
        ("perf_event_open", "Operation not permitted"),
        ("userfaultfd", "Operation not permitted"),
        ("process_vm_readv", "Operation not permitted"),
        ("clone3", "Function not implemented"),
    ] {
        assert!(output.contains(&format!("{name}: {errno}")), "{name} was not refused by seccomp:\n{output}");
    }
    assert!(output.contains("core-limit:0"), "no core dumps:\n{output}");
    let id = task["id"].as_str().unwrap();
    assert!(gateway.data.path().join(format!("tasks/{id}/workspace/inside.txt")).exists());
    assert!(!gateway.data.path().join("planted").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_model_key_and_gateway_secrets_never_reach_the_run() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // The strings are put together at run time so the command line itself never holds them.
    let search = r#"K=sk-ant-test; K=$K-dummy; C=canary-must; C=$C-not-leak; "#;
    let commands = [
        format!(
            "{search}for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do grep -qa -e \"$K\" -e \"$C\" $f 2>/dev/null && echo ESCAPED:proc:$f; done; echo blocked:proc"
        ),
        format!("{search}env | grep -q -e \"$K\" -e \"$C\" && echo ESCAPED:env; echo blocked:env"),
        format!(
            "{search}grep -rqa -e \"$K\" -e \"$C\" ~ /tmp /workspace /etc /run/ccgate/sockets 2>/dev/null && echo ESCAPED:files; echo blocked:files"
        ),
        "echo \"$ANTHROPIC_API_KEY\" | grep -q '^ccgate-run-' && echo token:per-run".to_string(),
        // The token opens the Messages API only, not the organisation's other endpoints.
        "curl -s -m 5 -X POST \"$ANTHROPIC_BASE_URL/v1/messages/batches\" -H \"x-api-key: $ANTHROPIC_API_KEY\"; echo"
            .to_string(),
    ];
    let (task, output) = run_steps(&gateway, &key, json!({}), &commands).await;
    // The scripted model refuses every key but the gateway's: the run reached it
    // through the proxy, which swapped the run's token for the real key.
    assert_eq!(task["status"], "completed", "{task}");
    assert_all_blocked(&output, &["proc", "env", "files"]);
    assert!(output.contains("token:per-run"), "{output}");
    assert!(output.contains("only POST /v1/messages and /v1/messages/count_tokens"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_network_only_the_model_is_reachable() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let gateway_addr = gateway.url.trim_start_matches("http://").to_string();
    let model_addr = model.url.trim_start_matches("http://").to_string();
    // Every target is first reached from the test process: blocked means the sandbox
    // blocked it, not that this machine has no network.
    let server = http_server("reachable").await;
    let resolver = udp_resolver().await;
    let mut hosts = vec!["127.0.0.1".to_string()];
    hosts.extend(host_address().map(|ip| ip.to_string()));
    let mut commands = Vec::new();
    let mut names = Vec::new();
    for host in &hosts {
        assert_reachable(&format!("http://{host}:{server}/"), "reachable").await;
        assert_resolver_answers(host, resolver).await;
        names.extend([format!("http-{host}"), format!("udp-{host}")]);
        commands.push(attempt(&names[names.len() - 2], &format!("curl -sSf -m 3 http://{host}:{server}/")));
        commands.push(attempt(&names[names.len() - 1], &udp_query(host, resolver)));
    }
    assert_reachable(&format!("{}/healthz", gateway.url), "").await;
    commands.push(attempt("gateway-port", &format!("curl -sSf -m 3 http://{gateway_addr}/healthz")));
    commands.push(attempt("model-directly", &format!("curl -sSf -m 3 http://{model_addr}/v1/messages")));
    let (task, output) = run_steps(&gateway, &key, json!({"network": "none"}), &commands).await;
    assert_eq!(task["status"], "completed", "{task}");
    let mut blocked: Vec<&str> = names.iter().map(String::as_str).collect();
    blocked.extend(["gateway-port", "model-directly"]);
    assert_all_blocked(&output, &blocked);
}

/// Fails unless a GET of `url` from the test process answers 2xx with a body that
/// contains `body`.
pub(crate) async fn assert_reachable(url: &str, body: &str) {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
    let response = client.get(url).send().await.unwrap_or_else(|e| panic!("{url} is not reachable at all: {e}"));
    assert!(response.status().is_success(), "{url}: {}", response.status());
    let text = response.text().await.unwrap();
    assert!(text.contains(body), "{url} answered {text}");
}

/// A UDP server on all of this machine's addresses answering every datagram, as a
/// resolver a run could tunnel data through would; returns its port.
async fn udp_resolver() -> u16 {
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buffer = [0u8; 512];
        while let Ok((_, from)) = socket.recv_from(&mut buffer).await {
            let _ = socket.send_to(b"answer", from).await;
        }
    });
    port
}

async fn assert_resolver_answers(host: &str, port: u16) {
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    socket.send_to(b"query", (host, port)).await.unwrap();
    let mut buffer = [0u8; 16];
    let answer = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buffer)).await;
    assert!(matches!(answer, Ok(Ok(6))), "the resolver on {host}:{port} does not answer the test: {answer:?}");
}

/// Python in the run asking the UDP resolver at `host:port`; fails unless it answers.
fn udp_query(host: &str, port: u16) -> String {
    format!(
        r#"python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.sendto(b'q', ('{host}', {port})); s.recv(16)""#
    )
}

/// This machine's address on its default route, if it has one: a loopback server
/// listening on all addresses is reachable there from the host, never from a run
/// without network.
fn host_address() -> Option<std::net::IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing; it only picks the route's source address.
    probe.connect("192.0.2.1:9").or_else(|_| probe.connect("203.0.113.1:9")).ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A plain HTTP server on all of this machine's addresses (loopback included)
/// answering every request with `body`; returns its port.
async fn http_server(body: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(move || async move { body });
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// Python sending one proxy request for the mirror straight to the egress proxy's
/// socket (with the credentials from `HTTP_PROXY` if asked); prints the status line.
fn raw_proxy_request(mirror: u16, credentials: bool) -> String {
    let auth = if credentials {
        "'Proxy-Authorization: Basic ' + base64.b64encode((u.username + ':' + u.password).encode()).decode() + '\\r\\n'"
    } else {
        "''"
    };
    format!(
        r#"python3 -c "
import base64, os, socket, urllib.parse
u = urllib.parse.urlsplit(os.environ.get('HTTP_PROXY', 'http://x'))
s = socket.socket(socket.AF_UNIX)
s.connect('/run/ccgate/sockets/egress.sock')
s.sendall(('GET http://localhost:{mirror}/ HTTP/1.1\r\nHost: localhost\r\n' + {auth} + '\r\n').encode())
print('socket:', s.recv(200).split(b'\r\n')[0].decode())
""#
    )
}

/// A CONNECT tunnel to the mirror through the run's proxy that starts a TLS
/// handshake naming each of `names`: prints whether the proxy forwarded it.
fn tunnel_naming(mirror: u16, names: &[&str]) -> String {
    let names = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    format!(
        r#"python3 -c "
import base64, os, socket, urllib.parse
u = urllib.parse.urlsplit(os.environ['HTTP_PROXY'])
def L(b, w): return len(b).to_bytes(w, 'big') + b
def hello(name):
    h = b'\x03\x03' + b'\x07' * 32 + b'\x00' + L(b'\x13\x01', 2) + b'\x01\x00'
    h += L(b'\x00\x00' + L(L(b'\x00' + L(name.encode(), 2), 2), 2), 2)
    return b'\x16\x03\x01' + L(b'\x01' + L(h, 3), 2)
auth = base64.b64encode((u.username + ':' + u.password).encode()).decode()
for name in [{names}]:
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(('CONNECT localhost:{mirror} HTTP/1.1\r\nHost: localhost\r\nProxy-Authorization: Basic ' + auth + '\r\n\r\n').encode())
    s.recv(100)
    s.sendall(hello(name))
    s.settimeout(5)
    try:
        got = s.recv(100)
    except OSError:
        got = b''
    print('sni', name + ':', 'forwarded' if got else 'dropped')
""#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_allowlist_reaches_allowed_hosts_only() {
    let model = Model::start().await;
    // `localhost` on the mirror's port stands for an internal mirror: allowed, and
    // marked private so that its loopback address is accepted.
    let mirror = http_server("hello from the mirror").await;
    // This machine's own name (which resolves to a loopback address): allowed, but not
    // marked private.
    let own_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let resolved: Vec<_> = tokio::net::lookup_host((own_name.as_str(), mirror)).await.unwrap().collect();
    assert!(resolved.iter().all(|a| a.ip().is_loopback()), "{own_name} must resolve to loopback: {resolved:?}");
    // Each target below is reached from the test process first, so that blocked means
    // the proxy refused it.
    for url in [
        format!("http://localhost:{mirror}/"),
        format!("http://127.0.0.1:{mirror}/"),
        format!("http://{own_name}:{mirror}/"),
    ] {
        assert_reachable(&url, "hello from the mirror").await;
    }
    let config = format!(
        "[sandbox]\nallowed_hosts = [\"localhost:{mirror}\", \"{own_name}:{mirror}\"]\nprivate_hosts = [\"localhost\"]\n"
    );
    let (gateway, _config) = gateway_with(&model, &config, "auto").await;
    let key = gateway.create_key(&["--name", "dev"]);
    let gateway_addr = gateway.url.trim_start_matches("http://").to_string();
    let gateway_port = gateway_addr.rsplit(':').next().unwrap().to_string();
    assert_reachable(&format!("http://localhost:{gateway_port}/healthz"), "").await;
    let commands = [
        format!("curl -sSf -m 10 http://localhost:{mirror}/simple/ && echo"),
        // Plain HTTP in a tunnel could name any Host: it must take the forwarding path.
        attempt("plain-tunnel", &format!("curl -sSfp -m 10 http://localhost:{mirror}/tunnel")),
        // Allowed by name, but it resolves to a non-public address and is not marked private.
        attempt("public-only", &format!("curl -sSf -m 10 http://{own_name}:{mirror}/")),
        // The mirror's own address, as an IP literal (as a cloud metadata address would be).
        attempt("ip-literal", &format!("curl -sSf -m 5 http://127.0.0.1:{mirror}/")),
        attempt("gateway-port", &format!("curl -sSf -m 5 http://{gateway_addr}/healthz")),
        // The allowed name on another port (here the gateway's own API).
        attempt("other-port", &format!("curl -sSf -m 5 http://localhost:{gateway_port}/healthz")),
        attempt("no-proxy", &format!("curl -sSf -m 5 --noproxy '*' http://localhost:{mirror}/")),
        // The proxy's socket itself, with this run's credentials (from HTTP_PROXY).
        raw_proxy_request(mirror, true),
        // TLS in a tunnel must name the vetted host (no fronting to a neighbour).
        tunnel_naming(mirror, &["localhost", "evil.example"]),
    ];
    let (task, output) = run_steps(&gateway, &key, json!({"network": "allowlist"}), &commands).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(output.matches("hello from the mirror").count(), 1, "plain HTTP only:\n{output}");
    assert!(output.contains("socket: HTTP/1.1 200"), "{output}");
    assert!(output.contains("sni localhost: forwarded"), "{output}");
    assert!(output.contains("sni evil.example: dropped"), "{output}");
    assert_all_blocked(
        &output,
        &["plain-tunnel", "public-only", "ip-literal", "gateway-port", "other-port", "no-proxy"],
    );

    // A run without `allowlist` sees the socket too, but has no credentials for it.
    let (task, output) =
        run_steps(&gateway, &key, json!({"network": "none"}), &[raw_proxy_request(mirror, false)]).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(output.contains("socket: HTTP/1.1 407"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "heavy: scripts/test.sh runs it alone after the main run"]
async fn a_run_past_its_limits_fails_naming_the_limit_and_the_next_starts_clean() {
    let model = Model::start().await;
    let config =
        "[sandbox]\nmax_processes = 200\nmemory_mb = 1024\ncpu_seconds = 6\ndisk_mb = 64\npoll_interval_ms = 200\n";
    let (gateway, _config) = gateway_with(&model, config, "auto").await;
    let key = gateway.create_key(&["--name", "dev", "--max-concurrent", "8"]);
    let cases = [
        ("processes", "bomb() { bomb | bomb & }; bomb; sleep 30"),
        ("memory", r#"perl -e '$x = "a" x (10 * 1024**3); sleep 30'"#),
        ("cpu", "while :; do :; done"),
        ("disk", "dd if=/dev/zero of=a bs=1M count=40; dd if=/dev/zero of=b bs=1M count=40; sleep 30"),
    ];
    for (limit, command) in cases {
        let started = std::time::Instant::now();
        let (task, _) = run_steps(&gateway, &key, json!({"timeout_seconds": 120}), &[command.to_string()]).await;
        assert_eq!(task["status"], "failed", "{limit}: {task}");
        assert_eq!(task["error"]["kind"], "resource_limit", "{limit}: {task}");
        assert_eq!(task["error"]["details"]["limit"], limit, "{task}");
        assert!(started.elapsed() < Duration::from_secs(60), "{limit} took {:?}", started.elapsed());
        let (status, _) = gateway.get("/healthz", &key).await;
        assert_eq!(status, 200, "the gateway stays responsive");
    }
    let (task, output) = run_steps(&gateway, &key, json!({}), &["ls; echo clean".to_string()]).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(output.trim_end().ends_with("clean") && !output.contains("a\nb"), "a fresh workspace:\n{output}");
}

/// The documented `sandbox.tmp_mb`, `sandbox.max_open_files` and `sandbox.read_only_paths`,
/// seen from inside a run.
#[tokio::test(flavor = "multi_thread")]
async fn a_runs_tmp_open_files_and_read_only_paths_follow_the_config() {
    let model = Model::start().await;
    // Outside /tmp, which is the run's own tmpfs.
    let shared = tempfile::Builder::new().prefix("ccgate-read-only-").tempdir_in("/var/tmp").unwrap();
    std::fs::write(shared.path().join("shared.txt"), "from the host\n").unwrap();
    let shared_dir = shared.path().display().to_string();
    let config = format!("[sandbox]\ntmp_mb = 8\nmax_open_files = 300\nread_only_paths = [\"{shared_dir}\"]\n");
    let (gateway, _config) = gateway_with(&model, &config, "auto").await;
    let key = gateway.create_key(&["--name", "dev"]);
    let commands = [
        "echo open-files:$(ulimit -n)".to_string(),
        "dd if=/dev/zero of=/tmp/fits bs=1M count=4 2>/dev/null && rm /tmp/fits && echo tmp-fits".to_string(),
        // The CLI keeps its own output under /tmp too: the file goes before the verdict.
        "dd if=/dev/zero of=/tmp/over bs=1M count=16 2>/dev/null; r=$?; rm -f /tmp/over; \
         [ $r = 0 ] && echo ESCAPED:tmp-over || echo blocked:tmp-over"
            .to_string(),
        format!("cat {shared_dir}/shared.txt"),
        attempt("write-read-only", &format!("touch {shared_dir}/planted")),
    ];
    let (task, output) = run_steps(&gateway, &key, json!({}), &commands).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(output.contains("open-files:300"), "{output}");
    assert!(output.contains("tmp-fits"), "{output}");
    assert!(output.contains("from the host"), "{output}");
    assert_all_blocked(&output, &["tmp-over", "write-read-only"]);
    assert!(!shared.path().join("planted").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn landlock_alone_confines_files_network_and_the_key() {
    let model = Model::start().await;
    let (gateway, _config) = gateway_with(&model, "", "landlock").await;
    let key = gateway.create_key(&["--name", "dev"]);
    let (_, checks) = gateway.get("/readyz", &key).await;
    assert_eq!(checks["checks"]["sandbox"]["confinement"], "landlock", "{checks}");
    let data = gateway.data.path().display().to_string();
    let gateway_addr = gateway.url.trim_start_matches("http://").to_string();
    // Both network targets answer the test process: blocked means Landlock or seccomp did it.
    assert_reachable(&format!("{}/healthz", gateway.url), "").await;
    let resolver = udp_resolver().await;
    assert_resolver_answers("127.0.0.1", resolver).await;
    let search = r#"K=sk-ant-test; K=$K-dummy; "#;
    let commands = [
        "echo ok > inside.txt && cat inside.txt".to_string(),
        attempt("shadow", "cat /etc/shadow"),
        attempt("database", &format!("cat {data}/ccgate.db")),
        attempt("write-usr", "touch /usr/planted"),
        attempt("write-data", &format!("touch {data}/planted")),
        attempt("write-host-shm", "touch /dev/shm/ccgate-planted"),
        attempt("gateway-port", &format!("curl -sSf -m 3 http://{gateway_addr}/healthz")),
        attempt("udp", &udp_query("127.0.0.1", resolver)),
        attempt("signal-gateway", &format!("kill -0 {}", gateway.pid())),
        format!(
            "{search}for f in /proc/[0-9]*/environ; do grep -qa \"$K\" $f 2>/dev/null && echo ESCAPED:proc:$f; done; env | grep -q \"$K\" && echo ESCAPED:env; echo blocked:key"
        ),
        syscall("ptrace", 101, "0, 0, 0, 0"),
    ];
    let (task, output) = run_steps(&gateway, &key, json!({}), &commands).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_all_blocked(
        &output,
        &[
            "shadow",
            "database",
            "write-usr",
            "write-data",
            "write-host-shm",
            "gateway-port",
            "udp",
            "signal-gateway",
            "key",
        ],
    );
    assert!(output.contains("ptrace: Operation not permitted"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unconfined_runs_are_the_operators_explicit_choice_and_say_so() {
    let model = Model::start().await;
    let (gateway, _config) = gateway_with(&model, "", "none").await;
    let key = gateway.create_key(&["--name", "dev"]);
    let (status, checks) = gateway.get("/readyz", &key).await;
    assert_eq!(status, 200);
    assert_eq!(checks["checks"]["sandbox"]["confinement"], "none");
    assert!(checks["checks"]["sandbox"]["warning"].as_str().unwrap().contains("NOT sandboxed"), "{checks}");
    assert!(gateway.log().contains("runs are NOT sandboxed"));
    let doctor = std::process::Command::new(env!("CARGO_BIN_EXE_ccgate")).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(doctor.status.success(), "{report}");
    for layer in ["bubblewrap   yes", "landlock     yes", "seccomp      yes", "cgroups"] {
        assert!(report.contains(layer), "{report}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hosts_network_needs_a_key_the_operator_opened_it_for() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let plain = gateway.create_key(&["--name", "plain"]);
    let body = json!({"prompt": scripted(vec![say("x")]), "options": {"network": "full"}});
    let (status, problem) = gateway.post("/v1/tasks", &plain, &body).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/options/network", "{problem}");
    let (_, listed) = gateway.get("/v1/tasks", &plain).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(0), "nothing was stored");

    let opened = gateway.create_key(&["--name", "opened", "--scope", "tasks", "--scope", "network:full"]);
    let port = http_server("reached the host network").await;
    let commands = [format!("curl -sSf -m 5 http://127.0.0.1:{port}/ && echo")];
    let (task, output) = run_steps(&gateway, &opened, json!({"network": "full"}), &commands).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(output.contains("reached the host network"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_dies_with_its_sandbox_even_when_the_supervisor_is_killed() {
    let model = Model::start().await;
    let options = GatewayOptions { env: vec![("CCGATE_MAX_ATTEMPTS".into(), "1".into())], ..Default::default() };
    let gateway = Gateway::start(&model, options).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let marker = format!("ccgate-sandboxed-daemon-{}", std::process::id());
    let command = format!("setsid nohup sleep 300 {marker} >/dev/null 2>&1 & sleep 120");
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![bash(&command), say("never")])})).await;
    let id = task["id"].as_str().unwrap();
    crate::cancel_and_timeout::wait_until(|| !processes_with(&marker).is_empty(), "the daemon").await;
    let runs = std::fs::read_dir(gateway.data.path().join("runs")).unwrap();
    let file = runs.flatten().find(|e| e.file_name().to_string_lossy().starts_with(id)).expect("the run's record");
    let record: Value = serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
    let supervisor = record["supervisor"]["pid"].as_u64().unwrap();
    std::process::Command::new("kill").args(["-9", &supervisor.to_string()]).status().unwrap();
    // bubblewrap dies with its parent and takes the run's whole PID namespace along.
    crate::cancel_and_timeout::wait_until(|| processes_with(&marker).is_empty(), "the daemon to die").await;
    let done = gateway.wait_done(&key, id).await;
    assert_eq!(done["status"], "failed", "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keys_token_budget_is_enforced_by_the_model_proxy() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let created = gateway.create_key_json(&["--name", "frugal", "--token-budget-per-day", "1000"]);
    let (key, key_id) = (created["secret"].as_str().unwrap(), created["id"].as_str().unwrap());
    assert_eq!(created["token_budget_per_day"], 1000, "{created}");

    // One model request (thousands of tokens for the scripted model) spends the
    // budget; the proxy refuses the next, and the run fails naming the limit.
    let steps = vec![bash("echo one"), bash("echo two"), say("done")];
    let (_, task) = gateway.post("/v1/execute", key, &json!({"prompt": scripted(steps), "wait_seconds": 60})).await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["error"]["kind"], "resource_limit", "{task}");
    assert_eq!(task["error"]["details"]["limit"], "tokens", "{task}");

    // What the proxy counted is recorded, and the next submit is refused.
    let (_, shown) = gateway.get(&format!("/v1/keys/{key_id}"), &gateway.admin_key).await;
    let today = &shown["spend"]["today"];
    let used = today["input_tokens"].as_i64().unwrap() + today["output_tokens"].as_i64().unwrap();
    assert!(used >= 1000, "{shown}");
    let (status, problem) = gateway.post("/v1/tasks", key, &json!({"prompt": "more"})).await;
    assert_eq!(status, 402, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("tokens today"), "{problem}");

    // Raised over the API, the key runs again.
    let raised = json!({"token_budget_per_day": 10_000_000, "token_budget_per_month": 20_000_000});
    let response = gateway
        .request(reqwest::Method::PATCH, &format!("/v1/keys/{key_id}"), &gateway.admin_key)
        .json(&raised)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, done) =
        gateway.post("/v1/execute", key, &json!({"prompt": scripted(vec![say("ok")]), "wait_seconds": 60})).await;
    assert_eq!(done["status"], "completed", "{done}");
    let bad = gateway
        .request(reqwest::Method::PATCH, &format!("/v1/keys/{key_id}"), &gateway.admin_key)
        .json(&json!({"token_budget_per_day": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}
