//! Recommendations, each with its reason. From the tenant's own catalog: plugins that read
//! annotations its entities carry, not installed yet — "38 of your 120 components carry
//! `argocd/app-name`; Argo CD is not installed" — one per plugin family (two Argo CD plugins are
//! one recommendation). Then from other organisations: plugins installed alongside one the
//! tenant has, counted only where at least `MIN_TENANTS` organisations (the tenant not among
//! them) have both, and never naming any.

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use super::model::{Compat, Recommendation};
use super::service::{card, release_of, tenant_state, Plugins};
use crate::db::Database;
use crate::error::AppResult;
use crate::tenancy::model::Tenant;

/// Annotations plugins read (Backstage's well-known ones), each with the directory's plugins
/// that read it, preferred first.
const READERS: &[(&str, &[&str])] = &[
    ("argocd/app-name", &["redhat-argocd", "roadie-argocd"]),
    ("argocd/app-selector", &["redhat-argocd", "roadie-argocd"]),
    ("github.com/project-slug", &["github-actions"]),
    ("backstage.io/techdocs-ref", &["techdocs"]),
    ("backstage.io/kubernetes-id", &["kubernetes"]),
    ("backstage.io/kubernetes-label-selector", &["kubernetes"]),
    ("pagerduty.com/integration-key", &["pagerduty"]),
    ("pagerduty.com/service-id", &["pagerduty"]),
    ("sonarqube.org/project-key", &["sonarqube-catalog-cards", "sonarqube"]),
    ("jenkins.io/job-full-name", &["backstage-community-plugin-jenkins"]),
    ("jenkins.io/github-folder", &["backstage-community-plugin-jenkins"]),
    ("sentry.io/project-slug", &["sentry"]),
    ("grafana/dashboard-selector", &["grafana"]),
    ("grafana/alert-label-selector", &["grafana"]),
    ("lighthouse.com/website-url", &["lighthouse"]),
    ("jira/project-key", &["jira"]),
    ("datadoghq.com/dashboard-url", &["datadog"]),
    ("newrelic.com/dashboard-guid", &["newrelic-dashboard"]),
    ("opsgenie.com/component-selector", &["opsgenie"]),
    ("quay.io/repository-slug", &["backstage-community-plugin-quay"]),
    ("dev.azure.com/project-repo", &["azure-devops"]),
    ("splunk.com/on-call-routing-key", &["splunk-on-call"]),
    ("dynatrace.com/dynatrace-entity-id", &["dynatrace-community"]),
    ("gitlab.com/project-slug", &["gitlab-pipelines"]),
];
/// The most recommendations shown.
const SHOWN: usize = 6;
/// The fewest other organisations a co-install is counted over: fewer could identify one.
const MIN_TENANTS: i64 = 5;

#[derive(QueryableByName)]
struct CoInstall {
    #[diesel(sql_type = Text)]
    alongside: String,
    #[diesel(sql_type = Text)]
    plugin: String,
    #[diesel(sql_type = BigInt)]
    tenants: i64,
}

#[derive(QueryableByName)]
struct Carried {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    entities: i64,
    #[diesel(sql_type = BigInt)]
    components: i64,
}

