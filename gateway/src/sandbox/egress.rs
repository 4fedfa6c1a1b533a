//! The egress proxy for runs with `options.network = "allowlist"`: an HTTP proxy
//! (CONNECT tunnels for TLS only, absolute-form requests for plain HTTP) on a Unix socket the
//! run's helper forwards `HTTP(S)_PROXY` to. Every request must carry the run's
//! egress token as proxy credentials (in the proxy URL the run is given), so a run
//! without `allowlist` cannot use the socket even though it can see it. Only host names in
//! `sandbox.allowed_hosts` pass; IP literals are refused, names are resolved here
//! and the connection goes to a vetted public address (never loopback, private,
//! link-local or metadata addresses, unless the operator marked the host as an
//! internal one in `sandbox.private_hosts`; link-local and metadata addresses never),
//! so the sandbox cannot pick where it lands.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use super::sni::FirstBytes;
use crate::webhooks::guard::is_public;

/// Longest request head read before the request is refused.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// One entry of `sandbox.allowed_hosts`: `example.com` or `*.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    suffix: bool,
    name: String,
    ports: Ports,
}

/// The ports a pattern opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ports {
    /// 80 and 443: a bare name means the web.
    Web,
    One(u16),
    Any,
}

impl HostPattern {
    /// `pypi.org` (ports 80 and 443), `*.github.com` (its subdomains), either with
    /// `:port` or `:*` (any port).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().to_ascii_lowercase();
        let invalid = || {
            "must be a host name like \"pypi.org\" or \"*.github.com\", optionally with \":port\" or \":*\" \
             (no IP addresses or paths)"
                .to_string()
        };
        let (host, ports) = match text.rsplit_once(':') {
            None => (text.as_str(), Ports::Web),
            Some((host, "*")) => (host, Ports::Any),
            Some((host, port)) => (host, Ports::One(port.parse().ok().filter(|p| *p > 0).ok_or_else(invalid)?)),
        };
        let (suffix, name) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, host.to_string()),
        };
        let valid_label =
            |l: &str| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if name.is_empty() || !name.split('.').all(valid_label) || name.parse::<std::net::IpAddr>().is_ok() {
            return Err(invalid());
        }
        Ok(Self { suffix, name, ports })
    }

    /// Whether a request for `host:port` is allowed.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let port_ok = match self.ports {
            Ports::Web => port == 80 || port == 443,
            Ports::One(allowed) => port == allowed,
            Ports::Any => true,
        };
        port_ok && self.matches(host)
    }

    /// Whether the name matches, whatever the port.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.suffix {
            host.len() > self.name.len()
                && host.ends_with(&self.name)
                && host[..host.len() - self.name.len()].ends_with('.')
        } else {
            host == self.name
        }
    }
}

/// The egress proxy.
pub struct EgressProxy {
    allowed: Vec<HostPattern>,
    private: Vec<HostPattern>,
    tokens: Arc<Mutex<HashSet<String>>>,
}

/// A run's egress credentials: valid until dropped.
pub struct EgressToken {
    pub token: String,
    tokens: Arc<Mutex<HashSet<String>>>,
}

impl Drop for EgressToken {
    fn drop(&mut self) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(&self.token);
        }
    }
}

/// The user name in a run's proxy URL (`http://ccgate:<token>@127.0.0.1:<port>`).
pub const PROXY_USER: &str = "ccgate";

