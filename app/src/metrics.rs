//! Prometheus' text exposition format (version 0.0.4) for the metrics the areas keep in
//! memory: one histogram and one way of writing names, labels and help, shared by the HTTP
//! edge, the brief generator and the plugin changes.

use std::fmt::Write;

/// A cumulative histogram over fixed upper bounds (seconds).
#[derive(Clone, Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram { bounds, buckets: vec![0; bounds.len()], sum: 0.0, count: 0 }
    }

    pub fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(self.bounds) {
            if seconds <= *bound {
                *bucket += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of `name` with `labels` (already
    /// rendered, e.g. `method="GET"`, or empty).
    pub fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (count, bound) in self.buckets.iter().zip(self.bounds) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braced = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braced} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braced} {}", self.count);
    }
}

/// The `# HELP` and `# TYPE` lines of a metric.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// A label value escaped as the format requires.
pub fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_labels_join_the_bound() {
        let mut histogram = Histogram::new(&[0.1, 1.0]);
        histogram.observe(0.05);
        histogram.observe(0.5);
        let mut out = String::new();
        histogram.write(&mut out, "x_seconds", "op=\"a\"");
        assert!(out.contains("x_seconds_bucket{op=\"a\",le=\"0.1\"} 1\n"));
        assert!(out.contains("x_seconds_bucket{op=\"a\",le=\"1\"} 2\n"));
        assert!(out.contains("x_seconds_bucket{op=\"a\",le=\"+Inf\"} 2\n"));
        assert!(out.contains("x_seconds_count{op=\"a\"} 2\n"));
        let mut bare = String::new();
        histogram.write(&mut bare, "y_seconds", "");
        assert!(bare.contains("y_seconds_bucket{le=\"0.1\"} 1\n") && bare.contains("y_seconds_sum 0.55\n"));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
