//! The authorization matrix: every page, server function and REST endpoint the router serves
//! on a tenant host — enumerated from the route list, the server-function registry and the
//! REST endpoint tables, never from a list kept here — called as an anonymous visitor, a
//! member of another tenant, each role, an API key without scopes and another tenant's key.
//! Each endpoint needs a designed rule below: a new endpoint without one fails the test.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::support::{TestApp, TestTenant};
use app::auth::model::Role;
use app::auth::permission::{decide, Action, Scope};

/// Who may call an endpoint, by design.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Anyone: the sign-in steps, the shell's context, the token endpoint.
    Public,
    /// Any caller signed in to this tenant, person or key, whatever the role or scopes.
    Authenticated,
    /// Callers whose role, and for keys whose scopes, allow the action.
    Allowed(Action),
}

/// A concrete request for an endpoint: path parameters filled in, a body that reaches the
/// authorization check (and is harmless when it passes).
struct Sample {
    path: String,
    body: Body,
    content_type: Option<&'static str>,
}

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";

fn form(path: &str, body: &str) -> Sample {
    Sample {
        path: path.into(),
        body: Body::from(body.to_owned()),
        content_type: Some("application/x-www-form-urlencoded"),
    }
}

fn json(path: &str, body: &str) -> Sample {
    Sample { path: path.into(), body: Body::from(body.to_owned()), content_type: Some("application/json") }
}

fn get(path: &str) -> Sample {
    Sample { path: path.into(), body: Body::empty(), content_type: None }
}

