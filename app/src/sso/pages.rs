//! Settings → Single sign-on, and the "Sign in with …" buttons of the sign-in page.

use leptos::prelude::*;

use super::api::{load_sso, login_providers, AddSamlProvider, AddSsoProvider, RemoveSsoProvider, SetSsoRequired};
use super::model::{ProviderView, SamlView, SsoOverview, ATTRIBUTE_PRESETS};
use super::paths;
use crate::settings::pages::{NonAdminRoleSelect, SettingsTabs};
use crate::ui::form::{ErrorNotice, SubmitButton, TextField};

/// Plain links (`/sso/<id>/start`): the round trip through the provider needs no JavaScript.
#[component]
pub fn SsoButtons() -> impl IntoView {
    let providers = Resource::new(|| (), |_| login_providers());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let providers = providers.await.unwrap_or_default();
                (!providers.is_empty()).then(|| view! {
                    <div class="mt-6 space-y-2" data-testid="sso-buttons">
                        <p class="text-center text-xs uppercase tracking-wide text-slate-400">"or"</p>
                        {providers.into_iter().map(|p| view! {
                            <a href=paths::start(p.id) rel="external"
                                class="block rounded-lg border border-slate-300 px-4 py-2 text-center text-sm font-medium text-slate-700 hover:bg-slate-50">
                                {format!("Sign in with {}", p.name)}
                            </a>
                        }).collect_view()}
                    </div>
                })
            })}
        </Suspense>
    }
}

