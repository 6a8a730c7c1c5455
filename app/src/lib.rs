//! Beacon: the portal's pages, server functions and (behind `ssr`) its services and
//! repositories, one folder per area.

pub mod access;
pub mod audit;
pub mod auth;
pub mod briefs;
pub mod catalog;
pub mod deployments;
pub mod error;
pub mod escape;
pub mod events;
pub mod finops;
pub mod home;
pub mod insights;
pub mod notifications;
pub mod plugins;
pub mod privacy;
pub mod settings;
pub mod sso;
pub mod tenancy;
pub mod ui;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub mod cpu;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod embedding;
#[cfg(feature = "ssr")]
pub mod fetch;
#[cfg(feature = "ssr")]
pub mod kept;
#[cfg(feature = "ssr")]
pub mod keyring;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use access::pages::ApiAccessPage;
use audit::archive_pages::AuditArchivePage;
use audit::pages::{AuditEventPage, AuditLogPage, PermissionChangesPage};
use audit::stream_pages::AuditStreamsPage;
use auth::mfa_pages::{MfaChallengePage, MfaPage};
use auth::pages::{ChangePasswordPage, LoginPage, LogoutPage, SessionsPage};
use briefs::company_pages::{CompaniesPage, CompanyPage};
use briefs::pages::{BriefPage, BriefsPage};
use catalog::import_pages::{ImportJobPage, ImportPage};
use catalog::location_pages::LocationsPage;
use catalog::pages::{CatalogListPage, EditEntityPage, EntityPage, NewEntityPage};
use deployments::pages::CicdSettingsPage;
use finops::anomaly_pages::AnomaliesPage;
use finops::budget_pages::BudgetsPage;
use finops::pages::{AllocationSettingsPage, CostImportPage, CostSourcesPage, FinopsPage};
use finops::team_pages::TeamCostPage;
use home::pages::HomePage;
use insights::pages::InsightsPage;
use notifications::pages::NotificationsPage;
use plugins::pages::{PluginPage, PluginsPage};
use plugins::settings_pages::PluginSettingsPage;
use privacy::pages::YourDataPage;
use settings::pages::UsersPage;
use settings::security_pages::SecurityPage;
use sso::pages::SsoSettingsPage;
use ui::layout::PortalShell;
use ui::placeholder::PageNotFound;
use webhooks::pages::WebhooksPage;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased">
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page once the WASM has taken over, so tests (and people) can tell.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/beacon.css"/>
        <Title text="Beacon"/>
        <Router>
            <Routes fallback=PageNotFound>
                // Async: the "Sign in with …" buttons must be in the HTML without JS.
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/login/mfa") view=MfaChallengePage/>
                // In order, so every Suspense resolves in the HTML itself: pages work without JS.
                <ParentRoute path=path!("") view=PortalShell ssr=SsrMode::InOrder>
                    <Route path=path!("") view=HomePage/>
                    <Route path=path!("logout") view=LogoutPage/>
                    <Route path=path!("catalog") view=CatalogListPage/>
                    <Route path=path!("catalog/import") view=ImportPage/>
                    <Route path=path!("catalog/import/:id") view=ImportJobPage/>
                    <Route path=path!("catalog/locations") view=LocationsPage/>
                    <Route path=path!("catalog/new") view=NewEntityPage/>
                    <Route path=path!("catalog/:namespace/:kind/:name/edit") view=EditEntityPage ssr=SsrMode::Async/>
                    <Route path=path!("catalog/:namespace/:kind/:name") view=EntityPage ssr=SsrMode::Async/>
                    <Route path=path!("plugins") view=PluginsPage/>
                    <Route path=path!("plugins/:id") view=PluginPage/>
                    <Route path=path!("briefs") view=BriefsPage/>
                    <Route path=path!("briefs/companies") view=CompaniesPage/>
                    <Route path=path!("briefs/companies/:id") view=CompanyPage/>
                    <Route path=path!("briefs/:id") view=BriefPage/>
                    <Route path=path!("finops") view=FinopsPage/>
                    <Route path=path!("finops/sources") view=CostSourcesPage/>
                    <Route path=path!("finops/allocation") view=AllocationSettingsPage/>
                    <Route path=path!("finops/budgets") view=BudgetsPage/>
                    <Route path=path!("finops/anomalies") view=AnomaliesPage/>
                    <Route path=path!("finops/teams/:namespace/:name") view=TeamCostPage/>
                    <Route path=path!("finops/imports/:id") view=CostImportPage/>
                    // Async so a 403 status is set before the first byte is sent.
                    <Route path=path!("audit") view=AuditLogPage ssr=SsrMode::Async/>
                    <Route path=path!("audit/permissions") view=PermissionChangesPage ssr=SsrMode::Async/>
                    <Route path=path!("audit/insights") view=InsightsPage ssr=SsrMode::Async/>
                    // Async: the shown-once secret is removed from the session while rendering.
                    <Route path=path!("audit/streams") view=AuditStreamsPage ssr=SsrMode::Async/>
                    <Route path=path!("audit/archive") view=AuditArchivePage ssr=SsrMode::Async/>
                    <Route path=path!("audit/:id") view=AuditEventPage ssr=SsrMode::Async/>
                    <Route path=path!("settings") view=|| view! { <Redirect path="/settings/users"/> }/>
                    // Async so a 403 status is set before the first byte is sent.
                    <Route path=path!("settings/users") view=UsersPage ssr=SsrMode::Async/>
                    // Async: the shown-once secret is removed from the session while rendering,
                    // which must happen before the response (and its session save) starts.
                    <Route path=path!("settings/api-access") view=ApiAccessPage ssr=SsrMode::Async/>
                    <Route path=path!("settings/security") view=SecurityPage ssr=SsrMode::Async/>
                    <Route path=path!("settings/sso") view=SsoSettingsPage ssr=SsrMode::Async/>
                    // Async: the shown-once secret is removed from the session while rendering.
                    <Route path=path!("settings/webhooks") view=WebhooksPage ssr=SsrMode::Async/>
                    // Async: the shown-once secret is removed from the session while rendering.
                    <Route path=path!("settings/cicd") view=CicdSettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("settings/plugins") view=PluginSettingsPage/>
                    <Route path=path!("notifications") view=NotificationsPage/>
                    <Route path=path!("account/password") view=ChangePasswordPage/>
                    <Route path=path!("account/sessions") view=SessionsPage/>
                    <Route path=path!("account/data") view=YourDataPage/>
                    // Async: recovery codes are shown once, removed from the session while rendering.
                    <Route path=path!("account/mfa") view=MfaPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
