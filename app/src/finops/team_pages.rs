//! `/finops/teams/:namespace/:name`: a team's cloud cost — what it and everything it owns were
//! allocated, each day and per entity, with the 30 days before — and the anomalies among it.
//! Reached from the overview's owner breakdown; plain links and forms, works without JS.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::anomaly_pages::Anomaly;
use super::api::{load_team_anomalies, AcknowledgeAnomaly};
use super::pages::EntityCostPanel;
use crate::catalog::refs::EntityRef;
use crate::ui::form::{ErrorNotice, PageProblem};

#[component]
pub fn TeamCostPage() -> impl IntoView {
    let params = use_params_map();
    let team = move || params.with(|p| (p.get("namespace").unwrap_or_default(), p.get("name").unwrap_or_default()));
    let acknowledge = ServerAction::<AcknowledgeAnomaly>::new();
    let anomalies = Resource::new(
        move || (team(), acknowledge.version().get()),
        |((namespace, name), _)| load_team_anomalies(namespace, name),
    );
    let error = Signal::derive(move || acknowledge.value().get().and_then(Result::err));
    view! {
        <section class="max-w-5xl">
            <p class="text-sm text-slate-500"><A href="/finops" attr:class="hover:text-slate-900">"Cloud cost"</A>" / team"</p>
            {move || {
                let (namespace, name) = team();
                let group = EntityRef::new("group", &namespace, &name);
                view! {
                    <h1 class="mt-1 text-2xl font-semibold tracking-tight text-slate-900" data-testid="team-cost-title">
                        {format!("Cloud cost of {}", group.key())}
                    </h1>
                    <p class="mt-1 text-sm text-slate-500">
                        "What the team and everything it owns in the catalog were allocated (amortized). "
                        <A href=group.page_path() attr:class="text-amber-700 hover:text-amber-900">"The team in the catalog"</A>
                    </p>
                    <EntityCostPanel namespace kind="group".to_owned() name/>
                }
            }}
            <h2 class="mt-8 font-medium text-slate-900">"Anomalies"</h2>
            <div class="mt-2"><ErrorNotice error/></div>
            <Transition fallback=|| view! { <p class="mt-2 text-sm text-slate-500">"Loading anomalies…"</p> }>
                {move || Suspend::new(async move {
                    match anomalies.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="mt-2 text-sm text-slate-500" data-testid="team-no-anomalies">"No anomalies in what the team owns."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <div class="mt-2 space-y-3" data-testid="anomalies">
                                {list.into_iter().map(|anomaly| view! { <Anomaly anomaly acknowledge/> }).collect_view()}
                            </div>
                        }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
