//! The parts of a brief written from its numbers: the market map and a short narrative, by
//! fixed templates (deterministic: the same data always reads the same).

use std::collections::BTreeMap;

use super::model::{BriefContent, Company, Competitor, Threat};
use super::scoring::threat_level;

pub fn build(target: Company, threat: Threat, competitors: &[Competitor], compared: u64) -> BriefContent {
    let market_map = market_map(competitors);
    let narrative = narrative(&target, &threat, competitors, &market_map);
    BriefContent { target, threat, market_map, narrative, companies_compared: compared }
}

fn market_map(competitors: &[Competitor]) -> Vec<(String, u32)> {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for competitor in competitors {
        *counts.entry(competitor.company.segment().unwrap_or("Unclassified").to_owned()).or_default() += 1;
    }
    let mut map: Vec<(String, u32)> = counts.into_iter().collect();
    map.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    map
}

fn percent(value: f64) -> String {
    format!("{:.0}%", value * 100.0)
}

fn narrative(
    target: &Company,
    threat: &Threat,
    competitors: &[Competitor],
    market_map: &[(String, u32)],
) -> Vec<String> {
    let name = &target.name;
    let Some(closest) = competitors.first() else {
        return vec![format!(
            "No company in the data shares terms, a subindustry or tags with {name}: add a description or tags to \
             compare it. Its threat score is 0."
        )];
    };
    let segment = target.segment().map(|s| format!(" ({s})")).unwrap_or_default();
    let mut lines = vec![
        format!(
            "{name}{segment} faces a {} competitive threat: {:.0} of 100, from its {} closest competitors' similarity and momentum.",
            threat_level(threat.score),
            threat.score,
            threat.terms.len()
        ),
        format!(
            "The closest competitor is {}, {} similar: {}.",
            closest.company.name,
            percent(closest.score),
            if closest.why.is_empty() { "similar wording" } else { &closest.why }
        ),
    ];
    let same_segment = competitors
        .iter()
        .filter(|c| target.subindustry.is_some() && c.company.subindustry == target.subindustry)
        .count();
    let hiring = competitors.iter().filter(|c| c.company.is_hiring == Some(true)).count();
    let growth = competitors.iter().filter(|c| c.company.stage.as_deref() == Some("Growth")).count();
    lines.push(format!(
        "{same_segment} of the {} competitors share its subindustry; {hiring} are hiring and {growth} are at growth stage.",
        competitors.len()
    ));
    let mut pressing: Vec<_> = threat.terms.iter().collect();
    pressing.sort_by(|a, b| b.pressure.total_cmp(&a.pressure));
    if let [first, second, ..] = pressing.as_slice() {
        lines.push(format!(
            "Most pressure comes from {} ({} similar, momentum {}) and {} ({} similar, momentum {}).",
            first.name,
            percent(first.score),
            percent(first.momentum),
            second.name,
            percent(second.score),
            percent(second.momentum)
        ));
    }
    let own = target.segment();
    if let Some((other, count)) = market_map.iter().find(|(s, _)| Some(s.as_str()) != own) {
        lines.push(format!("Beyond its own segment, the nearest market is {other} ({count} of the competitors)."));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::briefs::scoring::threat;

    fn competitor(name: &str, segment: &str, score: f64, momentum: f64) -> Competitor {
        Competitor {
            rank: 1,
            company: Company {
                name: name.into(),
                subindustry: Some(segment.into()),
                is_hiring: Some(true),
                ..Company::default()
            },
            score,
            momentum,
            contributions: vec![],
            why: "same subindustry".into(),
        }
    }

    #[test]
    fn the_narrative_names_the_numbers_it_is_built_from() {
        let target =
            Company { name: "Infracost".into(), subindustry: Some("B2B -> Infra".into()), ..Company::default() };
        let competitors =
            vec![competitor("Vantage", "B2B -> Infra", 0.6, 0.9), competitor("Dashdive", "B2B -> Analytics", 0.4, 0.5)];
        let scored = threat(&competitors);
        let brief = build(target, scored.clone(), &competitors, 100);
        assert!(brief.narrative[0].contains(&format!("{:.0} of 100", scored.score)), "{:?}", brief.narrative);
        assert!(brief.narrative[1].starts_with("The closest competitor is Vantage, 60% similar"));
        assert!(brief.narrative.iter().any(|l| l.contains("nearest market is Analytics")));
        assert_eq!(brief.market_map, [("Analytics".to_owned(), 1), ("Infra".to_owned(), 1)]);

        let alone = build(Company { name: "Solo".into(), ..Company::default() }, threat(&[]), &[], 1);
        assert!(alone.narrative[0].contains("No company in the data"));
    }
}
