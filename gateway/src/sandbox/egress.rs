//! The egress proxy for runs with `options.network = "allowlist"`: an HTTP proxy
//! (CONNECT for TLS, absolute-form requests for plain HTTP) on a Unix socket the
//! run's helper forwards `HTTP(S)_PROXY` to. Only host names in
//! `sandbox.allowed_hosts` pass; IP literals are refused, names are resolved here
//! and the connection goes to a vetted public address (never loopback, private,
//! link-local or metadata addresses, unless the operator marked the host as an
//! internal one in `sandbox.private_hosts`; link-local and metadata addresses never),
//! so the sandbox cannot pick where it lands.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::webhooks::guard::is_public;

/// Longest request head read before the request is refused.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// One entry of `sandbox.allowed_hosts`: `example.com` or `*.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    suffix: bool,
    name: String,
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().to_ascii_lowercase();
        let (suffix, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, text.clone()),
        };
        let valid_label =
            |l: &str| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if name.is_empty() || !name.split('.').all(valid_label) || name.parse::<std::net::IpAddr>().is_ok() {
            return Err(
                "must be a host name like \"pypi.org\" or \"*.github.com\" (no IP addresses, ports or paths)".into()
            );
        }
        Ok(Self { suffix, name })
    }

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
}

impl EgressProxy {
    /// Binds `socket` and serves until the process ends.
    pub fn start(socket: &Path, allowed: &[String], private: &[String]) -> std::io::Result<Arc<Self>> {
        let parse = |hosts: &[String]| hosts.iter().filter_map(|h| HostPattern::parse(h).ok()).collect();
        let listener = super::bind_socket(socket)?;
        let proxy = Arc::new(Self { allowed: parse(allowed), private: parse(private) });
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
            let head = text.replacen(target, origin, 1);
            (url.host_str().unwrap_or_default().to_string(), url.port_or_known_default().unwrap_or(80), Some(head))
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
        metrics::counter!("ccgate_egress_requests_total", "outcome" => "allowed").increment(1);
        let sent = match rewritten {
            None => client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await,
            Some(head) => upstream.write_all(head.as_bytes()).await,
        };
        if sent.is_ok() && upstream.write_all(&head[end..]).await.is_ok() {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    }

    /// Where a request for `host:port` may go, or why it may not.
    async fn vet(&self, host: &str, port: u16) -> Result<SocketAddr, String> {
        if host.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!("{host} is an IP address; only allowed host names are reachable"));
        }
        if !self.allowed.iter().any(|p| p.matches(host)) {
            return Err(format!("{host} is not in sandbox.allowed_hosts"));
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
        431 => "Request Header Fields Too Large",
        _ => "Bad Gateway",
    };
    let body = format!("ccgate egress proxy: {why}\n");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_match_names_and_subdomains_only() {
        let exact = HostPattern::parse("PyPI.org").unwrap();
        assert!(exact.matches("pypi.org") && exact.matches("pypi.org.") && !exact.matches("evil-pypi.org"));
        let wild = HostPattern::parse("*.github.com").unwrap();
        assert!(wild.matches("api.github.com") && !wild.matches("github.com") && !wild.matches("evilgithub.com"));
        for bad in ["10.0.0.1", "", "a..b", "host:443", "http://x", "*."] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
