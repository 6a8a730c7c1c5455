//! The portal shell: top bar with tenant and user menu, area navigation, page outlet.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use crate::auth::api::{shell_context, Logout};
use crate::auth::model::Principal;
use crate::notifications::api::load_notifications;
use crate::ui::live::{on_live, resume_after};

pub struct Area {
    pub label: &'static str,
    pub href: &'static str,
    pub purpose: &'static str,
}

pub const AREAS: [Area; 6] = [
    Area { label: "Catalog", href: "/catalog", purpose: "Services, APIs, resources and who owns them." },
    Area { label: "Plugins", href: "/plugins", purpose: "Backstage plugins for your portal." },
    Area { label: "Briefs", href: "/briefs", purpose: "Competitive-intelligence briefs." },
    Area { label: "FinOps", href: "/finops", purpose: "Cloud bills by service, account and day." },
    Area { label: "Audit", href: "/audit", purpose: "Every security and data event." },
    Area { label: "Settings", href: "/settings/users", purpose: "Users, roles and access." },
];

#[component]
pub fn PortalShell() -> impl IntoView {
    let context = Resource::new(|| (), |_| shell_context());
    view! {
        <div class="min-h-screen bg-slate-50">
            <header class="bg-slate-950 text-white">
                <div class="mx-auto flex h-14 max-w-7xl items-center justify-between px-6">
                    <A href="/" attr:class="flex items-center gap-2">
                        <span class="h-2.5 w-2.5 rounded-full bg-amber-400 shadow-[0_0_10px_rgba(251,191,36,0.8)]"></span>
                        <span class="font-semibold tracking-tight">"Beacon"</span>
                    </A>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            context.await.ok().map(|ctx| {
                                resume_after(ctx.live_after);
                                view! {
                                    <div class="flex items-center gap-4">
                                        <span data-testid="tenant-name" class="text-sm text-slate-300">{ctx.tenant.name}</span>
                                        {ctx.user.map(|user| view! {
                                            <Bell unread=ctx.unread_notifications/>
                                            <UserMenu user/>
                                        })}
                                    </div>
                                }
                            })
                        })}
                    </Suspense>
                </div>
            </header>
            <div class="mx-auto flex max-w-7xl gap-8 px-6 py-8">
                <nav aria-label="Portal areas" class="w-44 shrink-0">
                    <ul class="space-y-1">
                        {AREAS
                            .iter()
                            .map(|area| {
                                view! {
                                    <li>
                                        <A href=area.href attr:class="block rounded-lg px-3 py-2 text-sm font-medium text-slate-600 hover:bg-white hover:text-slate-900 aria-[current=page]:bg-white aria-[current=page]:text-slate-900 aria-[current=page]:shadow-sm">
                                            {area.label}
                                        </A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
                <main class="min-w-0 flex-1">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
}

/// The member's unread count, linking to the notifications page; kept current by the socket.
#[component]
fn Bell(unread: i64) -> impl IntoView {
    let count = RwSignal::new(unread);
    on_live("notification", move |message| match message.payload.get("unread").and_then(|n| n.as_i64()) {
        Some(unread) => count.set(unread),
        // A replay that could not cover everything: ask for the count.
        None => leptos::task::spawn_local(async move {
            if let Ok(page) = load_notifications(None).await {
                count.set(page.unread);
            }
        }),
    });
    view! {
        <a
            href="/notifications"
            data-testid="notification-bell"
            aria-label=move || format!("Notifications, {} unread", count.get())
            class="relative flex h-8 w-8 items-center justify-center rounded-full text-slate-300 hover:bg-slate-800 hover:text-white"
        >
            <svg aria-hidden="true" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" class="h-5 w-5">
                <path stroke-linecap="round" stroke-linejoin="round" d="M14.857 17.082a23.848 23.848 0 0 0 5.454-1.31A8.967 8.967 0 0 1 18 9.75V9A6 6 0 0 0 6 9v.75a8.967 8.967 0 0 1-2.312 6.022c1.733.64 3.56 1.085 5.455 1.31m5.714 0a24.255 24.255 0 0 1-5.714 0m5.714 0a3 3 0 1 1-5.714 0"/>
            </svg>
            <span
                data-testid="notification-count"
                class="absolute -right-1 -top-1 min-w-[1.1rem] rounded-full bg-red-500 px-1 text-center text-[0.65rem] font-semibold leading-[1.1rem] text-white"
                class:hidden=move || count.get() == 0
            >
                {move || count.get()}
            </span>
        </a>
    }
}

/// Opens on click, so it needs the hydrated app; the /logout page is the no-JS way out.
#[component]
fn UserMenu(user: Principal) -> impl IntoView {
    let open = RwSignal::new(false);
    let logout = ServerAction::<Logout>::new();
    let initial = user.display_name.chars().next().unwrap_or('?').to_uppercase().to_string();
    view! {
        <div class="relative">
            <noscript>
                <a href="/logout" class="mr-3 text-sm text-slate-300 hover:text-white">"Sign out"</a>
            </noscript>
            <button
                type="button"
                data-testid="user-menu-button"
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
                class="flex h-8 w-8 items-center justify-center rounded-full bg-amber-400 text-sm font-semibold text-slate-950 hover:bg-amber-300"
            >
                {initial}
            </button>
            <div
                role="menu"
                data-testid="user-menu"
                class="absolute right-0 z-10 mt-2 w-64 rounded-xl bg-white p-2 text-slate-900 shadow-lg ring-1 ring-slate-200"
                class:hidden=move || !open.get()
            >
                <div class="px-3 py-2">
                    <p class="text-sm font-medium">{user.display_name.clone()}</p>
                    <p class="text-xs text-slate-500">{user.email.clone()}</p>
                    <p class="mt-1 inline-block rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">{user.role.label()}</p>
                </div>
                <ActionForm action=logout>
                    <button type="submit" role="menuitem" class="w-full rounded-lg px-3 py-2 text-left text-sm hover:bg-slate-100">
                        "Sign out"
                    </button>
                </ActionForm>
            </div>
        </div>
    }
}