impl EgressProxy {
    /// Binds `socket` and serves until the process ends.
    pub fn start(socket: &Path, allowed: &[String], private: &[String]) -> std::io::Result<Arc<Self>> {
        let parse = |hosts: &[String]| hosts.iter().filter_map(|h| HostPattern::parse(h).ok()).collect();
        let listener = super::bind_socket(socket)?;
        let proxy = Arc::new(Self { allowed: parse(allowed), private: parse(private), tokens: Arc::default() });
        let serving = proxy.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let proxy = serving.clone();
                tokio::spawn(async move { proxy.serve(stream).await });
            }
        });
        Ok(proxy)
    }

    /// Fresh credentials for one run.
    pub fn register(&self) -> EgressToken {
        let token = crate::ids::random_bytes::<24>().iter().map(|b| format!("{b:02x}")).collect::<String>();
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(token.clone());
        }
        EgressToken { token, tokens: self.tokens.clone() }
    }

    /// Whether the request head carries a live run's credentials.
    fn authorized(&self, head: &str) -> bool {
        let presented = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            if !name.trim().eq_ignore_ascii_case("proxy-authorization") {
                return None;
            }
            let encoded = value.trim().strip_prefix("Basic ")?;
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
            let (user, token) =
                std::str::from_utf8(&decoded).ok()?.split_once(':').map(|(u, t)| (u.to_string(), t.to_string()))?;
            (user == PROXY_USER).then_some(token)
        });
        presented.is_some_and(|token| self.tokens.lock().is_ok_and(|tokens| tokens.contains(&token)))
    }

    async fn serve(&self, mut client: UnixStream) {
        let mut head = Vec::with_capacity(1024);
        let end = loop {
            let mut chunk = [0u8; 2048];
            let n = match tokio::time::timeout(Duration::from_secs(30), client.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => return,
            };
            head.extend_from_slice(&chunk[..n]);
            if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if head.len() > MAX_HEAD_BYTES {
                return refuse(&mut client, 431, "request head too large").await;
            }
        };
        let text = String::from_utf8_lossy(&head[..end]).to_string();
        if !self.authorized(&text) {
            metrics::counter!("ccgate_egress_requests_total", "outcome" => "unauthorized").increment(1);
            return refuse(
                &mut client,
                407,
                "this run may not use the egress proxy (options.network is not \"allowlist\")",
            )
            .await;
        }
        let mut words = text.lines().next().unwrap_or_default().split_whitespace();
        let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
        let (host, port, rewritten) = if method.eq_ignore_ascii_case("CONNECT") {
            match target.rsplit_once(':').and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?))) {
                Some((host, port)) => (host, port, None),
                None => return refuse(&mut client, 400, "CONNECT needs host:port").await,
            }
        } else {
            let Ok(url) = url::Url::parse(target) else {
                return refuse(&mut client, 400, "only absolute http:// URLs and CONNECT are proxied").await;
            };
            if url.scheme() != "http" {
                return refuse(&mut client, 400, "only http:// URLs are proxied; use CONNECT for https").await;
            }
            let origin = &url[url::Position::BeforePath..];
            let host = url.host_str().unwrap_or_default().to_string();
            let port = url.port_or_known_default().unwrap_or(80);
            (host.clone(), port, Some(origin_form(&text, target, origin, &host, port)))
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let address = match self.vet(&host, port).await {
            Ok(address) => address,
            Err(why) => {
                tracing::info!(host = %host, port, reason = %why, "egress refused");
                metrics::counter!("ccgate_egress_requests_total", "outcome" => "refused").increment(1);
                return refuse(&mut client, 403, &why).await;
            }
        };
        let Ok(Ok(mut upstream)) = tokio::time::timeout(Duration::from_secs(15), TcpStream::connect(address)).await
        else {
            return refuse(&mut client, 502, "the host could not be reached").await;
        };
        let mut early = head[end..].to_vec();
        let sent = match rewritten {
            None => {
                if client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await.is_err() {
                    return;
                }
                let first = first_bytes(&mut client, &mut early).await;
                if !tunnel_names(&first, &host) {
                    tracing::info!(host = %host, port, first_bytes = ?first, "egress refused: the tunnel is not TLS naming the vetted host");
                    metrics::counter!("ccgate_egress_requests_total", "outcome" => "refused").increment(1);
                    return;
                }
                Ok(())
            }
            Some(head) => upstream.write_all(head.as_bytes()).await,
        };
        metrics::counter!("ccgate_egress_requests_total", "outcome" => "allowed").increment(1);
        if sent.is_ok() && upstream.write_all(&early).await.is_ok() {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    }

    /// Where a request for `host:port` may go, or why it may not.
    async fn vet(&self, host: &str, port: u16) -> Result<SocketAddr, String> {
        if host.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!("{host} is an IP address; only allowed host names are reachable"));
        }
        if !self.allowed.iter().any(|p| p.allows(host, port)) {
            return Err(format!("{host}:{port} is not in sandbox.allowed_hosts"));
        }
        let addresses =
            tokio::net::lookup_host((host, port)).await.map_err(|e| format!("{host} does not resolve: {e}"))?;
        let private_ok = self.private.iter().any(|p| p.matches(host));
        let mut refused = None;
        for address in addresses {
            if is_public(address.ip()) || (private_ok && !is_link_local(address.ip())) {
                return Ok(address);
            }
            refused = Some(address.ip());
        }
        Err(match refused {
            Some(ip) => format!("{host} resolves to {ip}, which is not a public address"),
            None => format!("{host} does not resolve"),
        })
    }
}

/// Whether a tunnel whose first bytes are `first` may go on to `vetted`: only TLS
/// asking for that very host, whatever the port. Plain HTTP in a tunnel could name
/// any `Host` behind the same address (another virtual host, another site of a
/// shared CDN address), so plain HTTP takes the forwarding path, which sets `Host`.
fn tunnel_names(first: &FirstBytes, vetted: &str) -> bool {
    matches!(first, FirstBytes::Name(name)
        if name.trim_end_matches('.').eq_ignore_ascii_case(vetted.trim_end_matches('.')))
}