/// The rule and a sample request of each server function, by its path.
fn server_fn_rule(path: &str) -> Option<(Rule, Sample)> {
    use Action::*;
    let id = format!("id={NO_SUCH_ID}");
    Some(match path.trim_start_matches("/api/") {
        "auth/login" => (Rule::Public, form(path, "email=nobody%40example.com&password=wrong")),
        "auth/mfa/verify" => (Rule::Public, form(path, "code=123456")),
        "auth/logout" => (Rule::Public, form(path, "")),
        "portal/context" => (Rule::Public, form(path, "")),
        "sso/providers" => (Rule::Public, form(path, "")),
        "settings/sso" => (Rule::Allowed(ManageAccess), form(path, "")),
        "settings/sso/add" => (
            Rule::Allowed(ManageAccess),
            form(path, "kind=oidc&name=&issuer=x&client_id=&client_secret=&default_role=viewer"),
        ),
        // No metadata and no certificate: refused after the role check, nothing saved.
        "settings/sso/add-saml" => {
            (Rule::Allowed(ManageAccess), form(path, "name=x&preset=custom&default_role=viewer"))
        }
        "settings/sso/remove" => (Rule::Allowed(ManageAccess), form(path, &id)),
        // Turning it on needs a provider, which the matrix tenant has none of: harmless.
        "settings/sso/required" => (Rule::Allowed(ManageAccess), form(path, "required=true")),
        "auth/password" => (
            Rule::Allowed(ManageOwnAccount),
            form(path, "current_password=x&new_password=a-long-new-passphrase&confirm_password=different"),
        ),
        "auth/sessions" => (Rule::Allowed(ManageOwnAccount), form(path, "")),
        "auth/sessions/end" => (Rule::Allowed(ManageOwnAccount), form(path, "handle=not-a-session")),
        "auth/sessions/end-all" => (Rule::Allowed(ManageOwnAccount), form(path, "")),
        "auth/mfa" => (Rule::Allowed(ManageOwnAccount), form(path, "")),
        "auth/mfa/confirm" => (Rule::Allowed(ManageOwnAccount), form(path, "code=000000")),
        "auth/mfa/recovery-codes" => (Rule::Allowed(ManageOwnAccount), form(path, "code=000000")),
        "auth/mfa/disable" => (Rule::Allowed(ManageOwnAccount), form(path, "code=000000")),
        "home" => (Rule::Allowed(ManageOwnAccount), form(path, "")),
        "notifications" => (Rule::Allowed(ManageOwnAccount), form(path, "")),
        // No such notification, nothing unread: harmless when let through.
        "notifications/read" => (Rule::Allowed(ManageOwnAccount), form(path, "id=1")),
        "notifications/read-all" => (Rule::Allowed(ManageOwnAccount), form(path, "")),
        "notifications/preference" => (Rule::Allowed(ManageOwnAccount), form(path, "kind=import_failed&channel=app")),
        "access/overview" => (Rule::Allowed(ManageOwnAccount), form(path, "")),
        "access/keys/create" => (Rule::Allowed(ManageOwnAccount), form(path, "name=&expires_in_days=30")),
        "access/keys/revoke" => (Rule::Allowed(ManageOwnAccount), form(path, &id)),
        "access/clients/create" => (Rule::Allowed(ManageAccess), form(path, "name=&role=viewer")),
        "access/clients/revoke" => (Rule::Allowed(ManageAccess), form(path, &id)),
        "settings/users/list" => (Rule::Allowed(ManageUsers), form(path, "")),
        "settings/users/invite" => (Rule::Allowed(ManageUsers), form(path, "email=bad&display_name=X&role=viewer")),
        "settings/users/role" => (Rule::Allowed(ManageUsers), form(path, &format!("user_{id}&role=viewer"))),
        "settings/users/deactivate" => (Rule::Allowed(ManageUsers), form(path, &format!("user_{id}"))),
        "settings/users/reset-password" => (Rule::Allowed(ManageUsers), form(path, &format!("user_{id}"))),
        "settings/users/end-sessions" => (Rule::Allowed(ManageUsers), form(path, &format!("user_{id}"))),
        "settings/users/reset-mfa" => (Rule::Allowed(ManageUsers), form(path, &format!("user_{id}"))),
        // No such member: refused after the role check, nothing erased.
        "settings/users/erase" => {
            (Rule::Allowed(ManageUsers), form(path, &format!("user_{id}&confirm=nobody%40example.com")))
        }
        "settings/security" => (Rule::Allowed(ManageAccess), form(path, "")),
        "settings/security/mfa-policy" => (Rule::Allowed(ManageAccess), form(path, "policy=sometimes")),
        "settings/security/allowlist/add" => (Rule::Allowed(ManageAccess), form(path, "cidr=bogus&applies_to=both")),
        "settings/security/allowlist/remove" => {
            (Rule::Allowed(ManageAccess), form(path, "cidr=192.0.2.0%2F24&applies_to=both"))
        }
        "ui/catalog/list" => (Rule::Allowed(CatalogRead), form(path, "view[desc]=false&view[page]=1")),
        "ui/catalog/entity" => (Rule::Allowed(CatalogRead), form(path, "namespace=default&kind=component&name=nope")),
        "ui/catalog/locations" => (Rule::Allowed(CatalogRead), form(path, "")),
        "ui/catalog/import" => (Rule::Allowed(CatalogWrite), form(path, "yaml=%3A")),
        "ui/catalog/upload" => (
            Rule::Allowed(CatalogWrite),
            Sample {
                path: path.into(),
                body: Body::from("--matrix--\r\n"),
                content_type: Some("multipart/form-data; boundary=matrix"),
            },
        ),
        "ui/catalog/import-job" => (Rule::Allowed(CatalogWrite), form(path, &id)),
        "ui/catalog/register-location" => (Rule::Allowed(CatalogWrite), form(path, "target=not-a-url")),
        "ui/catalog/refresh-location" => (Rule::Allowed(CatalogWrite), form(path, &id)),
        "ui/catalog/delete-location" => (Rule::Allowed(CatalogWrite), form(path, &id)),
        "ui/catalog/delete" => (Rule::Allowed(CatalogWrite), form(path, &format!("uid={NO_SUCH_ID}"))),
        "ui/catalog/save" => (Rule::Allowed(CatalogWrite), form(path, "yaml=%3A")),
        "ui/catalog/allow-host" => (Rule::Allowed(CatalogAdmin), form(path, "pattern=")),
        "ui/catalog/remove-host" => (Rule::Allowed(CatalogAdmin), form(path, "pattern=nope.example.com")),
        "ui/audit/list" => (Rule::Allowed(AuditRead), form(path, "view[q]=nothing-matches")),
        "ui/audit/event" => (Rule::Allowed(AuditRead), form(path, "id=1")),
        "ui/audit/verify" => (Rule::Allowed(AuditRead), form(path, "")),
        "ui/audit/permissions" => (Rule::Allowed(AuditRead), form(path, "from=2026-11-01")),
        "ui/audit/insights" => (Rule::Allowed(AuditRead), form(path, "")),
        "ui/audit/streams" => (Rule::Allowed(ManageAccess), form(path, "")),
        // Not https: refused after the role check, nothing added.
        "ui/audit/streams/add" => (Rule::Allowed(ManageAccess), form(path, "name=x&url=ftp%3A%2F%2Fexample.com")),
        "ui/audit/streams/remove" => (Rule::Allowed(ManageAccess), form(path, &id)),
        "ui/webhooks" => (Rule::Allowed(ManageAccess), form(path, "")),
        // Not https and no kind: refused after the role check, nothing added.
        "ui/webhooks/add" => (Rule::Allowed(ManageAccess), form(path, "name=x&url=ftp%3A%2F%2Fexample.com")),
        "ui/webhooks/remove" => (Rule::Allowed(ManageAccess), form(path, &id)),
        "ui/webhooks/enable" => (Rule::Allowed(ManageAccess), form(path, &format!("{id}&enabled=false"))),
        "ui/webhooks/ping" => (Rule::Allowed(ManageAccess), form(path, &id)),
        "ui/webhooks/redeliver" => (Rule::Allowed(ManageAccess), form(path, &format!("delivery={NO_SUCH_ID}"))),
        "ui/finops/budgets" => (Rule::Allowed(FinopsRead), form(path, "")),
        "ui/finops/anomalies" => (Rule::Allowed(FinopsRead), form(path, "")),
        // Nothing to acknowledge: refused after the role check, nothing changed.
        "ui/finops/anomalies/acknowledge" => {
            (Rule::Allowed(FinopsWrite), form(path, "target=x&service=y&currency=USD&day=2020-01-01"))
        }
        // Out of range: refused after the role check, nothing changed.
        "ui/finops/anomalies/floors" => (Rule::Allowed(FinopsWrite), form(path, "absolute_floor=-1&percent_floor=20")),
        "ui/finops/currency-rates" => (Rule::Allowed(FinopsWrite), form(path, "reporting=USD&rates=CAD%20-1")),
        "ui/finops/engineer-cost" => (Rule::Allowed(FinopsWrite), form(path, "monthly_cost=-5&currency=USD")),
        // No name: refused after the role check, nothing added.
        "ui/finops/budgets/add" => (
            Rule::Allowed(FinopsWrite),
            form(path, "name=&scope=&period=month&metric=billed&amount=1&currency=USD&thresholds=80"),
        ),
        "ui/finops/budgets/remove" => (Rule::Allowed(FinopsWrite), form(path, &id)),
        "ui/deployments/entity" => {
            (Rule::Allowed(CatalogRead), form(path, "namespace=default&kind=component&name=nope"))
        }
        "ui/cicd" => (Rule::Allowed(ManageAccess), form(path, "")),
        // An unknown provider: refused after the role check, nothing set.
        "ui/cicd/secret" => (Rule::Allowed(ManageAccess), form(path, "provider=travis")),
        "ui/audit/archive" => (Rule::Allowed(AuditRead), form(path, "")),
        // Out of range, and months never archived: refused after the role check, nothing changed.
        "ui/audit/archive/retention" => (Rule::Allowed(ManageAccess), form(path, "days=0")),
        "ui/audit/archive/restore" => (Rule::Allowed(ManageAccess), form(path, "month=1999-01")),
        "ui/audit/archive/put-back" => (Rule::Allowed(ManageAccess), form(path, "month=1999-01")),
        "ui/finops/overview" => (Rule::Allowed(FinopsRead), form(path, "view=amortized")),
        "ui/finops/imports" => (Rule::Allowed(FinopsRead), form(path, "")),
        "ui/finops/import" => (Rule::Allowed(FinopsRead), form(path, &id)),
        "ui/finops/allocation" => (Rule::Allowed(FinopsRead), form(path, "")),
        "ui/finops/entity-cost" => {
            (Rule::Allowed(FinopsRead), form(path, "namespace=default&kind=component&name=nope"))
        }
        "ui/finops/team-anomalies" => (Rule::Allowed(FinopsRead), form(path, "namespace=default&name=nope")),
        // Not a rule kind, no such rule, no such revision: refused after the role check, nothing changed.
        "ui/finops/allocation/add" => (
            Rule::Allowed(FinopsWrite),
            form(path, "rule[kind]=nope&rule[key]=&rule[pattern]=x&rule[target]=x&rule[position]=&revision="),
        ),
        "ui/finops/allocation/remove" => (Rule::Allowed(FinopsWrite), form(path, "index=400&revision=")),
        "ui/finops/allocation/restore" => (Rule::Allowed(FinopsWrite), form(path, "revision=999999")),
        "ui/briefs" => (Rule::Allowed(BriefsRead), form(path, "search=")),
        "ui/briefs/brief" => (Rule::Allowed(BriefsRead), form(path, &id)),
        "ui/briefs/companies" => (Rule::Allowed(BriefsRead), form(path, "search=&page=0")),
        "ui/briefs/company" => (Rule::Allowed(BriefsRead), form(path, &id)),
        // No company named: refused after the role check, nothing queued.
        "ui/briefs/request" => (Rule::Allowed(BriefsGenerate), form(path, "company=")),
        // No name: refused after the role check, nothing saved.
        "ui/briefs/company/save" => (Rule::Allowed(CompaniesManage), form(path, "form[name]=")),
        "ui/briefs/company/remove" => (Rule::Allowed(CompaniesManage), form(path, &id)),
        "ui/plugins" => (Rule::Allowed(PluginsRead), form(path, "query[search]=")),
        "ui/plugins/plugin" => (Rule::Allowed(PluginsRead), form(path, "id=no-such-plugin")),
        "ui/plugins/installed" => (Rule::Allowed(PluginsRead), form(path, "")),
        "ui/plugins/compare" => (Rule::Allowed(PluginsRead), form(path, "from=0&to=0")),
        // Each refused after the role check: no such runtime, plugin, package or revision.
        "ui/plugins/platform" => (Rule::Allowed(PluginsManage), form(path, "runtime=nope&release=")),
        "ui/plugins/install" => (Rule::Allowed(PluginsManage), form(path, "plugin=no-such-plugin")),
        "ui/plugins/update" => (Rule::Allowed(PluginsManage), form(path, "package=not-installed")),
        "ui/plugins/uninstall" => (Rule::Allowed(PluginsManage), form(path, "plugin=no-such-plugin")),
        "ui/plugins/toggle" => (Rule::Allowed(PluginsManage), form(path, "plugin=no-such-plugin&disabled=true")),
        "ui/plugins/rollback" => (Rule::Allowed(PluginsManage), form(path, "revision=999999")),
        "ui/plugins/recommendations" => (Rule::Allowed(PluginsRead), form(path, "")),
        "ui/plugins/configure" => (Rule::Allowed(PluginsManage), form(path, "package=not-installed&config=a%3A+1")),
        // No reason, no such request, no such support level: refused after the role check.
        "ui/plugins/request" => (Rule::Allowed(PluginsRequest), form(path, "plugin=no-such-plugin&reason=")),
        "ui/plugins/request/approve" => (Rule::Allowed(PluginsManage), form(path, &id)),
        "ui/plugins/request/reject" => (Rule::Allowed(PluginsManage), form(path, &format!("{id}&note=no"))),
        "ui/plugins/private/add" => (Rule::Allowed(PluginsManage), form(path, "name=x&title=X&packages=")),
        "ui/plugins/private/remove" => (Rule::Allowed(PluginsManage), form(path, "id=t0.nope")),
        "ui/plugins/policy" => (Rule::Allowed(PluginsManage), form(path, "support[0]=gold&blocked=&active_only=")),
        "ui/briefs/companies/upload" => (
            Rule::Allowed(CompaniesManage),
            Sample {
                path: path.into(),
                body: Body::from("--matrix--\r\n"),
                content_type: Some("multipart/form-data; boundary=matrix"),
            },
        ),
        // No file: refused after the role check, nothing imported.
        "ui/finops/upload" => (
            Rule::Allowed(FinopsWrite),
            Sample {
                path: path.into(),
                body: Body::from("--matrix--\r\n"),
                content_type: Some("multipart/form-data; boundary=matrix"),
            },
        ),
        _ => return None,
    })
}

