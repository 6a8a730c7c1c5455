//! Competitor discovery, hybrid and explainable. A company's competitors are scored as a
//! weighted sum of feature similarities, each 0–1, so the score is 0–1 and every point of it
//! is attributed to a feature:
//!
//! | feature  | weight | value |
//! |----------|--------|-------|
//! | text     | 0.35   | BM25 (k1 1.2, b 0.75) of the target's terms — words and neighbouring pairs of its one-liner, counted twice, and description; each term weighted by the target's use of it (at most 3) — against each company's, divided by the best candidate's (or a quarter of the target's own score, if that is higher, so a field of weak matches stays weak) |
//! | semantic | 0.25   | the cosine similarity of the two texts' sentence embeddings (`crate::embedding`), below 0 counted as 0 |
//! | segment  | 0.20   | 1 for the same subindustry, 0.35 for only the same industry |
//! | tags     | 0.10   | Jaccard of the tag sets, each tag weighted by its rarity (idf) |
//! | regions  | 0.05   | Jaccard of the regions, remote markers left out |
//! | stage    | 0.05   | 1 for the same stage |
//!
//! Text finds peers that use a niche's words, embeddings those that say the same in other
//! words; the structured features rank them within a market and still find candidates for a
//! target with no text. Candidates are the companies sharing a term, the subindustry or a tag
//! with the target, and its 50 nearest by embedding. A candidate whose text is not embedded yet
//! scores 0 on `semantic`; a target without its own vector is ranked as before embeddings, the
//! text weighing 0.60. The weights are fixed here, not tuned on the evaluation set
//! (`server bench --briefs` reports each feature set's quality).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;

use super::model::{Company, Competitor, Contribution, Feature};
use super::scoring::momentum;
use super::text;
use crate::embedding::vectors::VectorSet;

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// A term in more than this share of companies says nothing about a market (in a small
/// collection, BM25's idf alone weighs terms down: a term is skipped only past `COMMON_FLOOR`).
const COMMON_TERM_SHARE: f32 = 0.2;
const COMMON_FLOOR: f32 = 50.0;
/// The target's terms that are looked up, the rarest first.
const QUERY_TERMS: usize = 64;
/// The one-liner says what a company does in a few words: each of its terms counts this much.
const ONE_LINER_WEIGHT: f32 = 2.0;
/// The most a query term's weight counts (a term the target repeats is not worth more than
/// its one-liner's use of it).
const QUERY_WEIGHT_CAP: f32 = 3.0;
/// Shared terms named in an explanation.
const EXPLAINED_TERMS: usize = 3;
/// Region values that describe how a company works, not where its market is.
const REMOTE_MARKERS: [&str; 3] = ["Remote", "Partly Remote", "Fully Remote"];

/// Companies the embeddings propose as candidates, besides those sharing a term, segment or tag.
const SEMANTIC_CANDIDATES: usize = 50;

/// Which features a ranking uses: all of them, or a subset for the evaluation's comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Text alone (BM25).
    Lexical,
    /// Sentence embeddings alone.
    Semantic,
    /// The structured features alone (segment, tags, regions, stage).
    Structured,
    /// Text and the structured features: discovery before embeddings.
    LexicalStructured,
    /// Every feature: what briefs use.
    Combined,
}

impl Method {
    pub const ALL: [Method; 5] =
        [Method::Lexical, Method::Semantic, Method::Structured, Method::LexicalStructured, Method::Combined];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Lexical => "lexical",
            Method::Semantic => "embeddings",
            Method::Structured => "structured",
            Method::LexicalStructured => "lexical+structured",
            Method::Combined => "combined",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw)
    }

    /// The weight of `feature` in this method's score; `Combined`'s weights sum to 1.
    pub fn weight(self, feature: Feature) -> f64 {
        let uses = match feature {
            Feature::Text => !matches!(self, Method::Semantic | Method::Structured),
            Feature::Semantic => matches!(self, Method::Semantic | Method::Combined),
            _ => !matches!(self, Method::Lexical | Method::Semantic),
        };
        if !uses {
            return 0.0;
        }
        match feature {
            Feature::Text if self == Method::Combined => 0.35,
            Feature::Text => 0.60,
            Feature::Semantic => 0.25,
            Feature::Segment => 0.20,
            Feature::Tags => 0.10,
            Feature::Regions | Feature::Stage => 0.05,
        }
    }
}

