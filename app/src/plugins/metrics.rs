//! The plugin area's Prometheus metrics: `plugin_install_duration_seconds` (seed 000's name:
//! from a change's request to its revision written, or its refusal) by operation, and
//! `plugin_changes_total` by plugin, operation and outcome (installs and failures by plugin).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use crate::metrics::{header, label, Histogram};

const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Default)]
pub struct PluginMetrics(Arc<Mutex<Counts>>);

#[derive(Default)]
struct Counts {
    durations: BTreeMap<&'static str, Histogram>,
    /// (plugin or package named by the change, operation, outcome) → count. Plugins are
    /// directory ids (checked before a change runs), so the label set stays bounded.
    changes: BTreeMap<(String, &'static str, &'static str), u64>,
}

impl PluginMetrics {
    /// One change made (`applied`) or refused, and how long it took.
    pub fn observe(&self, operation: &'static str, target: &str, applied: bool, seconds: f64) {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        counts.durations.entry(operation).or_insert_with(|| Histogram::new(&BUCKETS)).observe(seconds);
        let outcome = if applied { "applied" } else { "refused" };
        *counts.changes.entry((target.to_owned(), operation, outcome)).or_default() += 1;
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let name = "plugin_install_duration_seconds";
        header(&mut out, name, "histogram", "Time to solve and write a change of a tenant's plugin set, by operation.");
        for (operation, histogram) in &counts.durations {
            histogram.write(&mut out, name, &format!("operation=\"{operation}\""));
        }
        let name = "plugin_changes_total";
        header(
            &mut out,
            name,
            "counter",
            "Changes of plugin sets by plugin, operation and outcome (applied or refused).",
        );
        for ((plugin, operation, outcome), count) in &counts.changes {
            let plugin = label(plugin);
            let _ =
                writeln!(out, "{name}{{plugin=\"{plugin}\",operation=\"{operation}\",outcome=\"{outcome}\"}} {count}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_counted_by_plugin_and_outcome() {
        let metrics = PluginMetrics::default();
        metrics.observe("install", "tech-radar", true, 0.02);
        metrics.observe("install", "tech-radar", false, 0.03);
        metrics.observe("install", "tech-radar", false, 0.04);
        let text = metrics.render();
        assert!(text.contains("plugin_install_duration_seconds_count{operation=\"install\"} 3\n"), "{text}");
        assert!(
            text.contains("plugin_changes_total{plugin=\"tech-radar\",operation=\"install\",outcome=\"refused\"} 2\n")
        );
    }
}
