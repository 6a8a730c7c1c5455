//! Reading the providers' payloads into one shape. Fields are read leniently (a missing
//! optional field is `None`); a payload without what identifies its build or deployment is
//! refused with the field it lacks.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::model::Status;

/// A build or deployment as one event describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// Unique per provider: later events about the same run update it.
    pub external_id: String,
    /// `build` or `deployment`.
    pub kind: &'static str,
    /// The value of the provider's annotation that names the entity (a repository's
    /// `owner/name`, a Jenkins job's full name, an Argo CD application).
    pub project: String,
    pub name: Option<String>,
    pub environment: Option<String>,
    pub version: Option<String>,
    pub commit_sha: Option<String>,
    pub commit_at: Option<DateTime<Utc>>,
    pub status: Status,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
}

/// What an accepted payload means.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Observed(Box<Observed>),
    /// Understood and not kept (a `ping`, an event kind Beacon does not use), with why.
    Ignored(String),
}

fn text(value: &Value, path: &[&str]) -> Option<String> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    match at {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(value: &Value, path: &[&str]) -> Result<String, String> {
    text(value, path).ok_or_else(|| format!("the payload has no `{}`", path.join(".")))
}

fn time(value: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    text(value, path).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.to_utc())
}

/// A GitHub webhook of event `event` (the `X-GitHub-Event` header).
pub fn github(event: &str, body: &Value, received_at: DateTime<Utc>) -> Result<Parsed, String> {
    let repository = || required(body, &["repository", "full_name"]);
    match event {
        "ping" => Ok(Parsed::Ignored("ping: the webhook reaches Beacon".into())),
        "workflow_run" => {
            let run = body.get("workflow_run").ok_or("the payload has no `workflow_run`")?;
            let status = match (text(run, &["status"]).as_deref(), text(run, &["conclusion"]).as_deref()) {
                (Some("completed"), Some("success")) => Status::Success,
                (Some("completed"), Some("failure" | "timed_out" | "startup_failure")) => Status::Failure,
                (Some("completed"), _) => Status::Cancelled,
                (Some("in_progress"), _) => Status::InProgress,
                _ => Status::Queued,
            };
            Ok(Parsed::Observed(Box::new(Observed {
                external_id: format!("run:{}", required(run, &["id"])?),
                kind: "build",
                project: repository()?,
                name: text(run, &["name"]),
                environment: None,
                version: text(run, &["head_branch"]),
                commit_sha: text(run, &["head_sha"]),
                commit_at: time(run, &["head_commit", "timestamp"]),
                status,
                started_at: time(run, &["run_started_at"]).or_else(|| time(run, &["created_at"])),
                finished_at: status.finished().then(|| time(run, &["updated_at"]).unwrap_or(received_at)),
                url: text(run, &["html_url"]),
            })))
        }
        "deployment" | "deployment_status" => {
            let deployment = body.get("deployment").ok_or("the payload has no `deployment`")?;
            let (status, at, url) = match body.get("deployment_status") {
                None => (Status::Queued, None, None),
                Some(update) => {
                    let status = match text(update, &["state"]).as_deref() {
                        Some("success") => Status::Success,
                        Some("failure" | "error") => Status::Failure,
                        Some("in_progress") => Status::InProgress,
                        Some("inactive") => {
                            return Ok(Parsed::Ignored("inactive: a later deployment replaced it".into()));
                        }
                        _ => Status::Queued,
                    };
                    let url = text(update, &["target_url"])
                        .or_else(|| text(update, &["log_url"]))
                        .or_else(|| text(update, &["environment_url"]));
                    (status, time(update, &["created_at"]), url)
                }
            };
            Ok(Parsed::Observed(Box::new(Observed {
                external_id: format!("deployment:{}", required(deployment, &["id"])?),
                kind: "deployment",
                project: repository()?,
                name: text(deployment, &["task"]),
                environment: text(deployment, &["environment"]),
                version: text(deployment, &["ref"]),
                commit_sha: text(deployment, &["sha"]),
                commit_at: None,
                status,
                started_at: time(deployment, &["created_at"]),
                finished_at: status.finished().then(|| at.unwrap_or(received_at)),
                url,
            })))
        }
        other => Ok(Parsed::Ignored(format!(
            "`{other}` events are not used; send workflow runs, deployments and deployment statuses"
        ))),
    }
}

/// The parameters of a Jenkins build that name the environment it deploys to.
const ENVIRONMENT_PARAMETERS: [&str; 4] = ["environment", "env", "deploy_env", "target_env"];

