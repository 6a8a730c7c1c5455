//! Form errors a page shows come from this server, never from a link (content spoofing).
//!
//! Without JavaScript, a server function that fails redirects the browser back to its form with
//! the error in the URL (`?__path=…&__err=<base64 JSON>`: leptos' form redirects), and the
//! router shows whatever error such a URL holds. Anyone could then send a link that makes a
//! trusted page show their text in its alert ("Your account is locked, call …"). So the
//! redirect is also recorded in the browser's session when it is made, and a page whose URL
//! carries an error this session was not just given is redirected to the same URL without it.
//! Like the secrets shown once, the error is used up by the page that shows it.

use axum::extract::Request;
use axum::http::{header, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

/// Session key of the error the last form redirect carried.
const FORM_ERROR_FLASH_KEY: &str = "beacon.flash.form_error";

/// The query parameters leptos' form redirects use.
const PATH_PARAM: &str = "__path";
const ERROR_PARAM: &str = "__err";

/// The error of a form redirect: the server function's path and its encoded error. Every
/// occurrence counts: leptos appends to the form's URL, which may still carry an earlier error.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FormError {
    paths: Vec<String>,
    errors: Vec<String>,
}

impl FormError {
    /// The error parameters of a query string, if it has any.
    fn in_query(query: &str) -> Option<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let all = |name: &str| pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect::<Vec<_>>();
        let error = Self { paths: all(PATH_PARAM), errors: all(ERROR_PARAM) };
        (!error.paths.is_empty() || !error.errors.is_empty()).then_some(error)
    }
}

pub async fn trusted(request: Request, next: Next) -> Response {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return next.run(request).await;
    };
    let is_server_fn = request.uri().path().starts_with("/api/");
    if is_server_fn {
        let response = next.run(request).await;
        let issued = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.split('#').next()?.split_once('?'))
            .and_then(|(_, query)| FormError::in_query(query));
        if let Some(issued) = issued {
            if let Err(e) = session.insert(FORM_ERROR_FLASH_KEY, issued).await {
                // The page will then not show the error; the form is still there to retry.
                tracing::error!(error = %e, "could not keep a form error in the session");
            }
        }
        return response;
    }
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        if let Some(shown) = request.uri().query().and_then(FormError::in_query) {
            let issued = session.remove::<FormError>(FORM_ERROR_FLASH_KEY).await.ok().flatten();
            if issued.as_ref() != Some(&shown) {
                return Redirect::to(&without_error(request.uri())).into_response();
            }
        }
    }
    next.run(request).await
}

/// The same path and query, without the form error parameters.
fn without_error(uri: &Uri) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let kept: Vec<_> = pairs.into_iter().filter(|(k, _)| k != PATH_PARAM && k != ERROR_PARAM).collect();
    match serde_urlencoded::to_string(&kept).unwrap_or_default() {
        query if query.is_empty() => uri.path().to_owned(),
        query => format!("{}?{query}", uri.path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_parameters_are_found_and_removed_keeping_the_rest() {
        assert_eq!(FormError::in_query("tab=keys"), None);
        let found = FormError::in_query("tab=keys&__path=%2Fapi%2Fx&__err=e30%3D").unwrap();
        assert_eq!(found, FormError { paths: vec!["/api/x".into()], errors: vec!["e30=".into()] });
        assert_eq!(FormError::in_query("__err=x").unwrap().paths, Vec::<String>::new());
        let twice = FormError::in_query("__path=a&__err=x&__path=a&__err=y").unwrap();
        assert_eq!(twice.errors, ["x", "y"], "an earlier error is still compared");
        let uri: Uri = "/settings/access?tab=keys&__path=%2Fapi%2Fx&__err=e30%3D".parse().unwrap();
        assert_eq!(without_error(&uri), "/settings/access?tab=keys");
        assert_eq!(without_error(&"/login?__err=x".parse().unwrap()), "/login");
    }
}
