//! Momentum and the competitive threat score, by written formulas whose terms the brief shows.
//!
//! **Momentum** (0–1) of a company, a weighted sum:
//! status 0.35 (active or public 1, acquired 0.4, inactive 0, unknown 0.5) · stage 0.20
//! (growth 1, early 0.5) · team size 0.20 (ln(1 + size) / ln(1001), capped at 1) · hiring 0.10 ·
//! recency 0.15 (1 for a company of this year's batch, falling to 0 over 15 years). Only public
//! facts: a sealed field (funding) in a score every reader sees could be solved back out of it.
//!
//! **Threat** (0–100) of a target: each of its five closest competitors presses with
//! `pressure = score × momentum`; threat = 100 × (1 − Π(1 − pressure)), the chance that at
//! least one of them takes a deal if each pressure were one. One strong, moving competitor
//! weighs more than many weak or stalled ones, and the score never passes 100.

use super::model::{Company, Competitor, Threat, ThreatTerm};

/// Competitors whose pressure makes up the threat.
pub const THREAT_COMPETITORS: usize = 5;

/// A momentum and its terms: (name, value 0–1, weight).
pub struct Momentum {
    pub value: f64,
    pub terms: Vec<(&'static str, f64, f64)>,
}

pub fn momentum(company: &Company, year: i32) -> Momentum {
    let status = match company.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("active" | "public") => 1.0,
        Some("acquired") => 0.4,
        Some("inactive" | "dead" | "closed") => 0.0,
        _ => 0.5,
    };
    let stage = match company.stage.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("growth" | "late") => 1.0,
        _ => 0.5,
    };
    let team = company.team_size.map_or(0.0, |size| (f64::from(size.max(0)).ln_1p() / 1001_f64.ln()).min(1.0));
    let hiring = match company.is_hiring {
        Some(true) => 1.0,
        Some(false) => 0.0,
        None => 0.5,
    };
    let recency = company.vintage().map_or(0.5, |vintage| (1.0 - f64::from(year - vintage) / 15.0).clamp(0.0, 1.0));
    let terms = vec![
        ("status", status, 0.35),
        ("stage", stage, 0.20),
        ("team size", team, 0.20),
        ("hiring", hiring, 0.10),
        ("recency", recency, 0.15),
    ];
    let value = terms.iter().map(|(_, v, w)| v * w).sum::<f64>().clamp(0.0, 1.0);
    Momentum { value, terms }
}

pub fn threat(competitors: &[Competitor]) -> Threat {
    let terms: Vec<ThreatTerm> = competitors
        .iter()
        .take(THREAT_COMPETITORS)
        .map(|c| ThreatTerm {
            name: c.company.name.clone(),
            score: c.score,
            momentum: c.momentum,
            pressure: c.score * c.momentum,
        })
        .collect();
    let calm: f64 = terms.iter().map(|t| 1.0 - t.pressure).product();
    Threat { score: 100.0 * (1.0 - calm), terms }
}

/// A threat score in words.
pub fn threat_level(score: f64) -> &'static str {
    match score {
        s if s >= 70.0 => "high",
        s if s >= 40.0 => "moderate",
        _ => "low",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn company(status: &str, stage: &str, team: i32, hiring: bool, batch: &str) -> Company {
        Company {
            status: Some(status.into()),
            stage: Some(stage.into()),
            team_size: Some(team),
            is_hiring: Some(hiring),
            batch: Some(batch.into()),
            ..Company::default()
        }
    }

    #[test]
    fn momentum_rewards_growth_and_fades_with_age() {
        let young = momentum(&company("Active", "Growth", 200, true, "Summer 2025"), 2026);
        let old = momentum(&company("Inactive", "Early", 3, false, "Winter 2008"), 2026);
        assert!(young.value > 0.85 && old.value < 0.2, "{} {}", young.value, old.value);
        let weights: f64 = young.terms.iter().map(|t| t.2).sum();
        assert!((weights - 1.0).abs() < 1e-12);
    }

    #[test]
    fn threat_combines_the_closest_pressures() {
        let competitor = |score: f64, momentum: f64| Competitor {
            rank: 1,
            company: Company::default(),
            score,
            momentum,
            contributions: vec![],
            why: String::new(),
        };
        assert_eq!(threat(&[]).score, 0.0);
        let one = threat(&[competitor(0.5, 0.8)]);
        assert!((one.score - 40.0).abs() < 1e-9);
        let many = threat(&vec![competitor(0.5, 0.8); 8]);
        assert_eq!(many.terms.len(), THREAT_COMPETITORS);
        assert!((many.score - 100.0 * (1.0 - 0.6_f64.powi(5))).abs() < 1e-9);
        assert_eq!(threat_level(many.score), "high");
    }
}
