//! The positioning chart's geometry, computed once and drawn twice: as SVG on the brief page
//! and as vector paths in the PDF. x is the competitor's score (its similarity to the target),
//! y its momentum, the bubble's area its team size.

use super::model::Competitor;

/// A competitor's dot, in the plot's unit square (0,0 bottom left) with a radius relative to
/// the largest bubble.
#[derive(Clone, Debug, PartialEq)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    pub radius: f64,
    pub label: String,
}

/// The chart: its dots and the score at the right edge (the axis ends a little past the best
/// score, on a tenth).
pub struct Positioning {
    pub dots: Vec<Dot>,
    pub x_max: f64,
}

/// The smallest bubble, relative to the largest: a company of unknown or tiny size stays visible.
const MIN_RADIUS: f64 = 0.25;

pub fn positioning(competitors: &[Competitor]) -> Positioning {
    let best = competitors.iter().map(|c| c.score).fold(0.0, f64::max);
    let x_max = ((best * 1.1 * 10.0).ceil() / 10.0).clamp(0.1, 1.0);
    let largest = competitors.iter().filter_map(|c| c.company.team_size).max().unwrap_or(1).max(1);
    let dots = competitors
        .iter()
        .map(|c| Dot {
            x: (c.score / x_max).clamp(0.0, 1.0),
            y: c.momentum.clamp(0.0, 1.0),
            radius: c
                .company
                .team_size
                .map_or(MIN_RADIUS, |size| (f64::from(size.max(0)) / f64::from(largest)).sqrt().max(MIN_RADIUS)),
            label: c.company.name.clone(),
        })
        .collect();
    Positioning { dots, x_max }
}
