//! Small bar charts drawn as inline SVG on the server: no chart library and no script, so a
//! chart shows with JavaScript off and costs the WASM bundle nothing.

use leptos::prelude::*;

/// One bar: its tooltip, its value, and whether it is drawn as a warning (a day with failed
/// requests, say).
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub title: String,
    pub value: u64,
    pub marked: bool,
}

/// The default size: a sparkline in a table cell.
const WIDTH: f64 = 140.0;
const HEIGHT: f64 = 28.0;
const GAP: f64 = 2.0;
/// A bar with a value above zero is at least this tall, so a quiet day still shows.
const MIN_HEIGHT: f64 = 1.5;

/// Where a bar sits: x, y, width, height in the chart's coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

/// Bars side by side across a `chart_width` × `chart_height` chart, heights relative to the
/// largest value.
fn layout(values: &[u64], chart_width: f64, chart_height: f64) -> Vec<Rect> {
    let Some(&max) = values.iter().max() else { return Vec::new() };
    let width = (chart_width - GAP * (values.len() as f64 - 1.0)) / values.len() as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, &value)| {
            let height = match value {
                0 => 0.0,
                _ => (value as f64 / max as f64 * chart_height).max(MIN_HEIGHT),
            };
            Rect { x: i as f64 * (width + GAP), y: chart_height - height, width, height }
        })
        .collect()
}

/// Two decimals are finer than a pixel at any size the chart is shown.
fn coordinate(value: f64) -> String {
    format!("{value:.2}")
}

/// A bar chart, sparkline-sized unless given a size; `name` is its accessible label.
#[component]
pub fn BarChart(
    name: String,
    bars: Vec<Bar>,
    #[prop(default = WIDTH)] width: f64,
    #[prop(default = HEIGHT)] height: f64,
) -> impl IntoView {
    let rects = layout(&bars.iter().map(|b| b.value).collect::<Vec<_>>(), width, height);
    view! {
        <svg
            role="img"
            aria-label=name
            viewBox=format!("0 0 {width} {height}")
            width=width.to_string()
            height=height.to_string()
            class="block"
        >
            {bars
                .into_iter()
                .zip(rects)
                .map(|(bar, rect)| {
                    let fill = if bar.marked { "#f59e0b" } else { "#6366f1" };
                    view! {
                        // A full-height transparent column under each bar, so every day has a
                        // tooltip, empty days included.
                        <g>
                            <title>{bar.title}</title>
                            <rect x=coordinate(rect.x) y="0" width=coordinate(rect.width) height=height.to_string() fill="transparent"/>
                            <rect x=coordinate(rect.x) y=coordinate(rect.y) width=coordinate(rect.width) height=coordinate(rect.height) fill=fill/>
                        </g>
                    }
                })
                .collect_view()}
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::{layout, GAP, HEIGHT, MIN_HEIGHT, WIDTH};

    #[test]
    fn bars_fill_the_width_and_scale_to_the_largest_value() {
        let rects = layout(&[0, 5, 10], WIDTH, HEIGHT);
        assert_eq!(rects.len(), 3);
        let last = rects[2];
        assert!((last.x + last.width - WIDTH).abs() < 1e-9, "the last bar ends at the right edge");
        assert!((rects[1].x - (rects[0].width + GAP)).abs() < 1e-9);
        assert_eq!(rects[0].height, 0.0);
        assert!((rects[1].height - HEIGHT / 2.0).abs() < 1e-9);
        assert_eq!(last.height, HEIGHT);
        assert_eq!(last.y, 0.0, "bars grow from the bottom");
    }

    #[test]
    fn a_small_value_beside_a_large_one_stays_visible() {
        let rects = layout(&[1, 100_000], WIDTH, HEIGHT);
        assert_eq!(rects[0].height, MIN_HEIGHT);
        assert!(layout(&[], WIDTH, HEIGHT).is_empty());
        assert_eq!(layout(&[0, 0], 600.0, 120.0).iter().map(|r| r.height).sum::<f64>(), 0.0);
    }
}
