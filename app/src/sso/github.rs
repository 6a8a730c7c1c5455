//! GitHub sign-in: plain OAuth 2.0, not OpenID Connect — there is no ID token, so the user is
//! read from the API with the access token: `/user` (the numeric id is the subject; logins can
//! be renamed and reused), the primary *verified* address from `/user/emails`, and, when the
//! provider restricts it, membership of an organisation from `/user/orgs`. GitHub Enterprise
//! Server works the same with its own base URL.

use serde::Deserialize;

use super::sign_in::ExternalUser;
use crate::fetch::{self, FetchPolicy};

/// The API root for a GitHub web base URL.
pub fn api_base(web_base: &str) -> String {
    if web_base == "https://github.com" {
        "https://api.github.com".to_owned()
    } else {
        format!("{web_base}/api/v3")
    }
}

pub fn authorize_url(web_base: &str) -> String {
    format!("{web_base}/login/oauth/authorize")
}

/// Scopes: profile and addresses, plus organisations when membership is checked.
pub fn scopes(organization: Option<&str>) -> &'static str {
    if organization.is_some() {
        "read:user user:email read:org"
    } else {
        "read:user user:email"
    }
}

/// What the token exchange needs.
pub struct Exchange<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub verifier: &'a str,
}

async fn api<T: serde::de::DeserializeOwned>(policy: &FetchPolicy, url: &str, token: &str) -> Result<T, String> {
    let url = fetch::parse(url)?;
    let client = fetch::pinned_client(policy, &url, "Beacon SSO").await?;
    let response = client
        .get(url.clone())
        .bearer_auth(token)
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    super::http::read_json(response).await
}

/// Exchanges the code and reads who signed in.
pub async fn user(
    policy: &FetchPolicy,
    web_base: &str,
    organization: Option<&str>,
    exchange: Exchange<'_>,
) -> Result<ExternalUser, String> {
    let token_url = fetch::parse(&format!("{web_base}/login/oauth/access_token"))?;
    let client = fetch::pinned_client(policy, &token_url, "Beacon SSO").await?;
    let response = client
        .post(token_url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[
            ("client_id", exchange.client_id),
            ("client_secret", exchange.client_secret),
            ("code", exchange.code),
            ("redirect_uri", exchange.redirect_uri),
            ("code_verifier", exchange.verifier),
        ])
        .send()
        .await
        .map_err(|e| format!("{token_url}: {e}"))?;
    #[derive(Deserialize)]
    struct Token {
        access_token: Option<String>,
        error: Option<String>,
    }
    let token: Token = super::http::read_json(response).await?;
    let token = match (token.access_token, token.error) {
        (Some(token), None) => token,
        (_, error) => return Err(format!("token request refused: {}", error.unwrap_or_default())),
    };

    let api_base = api_base(web_base);
    #[derive(Deserialize)]
    struct User {
        id: u64,
        login: String,
        name: Option<String>,
    }
    #[derive(Deserialize)]
    struct Email {
        email: String,
        primary: bool,
        verified: bool,
    }
    #[derive(Deserialize)]
    struct Org {
        login: String,
    }
    let user: User = api(policy, &format!("{api_base}/user"), &token).await?;
    let emails: Vec<Email> = api(policy, &format!("{api_base}/user/emails"), &token).await?;
    let verified_email = emails.into_iter().find(|e| e.primary && e.verified).map(|e| e.email);
    let mut groups = Vec::new();
    if let Some(required) = organization {
        let orgs: Vec<Org> = api(policy, &format!("{api_base}/user/orgs"), &token).await?;
        groups = orgs.into_iter().map(|o| o.login).collect();
        if !groups.iter().any(|o| o.eq_ignore_ascii_case(required)) {
            return Err(format!("GitHub user `{}` is not a member of the `{required}` organisation", user.login));
        }
    }
    Ok(ExternalUser {
        subject: user.id.to_string(),
        verified_email,
        name: user.name.or(Some(user.login)),
        groups,
        attributes: Vec::new(),
    })
}