/// The rule and a sample request of each REST endpoint, by method and path template.
fn rest_rule(method: &Method, template: &str) -> Option<(Rule, Sample)> {
    use Action::*;
    let path = template
        .replace("{uid}", NO_SUCH_ID)
        .replace("{id}", NO_SUCH_ID)
        .replace("{kind}", "component")
        .replace("{namespace}", "default")
        .replace("{name}", "nope");
    let read = |sample| Some((Rule::Allowed(CatalogRead), sample));
    let write = |sample| Some((Rule::Allowed(CatalogWrite), sample));
    let refs = || json(&path, r#"{"entityRefs":[]}"#);
    match (method.as_str(), template) {
        ("POST", "/oauth/token") => Some((Rule::Public, form(&path, "grant_type=client_credentials"))),
        ("GET", "/sso/{id}/start") => Some((Rule::Public, get(&path))),
        ("GET", "/sso/callback") => Some((Rule::Public, get(&format!("{path}?code=x&state=y")))),
        // Public by design: IdPs fetch our metadata and post assertions without our cookies.
        ("GET", "/sso/saml/{id}/metadata") => Some((Rule::Public, get(&path))),
        ("POST", "/sso/saml/{id}/acs") => Some((Rule::Public, form(&path, "SAMLResponse=eA%3D%3D&RelayState=y"))),
        ("GET", "/sso/saml/{id}/finish") => Some((Rule::Public, get(&format!("{path}?token=x")))),
        ("GET", "/api/permissions/roles") => Some((Rule::Authenticated, get(&path))),
        // Token-authenticated links from mail: a bad token is a 400 page, whoever asks.
        ("GET" | "POST", "/api/notifications/unsubscribe") => {
            Some((Rule::Public, get(&format!("{path}?user={NO_SUCH_ID}&kind=import_failed&token=k.x"))))
        }
        // Authenticated by the provider's secret, never a session or key: the matrix tenant has
        // no integration, so every caller gets 404 and nothing is stored.
        ("POST", "/api/webhooks/{provider}") => Some((Rule::Public, json(&path.replace("{provider}", "github"), "{}"))),
        // Without the upgrade headers: 426 once through, so nothing stays open.
        ("GET", "/api/ws") => Some((Rule::Authenticated, get(&path))),
        ("GET", "/api/account/export") => Some((Rule::Allowed(ManageOwnAccount), get(&path))),
        ("GET", "/api/audit" | "/api/audit/export") => {
            Some((Rule::Allowed(AuditRead), get(&format!("{path}?q=nothing-matches"))))
        }
        ("POST", "/api/audit/verify") => Some((Rule::Allowed(AuditRead), json(&path, ""))),
        // An empty file: refused after the role check, nothing imported.
        ("POST", "/api/finops/imports") => Some((
            Rule::Allowed(FinopsWrite),
            Sample { path: format!("{path}?source=matrix"), body: Body::empty(), content_type: Some("text/csv") },
        )),
        (
            "GET",
            "/api/finops/imports"
            | "/api/finops/imports/{id}"
            | "/api/cost-analytics"
            | "/api/cost-analytics/export.csv",
        ) => Some((Rule::Allowed(FinopsRead), get(&path))),
        ("GET", cost_insights) if cost_insights.starts_with("/api/cost-insights/") => Some((
            Rule::Allowed(FinopsRead),
            get(&format!("{path}?userId=x&group=x&project=x&entityRef=x&product=x&intervals=R2/P30D/2024-10-01")),
        )),
        // No company named: refused after the role check, nothing queued.
        ("POST", "/api/briefs") => Some((Rule::Allowed(BriefsGenerate), json(&path, r#"{"company":""}"#))),
        ("GET", "/api/briefs" | "/api/briefs/{id}") => Some((Rule::Allowed(BriefsRead), get(&path))),
        ("GET", "/api/briefs/{id}/pdf") => Some((Rule::Allowed(BriefsExport), get(&path))),
        (
            "GET",
            "/api/plugins"
            | "/api/plugins/installed"
            | "/api/plugins/{id}"
            | "/api/plugins/dynamic-plugins.yaml"
            | "/api/plugins/health"
            | "/api/plugins/config"
            | "/api/plugins/recommendations"
            | "/api/plugins/dependencies"
            | "/api/plugins/metrics"
            | "/api/plugins/policy"
            | "/api/plugins/openapi.json"
            | "/api/plugins/private",
        ) => Some((Rule::Allowed(PluginsRead), get(&path))),
        ("GET", "/api/plugins/compatibility") => {
            Some((Rule::Allowed(PluginsRead), get(&format!("{path}?release=1.46.0"))))
        }
        // Each refused after the role check: nothing installed to remove, no such support
        // level, no reason, no such request.
        ("POST", "/api/plugins/operations") => Some((
            Rule::Allowed(PluginsManage),
            json(&path, r#"{"operations":[{"operation":"uninstall","plugin":"nope"}]}"#),
        )),
        ("PUT", "/api/plugins/policy") => Some((Rule::Allowed(PluginsManage), json(&path, r#"{"support":["gold"]}"#))),
        ("GET", "/api/plugins/requests") => Some((Rule::Allowed(PluginsRequest), get(&path))),
        ("POST", "/api/plugins/requests") => Some((
            Rule::Allowed(PluginsRequest),
            json(&path, r#"{"operation":"uninstall","plugin":"nope","reason":""}"#),
        )),
        // No packages; no such entry: refused after the role check.
        ("POST", "/api/plugins/private") => {
            Some((Rule::Allowed(PluginsManage), json(&path, r#"{"name":"x","title":"X","packages":[]}"#)))
        }
        ("DELETE", "/api/plugins/private/{id}") => Some((Rule::Allowed(PluginsManage), get(&path))),
        ("POST", "/api/plugins/requests/{id}/approve") => Some((Rule::Allowed(PluginsManage), json(&path, "{}"))),
        ("POST", "/api/plugins/requests/{id}/reject") => {
            Some((Rule::Allowed(PluginsManage), json(&path, r#"{"note":"no"}"#)))
        }
        ("PUT", "/api/plugins/config") => {
            Some((Rule::Allowed(PluginsManage), json(&path, r#"{"package":"not-installed","config":{"a":1}}"#)))
        }
        // A package no revision holds: not found after the role check.
        ("GET", "/api/plugins/npm/{*path}") => {
            Some((Rule::Allowed(PluginsRead), get(&path.replace("{*path}", "@nope%2fplugin-nope"))))
        }
        // A package without a name: refused after the role check, nothing recorded.
        ("POST", "/api/plugins/health") => Some((
            Rule::Allowed(PluginsReport),
            json(&path, r#"{"plugins":[{"package":"","version":"1.0.0","state":"loaded"}]}"#),
        )),
        ("GET", "/api/plugins/revisions") => Some((Rule::Allowed(PluginsRead), get(&format!("{path}?from=0&to=0")))),
        // Each refused after the role check: no such runtime, plugin, package or revision.
        ("PUT", "/api/plugins/platform") => {
            Some((Rule::Allowed(PluginsManage), json(&path, r#"{"runtime":"nope","release":""}"#)))
        }
        ("POST", "/api/plugins/resolve") => {
            Some((Rule::Allowed(PluginsManage), json(&path, r#"{"operation":"uninstall","plugin":"nope"}"#)))
        }
        ("POST", "/api/plugins/install") => Some((Rule::Allowed(PluginsManage), json(&path, r#"{"plugin":"nope"}"#))),
        ("PUT", "/api/plugins/update") => Some((Rule::Allowed(PluginsManage), json(&path, r#"{"packages":["nope"]}"#))),
        ("DELETE", "/api/plugins/uninstall") => {
            Some((Rule::Allowed(PluginsManage), json(&path, r#"{"plugin":"nope"}"#)))
        }
        ("POST", "/api/plugins/toggle") => {
            Some((Rule::Allowed(PluginsManage), json(&path, r#"{"plugin":"nope","disabled":true}"#)))
        }
        ("POST", "/api/plugins/rollback") => {
            Some((Rule::Allowed(PluginsManage), json(&path, r#"{"revision":999999}"#)))
        }
        ("POST", "/api/permissions/audit") => Some((Rule::Allowed(AuditRead), json(&path, r#"{"from":"2026-11-01"}"#))),
        ("POST", "/api/permissions/check") => Some((Rule::Authenticated, json(&path, r#"{"action":"catalog.read"}"#))),
        ("GET", "/api/catalog/openapi.json") => Some((Rule::Authenticated, get(&path))),
        ("GET", "/api/catalog/entity-facets") => read(get(&format!("{path}?facet=kind"))),
        (
            "GET",
            "/api/catalog/entities"
            | "/api/catalog/entities/{uid}"
            | "/api/catalog/entities/by-uid/{uid}"
            | "/api/catalog/entities/by-query"
            | "/api/catalog/entities/by-name/{kind}/{namespace}/{name}"
            | "/api/catalog/entities/by-name/{kind}/{namespace}/{name}/ancestry"
            | "/api/catalog/search"
            | "/api/catalog/search/semantic"
            | "/api/catalog/locations"
            | "/api/catalog/locations/{id}"
            | "/api/catalog/locations/by-entity/{kind}/{namespace}/{name}"
            | "/api/catalog/events"
            | "/api/catalog/export",
        ) => read(get(&path)),
        (
            "POST",
            "/api/catalog/entities/by-query"
            | "/api/catalog/entities/by-refs"
            | "/api/catalog/entity-facets"
            | "/api/catalog/locations/by-query"
            | "/api/catalog/validate-entity",
        ) => read(refs()),
        ("POST", "/api/catalog/import") => {
            write(Sample { path, body: Body::from(":"), content_type: Some("application/yaml") })
        }
        ("POST", "/api/catalog/refresh") => write(json(&path, r#"{"entityRef":"component:default/nope"}"#)),
        (
            "POST" | "PUT",
            "/api/catalog/entities"
            | "/api/catalog/entities/{uid}"
            | "/api/catalog/locations"
            | "/api/catalog/locations/{id}"
            | "/api/catalog/analyze-location",
        ) => write(json(&path, "{}")),
        (
            "DELETE",
            "/api/catalog/entities/{uid}" | "/api/catalog/entities/by-uid/{uid}" | "/api/catalog/locations/{id}",
        ) => write(get(&path)),
        _ => None,
    }
}

/// Pages: what each needs to be shown; the sign-in steps are public.
fn page_rule(path: &str) -> Option<(Rule, Sample)> {
    use Action::*;
    let rule = match path {
        "/login" | "/login/mfa" => Rule::Public,
        "/" | "/logout" | "/settings" => Rule::Authenticated,
        "/plugins" | "/plugins/{id}" | "/settings/plugins" => Rule::Allowed(PluginsRead),
        "/briefs" | "/briefs/{id}" | "/briefs/companies" | "/briefs/companies/{id}" => Rule::Allowed(BriefsRead),
        "/finops"
        | "/finops/sources"
        | "/finops/allocation"
        | "/finops/budgets"
        | "/finops/anomalies"
        | "/finops/teams/{namespace}/{name}"
        | "/finops/imports/{id}" => Rule::Allowed(FinopsRead),
        "/audit" | "/audit/{id}" | "/audit/permissions" | "/audit/insights" | "/audit/archive" => {
            Rule::Allowed(AuditRead)
        }
        "/account/password"
        | "/account/sessions"
        | "/account/mfa"
        | "/account/data"
        | "/settings/api-access"
        | "/notifications" => Rule::Allowed(ManageOwnAccount),
        "/catalog" | "/catalog/locations" | "/catalog/{namespace}/{kind}/{name}" => Rule::Allowed(CatalogRead),
        // The forms render for every member; saving them is what needs write access.
        "/catalog/import" | "/catalog/new" | "/catalog/{namespace}/{kind}/{name}/edit" => Rule::Allowed(CatalogRead),
        "/catalog/import/{id}" => Rule::Allowed(CatalogWrite),
        "/settings/users" => Rule::Allowed(ManageUsers),
        "/settings/security" | "/settings/sso" | "/settings/webhooks" | "/settings/cicd" | "/audit/streams" => {
            Rule::Allowed(ManageAccess)
        }
        _ => return None,
    };
    let concrete = path
        .replace("{namespace}", "default")
        .replace("{kind}", "component")
        .replace("{name}", "nope")
        .replace("{id}", NO_SUCH_ID);
    Some((rule, get(&concrete)))
}

#[derive(Debug)]
enum Caller {
    Anonymous,
    OtherTenantMember(String),
    Member(Role, String),
    /// An admin's API key with only `audit:read`: through on the audit API, refused elsewhere.
    KeyWithoutScopes(String),
    OtherTenantKey(String),
}

impl Caller {
    fn name(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".into(),
            Caller::OtherTenantMember(_) => "admin of another tenant".into(),
            Caller::Member(role, _) => role.as_str().into(),
            Caller::KeyWithoutScopes(_) => "admin's key without the scope".into(),
            Caller::OtherTenantKey(_) => "another tenant's key".into(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// 401, or for pages visited without a credential a redirect to /login.
    SignIn,
    /// A presented key or token that is not this tenant's: 401, even on public endpoints.
    BadCredential,
    Forbidden,
    /// Reaches the endpoint: neither 401 nor 403, no server error.
    Through,
    /// Public endpoints may refuse bad input with 401 (a wrong password), never with 403.
    NotForbidden,
}

fn expect(rule: Rule, caller: &Caller, is_page: bool) -> Expect {
    match (rule, caller) {
        // A presented credential is judged alone, even on public endpoints.
        (_, Caller::OtherTenantKey(_)) => Expect::BadCredential,
        (Rule::Public, _) => Expect::NotForbidden,
        (_, Caller::Anonymous | Caller::OtherTenantMember(_)) => Expect::SignIn,
        // Pages are for people in a browser; keys are for the API.
        (_, Caller::KeyWithoutScopes(_)) if is_page => Expect::Forbidden,
        (Rule::Authenticated, _) => Expect::Through,
        (Rule::Allowed(action), Caller::Member(role, _)) => {
            if decide(*role, None, action).allowed() {
                Expect::Through
            } else {
                Expect::Forbidden
            }
        }
        (Rule::Allowed(action), Caller::KeyWithoutScopes(_)) => {
            if decide(Role::Admin, Some(&[Scope::AuditRead]), action).allowed() {
                Expect::Through
            } else {
                Expect::Forbidden
            }
        }
    }
}

struct Outcome {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

async fn call(
    app: &TestApp,
    (host, from): (&str, std::net::SocketAddr),
    method: &Method,
    sample: Sample,
    caller: &Caller,
    is_page: bool,
) -> Outcome {
    let mut request = Request::builder()
        .method(method.clone())
        .uri(&sample.path)
        .header(header::HOST, host)
        .header(header::ACCEPT, if is_page { "text/html" } else { "application/json" });
    if let Some(content_type) = sample.content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    request = match caller {
        Caller::Anonymous => request,
        Caller::OtherTenantMember(cookie) | Caller::Member(_, cookie) => request.header(header::COOKIE, cookie),
        Caller::KeyWithoutScopes(key) | Caller::OtherTenantKey(key) => {
            request.header(header::AUTHORIZATION, format!("Bearer {key}"))
        }
    };
    let mut request = request.body(sample.body).unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(from));
    let response = app.router.clone().oneshot(request).await.expect("router never fails");
    let status = response.status();
    let location = response.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
    let streaming = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("text/event-stream"));
    // An event stream never ends by itself: its status and headers are the answer.
    let body = if streaming {
        String::new()
    } else {
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Outcome { status, location, body }
}

fn verdict(expected: &Expect, outcome: &Outcome, is_page: bool) -> bool {
    let status = outcome.status;
    match expected {
        Expect::SignIn if is_page => status == StatusCode::SEE_OTHER && outcome.location.as_deref() == Some("/login"),
        Expect::SignIn | Expect::BadCredential => status == StatusCode::UNAUTHORIZED,
        Expect::Forbidden => status == StatusCode::FORBIDDEN,
        Expect::Through => {
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN && !status.is_server_error()
        }
        Expect::NotForbidden => status != StatusCode::FORBIDDEN && !status.is_server_error(),
    }
}

/// Calls that end the caller's own session go last, so the other calls still have one.
fn ends_sessions(path: &str) -> u8 {
    match path {
        "/api/auth/sessions/end-all" => 1,
        "/api/auth/logout" => 2,
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_answers_every_caller_as_designed_and_never_leaks_another_tenant() {
    let app = TestApp::new().await;
    let (t, admin) = app.signed_in_tenant().await;

    // Another tenant with data that must never show up in this tenant's answers.
    let other: TestTenant = app.tenant().await;
    let other_admin = app.login(&other.host, &other.admin_email, &other.admin_password).await;
    let secret_name = format!("secret-{}", other.tenant.slug);
    let yaml = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {secret_name}\nspec:\n  type: service\n  owner: {secret_name}-team\n  lifecycle: production\n"
    );
    let imported = app.call(&other.host, "/api/ui/catalog/import", &[("yaml", &yaml)], Some(&other_admin)).await;
    assert!(imported.status.is_success(), "{} {}", imported.status, imported.body);
    let (_, other_key) = app.create_key(&other, &other_admin, "other", &["catalog:read", "catalog:write"]).await;
    // audit:read alone: the audit API lets it through, every other endpoint lacks its scope.
    let (_, unscoped_key) = app.create_key(&t, &admin, "unscoped", &["audit:read"]).await;

    let mut callers = vec![
        Caller::Anonymous,
        Caller::OtherTenantMember(other_admin.clone()),
        Caller::KeyWithoutScopes(unscoped_key),
        Caller::OtherTenantKey(other_key),
    ];
    for role in [Role::Viewer, Role::Developer, Role::Maintainer] {
        let email = format!("{}@{}.example.com", role.as_str(), t.tenant.slug);
        callers.push(Caller::Member(role, app.member(&t, &admin, &email, role).await.1));
    }
    callers.push(Caller::Member(Role::Admin, admin));

    // Everything the router serves on a tenant host.
    let mut endpoints: Vec<(Method, String, bool)> = Vec::new();
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        endpoints.push((method, path.to_owned(), false));
    }
    for endpoint in server::rest::tenant_endpoints() {
        endpoints.push((endpoint.method.clone(), endpoint.path.to_owned(), false));
    }
    for route in leptos_axum::generate_route_list(app::App) {
        endpoints.push((Method::GET, route.path().to_owned(), true));
    }
    endpoints.sort_by_key(|(_, path, _)| ends_sessions(path));

    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let mut calls = 0;
    for caller in &callers {
        for (method, path, is_page) in &endpoints {
            // Each call from its own loopback address, so the anonymous per-address limit
            // (100 a minute) is never what answers.
            let random = *uuid::Uuid::new_v4().as_bytes();
            let from = std::net::SocketAddr::from(([127, random[0], random[1], random[2]], 40_000));
            let designed = if *is_page {
                page_rule(path)
            } else if path.starts_with("/api/") && server_fn_rule(path).is_some() {
                server_fn_rule(path)
            } else {
                rest_rule(method, path)
            };
            let Some((rule, sample)) = designed else {
                if !missing.contains(path) {
                    missing.push(path.clone());
                }
                continue;
            };
            let expected = expect(rule, caller, *is_page);
            let outcome = call(&app, (&t.host, from), method, sample, caller, *is_page).await;
            calls += 1;
            if !verdict(&expected, &outcome, *is_page) {
                wrong.push(format!(
                    "{method} {path} as {}: expected {expected:?}, got {} {}",
                    caller.name(),
                    outcome.status,
                    outcome.body.chars().take(160).collect::<String>()
                ));
            }
            for leak in [&secret_name, &other.admin_email, &other.tenant.slug.to_string()] {
                if outcome.body.contains(leak.as_str()) {
                    wrong.push(format!(
                        "{method} {path} as {}: the body contains `{leak}` of another tenant",
                        caller.name()
                    ));
                }
            }
        }
    }
    assert!(missing.is_empty(), "endpoints without a designed rule in the matrix: {missing:#?}");
    assert!(wrong.is_empty(), "{} of {calls} calls answered against the design:\n{}", wrong.len(), wrong.join("\n"));
    assert!(calls > 8 * 70, "the matrix covered {calls} calls");
}