#[component]
pub fn SsoSettingsPage() -> impl IntoView {
    let add = ServerAction::<AddSsoProvider>::new();
    let add_saml = ServerAction::<AddSamlProvider>::new();
    let remove = ServerAction::<RemoveSsoProvider>::new();
    let required = ServerAction::<SetSsoRequired>::new();
    let overview = Resource::new(
        move || (add.version().get(), add_saml.version().get(), remove.version().get(), required.version().get()),
        |_| load_sso(),
    );
    view! {
        <section class="max-w-3xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Single sign-on"</h1>
            <SettingsTabs current="/settings/sso"/>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <Providers overview add remove required/> <AddSamlForm add=add_saml/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Providers(
    overview: SsoOverview,
    add: ServerAction<AddSsoProvider>,
    remove: ServerAction<RemoveSsoProvider>,
    required: ServerAction<SetSsoRequired>,
) -> impl IntoView {
    let add_error = Signal::derive(move || add.value().get().and_then(Result::err));
    let remove_error = Signal::derive(move || {
        remove.value().get().and_then(Result::err).or_else(|| required.value().get().and_then(Result::err))
    });
    let is_required = overview.required;
    view! {
        <p class="mt-4 text-sm text-slate-600">
            "Register Beacon at your OpenID Connect provider (Okta, Entra ID, Google Workspace, Auth0, …) with this redirect URI: "
            <code data-testid="redirect-uri" class="font-mono text-slate-900">{overview.redirect_uri}</code>
        </p>
        <div class="mt-3"><ErrorNotice error=remove_error/></div>
        <ActionForm action=required>
            <div class="mt-4 flex items-center gap-3 text-sm">
                <label class="flex items-center gap-2">
                    <input type="checkbox" name="required" value="true" checked=is_required/>
                    "Require single sign-on (members other than admins cannot use passwords)"
                </label>
                <SubmitButton label="Save" pending=required.pending()/>
            </div>
        </ActionForm>
        <ul class="mt-4 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="sso-providers">
            {overview.providers.into_iter().map(|p| view! { <ProviderRow provider=p remove/> }).collect_view()}
        </ul>
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-6">
            <h2 class="font-medium text-slate-900">"Add an OpenID Connect or GitHub provider"</h2>
            <p class="mt-1 text-xs text-slate-500">"For GitHub, leave the issuer URL empty for github.com or give your Enterprise Server's address."</p>
            <ActionForm action=add>
                <div class="mt-4 grid gap-4 sm:grid-cols-2">
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Kind"</span>
                        <select name="kind" aria-label="Kind" class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-2 text-sm">
                            <option value="oidc">"OpenID Connect"</option>
                            <option value="github">"GitHub (OAuth)"</option>
                        </select>
                    </label>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"GitHub organisation (optional)"</span>
                        <input name="organization" aria-label="GitHub organisation" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm"/>
                    </label>
                    <TextField label="Button name" name="name"/>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Issuer URL"</span>
                        <input name="issuer" aria-label="Issuer URL" placeholder="https://example.okta.com" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm"/>
                    </label>
                    <TextField label="Client ID" name="client_id"/>
                    <TextField label="Client secret" name="client_secret" kind="password" autocomplete="off"/>
                    <NonAdminRoleSelect name="default_role" label="Role of new members"/>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Allowed email domains (optional)"</span>
                        <input name="allowed_domains" aria-label="Allowed email domains" placeholder="example.com" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm"/>
                    </label>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Role claim (optional)"</span>
                        <input name="role_claim" aria-label="Role claim" placeholder="groups" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm"/>
                    </label>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Role mapping, one per line"</span>
                        <textarea name="role_mapping" aria-label="Role mapping" rows="3" placeholder="beacon-admins = admin" class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 font-mono text-sm"></textarea>
                    </label>
                </div>
                <div class="mt-4 flex items-center gap-3">
                    <SubmitButton label="Add provider" pending=add.pending()/>
                    <ErrorNotice error=add_error/>
                </div>
            </ActionForm>
        </div>
    }
}

#[component]
fn ProviderRow(provider: ProviderView, remove: ServerAction<RemoveSsoProvider>) -> impl IntoView {
    let label = format!("Remove {}", provider.name);
    let domains =
        if provider.allowed_domains.is_empty() { "any domain".to_owned() } else { provider.allowed_domains.join(", ") };
    let mapping = provider.role_claim.as_ref().map(|claim| {
        let pairs: Vec<String> = provider.role_mapping.iter().map(|m| format!("{} → {}", m.value, m.role)).collect();
        format!("roles from `{claim}`: {}", pairs.join(", "))
    });
    view! {
        <li class="flex items-start justify-between gap-4 px-4 py-3 text-sm" data-testid="sso-provider" data-name=provider.name.clone()>
            <div>
                <p class="font-medium text-slate-900">{provider.name.clone()}</p>
                <p class="text-xs text-slate-500">{format!("{} · client {} · new members: {} · {domains}", provider.issuer, provider.client_id, provider.default_role)}</p>
                {mapping.map(|m| view! { <p class="text-xs text-slate-500" data-testid="role-mapping">{m}</p> })}
                {provider.saml.clone().map(|saml| view! { <SamlDetails saml/> })}
                <a href=format!("{}?test=1", paths::start(provider.id)) rel="external" class="mt-1 inline-block text-xs font-medium text-amber-700 hover:text-amber-900">
                    {format!("Test sign-in with {}", provider.name)}
                </a>
            </div>
            <ActionForm action=remove>
                <input type="hidden" name="id" value=provider.id.to_string()/>
                <button type="submit" aria-label=label class="text-xs font-medium text-red-600 hover:text-red-800">"Remove"</button>
            </ActionForm>
        </li>
    }
}

/// What the admin copies into the IdP (our entity id, ACS URL, metadata), and what we trust of it.
#[component]
fn SamlDetails(saml: SamlView) -> impl IntoView {
    let attributes = format!(
        "attributes ({}): email {}, name {} {}",
        saml.preset,
        saml.email_attribute.as_deref().unwrap_or("= NameID"),
        saml.first_name_attribute.as_deref().unwrap_or("–"),
        saml.last_name_attribute.as_deref().unwrap_or("–"),
    );
    let flags = format!(
        "IdP-initiated sign-in {} · SHA-1 signatures {} · clock skew {} s",
        if saml.allow_idp_initiated { "allowed" } else { "off" },
        if saml.allow_sha1 { "allowed" } else { "refused" },
        saml.clock_skew_seconds,
    );
    view! {
        <dl class="mt-2 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-xs" data-testid="saml-details">
            <dt class="text-slate-500">"SP entity ID"</dt><dd class="break-all font-mono" data-testid="sp-entity-id">{saml.sp_entity_id}</dd>
            <dt class="text-slate-500">"ACS URL"</dt><dd class="break-all font-mono" data-testid="acs-url">{saml.acs_url}</dd>
            <dt class="text-slate-500">"SP metadata"</dt>
            <dd><a class="break-all font-mono text-amber-700" rel="external" href=saml.metadata_url.clone()>{saml.metadata_url.clone()}</a></dd>
            <dt class="text-slate-500">"IdP SSO URL"</dt><dd class="break-all font-mono">{saml.sso_url}</dd>
            {saml.certificates.into_iter().map(|c| view! {
                <dt class="text-slate-500">"IdP certificate"</dt>
                <dd class="break-all font-mono" data-testid="idp-certificate">{format!("SHA-256 {} · expires {}", c.fingerprint, c.expires)}</dd>
            }).collect_view()}
        </dl>
        <p class="mt-1 text-xs text-slate-500">{attributes}</p>
        <p class="text-xs text-slate-500">{flags}</p>
    }
}

const INPUT: &str = "mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm";

/// Add a SAML IdP: paste its metadata, or give entity id, SSO URL and certificate by hand.
#[component]
fn AddSamlForm(add: ServerAction<AddSamlProvider>) -> impl IntoView {
    let error = Signal::derive(move || add.value().get().and_then(Result::err));
    view! {
        <div class="mt-6 rounded-xl border border-slate-200 bg-white p-6" data-testid="add-saml">
            <h2 class="font-medium text-slate-900">"Add a SAML provider"</h2>
            <p class="mt-1 text-xs text-slate-500">
                "Paste the IdP's metadata XML, or fill in its entity ID, SSO URL and signing certificate. "
                "Beacon then shows its own entity ID, ACS URL and metadata for you to enter at the IdP. "
                "Attribute names left empty take the preset's."
            </p>
            <ActionForm action=add>
                <div class="mt-4 grid gap-4 sm:grid-cols-2">
                    <TextField label="SAML button name" name="name"/>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Attribute preset"</span>
                        <select name="preset" aria-label="Attribute preset" class="mt-1 block w-full rounded-lg border border-slate-300 bg-white px-2 py-2 text-sm">
                            {ATTRIBUTE_PRESETS.iter().map(|p| view! { <option value=p.key>{p.label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="block text-sm sm:col-span-2">
                        <span class="font-medium text-slate-700">"IdP metadata XML"</span>
                        <textarea name="metadata" aria-label="IdP metadata XML" rows="4" placeholder="<md:EntityDescriptor …>" class=format!("{INPUT} font-mono")></textarea>
                    </label>
                    <TextField label="IdP entity ID" name="entity_id" optional=true/>
                    <TextField label="IdP SSO URL" name="sso_url" optional=true placeholder="https://example.okta.com/app/…/sso/saml"/>
                    <label class="block text-sm sm:col-span-2">
                        <span class="font-medium text-slate-700">"IdP signing certificate (PEM)"</span>
                        <textarea name="certificate" aria-label="IdP signing certificate" rows="3" placeholder="-----BEGIN CERTIFICATE-----" class=format!("{INPUT} font-mono")></textarea>
                    </label>
                    <TextField label="Email attribute" name="email_attribute" optional=true placeholder="from the preset"/>
                    <TextField label="Groups attribute" name="groups_attribute" optional=true placeholder="from the preset"/>
                    <TextField label="First name attribute" name="first_name_attribute" optional=true placeholder="from the preset"/>
                    <TextField label="Last name attribute" name="last_name_attribute" optional=true placeholder="from the preset"/>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Group to role mapping, one per line"</span>
                        <textarea name="role_mapping" aria-label="Group to role mapping" rows="3" placeholder="beacon-admins = admin" class=format!("{INPUT} font-mono")></textarea>
                    </label>
                    <NonAdminRoleSelect name="default_role" label="Role of new SAML members"/>
                    <TextField label="Allowed email domains for SAML (optional)" name="allowed_domains" optional=true placeholder="example.com"/>
                    <label class="block text-sm">
                        <span class="font-medium text-slate-700">"Clock skew (seconds)"</span>
                        <input name="clock_skew_seconds" aria-label="Clock skew" type="number" min="0" max="300" value="60" class=INPUT/>
                    </label>
                    <label class="flex items-center gap-2 text-sm">
                        <input type="checkbox" name="allow_idp_initiated" value="true"/>
                        "Allow IdP-initiated sign-in"
                    </label>
                    <label class="flex items-center gap-2 text-sm">
                        <input type="checkbox" name="allow_sha1" value="true"/>
                        "Accept SHA-1 signatures (legacy IdPs only)"
                    </label>
                </div>
                <div class="mt-4 flex items-center gap-3">
                    <SubmitButton label="Add SAML provider" pending=add.pending()/>
                    <ErrorNotice error=error/>
                </div>
            </ActionForm>
        </div>
    }
}
