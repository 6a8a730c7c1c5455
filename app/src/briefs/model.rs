//! What the briefs area shows and exchanges: companies, competitors with the contribution of
//! each feature to their score, the threat score with its terms, and briefs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A company's public facts: what discovery reads, caches and shows to every reader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub website: Option<String>,
    pub one_liner: Option<String>,
    pub description: Option<String>,
    pub industry: Option<String>,
    pub subindustry: Option<String>,
    pub tags: Vec<String>,
    pub regions: Vec<String>,
    pub stage: Option<String>,
    pub status: Option<String>,
    /// The accelerator batch, e.g. "Winter 2012"; its year is the company's vintage.
    pub batch: Option<String>,
    pub team_size: Option<i32>,
    pub is_hiring: Option<bool>,
}

impl Company {
    /// The last part of a YC-style "Industry -> Subindustry", or the whole value.
    pub fn segment(&self) -> Option<&str> {
        self.subindustry.as_deref().map(|s| s.rsplit("->").next().unwrap_or(s).trim())
    }

    /// The facts a brief prints under the company's name: segment, stage, status, batch, team.
    pub fn headline_facts(&self) -> Vec<String> {
        [
            self.segment().map(str::to_owned),
            self.stage.clone(),
            self.status.clone(),
            self.batch.clone(),
            self.team_size.map(|s| format!("{s} people")),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The year of the batch ("Winter 2012" → 2012).
    pub fn vintage(&self) -> Option<i32> {
        self.batch
            .as_deref()?
            .split_whitespace()
            .find_map(|w| w.parse::<i32>().ok().filter(|y| (1900..3000).contains(y)))
    }
}

/// The fields sealed with the keyring. Shown only to those who manage company data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sensitive {
    pub funding: Option<String>,
    pub revenue: Option<String>,
    pub valuation: Option<String>,
    pub notes: Option<String>,
}

impl Sensitive {
    pub const FIELDS: [&'static str; 4] = ["funding", "revenue", "valuation", "notes"];

    pub fn get(&self, field: &str) -> Option<&str> {
        match field {
            "funding" => self.funding.as_deref(),
            "revenue" => self.revenue.as_deref(),
            "valuation" => self.valuation.as_deref(),
            "notes" => self.notes.as_deref(),
            _ => None,
        }
    }

    pub fn set(&mut self, field: &str, value: Option<String>) {
        match field {
            "funding" => self.funding = value,
            "revenue" => self.revenue = value,
            "valuation" => self.valuation = value,
            "notes" => self.notes = value,
            _ => {}
        }
    }
}

/// One company on the companies page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompanyList {
    pub total: i64,
    pub items: Vec<Company>,
    pub may_manage: bool,
}

/// A company's page: its facts, and its sensitive fields for those who manage company data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompanyPage {
    pub company: Company,
    pub sensitive: Option<Sensitive>,
}

/// A feature discovery compares companies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// BM25 over one-liner (counted twice) and description.
    Text,
    /// The cosine similarity of the two texts' sentence embeddings (`crate::embedding`).
    Semantic,
    /// Same subindustry (full credit) or only the same industry (part of it).
    Segment,
    Tags,
    Regions,
    Stage,
}

impl Feature {
    pub const ALL: [Feature; 6] =
        [Feature::Text, Feature::Semantic, Feature::Segment, Feature::Tags, Feature::Regions, Feature::Stage];

    pub fn label(self) -> &'static str {
        match self {
            Feature::Text => "text",
            Feature::Semantic => "semantic",
            Feature::Segment => "segment",
            Feature::Tags => "tags",
            Feature::Regions => "regions",
            Feature::Stage => "stage",
        }
    }
}

/// What one feature added to a competitor's score: `points = weight × value`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub feature: Feature,
    /// The feature's similarity, 0–1.
    pub value: f64,
    pub weight: f64,
    pub points: f64,
    /// In words: "shared terms: 'cloud cost', 'kubernetes'".
    pub detail: String,
}

/// A ranked competitor of a target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Competitor {
    pub rank: u32,
    pub company: Company,
    /// 0–1: the sum of the contributions' points.
    pub score: f64,
    /// 0–1: how strongly the company is moving (see `scoring::momentum`).
    pub momentum: f64,
    pub contributions: Vec<Contribution>,
    /// The contributions in one sentence.
    pub why: String,
}

/// One competitor's share of the threat: `pressure = score × momentum`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThreatTerm {
    pub name: String,
    pub score: f64,
    pub momentum: f64,
    pub pressure: f64,
}

/// The competitive threat score of a target, 0–100, with its terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threat {
    pub score: f64,
    pub terms: Vec<ThreatTerm>,
}

/// A point of the positioning chart: similarity × momentum, the bubble sized by team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub name: String,
    pub similarity: f64,
    pub momentum: f64,
    pub team_size: Option<i32>,
}

/// What a ready brief holds besides its competitors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BriefContent {
    pub target: Company,
    pub threat: Threat,
    /// The competitors per segment (subindustry), the largest first.
    pub market_map: Vec<(String, u32)>,
    pub narrative: Vec<String>,
    /// Companies whose facts the discovery read.
    pub companies_compared: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BriefStatus {
    Queued,
    Running,
    Ready,
    Failed,
}

impl BriefStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BriefStatus::Queued => "queued",
            BriefStatus::Running => "running",
            BriefStatus::Ready => "ready",
            BriefStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [BriefStatus::Queued, BriefStatus::Running, BriefStatus::Ready, BriefStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A brief in lists: who asked, for which company, where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BriefSummary {
    pub id: Uuid,
    pub target_name: String,
    pub company_id: Uuid,
    pub requester: String,
    pub requested_at: DateTime<Utc>,
    pub status: BriefStatus,
    pub progress: i16,
    pub threat_score: Option<f64>,
    pub duration_ms: Option<i32>,
    pub error: Option<String>,
}

/// A brief with everything its page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Brief {
    pub summary: BriefSummary,
    pub content: Option<BriefContent>,
    pub competitors: Vec<Competitor>,
    /// Whether the reader may download the PDF.
    pub may_export: bool,
}

/// The briefs page: the briefs the reader may see, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BriefList {
    pub items: Vec<BriefSummary>,
    /// False for analysts, who see only their own briefs.
    pub sees_all: bool,
    pub may_generate: bool,
    pub companies: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_vintages_read_from_yc_values() {
        let company = Company {
            subindustry: Some("B2B -> Engineering, Product and Design".into()),
            batch: Some("Winter 2012".into()),
            ..Company::default()
        };
        assert_eq!(company.segment(), Some("Engineering, Product and Design"));
        assert_eq!(company.vintage(), Some(2012));
    }
}
