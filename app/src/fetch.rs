//! The one way the server reads URLs that tenants choose (catalog Locations, identity
//! providers; next, the plugin registry and webhooks) without becoming a proxy into our own
//! network (SSRF): http(s) only, hosts from the tenant's allowlist, addresses checked after DNS resolution
//! and pinned for the request (no rebinding between check and connect), redirects only to
//! the same host, a size cap and a deadline.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::redirect::Policy;
use reqwest::Url;

/// The largest document a URL may serve.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 3;

/// Operator-level fetch settings (the tenant-level part is the allowlist).
#[derive(Clone, Debug, Default)]
pub struct FetchPolicy {
    /// Allow loopback and private addresses. Only for development and tests: in production a
    /// tenant must never reach services inside our network.
    pub allow_private_networks: bool,
}

/// The tenant's host patterns: `github.com`, `*.example.com` (subdomains only), each
/// optionally with `:port` (without one, only the scheme's default port is allowed).
#[derive(Clone, Debug, Default)]
pub struct HostAllowlist(pub Vec<String>);

impl HostAllowlist {
    /// Only the host (and port) of `address`: for a server the operator configured, such as
    /// the npm registry, whose documents name no other host Beacon should follow.
    pub fn only_host_of(address: &str) -> Result<Self, String> {
        let url = parse(address)?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        Ok(HostAllowlist(vec![match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }]))
    }

    pub fn permits(&self, url: &Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else { return false };
        let host = host.to_ascii_lowercase();
        let default_port = url.port().is_none();
        self.0.iter().any(|pattern| {
            let (host_pattern, pattern_port) = match pattern.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().ok()),
                None => (pattern.as_str(), None),
            };
            let port_ok = match pattern_port {
                Some(p) => p == port,
                None => default_port,
            };
            let host_ok = match host_pattern.strip_prefix("*.") {
                Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
                None => host == host_pattern,
            };
            port_ok && host_ok
        })
    }
}

/// Checks and normalises a pattern an admin typed.
pub fn normalize_pattern(raw: &str) -> Result<String, String> {
    let pattern = raw.trim().to_ascii_lowercase();
    let (host, port) = match pattern.rsplit_once(':') {
        Some((h, p)) => {
            p.parse::<u16>().map_err(|_| format!("`{raw}`: the port must be a number from 1 to 65535"))?;
            (h, Some(p))
        }
        None => (pattern.as_str(), None),
    };
    let bare = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if bare.is_empty() || bare.len() > 253 || !bare.split('.').all(label_ok) || port == Some("0") {
        return Err(format!("`{raw}` is not a host name (examples: github.com, *.example.com, git.example.com:8443)"));
    }
    Ok(pattern)
}

/// Fetches `address` as UTF-8 text under the policy and the tenant's allowlist.
pub async fn fetch_text(policy: &FetchPolicy, allowlist: &HostAllowlist, address: &str) -> Result<String, String> {
    let body = fetch_bytes(policy, allowlist, address, "*/*", MAX_BYTES).await?;
    String::from_utf8(body).map_err(|_| format!("{address}: not UTF-8 text"))
}

/// Fetches `address` (at most `max_bytes`) under the policy and the allowlist.
pub async fn fetch_bytes(
    policy: &FetchPolicy,
    allowlist: &HostAllowlist,
    address: &str,
    accept: &str,
    max_bytes: usize,
) -> Result<Vec<u8>, String> {
    let original = parse(address)?;
    let mut url = original.clone();
    for _ in 0..=MAX_REDIRECTS {
        if !allowlist.permits(&url) {
            return Err(format!(
                "{url}: host `{}` is not in this tenant's fetch allowlist (Settings → Catalog sources)",
                url.host_str().unwrap_or_default()
            ));
        }
        let client = pinned_client(policy, &url, "Beacon catalog").await?;
        let request = client.get(url.clone()).header(reqwest::header::ACCEPT, accept);
        let mut response = request.send().await.map_err(|e| format!("{url}: {}", describe(&e)))?;
        if response.status().is_redirection() {
            let next = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| format!("{url}: redirect without a valid Location"))?;
            if next.host_str() != original.host_str() || next.scheme() != original.scheme() {
                return Err(format!("{url}: redirects to another host or scheme ({next}), which is not followed"));
            }
            url = next;
            continue;
        }
        if !response.status().is_success() {
            return Err(format!("{url}: the server answered {}", response.status()));
        }
        if response.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(format!("{url}: larger than {} MiB", max_bytes / 1024 / 1024));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {}", describe(&e)))? {
            if body.len() + chunk.len() > max_bytes {
                return Err(format!("{url}: larger than {} MiB", max_bytes / 1024 / 1024));
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(body);
    }
    Err(format!("{original}: more than {MAX_REDIRECTS} redirects"))
}

