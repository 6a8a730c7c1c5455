use leptos::prelude::*;

use crate::error::AppError;

#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    /// May be left empty.
    #[prop(optional)]
    optional: bool,
    #[prop(optional)] placeholder: Option<&'static str>,
) -> impl IntoView {
    view! {
        <label class="block">
            <span class="block text-sm font-medium text-slate-700">{label}</span>
            <input
                type=kind
                name=name
                required=!optional
                placeholder=placeholder
                autocomplete=autocomplete
                class="mt-1 block w-full rounded-lg border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-amber-500 focus:outline-none focus:ring-2 focus:ring-amber-500/30"
            />
        </label>
    }
}

#[component]
pub fn SubmitButton(label: &'static str, #[prop(into)] pending: Signal<bool>) -> impl IntoView {
    view! {
        <button
            type="submit"
            disabled=move || pending.get()
            class="inline-flex items-center justify-center rounded-lg bg-slate-900 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-slate-700 disabled:opacity-60"
        >
            {label}
        </button>
    }
}

/// Shows the error of the last submission of a form, if any.
#[component]
pub fn ErrorNotice(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! {
                <p role="alert" class="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700 ring-1 ring-red-200">
                    {e.to_string()}
                </p>
            }
        })
    }
}

/// Why a page cannot show its content: signed out, not allowed, not found, or failed. The one
/// panel every page uses for that, so people (and tests) find it in one shape.
#[component]
pub fn PageProblem(
    error: AppError,
    /// Who may see the page, for the 403 title (e.g. "Admins only").
    #[prop(optional)]
    allowed: Option<&'static str>,
) -> impl IntoView {
    let (title, text) = match &error {
        AppError::Forbidden => {
            (format!("403 · {}", allowed.unwrap_or("Not allowed")), format!("{error} Ask an admin if you need access."))
        }
        AppError::Unauthenticated => ("Signed out".to_owned(), "Sign in again to continue.".to_owned()),
        AppError::NotFound(_) => ("Not found".to_owned(), error.to_string()),
        other => ("Could not load this page".to_owned(), other.to_string()),
    };
    view! {
        <div data-testid="page-problem" class="mt-6 rounded-xl border border-red-200 bg-red-50 p-6">
            <p class="font-medium text-red-800">{title}</p>
            <p class="mt-1 text-sm text-red-700">{text}</p>
        </div>
    }
}
