//! Webhook URLs may not reach the gateway's own network: loopback, private,
//! link-local (cloud metadata at 169.254.169.254), unique-local, unspecified,
//! multicast and other special addresses are refused unless the host is on the
//! allowlist (`webhooks.allowed_hosts`). Names are resolved once, filtered, and
//! the connection goes to a vetted address, so DNS rebinding has no window.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use url::{Host, Url};

/// Hosts (`host` or `host:port`) webhooks may reach whatever their address.
#[derive(Debug, Clone, Default)]
pub struct Allowlist(Vec<(String, Option<u16>)>);

impl Allowlist {
    pub fn new(entries: &[String]) -> Self {
        let parse = |entry: &str| match entry.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                port.parse().ok().map(|p| (host.trim_matches(['[', ']']).to_ascii_lowercase(), Some(p)))
            }
            _ => None,
        };
        Self(
            entries
                .iter()
                .map(|e| e.trim())
                .filter(|e| !e.is_empty())
                .map(|e| parse(e).unwrap_or_else(|| (e.trim_matches(['[', ']']).to_ascii_lowercase(), None)))
                .collect(),
        )
    }

    /// Whether the host is listed at all (with any port).
    fn lists(&self, host: &str) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.0.iter().any(|(h, _)| *h == host)
    }

    fn allows(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.0.iter().any(|(h, p)| *h == host && (p.is_none() || port.is_none() || *p == port))
    }
}

/// Whether a webhook may connect to `ip`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let embedded =
                |high: u16, low: u16| Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            // Forms that carry an IPv4 address reach it: NAT64, 6to4, IPv4-compatible.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..6] == [0, 0, 0, 0, 0, 0] {
                return !v6.is_unspecified()
                    && !v6.is_loopback()
                    && is_public(IpAddr::V4(embedded(segments[6], segments[7])));
            }
            if segments[0] == 0x2002 {
                return is_public(IpAddr::V4(embedded(segments[1], segments[2])));
            }
            let first = segments[0];
            !(v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || (first & 0xffc0) == 0xfec0 // site local (deprecated)
                || (first == 0x64 && segments[1] == 0xff9b) // local-use NAT64 (64:ff9b:1::/48)
                || (first == 0x2001 && segments[1] == 0) // Teredo
                || (first == 0x2001 && segments[1] == 0xdb8) // documentation
                || (first == 0x100 && segments[1..4] == [0, 0, 0])) // discard-only
        }
    }
}

/// Checks a webhook URL as far as it can be without resolving its name.
pub fn check_url(text: &str, allowlist: &Allowlist) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("must be an http or https URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    let port = url.port_or_known_default();
    match url.host() {
        None => Err("must name a host".into()),
        Some(Host::Ipv4(ip)) if !allowlist.allows(&ip.to_string(), port) && !is_public(IpAddr::V4(ip)) => {
            Err(format!("points at {ip}, a private or special address (see webhooks.allowed_hosts)"))
        }
        Some(Host::Ipv6(ip)) if !allowlist.allows(&ip.to_string(), port) && !is_public(IpAddr::V6(ip)) => {
            Err(format!("points at {ip}, a private or special address (see webhooks.allowed_hosts)"))
        }
        Some(Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") && !allowlist.allows(name, port) => {
            Err("points at localhost (see webhooks.allowed_hosts)".into())
        }
        // A listed host is reachable at any address, so only on the ports listed.
        Some(Host::Domain(name)) if allowlist.lists(name) && !allowlist.allows(name, port) => {
            Err(format!("uses a port of {name} that webhooks.allowed_hosts does not list"))
        }
        Some(_) => Ok(url),
    }
}

/// How webhook host names are resolved: the system's resolver, or one a test
/// drives (a name that changes its address between submission and delivery).
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: String, port: u16) -> LookingUp;
}

/// A lookup under way: the addresses of a name, with the port asked for.
pub type LookingUp = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// The operating system's resolver.
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String, port: u16) -> LookingUp {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), port)).await?.collect()) })
    }
}

/// Checks a URL and, for a name, that it resolves to at least one public address
/// (a name that does not resolve now is accepted: delivery will tell).
pub async fn check_url_resolving(text: &str, allowlist: &Allowlist) -> Result<Url, String> {
    check_url_resolving_with(text, allowlist, &SystemLookup).await
}

/// [`check_url_resolving`] with names resolved by `lookup`.
pub async fn check_url_resolving_with(text: &str, allowlist: &Allowlist, lookup: &dyn Lookup) -> Result<Url, String> {
    let url = check_url(text, allowlist)?;
    if let Some(Host::Domain(name)) = url.host()
        && !allowlist.allows(name, url.port_or_known_default())
    {
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::time::timeout(std::time::Duration::from_secs(3), lookup.lookup(name.to_string(), port));
        if let Ok(Ok(addresses)) = lookup.await
            && !addresses.is_empty()
            && !addresses.iter().any(|a| is_public(a.ip()))
        {
            return Err(format!("{name} resolves only to private or special addresses (see webhooks.allowed_hosts)"));
        }
    }
    Ok(url)
}

/// A resolver for the webhook client that drops every address a webhook may not
/// reach; the client then connects only to what is left.
pub struct GuardedResolver {
    allowlist: Allowlist,
    lookup: Arc<dyn Lookup>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let allowed = self.allowlist.allows(&host, None);
        let lookup = self.lookup.lookup(host.clone(), 0);
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                lookup.await?.into_iter().filter(|a| allowed || is_public(a.ip())).collect();
            if addresses.is_empty() {
                let why = format!("{host} resolves to no address a webhook may reach (see webhooks.allowed_hosts)");
                return Err(Box::<dyn std::error::Error + Send + Sync>::from(why));
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl GuardedResolver {
    pub fn shared(allowlist: Allowlist, lookup: Arc<dyn Lookup>) -> Arc<Self> {
        Arc::new(Self { allowlist, lookup })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_targets_are_refused() {
        let none = Allowlist::default();
        for url in [
            "http://127.0.0.1/x",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "http://[fd00::1]/",
            "http://[::ffff:192.168.0.1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://localhost:9000/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a00:1::]/",
            "http://[::a00:1]/",
            "http://[fec0::1]/",
            "http://[2001:0:4136:e378::1]/",
        ] {
            assert!(check_url(url, &none).is_err(), "{url}");
        }
        for bad in ["ftp://example.com/", "https://user:pw@example.com/", "not a url"] {
            assert!(check_url(bad, &none).is_err(), "{bad}");
        }
        assert!(check_url("https://hooks.example.com/ccgate", &none).is_ok());
        assert!(check_url("http://93.184.216.34/", &none).is_ok());
    }

    #[test]
    fn the_allowlist_opens_hosts_and_ports() {
        let list = Allowlist::new(&["127.0.0.1:9000".into(), "receiver.internal".into()]);
        assert!(check_url("http://127.0.0.1:9000/hook", &list).is_ok());
        assert!(check_url("http://127.0.0.1:9001/hook", &list).is_err());
        assert!(check_url("http://receiver.internal/", &list).is_ok());
        let ported = Allowlist::new(&["hooks.internal:9000".into()]);
        assert!(check_url("http://hooks.internal:9000/", &ported).is_ok());
        assert!(check_url("http://hooks.internal:6379/", &ported).is_err());
        assert!(check_url("http://[64:ff9b::808:808]/", &ported).is_ok(), "NAT64 of a public address");
    }
}