/// A Jenkins Notification plugin payload (format JSON). A build with an environment parameter
/// is a deployment to that environment; any other is a build.
pub fn jenkins(body: &Value, received_at: DateTime<Utc>) -> Result<Parsed, String> {
    let build = body.get("build").ok_or("the payload has no `build`")?;
    // `job/folder/job/app/` → `folder/app`: the full name Backstage's Jenkins annotation uses.
    let full_name = text(body, &["url"])
        .map(|url| {
            url.split('/')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .chunks(2)
                .filter_map(|pair| match pair {
                    ["job", name] => Some(name.to_string()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .filter(|name| !name.is_empty())
        .or_else(|| text(body, &["name"]))
        .ok_or("the payload has no job `url` or `name`")?;
    let number = required(build, &["number"])?;
    let status = match (text(build, &["phase"]).as_deref(), text(build, &["status"]).as_deref()) {
        (Some("QUEUED"), _) => Status::Queued,
        (Some("COMPLETED" | "FINALIZED"), Some("SUCCESS")) => Status::Success,
        (Some("COMPLETED" | "FINALIZED"), Some("FAILURE" | "UNSTABLE")) => Status::Failure,
        (Some("COMPLETED" | "FINALIZED"), Some("ABORTED" | "NOT_BUILT")) => Status::Cancelled,
        _ => Status::InProgress,
    };
    let environment = build.get("parameters").and_then(Value::as_object).and_then(|parameters| {
        parameters
            .iter()
            .find(|(key, _)| ENVIRONMENT_PARAMETERS.contains(&key.to_ascii_lowercase().as_str()))
            .and_then(|(_, value)| value.as_str())
            .map(str::to_owned)
    });
    let started_at =
        build.get("timestamp").and_then(Value::as_i64).and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    let duration = build.get("duration").and_then(Value::as_i64).filter(|ms| *ms > 0);
    let finished_at = status.finished().then(|| match (started_at, duration) {
        (Some(start), Some(ms)) => start + chrono::Duration::milliseconds(ms),
        _ => received_at,
    });
    Ok(Parsed::Observed(Box::new(Observed {
        external_id: format!("build:{full_name}#{number}"),
        kind: if environment.is_some() { "deployment" } else { "build" },
        project: full_name,
        name: text(body, &["display_name"]).or_else(|| text(body, &["name"])),
        environment,
        version: Some(format!("#{number}")),
        commit_sha: text(build, &["scm", "commit"]),
        commit_at: None,
        status,
        started_at,
        finished_at,
        url: text(build, &["full_url"]),
    })))
}

/// An Argo CD notification with the body of the template in the README: a sync of an
/// application is a deployment to its environment.
pub fn argocd(body: &Value, received_at: DateTime<Utc>) -> Result<Parsed, String> {
    let app = required(body, &["app"])?;
    let health = text(body, &["healthStatus"]);
    let status = match (text(body, &["phase"]).as_deref(), health.as_deref()) {
        (Some("Running"), _) => Status::InProgress,
        (Some("Failed" | "Error"), _) | (_, Some("Degraded")) => Status::Failure,
        (Some("Succeeded"), _) => Status::Success,
        (Some("Terminating"), _) => Status::Cancelled,
        _ => return Ok(Parsed::Ignored("no operation phase: nothing was synced".into())),
    };
    let revision = text(body, &["revision"]);
    let started_at = time(body, &["startedAt"]);
    Ok(Parsed::Observed(Box::new(Observed {
        external_id: format!(
            "sync:{app}:{}:{}",
            revision.as_deref().unwrap_or("-"),
            started_at.map(|t| t.timestamp()).unwrap_or_default()
        ),
        kind: "deployment",
        project: app.clone(),
        name: Some(app),
        environment: text(body, &["environment"]).or_else(|| text(body, &["destinationNamespace"])),
        version: revision.as_deref().map(|r| r.chars().take(12).collect()),
        commit_sha: revision,
        commit_at: None,
        status,
        started_at,
        finished_at: status.finished().then(|| time(body, &["finishedAt"]).unwrap_or(received_at)),
        url: text(body, &["url"]),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn observed(parsed: Result<Parsed, String>) -> Observed {
        match parsed.unwrap() {
            Parsed::Observed(o) => *o,
            Parsed::Ignored(why) => panic!("ignored: {why}"),
        }
    }

    #[test]
    fn jenkins_full_names_come_from_the_job_url_and_an_environment_makes_a_deployment() {
        let body = json!({
            "name": "asgard", "url": "job/platform/job/asgard/",
            "build": { "number": 18, "phase": "COMPLETED", "status": "UNSTABLE", "timestamp": 1414965541143_i64,
                       "duration": 60000, "full_url": "http://ci/job/platform/job/asgard/18/",
                       "scm": { "commit": "c6d86dc7" }, "parameters": { "DEPLOY_ENV": "production" } }
        });
        let o = observed(jenkins(&body, Utc::now()));
        assert_eq!((o.project.as_str(), o.kind, o.status), ("platform/asgard", "deployment", Status::Failure));
        assert_eq!(o.environment.as_deref(), Some("production"));
        assert_eq!(o.finished_at.unwrap() - o.started_at.unwrap(), chrono::Duration::minutes(1));
        let started = json!({ "name": "lib", "url": "job/lib/", "build": { "number": 3, "phase": "STARTED" } });
        let o = observed(jenkins(&started, Utc::now()));
        assert_eq!((o.kind, o.status, o.finished_at), ("build", Status::InProgress, None));
        assert!(jenkins(&json!({ "name": "x" }), Utc::now()).is_err());
    }

    #[test]
    fn github_inactive_statuses_and_unused_events_are_ignored() {
        let body = json!({ "deployment": { "id": 1 }, "deployment_status": { "state": "inactive" }, "repository": { "full_name": "o/r" } });
        assert!(matches!(github("deployment_status", &body, Utc::now()), Ok(Parsed::Ignored(_))));
        assert!(matches!(github("push", &json!({}), Utc::now()), Ok(Parsed::Ignored(_))));
        assert!(github("workflow_run", &json!({ "workflow_run": { "id": 5 } }), Utc::now()).is_err(), "no repository");
    }

    #[test]
    fn argo_cd_degraded_health_is_a_failed_deployment() {
        let body = json!({ "app": "guestbook", "phase": "Succeeded", "healthStatus": "Degraded", "revision": "abc",
                           "startedAt": "2026-12-01T10:00:00Z", "finishedAt": "2026-12-01T10:02:00Z", "environment": "prod" });
        let o = observed(argocd(&body, Utc::now()));
        assert_eq!((o.status, o.environment.as_deref(), o.kind), (Status::Failure, Some("prod"), "deployment"));
        assert!(matches!(argocd(&json!({ "app": "guestbook" }), Utc::now()), Ok(Parsed::Ignored(_))));
    }
}