/// A tenant's companies, indexed for discovery. Built once per data version and shared.
pub struct CompanyIndex {
    pub version: i64,
    companies: Vec<Company>,
    by_id: HashMap<uuid::Uuid, u32>,
    /// Terms by their key (`text::term_key`), only those of two companies or more: a term of
    /// one company can match nothing else.
    term_ids: FxHashMap<u64, u32>,
    /// Per term, the (company, weighted count) pairs in company order.
    postings: Vec<Vec<(u32, f32)>>,
    lengths: Vec<f32>,
    average_length: f32,
    by_segment: HashMap<String, Vec<u32>>,
    by_tag: HashMap<String, Vec<u32>>,
    /// Each company's text embedding, in company order (`crate::embedding::company_text`).
    vectors: VectorSet,
}

/// The weighted term counts of a company's text.
fn terms_of(company: &Company) -> HashMap<String, f32> {
    let mut terms = HashMap::new();
    if let Some(one_liner) = &company.one_liner {
        text::add_terms(&mut terms, one_liner, ONE_LINER_WEIGHT);
    }
    if let Some(description) = &company.description {
        text::add_terms(&mut terms, description, 1.0);
    }
    terms
}

impl CompanyIndex {
    /// Indexes `companies` with their embeddings (`vectors`, in the same order; none at all
    /// when the model is not configured).
    pub fn build(version: i64, companies: Vec<Company>, mut vectors: VectorSet) -> Self {
        /// A term seen so far: its first (company, count) until a second company has it, then
        /// its postings list.
        enum Seen {
            Once(u32, f32),
            Listed(u32),
        }
        let mut seen: FxHashMap<u64, Seen> = FxHashMap::default();
        let mut postings: Vec<Vec<(u32, f32)>> = Vec::new();
        let mut lengths = Vec::with_capacity(companies.len());
        let mut by_segment: HashMap<String, Vec<u32>> = HashMap::new();
        let mut by_tag: HashMap<String, Vec<u32>> = HashMap::new();
        let mut keys: Vec<(u64, f32)> = Vec::new();
        for (doc, company) in companies.iter().enumerate() {
            let doc = doc as u32;
            keys.clear();
            if let Some(one_liner) = &company.one_liner {
                text::add_term_keys(&mut keys, one_liner, ONE_LINER_WEIGHT);
            }
            if let Some(description) = &company.description {
                text::add_term_keys(&mut keys, description, 1.0);
            }
            lengths.push(keys.iter().map(|(_, w)| w).sum());
            keys.sort_unstable_by_key(|(key, _)| *key);
            let mut at = 0;
            while at < keys.len() {
                let key = keys[at].0;
                let mut count = 0.0;
                while at < keys.len() && keys[at].0 == key {
                    count += keys[at].1;
                    at += 1;
                }
                match seen.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(Seen::Once(doc, count));
                    }
                    Entry::Occupied(mut slot) => match *slot.get() {
                        Seen::Once(first, first_count) => {
                            slot.insert(Seen::Listed(postings.len() as u32));
                            postings.push(vec![(first, first_count), (doc, count)]);
                        }
                        Seen::Listed(list) => postings[list as usize].push((doc, count)),
                    },
                }
            }
            if let Some(segment) = &company.subindustry {
                by_segment.entry(segment.clone()).or_default().push(doc);
            }
            for tag in &company.tags {
                by_tag.entry(tag.to_lowercase()).or_default().push(doc);
            }
        }
        let term_ids = seen
            .into_iter()
            .filter_map(|(key, seen)| match seen {
                Seen::Listed(list) => Some((key, list)),
                Seen::Once(..) => None,
            })
            .collect();
        let average_length = (lengths.iter().sum::<f32>() / lengths.len().max(1) as f32).max(1.0);
        let by_id = companies.iter().enumerate().map(|(i, c)| (c.id, i as u32)).collect();
        while vectors.len() < companies.len() {
            vectors.push(None);
        }
        Self { version, companies, by_id, term_ids, postings, lengths, average_length, by_segment, by_tag, vectors }
    }

    pub fn len(&self) -> usize {
        self.companies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.companies.is_empty()
    }

    pub fn get(&self, id: uuid::Uuid) -> Option<&Company> {
        self.by_id.get(&id).map(|&i| &self.companies[i as usize])
    }

    /// How many of the companies have their text embedded.
    pub fn embedded(&self) -> usize {
        self.vectors.embedded()
    }

    /// The indexed companies, in the order they were loaded.
    pub fn companies(&self) -> &[Company] {
        &self.companies
    }

    fn idf(&self, term: u32) -> f32 {
        let n = self.companies.len() as f32;
        let df = self.postings[term as usize].len() as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// Jaccard of two tag sets with each tag weighted by its rarity (idf): sharing "FinOps"
    /// says more than sharing "B2B".
    fn tag_overlap(&self, a: &[String], b: &[String]) -> f64 {
        let (a, b) = (folded(a, &[]), folded(b, &[]));
        let n = self.companies.len() as f64;
        let weight = |tag: &String| {
            let df = self.by_tag.get(tag).map_or(0, Vec::len) as f64;
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        };
        let union: f64 = a.union(&b).map(weight).sum();
        if union <= 0.0 {
            return 0.0;
        }
        a.intersection(&b).map(weight).sum::<f64>() / union
    }

    fn bm25(&self, idf: f32, count: f32, length: f32) -> f32 {
        idf * count * (K1 + 1.0) / (count + K1 * (1.0 - B + B * length / self.average_length))
    }

    /// The `limit` closest competitors of `target` (which need not be indexed), best first,
    /// scored with the features of `method`; `year` dates the momentum's recency.
    pub fn competitors(&self, target: &Company, method: Method, limit: usize, year: i32) -> Vec<Competitor> {
        let target_doc = self.by_id.get(&target.id).copied();
        let target_meaning = target_doc.and_then(|doc| self.vectors.get(doc as usize));
        // A target without its vector (no model, or not embedded yet) is ranked as before
        // embeddings, not with the text's weight cut for a feature that cannot count.
        let method =
            if method == Method::Combined && target_meaning.is_none() { Method::LexicalStructured } else { method };
        let own_name: HashSet<String> = text::words(&target.name).into_iter().collect();
        let target_terms = terms_of(target);
        let target_length: f32 = target_terms.values().sum();
        let common = (self.companies.len() as f32 * COMMON_TERM_SHARE).max(COMMON_FLOOR);
        // The target's informative terms, the rarest (then the most used) first.
        let mut query: Vec<(u32, f32, f32)> = target_terms
            .iter()
            .filter(|(term, _)| !term.split(' ').any(|w| own_name.contains(w)))
            .filter_map(|(term, count)| {
                let id = *self.term_ids.get(&text::term_key(term))?;
                let df = self.postings[id as usize].len() as f32;
                (df >= 2.0 && df <= common).then(|| (id, *count, self.idf(id)))
            })
            .collect();
        query.sort_by(|a, b| (b.2 * b.1).total_cmp(&(a.2 * a.1)).then(a.0.cmp(&b.0)));
        query.truncate(QUERY_TERMS);

        let mut lexical: HashMap<u32, f32> = HashMap::new();
        // Each term counts as often as the target uses it (a one-liner's term twice), at most
        // `QUERY_WEIGHT_CAP` times: what the target says first matters most.
        for &(term, weight, idf) in &query {
            let weight = weight.min(QUERY_WEIGHT_CAP);
            for &(doc, count) in &self.postings[term as usize] {
                if Some(doc) != target_doc {
                    *lexical.entry(doc).or_default() += weight * self.bm25(idf, count, self.lengths[doc as usize]);
                }
            }
        }
        let own_score: f32 = query
            .iter()
            .map(|&(_, count, idf)| count.min(QUERY_WEIGHT_CAP) * self.bm25(idf, count, target_length))
            .sum();
        let best = lexical.values().copied().fold(0.0_f32, f32::max);
        let scale = best.max(own_score * 0.25);

        let uses = |feature: Feature| method.weight(feature) > 0.0;
        let mut candidates: HashSet<u32> =
            if uses(Feature::Text) { lexical.keys().copied().collect() } else { HashSet::new() };
        let meaning = target_meaning.filter(|_| uses(Feature::Semantic));
        if let Some(meaning) = &meaning {
            let nearest = self.vectors.nearest(meaning, SEMANTIC_CANDIDATES, |at| Some(at as u32) != target_doc);
            candidates.extend(nearest.into_iter().map(|(at, _)| at as u32));
        }
        if uses(Feature::Segment) {
            if let Some(segment) = &target.subindustry {
                candidates.extend(self.by_segment.get(segment).into_iter().flatten());
            }
            for tag in &target.tags {
                candidates.extend(self.by_tag.get(&tag.to_lowercase()).into_iter().flatten());
            }
        }
        if let Some(doc) = target_doc {
            candidates.remove(&doc);
        }

        let mut scored: Vec<(f64, u32, [f64; 6])> = candidates
            .into_iter()
            .map(|doc| {
                let company = &self.companies[doc as usize];
                let text = if scale > 0.0 && uses(Feature::Text) {
                    f64::from(lexical.get(&doc).copied().unwrap_or(0.0) / scale).min(1.0)
                } else {
                    0.0
                };
                let semantic = meaning
                    .as_ref()
                    .and_then(|m| self.vectors.similarity(m, doc as usize))
                    .map_or(0.0, |s| f64::from(s).clamp(0.0, 1.0));
                let [segment, tags, regions, stage] = if uses(Feature::Segment) {
                    [
                        segment_similarity(target, company),
                        self.tag_overlap(&target.tags, &company.tags),
                        jaccard(&folded(&target.regions, &REMOTE_MARKERS), &folded(&company.regions, &REMOTE_MARKERS)),
                        f64::from(u8::from(target.stage.is_some() && target.stage == company.stage)),
                    ]
                } else {
                    [0.0; 4]
                };
                let values = [text, semantic, segment, tags, regions, stage];
                let score = Feature::ALL.iter().zip(values).map(|(f, v)| method.weight(*f) * v).sum::<f64>();
                (score, doc, values)
            })
            .filter(|(score, _, _)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0).then_with(|| self.companies[a.1 as usize].name.cmp(&self.companies[b.1 as usize].name))
        });
        scored.truncate(limit);

        let mut written = HashMap::new();
        for text in [&target.one_liner, &target.description].into_iter().flatten() {
            text::surfaces(text, &mut written);
        }
        let names: HashMap<u32, &str> = target_terms
            .keys()
            .filter_map(|t| self.term_ids.get(&text::term_key(t)).map(|id| (*id, t.as_str())))
            .collect();
        scored
            .into_iter()
            .enumerate()
            .map(|(rank, (score, doc, values))| {
                let company = &self.companies[doc as usize];
                let shared = self.shared_terms(doc, &query, &names, &written);
                let contributions: Vec<Contribution> = Feature::ALL
                    .iter()
                    .zip(values)
                    .filter(|(feature, _)| method.weight(**feature) > 0.0)
                    .map(|(&feature, value)| Contribution {
                        feature,
                        value,
                        weight: method.weight(feature),
                        points: method.weight(feature) * value,
                        detail: detail(feature, value, target, company, &shared),
                    })
                    .collect();
                let why = explain(&contributions);
                Competitor {
                    rank: rank as u32 + 1,
                    company: company.clone(),
                    score,
                    momentum: momentum(company, year).value,
                    contributions,
                    why,
                }
            })
            .collect()
    }

    /// The query terms `doc` shares with the target, as written by the target: pairs, then
    /// single words no chosen pair contains, each group the ones adding most first.
    fn shared_terms(
        &self,
        doc: u32,
        query: &[(u32, f32, f32)],
        names: &HashMap<u32, &str>,
        written: &HashMap<String, String>,
    ) -> Vec<String> {
        let mut shared: Vec<(f32, &str)> = query
            .iter()
            .filter_map(|&(term, _, idf)| {
                let list = &self.postings[term as usize];
                let at = list.binary_search_by_key(&doc, |&(d, _)| d).ok()?;
                Some((self.bm25(idf, list[at].1, self.lengths[doc as usize]), *names.get(&term)?))
            })
            .collect();
        // Pairs first: "cloud cost" explains more than "cloud" and "cost" apart.
        shared.sort_by(|a, b| b.1.contains(' ').cmp(&a.1.contains(' ')).then(b.0.total_cmp(&a.0)).then(a.1.cmp(b.1)));
        let mut chosen: Vec<&str> = Vec::new();
        for (_, term) in shared {
            let covered = chosen.iter().any(|c| c.split(' ').any(|w| w == term) || term.split(' ').any(|w| w == *c));
            if !covered {
                chosen.push(term);
            }
            if chosen.len() == EXPLAINED_TERMS {
                break;
            }
        }
        chosen.into_iter().map(|t| written.get(t).cloned().unwrap_or_else(|| t.to_owned())).collect()
    }
}

