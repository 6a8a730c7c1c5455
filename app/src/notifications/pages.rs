//! The notifications page (`/notifications`): the member's notifications, newest first, with
//! "mark read" and "mark all read", and how they want to be told of each kind. Every form
//! works without JavaScript; with it, the list follows new notifications live.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::api::{load_notifications, MarkAllNotificationsRead, MarkNotificationRead, SetNotificationPreference};
use super::model::{Channel, NotificationView, Preference};
use crate::ui::form::{ErrorNotice, PageProblem, SubmitButton};
use crate::ui::live::on_live;

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let read = ServerAction::<MarkNotificationRead>::new();
    let read_all = ServerAction::<MarkAllNotificationsRead>::new();
    let preference = ServerAction::<SetNotificationPreference>::new();
    let query = use_query_map();
    let before = move || query.read().get("before").and_then(|b| b.parse::<i64>().ok());
    let page = Resource::new(
        move || (before(), read.version().get(), read_all.version().get(), preference.version().get()),
        |(before, ..)| load_notifications(before),
    );
    on_live("notification", move |_| page.refetch());
    let error = Signal::derive(move || {
        read.value()
            .get()
            .and_then(Result::err)
            .or_else(|| read_all.value().get().and_then(Result::err))
            .or_else(|| preference.value().get().and_then(Result::err))
    });
    view! {
        <section class="max-w-3xl">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900">"Notifications"</h1>
            <div class="mt-4"><ErrorNotice error=error/></div>
            <Transition fallback=|| view! { <p class="mt-6 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! {
                            <div class="mt-4 flex items-center justify-between">
                                <p class="text-sm text-slate-600" data-testid="unread-summary">
                                    {match page.unread {
                                        0 => "Nothing unread.".to_owned(),
                                        1 => "1 unread".to_owned(),
                                        n => format!("{n} unread"),
                                    }}
                                </p>
                                {(page.unread > 0).then(|| view! {
                                    <ActionForm action=read_all attr:data-testid="mark-all-read">
                                        <SubmitButton label="Mark all read" pending=read_all.pending()/>
                                    </ActionForm>
                                })}
                            </div>
                            {if page.items.is_empty() {
                                view! { <p class="mt-6 text-sm text-slate-500">"No notifications yet."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="mt-4 divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white" data-testid="notifications">
                                        {page.items.into_iter().map(|n| view! { <NotificationRow notification=n read/> }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                            {page.older.map(|older| view! {
                                <a class="mt-4 inline-block text-sm text-amber-700" href=format!("/notifications?before={older}")>"Older"</a>
                            })}
                            <Preferences preferences=page.preferences email=page.email_available action=preference/>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn NotificationRow(notification: NotificationView, read: ServerAction<MarkNotificationRead>) -> impl IntoView {
    let when = notification.created_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let title_class = if notification.read { "text-slate-600" } else { "font-semibold text-slate-900" };
    view! {
        <li class="flex items-start justify-between gap-4 px-4 py-3 text-sm" data-testid="notification" data-read=notification.read.to_string()>
            <div class="min-w-0">
                <p class=title_class>
                    {(!notification.read).then(|| view! { <span class="mr-2 inline-block h-2 w-2 rounded-full bg-amber-500" aria-label="unread"></span> })}
                    {notification.title.clone()}
                </p>
                <p class="mt-0.5 text-slate-600">{notification.body.clone()}</p>
                <p class="mt-1 text-xs text-slate-400">
                    {notification.kind.label()}" · "{when}
                    {notification.link.clone().map(|link| view! { " · "<a class="text-amber-700" href=link>"Open"</a> })}
                </p>
            </div>
            {(!notification.read).then(|| view! {
                <ActionForm action=read>
                    <input type="hidden" name="id" value=notification.id/>
                    <button type="submit" class="shrink-0 text-xs font-medium text-slate-500 hover:text-slate-900"
                        aria-label=format!("Mark “{}” read", notification.title)>"Mark read"</button>
                </ActionForm>
            })}
        </li>
    }
}

#[component]
fn Preferences(
    preferences: Vec<Preference>,
    email: bool,
    action: ServerAction<SetNotificationPreference>,
) -> impl IntoView {
    view! {
        <h2 class="mt-10 text-lg font-semibold text-slate-900">"How you are told"</h2>
        <ul class="mt-3 space-y-3" data-testid="notification-preferences">
            {preferences
                .into_iter()
                .map(|Preference { kind, channel }| {
                    let silenceable = kind.may_be_silenced();
                    let digest = email && kind.may_be_digested();
                    view! {
                        <li class="rounded-xl border border-slate-200 bg-white p-4" data-testid=format!("preference-{}", kind.as_str())>
                            <ActionForm action=action attr:class="flex flex-wrap items-end justify-between gap-4">
                                <input type="hidden" name="kind" value=kind.as_str()/>
                                <div class="min-w-0 flex-1">
                                    <p class="text-sm font-medium text-slate-900">{kind.label()}</p>
                                    <p class="text-xs text-slate-500">{kind.describe()}</p>
                                </div>
                                <label class="text-sm">
                                    <span class="sr-only">{format!("How you are told of {}", kind.label())}</span>
                                    <select name="channel" class="rounded-lg border border-slate-300 px-2 py-1.5 text-sm">
                                        <option value="app" selected=channel == Channel::App>"In the app"</option>
                                        {email.then(|| view! { <option value="email" selected=channel == Channel::Email>"In the app and by email"</option> })}
                                        {digest.then(|| view! { <option value="digest" selected=channel == Channel::Digest>"In the app and a daily email digest"</option> })}
                                        {silenceable.then(|| view! { <option value="off" selected=channel == Channel::Off>"Off"</option> })}
                                    </select>
                                </label>
                                <SubmitButton label="Save" pending=action.pending()/>
                            </ActionForm>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