/// A client for one URL's host: its addresses resolved and checked now and pinned for the
/// request (no DNS rebinding in between), no redirects, no proxy, a deadline. Also used for
/// identity providers' discovery, key and token endpoints.
pub async fn pinned_client(policy: &FetchPolicy, url: &Url, user_agent: &str) -> Result<reqwest::Client, String> {
    let addresses = resolve(policy, url).await?;
    reqwest::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .resolve_to_addrs(url.host_str().unwrap_or_default(), &addresses)
        .user_agent(user_agent)
        .build()
        .map_err(|e| format!("{url}: {e}"))
}

/// A URL the portal posts tenants' data to (audit streams, webhooks): an absolute URL without
/// credentials, at most 2,048 characters, https unless private networks are allowed
/// (development and tests, where receivers run on loopback). Its address is checked when
/// posting (`pinned_client`).
pub fn outbound_url(policy: &FetchPolicy, address: &str) -> Result<Url, String> {
    let url = parse(address)?;
    if url.scheme() != "https" && !policy.allow_private_networks {
        return Err("Data leaves the portal only over https.".into());
    }
    if url.as_str().len() > 2048 {
        return Err("That URL is longer than 2,048 characters.".into());
    }
    Ok(url)
}

/// An absolute http(s) URL without credentials.
pub fn parse(address: &str) -> Result<Url, String> {
    let url = Url::parse(address.trim()).map_err(|e| format!("`{address}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{address}`: only http and https locations can be read"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{address}`: credentials in URLs are not accepted"));
    }
    if url.host_str().is_none() {
        return Err(format!("`{address}` has no host"));
    }
    Ok(url)
}

/// The host's addresses, all of which must be public unless the operator allows private ones.
async fn resolve(policy: &FetchPolicy, url: &Url) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("{url}: DNS lookup timed out"))?
        .map_err(|e| format!("{url}: cannot resolve `{host}`: {e}"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("{url}: `{host}` has no addresses"));
    }
    if let Some(blocked) = addresses.iter().find(|a| !policy.allow_private_networks && !is_public(a.ip())) {
        return Err(format!("{url}: `{host}` resolves to {}, a private or reserved address", blocked.ip()));
    }
    Ok(addresses)
}

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// reserved, documentation, multicast or unspecified; IPv4-mapped IPv6 judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || (first == 0x0064 && ip.segments()[1] == 0xff9b))
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn allowlist_matches_hosts_subdomains_and_ports() {
        let list = HostAllowlist(vec!["github.com".into(), "*.example.com".into(), "git.local:8443".into()]);
        assert!(list.permits(&url("https://github.com/a/b.yaml")));
        assert!(list.permits(&url("https://GitHub.com/a")));
        assert!(!list.permits(&url("https://github.com:8080/a")), "a non-default port must be listed");
        assert!(!list.permits(&url("https://evilgithub.com/a")));
        assert!(!list.permits(&url("https://github.com.evil.net/a")));
        assert!(list.permits(&url("https://raw.example.com/x")));
        assert!(!list.permits(&url("https://example.com/x")), "*. matches subdomains only");
        assert!(list.permits(&url("http://git.local:8443/x")));
        assert!(!list.permits(&url("http://git.local/x")));
    }

    #[test]
    fn patterns_are_validated() {
        assert_eq!(normalize_pattern(" GitHub.com ").unwrap(), "github.com");
        assert_eq!(normalize_pattern("*.example.com:8443").unwrap(), "*.example.com:8443");
        for bad in ["", "http://x", "a/b", "*.", "x:0", "x:99999", "-a.com", "a..b"] {
            assert!(normalize_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_http_urls_without_credentials() {
        assert!(parse("https://github.com/x").is_ok());
        for bad in ["file:///etc/passwd", "ftp://x/y", "gopher://x", "https://user:pw@github.com/x", "/relative"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_and_reserved_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["140.82.112.3", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_even_when_allowlisted() {
        let list = HostAllowlist(vec!["localhost:9".into()]);
        let error = fetch_text(&FetchPolicy::default(), &list, "http://localhost:9/x.yaml").await.unwrap_err();
        assert!(error.contains("private or reserved"), "{error}");
    }

    #[tokio::test]
    async fn unlisted_hosts_are_refused_before_any_lookup() {
        let error = fetch_text(&FetchPolicy::default(), &HostAllowlist::default(), "https://github.com/x.yaml")
            .await
            .unwrap_err();
        assert!(error.contains("not in this tenant's fetch allowlist"), "{error}");
    }
}