/// The plugins the tenant's catalog asks for, most-asked first.
pub async fn recommendations(db: &Database, plugins: &Plugins, tenant: &Tenant) -> AppResult<Vec<Recommendation>> {
    let (plugins, tenant_id) = (plugins.clone(), tenant.id);
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let keys: Vec<String> = READERS.iter().map(|(a, _)| format!("metadata.annotations.{a}")).collect();
            // Each key's entities found by the filters' GIN index (the bare path is an entry).
            let carried: Vec<Carried> = diesel::sql_query(
                "SELECT k.key, count(*) AS entities, \
                 count(*) FILTER (WHERE lower(e.kind) = 'component') AS components \
                 FROM unnest($1::text[]) k(key) JOIN entities e ON e.filters @> ARRAY[k.key] \
                 GROUP BY k.key",
            )
            .bind::<diesel::sql_types::Array<Text>, _>(&keys)
            .load(conn)
            .await?;
            #[derive(QueryableByName)]
            struct Total {
                #[diesel(sql_type = BigInt)]
                n: i64,
            }
            let total: Total = diesel::sql_query("SELECT count(*) AS n FROM entities WHERE lower(kind) = 'component'")
                .get_result(conn)
                .await?;
            let (directory, platform, installed) = tenant_state(conn, &plugins).await?;
            let release = release_of(&directory, &platform)?;
            let fits = directory.fits(release);
            let mut found: Vec<Recommendation> = Vec::new();
            for row in carried {
                let annotation = row.key.trim_start_matches("metadata.annotations.").to_owned();
                let Some((_, readers)) = READERS.iter().find(|(a, _)| *a == annotation) else { continue };
                let cards: Vec<_> = readers
                    .iter()
                    .filter_map(|id| directory.plugin(id))
                    .map(|p| card(&directory, p, &fits, &installed))
                    .collect();
                if cards.is_empty() || cards.iter().any(|c| c.installed.is_some()) {
                    continue;
                }
                let fits = |c: &&super::model::PluginCard| matches!(c.compat, Compat::Compatible | Compat::Declared);
                let Some(best) = cards.iter().find(fits).or(<[_]>::first(&cards)).cloned() else {
                    continue;
                };
                let verb = |n: i64| if n == 1 { "carries" } else { "carry" };
                let carriers = if row.components > 0 {
                    format!("{} of your {} components {}", row.components, total.n, verb(row.components))
                } else {
                    format!("{} of your entities {}", row.entities, verb(row.entities))
                };
                let reason = format!("{carriers} `{annotation}`; {} is not installed.", best.title);
                let recommendation = Recommendation {
                    plugin: best,
                    annotation: Some(annotation),
                    entities: row.entities,
                    components: row.components,
                    alongside: None,
                    tenants: 0,
                    reason,
                };
                match found.iter_mut().find(|r| r.plugin.id == recommendation.plugin.id) {
                    Some(kept) if kept.entities >= recommendation.entities => {}
                    Some(kept) => *kept = recommendation,
                    None => found.push(recommendation),
                }
            }
            found.sort_by(|a, b| {
                (b.components, b.entities).cmp(&(a.components, a.entities)).then_with(|| a.plugin.id.cmp(&b.plugin.id))
            });
            // Aggregates over the control plane's record of every tenant's plugins: only pairs
            // at least MIN_TENANTS other organisations have, never which ones.
            let mine: Vec<String> = installed.iter().filter_map(|p| p.plugin.clone()).collect();
            let co_installs: Vec<CoInstall> = diesel::sql_query(
                "SELECT a.plugin AS alongside, b.plugin, count(*) AS tenants \
                 FROM control.plugin_installs a JOIN control.plugin_installs b \
                   ON b.tenant_id = a.tenant_id AND b.plugin <> a.plugin \
                 WHERE a.plugin = ANY($1) AND b.plugin <> ALL($1) AND a.tenant_id <> $3 \
                 GROUP BY a.plugin, b.plugin HAVING count(*) >= $2 \
                 ORDER BY tenants DESC, b.plugin, a.plugin LIMIT 100",
            )
            .bind::<diesel::sql_types::Array<Text>, _>(&mine)
            .bind::<BigInt, _>(MIN_TENANTS)
            .bind::<BigInt, _>(tenant_id.0)
            .load(conn)
            .await?;
            for row in co_installs {
                let visible = |id: &str| directory.plugin(id).filter(|p| p.visible_to(tenant_id));
                let (Some(plugin), Some(with)) = (visible(&row.plugin), visible(&row.alongside)) else {
                    continue;
                };
                if found.iter().any(|r| r.plugin.id == plugin.id)
                    || platform.policy.refusal(&directory, plugin).is_some()
                {
                    continue;
                }
                found.push(Recommendation {
                    plugin: card(&directory, plugin, &fits, &installed),
                    annotation: None,
                    entities: 0,
                    components: 0,
                    alongside: Some(with.title.clone()),
                    tenants: row.tenants,
                    reason: format!(
                        "{} other organisations that run {} also run {}.",
                        row.tenants, with.title, plugin.title
                    ),
                });
            }
            found.truncate(SHOWN);
            Ok(found)
        })
    })
    .await
}
