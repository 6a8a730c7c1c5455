//! Cross-site request forgery defence (ASVS 3.5.1, 3.5.3): a state-changing request that a
//! browser sends with our session cookie must come from our own origin. Browsers state that in
//! `Sec-Fetch-Site` (and `Origin`), which a page on another origin cannot forge; forms keep
//! working without JavaScript because the browser sends the headers for plain form posts too.
//! Requests carrying an API key or access token are not cookie-authenticated, so they are exempt,
//! as are SAML assertion consumer services: IdPs post there from their own origin by design, and
//! the signed assertion with its one-time RelayState authenticates the request; and the
//! unsubscribe links of notification mail, which mail providers post to (RFC 8058) and whose
//! token authenticates them.

use app::notifications::model::UNSUBSCRIBE_PATH;
use app::sso::paths::is_saml_acs;
use axum::http::{header, HeaderMap, Method};

/// Why a request was refused, for the audit log.
#[derive(Debug, PartialEq, Eq)]
pub struct CrossSite(pub String);

pub fn check(method: &Method, path: &str, headers: &HeaderMap) -> Result<(), CrossSite> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || is_saml_acs(path) || path == UNSUBSCRIBE_PATH
    {
        return Ok(());
    }
    if headers.contains_key(header::AUTHORIZATION) || headers.contains_key("x-api-key") {
        return Ok(());
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            other => Err(CrossSite(format!("Sec-Fetch-Site: {}", String::from_utf8_lossy(other)))),
        };
    }
    // Older browsers: compare Origin with Host. Clients that send neither are not browsers
    // (curl, SDKs), and cannot be driven by another site.
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        let origin = origin.to_str().unwrap_or("null");
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        if origin_host.is_none_or(|o| !o.eq_ignore_ascii_case(host)) {
            return Err(CrossSite(format!("Origin: {origin}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn same_origin_and_non_browser_requests_pass() {
        let post = Method::POST;
        assert!(check(&post, "/api/x", &headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(check(
            &post,
            "/api/x",
            &headers(&[("host", "acme.localhost:3000"), ("origin", "http://acme.localhost:3000")])
        )
        .is_ok());
        assert!(check(&post, "/api/x", &headers(&[])).is_ok());
        assert!(check(&Method::GET, "/api/x", &headers(&[("sec-fetch-site", "cross-site")])).is_ok());
        assert!(check(&post, "/api/x", &headers(&[("sec-fetch-site", "cross-site"), ("x-api-key", "bcn_x")])).is_ok());
    }

    #[test]
    fn cross_site_and_cross_origin_posts_are_refused() {
        let post = Method::POST;
        for site in ["cross-site", "same-site"] {
            assert!(check(&post, "/api/x", &headers(&[("sec-fetch-site", site)])).is_err(), "{site}");
        }
        for origin in ["http://evil.example", "http://acme.localhost:4000", "null"] {
            let h = headers(&[("host", "acme.localhost:3000"), ("origin", origin)]);
            assert!(check(&Method::DELETE, "/api/x", &h).is_err(), "{origin}");
        }
    }

    #[test]
    fn only_assertion_consumer_services_take_cross_site_posts() {
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(check(&Method::POST, "/sso/saml/0b7e0a36-5c6f-4f39-9a3c-5d1c8f7a2e10/acs", &cross).is_ok());
        for path in
            ["/sso/saml/not-a-uuid/acs", "/sso/saml/0b7e0a36-5c6f-4f39-9a3c-5d1c8f7a2e10/metadata", "/api/sso/acs"]
        {
            assert!(check(&Method::POST, path, &cross).is_err(), "{path}");
        }
    }
}
