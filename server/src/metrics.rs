//! Prometheus metrics: `http_requests_total{method,route,status_code}` and
//! `http_request_duration_seconds{method,route}`. Routes are templates, never raw paths, so
//! label cardinality stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::metrics::{header as help, label, Histogram};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Registry>>);

#[derive(Default)]
struct Registry {
    requests: BTreeMap<(String, String, u16), u64>,
    durations: BTreeMap<(String, String), Histogram>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut registry = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *registry.requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        registry
            .durations
            .entry((method.to_owned(), route.to_owned()))
            .or_insert_with(|| Histogram::new(&BUCKETS))
            .observe(seconds);
    }

    /// The text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let registry = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        help(&mut out, "http_requests_total", "counter", "HTTP requests served.");
        for ((method, route, status), count) in &registry.requests {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{method}\",route=\"{}\",status_code=\"{status}\"}} {count}",
                label(route)
            );
        }
        help(&mut out, "http_request_duration_seconds", "histogram", "HTTP request latency.");
        for ((method, route), histogram) in &registry.durations {
            let labels = format!("method=\"{method}\",route=\"{}\"", label(route));
            histogram.write(&mut out, "http_request_duration_seconds", &labels);
        }
        out
    }
}

impl Metrics {
    /// The metrics for the operator's scraper. They count every tenant's traffic, so they are
    /// served only to a caller presenting `token`, and not at all when none is configured
    /// (404, as if there were no such page: tenants' members have no business here).
    /// `gauges` are read at the moment of the scrape: (name, help, value); `more` is other
    /// metrics already in the text format (the brief generator's).
    pub fn answer(
        &self,
        token: Option<&str>,
        headers: &HeaderMap,
        gauges: &[(&str, &str, f64)],
        more: &str,
    ) -> Response {
        let Some(token) = token else { return StatusCode::NOT_FOUND.into_response() };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response();
        }
        let mut text = self.render();
        for (name, help_text, value) in gauges {
            help(&mut text, name, "gauge", help_text);
            let _ = writeln!(text, "{name} {value}");
        }
        text.push_str(more);
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_counters_and_cumulative_histograms() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/login", 200, Duration::from_millis(20));
        metrics.observe("GET", "/login", 200, Duration::from_millis(300));
        let text = metrics.render();
        assert!(text.contains("http_requests_total{method=\"GET\",route=\"/login\",status_code=\"200\"} 2"));
        assert!(text.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/login\",le=\"0.025\"} 1"));
        assert!(text.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/login\",le=\"0.5\"} 2"));
        assert!(text.contains("http_request_duration_seconds_count{method=\"GET\",route=\"/login\"} 2"));
    }
}
