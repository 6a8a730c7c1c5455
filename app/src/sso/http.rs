//! Reading the JSON our OpenID Connect and GitHub providers answer with: through the
//! catalog's pinned, SSRF-checked client, size-capped, and the discovery document checked
//! against the configured issuer.

use serde::de::DeserializeOwned;

use super::oidc::Discovery;
use crate::fetch::{self, FetchPolicy};

/// The largest discovery, key set or token response read.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

pub async fn get_json<T: DeserializeOwned>(policy: &FetchPolicy, address: &str) -> Result<T, String> {
    let url = fetch::parse(address)?;
    let client = fetch::pinned_client(policy, &url, "Beacon SSO").await?;
    let response = client.get(url.clone()).send().await.map_err(|e| format!("{url}: {e}"))?;
    read_json(response).await
}

pub async fn read_json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, String> {
    let url = response.url().clone();
    let status = response.status();
    if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        return Err(format!("{url}: response too large"));
    }
    let body = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(format!("{url}: response too large"));
    }
    if !status.is_success() {
        return Err(format!(
            "{url}: {status} {}",
            String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url}: not the expected JSON: {e}"))
}

/// The provider's discovery document; its `issuer` must be exactly the configured one.
pub async fn discover(policy: &FetchPolicy, issuer: &str) -> Result<Discovery, String> {
    let discovery: Discovery = get_json(policy, &format!("{issuer}/.well-known/openid-configuration")).await?;
    if discovery.issuer.trim_end_matches('/') != issuer {
        return Err(format!("the discovery document names issuer `{}`, not `{issuer}`", discovery.issuer));
    }
    Ok(discovery)
}