fn segment_similarity(target: &Company, company: &Company) -> f64 {
    if target.subindustry.is_some() && target.subindustry == company.subindustry {
        1.0
    } else if target.industry.is_some() && target.industry == company.industry {
        0.35
    } else {
        0.0
    }
}

fn folded(values: &[String], leave_out: &[&str]) -> HashSet<String> {
    values.iter().filter(|v| !leave_out.contains(&v.as_str())).map(|v| v.trim().to_lowercase()).collect()
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// What a feature found, in words.
fn detail(feature: Feature, value: f64, target: &Company, company: &Company, shared: &[String]) -> String {
    if value <= 0.0 {
        return String::new();
    }
    let common = |a: &[String], b: &[String], leave_out: &[&str]| -> Vec<String> {
        let theirs = folded(b, leave_out);
        a.iter()
            .filter(|v| !leave_out.contains(&v.as_str()) && theirs.contains(&v.trim().to_lowercase()))
            .cloned()
            .collect()
    };
    match feature {
        Feature::Text if shared.is_empty() => "similar wording".into(),
        Feature::Text => {
            let quoted: Vec<String> = shared.iter().map(|t| format!("'{t}'")).collect();
            format!("shared terms: {}", quoted.join(", "))
        }
        Feature::Semantic => format!("similar meaning (embedding similarity {value:.2})"),
        Feature::Segment if value >= 1.0 => format!("same subindustry ({})", company.segment().unwrap_or_default()),
        Feature::Segment => format!("same industry ({})", company.industry.as_deref().unwrap_or_default()),
        Feature::Tags => format!("tags: {}", common(&target.tags, &company.tags, &[]).join(", ")),
        Feature::Regions => {
            format!("regions: {}", common(&target.regions, &company.regions, &REMOTE_MARKERS).join(", "))
        }
        Feature::Stage => format!("same stage ({})", company.stage.as_deref().unwrap_or_default()),
    }
}

/// The contributions that added something, the largest first, in one sentence.
fn explain(contributions: &[Contribution]) -> String {
    let mut parts: Vec<&Contribution> =
        contributions.iter().filter(|c| c.points > 0.0 && !c.detail.is_empty()).collect();
    parts.sort_by(|a, b| b.points.total_cmp(&a.points));
    parts.iter().map(|c| c.detail.as_str()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn company(name: &str, one_liner: &str, subindustry: &str, tags: &[&str]) -> Company {
        Company {
            id: uuid::Uuid::new_v4(),
            name: name.into(),
            one_liner: Some(one_liner.into()),
            industry: Some(subindustry.split(" -> ").next().unwrap_or_default().into()),
            subindustry: Some(subindustry.into()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            regions: vec!["United States of America".into(), "Remote".into()],
            stage: Some("Early".into()),
            status: Some("Active".into()),
            ..Company::default()
        }
    }

    fn market() -> Vec<Company> {
        let infra = "B2B -> Engineering, Product and Design";
        vec![
            company("Infracost", "Cloud cost estimates for Terraform in pull requests", infra, &["DevOps", "Cloud"]),
            company("Cloudchipr", "Cloud cost optimization and automation for engineers", infra, &["DevOps", "Cloud"]),
            company("Vantage", "Cloud cost transparency for every engineering team", infra, &["Cloud"]),
            company("Dashdive", "Track cloud cost per feature and customer", infra, &["Analytics"]),
            company("Cortex", "Internal developer portal for microservices", infra, &["Developer Tools"]),
            company("Petfood", "Fresh dog food delivered", "Consumer -> Food and Beverage", &["Pets"]),
            company("Grubbly", "Insect protein for pet food", "Consumer -> Food and Beverage", &["Pets"]),
        ]
    }

    #[test]
    fn contributions_sum_to_the_score_and_peers_rank_first() {
        let companies = market();
        let target = companies[0].clone();
        let index = CompanyIndex::build(1, companies, VectorSet::default());
        let found = index.competitors(&target, Method::Combined, 10, 2026);
        assert!(found.iter().all(|c| c.company.name != "Infracost"), "never its own competitor");
        let text = found[0].contributions.iter().find(|c| c.feature == Feature::Text).unwrap();
        assert_eq!(text.weight, 0.60, "without the target's vector, weighed as before embeddings");
        assert!(found[0].contributions.iter().all(|c| c.feature != Feature::Semantic));
        let top: Vec<&str> = found.iter().take(3).map(|c| c.company.name.as_str()).collect();
        assert!(top.contains(&"Cloudchipr") && top.contains(&"Vantage"), "{top:?}");
        for competitor in &found {
            let sum: f64 = competitor.contributions.iter().map(|c| c.points).sum();
            assert!((sum - competitor.score).abs() < 1e-12, "{sum} vs {}", competitor.score);
            assert!((0.0..=1.0).contains(&competitor.score));
        }
        assert!(found[0].why.contains("'cloud cost'"), "{}", found[0].why);
        assert!(found.iter().all(|c| c.company.name != "Petfood"), "no shared term, segment or tag");
    }

    #[test]
    fn a_target_without_text_still_gets_structured_results() {
        let companies = market();
        let mut target = companies[5].clone();
        target.one_liner = None;
        let index = CompanyIndex::build(1, companies, VectorSet::default());
        let found = index.competitors(&target, Method::Combined, 10, 2026);
        assert_eq!(found.first().map(|c| c.company.name.as_str()), Some("Grubbly"));
        let text = found[0].contributions.iter().find(|c| c.feature == Feature::Text).unwrap();
        assert_eq!(text.points, 0.0);
        assert!(found[0].why.starts_with("same subindustry"), "{}", found[0].why);
        assert!(index.competitors(&target, Method::Lexical, 10, 2026).is_empty());
    }

    /// A unit vector pointing mostly along `axis`.
    fn direction(axis: usize, lean: f32) -> Vec<f32> {
        let mut v = vec![0.0_f32; crate::embedding::DIMENSIONS];
        v[axis] = 1.0;
        v[axis + 1] = lean;
        let length = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / length).collect()
    }

    #[test]
    fn embeddings_find_peers_described_in_other_words() {
        let infra = "B2B -> Engineering, Product and Design";
        let companies = vec![
            company("Backyard", "Internal developer portal for your services", infra, &[]),
            company("Roadie", "Hosted Backstage so engineers find what they own", "B2B -> Other", &[]),
            company("Petfood", "Fresh dog food delivered", "Consumer -> Food and Beverage", &[]),
        ];
        let target = companies[0].clone();
        let mut vectors = VectorSet::default();
        for v in [direction(0, 0.2), direction(0, 0.6), direction(10, 0.0)] {
            vectors.push(Some(&v));
        }
        let index = CompanyIndex::build(1, companies, vectors);
        assert_eq!(index.embedded(), 3);
        let found = index.competitors(&target, Method::Combined, 10, 2026);
        assert_eq!(found[0].company.name, "Roadie");
        let meaning = |c: &Competitor| c.contributions.iter().find(|c| c.feature == Feature::Semantic).unwrap().value;
        assert!(found[1..].iter().all(|c| meaning(c) < 0.01), "unrelated in meaning");
        let semantic = found[0].contributions.iter().find(|c| c.feature == Feature::Semantic).unwrap();
        assert!(semantic.value > 0.8 && semantic.weight == 0.25, "{semantic:?}");
        assert!(found[0].why.starts_with("similar meaning (embedding similarity 0.9"), "{}", found[0].why);
        let sum: f64 = found[0].contributions.iter().map(|c| c.points).sum();
        assert!((sum - found[0].score).abs() < 1e-12);
        assert!(
            index.competitors(&target, Method::LexicalStructured, 10, 2026).is_empty(),
            "no shared word or segment"
        );
        let alone = index.competitors(&target, Method::Semantic, 10, 2026);
        assert_eq!(alone[0].company.name, "Roadie");
        assert!(alone.iter().all(|c| c.company.name == "Roadie" || c.score < 0.01), "unrelated is near 0");
    }

    #[test]
    fn every_method_weighs_only_its_features_and_combined_sums_to_one() {
        let total: f64 = Feature::ALL.iter().map(|f| Method::Combined.weight(*f)).sum();
        assert!((total - 1.0).abs() < 1e-12);
        let before: f64 = Feature::ALL.iter().map(|f| Method::LexicalStructured.weight(*f)).sum();
        assert!((before - 1.0).abs() < 1e-12, "discovery without embeddings is as it was");
        assert_eq!(Method::Lexical.weight(Feature::Semantic), 0.0);
        assert_eq!(Method::Semantic.weight(Feature::Text), 0.0);
        assert_eq!(Method::Structured.weight(Feature::Text), 0.0);
        for method in Method::ALL {
            assert_eq!(Method::parse(method.as_str()), Some(method));
        }
    }
}