/// Reads a tunnel's first bytes into `early` until they tell whether (and for
/// which host) they start a TLS handshake. A client that says nothing at first is
/// not starting TLS (a TLS client speaks first); one that stops in the middle of
/// its ClientHello stays `Incomplete`.
async fn first_bytes(client: &mut UnixStream, early: &mut Vec<u8>) -> FirstBytes {
    // One deadline for the whole ClientHello, however it trickles in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match super::sni::peek(early) {
            FirstBytes::Incomplete if early.len() < super::sni::MAX_HELLO_BYTES + 5 * 1024 => {}
            FirstBytes::Incomplete => return FirstBytes::Malformed,
            decided => return decided,
        }
        let wait = if early.is_empty() { tokio::time::Instant::now() + Duration::from_secs(2) } else { deadline };
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(wait, client.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => early.extend_from_slice(&chunk[..n]),
            _ if early.is_empty() => return FirstBytes::NotTls,
            _ => return super::sni::peek(early),
        }
    }
}

/// The request head to send on: origin-form target, `Host` set to the vetted host
/// (a different `Host` would reach another site behind the same server), no proxy
/// credentials, and
/// `Connection: close`, so the server answers this one request only.
fn origin_form(head: &str, target: &str, origin: &str, host: &str, port: u16) -> String {
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let request_line = lines.next().unwrap_or_default().replacen(target, origin, 1);
    // The run's proxy credentials are for this proxy only: never sent on to the host.
    let dropped = ["host:", "connection:", "proxy-connection:", "keep-alive:", "proxy-authorization:"];
    let mut out = format!("{request_line}\r\n");
    for line in lines.filter(|l| !dropped.iter().any(|d| l.to_ascii_lowercase().starts_with(d))) {
        out.push_str(line);
        out.push_str("\r\n");
    }
    let host = if port == 80 { host.to_string() } else { format!("{host}:{port}") };
    out.push_str(&format!("Host: {host}\r\nConnection: close\r\n\r\n"));
    out
}

/// Link-local (cloud metadata) and unroutable addresses: refused even for private hosts.
fn is_link_local(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast(),
        std::net::IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local())
        }
    }
}

async fn refuse(client: &mut UnixStream, status: u16, why: &str) {
    let reason = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        407 => "Proxy Authentication Required",
        431 => "Request Header Fields Too Large",
        _ => "Bad Gateway",
    };
    let body = format!("ccgate egress proxy: {why}\n");
    let challenge = if status == 407 { "proxy-authenticate: Basic realm=\"ccgate\"\r\n" } else { "" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{challenge}connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_requests_name_the_vetted_host_carry_no_proxy_credentials_and_close() {
        let head = "GET http://a.example/x?y HTTP/1.1\r\nHost: evil.example\r\nConnection: keep-alive\r\nProxy-Authorization: Basic Y2NnYXRlOnQ=\r\nAccept: */*\r\n\r\n";
        let out = origin_form(head, "http://a.example/x?y", "/x?y", "a.example", 80);
        assert_eq!(out, "GET /x?y HTTP/1.1\r\nAccept: */*\r\nHost: a.example\r\nConnection: close\r\n\r\n");
    }

    #[test]
    fn a_tunnel_goes_on_only_as_tls_naming_the_vetted_host() {
        let name = |n: &str| FirstBytes::Name(n.into());
        assert!(tunnel_names(&name("mirror.internal"), "mirror.internal"));
        assert!(tunnel_names(&name("mirror.internal."), "Mirror.Internal"));
        for refused in [name("evil.example"), FirstBytes::NotTls, FirstBytes::NoName, FirstBytes::Malformed] {
            assert!(!tunnel_names(&refused, "mirror.internal"), "{refused:?}");
        }
    }

    #[test]
    fn metadata_and_unroutable_addresses_are_refused_even_for_private_hosts() {
        let refused = ["169.254.169.254", "0.0.0.0", "255.255.255.255", "224.0.0.1", "fe80::1", "::", "ff02::1"];
        for ip in refused.iter().chain(&["::ffff:169.254.169.254"]) {
            assert!(is_link_local(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.0.0.8", "192.168.1.1", "::1", "fd00::2"] {
            assert!(!is_link_local(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn host_patterns_match_names_and_subdomains_only() {
        let exact = HostPattern::parse("PyPI.org").unwrap();
        assert!(exact.matches("pypi.org") && exact.matches("pypi.org.") && !exact.matches("evil-pypi.org"));
        let wild = HostPattern::parse("*.github.com").unwrap();
        assert!(wild.matches("api.github.com") && !wild.matches("github.com") && !wild.matches("evilgithub.com"));
        for bad in ["10.0.0.1", "10.0.0.1:80", "", "a..b", "host:0", "host:x", "http://x", "*.", "a/b:80"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
        // A bare name opens the web ports only; a port or `*` says otherwise.
        assert!(exact.allows("pypi.org", 443) && exact.allows("pypi.org", 80) && !exact.allows("pypi.org", 22));
        let mirror = HostPattern::parse("mirror.internal:8081").unwrap();
        assert!(mirror.allows("mirror.internal", 8081) && !mirror.allows("mirror.internal", 443));
        let any = HostPattern::parse("*.corp.example:*").unwrap();
        assert!(any.allows("git.corp.example", 2222) && !any.allows("corp.example", 443));
    }
}
