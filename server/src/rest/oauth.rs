//! `POST /oauth/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4). Clients
//! authenticate with HTTP Basic (preferred, §2.3.1) or `client_id`/`client_secret` in the form;
//! errors use the standard JSON shape of §5.2.

use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use app::access::service::{self as access, OAuthError};
use app::state::{AppState, RequestContext};

pub const TOKEN_PATH: &str = "/oauth/token";

pub fn endpoints() -> Vec<super::Endpoint> {
    vec![super::Endpoint::new(Method::POST, TOKEN_PATH, token)]
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let Ok(Form(request)) = form else { return oauth_error(OAuthError::InvalidRequest, "send a form-encoded body") };
    if request.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(OAuthError::UnsupportedGrantType, "only client_credentials is supported");
    }
    let (client_id, secret) = match (basic_credentials(&headers), request.client_id, request.client_secret) {
        (Some(basic), None, None) => basic,
        (None, Some(id), Some(secret)) => (id, secret),
        (None, None, None) => return oauth_error(OAuthError::InvalidClient, "client authentication is required"),
        _ => return oauth_error(OAuthError::InvalidRequest, "authenticate the client one way only"),
    };
    let issued = access::issue_token(
        &state.db,
        &ctx.tenant,
        &state.keyring,
        ctx.audit_source(),
        &client_id,
        &secret,
        request.scope.as_deref(),
    )
    .await;
    match issued {
        Ok(Ok(grant)) => {
            let body = json!({
                "access_token": grant.access_token,
                "token_type": "Bearer",
                "expires_in": grant.expires_in,
                "scope": grant.scope,
            });
            let mut response = Json(body).into_response();
            // §5.1: token responses must not be cached.
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(Err(error)) => oauth_error(error, "the client could not be authorised"),
        Err(e) => (e.status(), Json(e)).into_response(),
    }
}

/// `Authorization: Basic base64(urlencoded id ":" urlencoded secret)`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape =
        |s: &str| serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}")).ok()?.pop().map(|(_, v)| v);
    Some((unescape(id)?, unescape(secret)?))
}

fn oauth_error(error: OAuthError, description: &str) -> Response {
    let status = match error {
        OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response =
        (status, Json(json!({ "error": error.code(), "error_description": description }))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if error == OAuthError::InvalidClient {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"beacon\""));
    }
    response
}
