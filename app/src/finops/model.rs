//! FinOps types shared by the pages and the server.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Where an import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportStatus {
    Running,
    Done,
    /// Nothing of the file was kept: unreadable, a row refused, or the server stopped.
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Running => "running",
            ImportStatus::Done => "done",
            ImportStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "running" => ImportStatus::Running,
            "done" => ImportStatus::Done,
            _ => ImportStatus::Failed,
        }
    }
}

/// The sums of one billing period in one currency, as the file gave them (exact decimals).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodTotal {
    pub currency: String,
    pub billing_period_start: NaiveDate,
    pub billed_cost: String,
    pub effective_cost: String,
    pub rows: i64,
}

/// A row the import refused, by its line in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    pub line: u64,
    pub reason: String,
}

/// What an import did, for its page, the API and the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// FOCUS, AWS CUR or Azure usage export.
    pub layout: String,
    pub rows_imported: i64,
    pub rows_rejected: i64,
    /// The first rejected rows (all of them are counted in `rows_rejected`).
    pub rejected: Vec<RejectedRow>,
    pub totals: Vec<PeriodTotal>,
    /// (Billing account, period) pairs an earlier import of this source held, now replaced.
    pub replaced_periods: i64,
    /// What the import assumed where the file was silent.
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostImport {
    pub id: uuid::Uuid,
    pub source: String,
    pub file_name: String,
    pub status: ImportStatus,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub bytes_total: i64,
    pub bytes_read: i64,
    pub rows_read: i64,
    pub report: Option<ImportReport>,
    pub error: Option<String>,
}

impl CostImport {
    /// How far the import has read its file, 0–100.
    pub fn percent(&self) -> i64 {
        match self.status {
            ImportStatus::Running if self.bytes_total > 0 => (self.bytes_read * 100 / self.bytes_total).min(99),
            ImportStatus::Running => 0,
            _ => 100,
        }
    }
}

/// Which of the two views of the same money a page shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CostView {
    /// EffectiveCost by the day it was incurred: commitments spread over what they covered.
    #[default]
    Amortized,
    /// BilledCost by billing period: what the invoices say.
    Invoice,
}

impl CostView {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "invoice" => CostView::Invoice,
            _ => CostView::Amortized,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CostView::Amortized => "amortized",
            CostView::Invoice => "invoice",
        }
    }
}

/// An amount and the same for the month before, as exact decimal text rounded to cents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub name: String,
    pub amount: String,
    pub previous: String,
}

/// The FinOps overview of one month in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostOverview {
    pub view: CostView,
    /// Every currency imported; amounts are never added across them.
    pub currencies: Vec<String>,
    pub currency: Option<String>,
    /// Months with costs, newest first.
    pub months: Vec<NaiveDate>,
    pub month: Option<NaiveDate>,
    pub total: Movement,
    /// The month's days, in order.
    pub daily: Vec<(NaiveDate, String)>,
    /// The last twelve months, oldest first.
    pub monthly: Vec<(NaiveDate, String)>,
    /// (dimension, its values by amount, largest first).
    pub breakdowns: Vec<(String, Vec<Movement>)>,
    /// The owners and services that changed most on the month before, with their dimension.
    pub movers: Vec<(String, Movement)>,
    /// Amortized: the share of the month in Unallocated ("12.3%").
    pub unallocated_share: Option<String>,
    /// Amortized, for the month of the newest imported day while it is not over: what it is
    /// forecast to cost by its end (the days left at the mean of their weekday over the last
    /// 28 days), and the day the data reaches.
    pub forecast: Option<(String, NaiveDate)>,
    /// The tenant's reporting currency and rates, when set (the converted view needs them).
    pub rates: Option<CurrencyRates>,
    /// Set when this is the converted view (`currency=all`): every currency with a rate,
    /// multiplied into the reporting currency (`currency` then names the reporting currency).
    pub converted: Option<Conversion>,
    /// What an engineer costs a month, when a maintainer has said.
    pub engineer_rate: Option<EngineerRate>,
    /// The month's total as engineers ("≈ 1.4 engineers"), in the rate's currency only.
    pub engineers: Option<String>,
}

/// The `currency` value that asks the overview for every currency converted into the
/// reporting one.
pub const ALL_CURRENCIES: &str = "all";

/// A reporting currency and what one unit of each other currency is worth in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyRates {
    pub reporting: String,
    /// (currency, rate as exact decimal text), by currency.
    pub rates: Vec<(String, String)>,
}

/// `raw` as a currency code (`usd ` → `USD`) when it is three letters, as ISO 4217 codes are.
pub fn currency_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

impl CurrencyRates {
    /// `CAD 0.73` per line (or `CAD=0.73`), each currency once and not the reporting one.
    pub fn parse(reporting: &str, lines: &str) -> Result<Self, String> {
        let code = |raw: &str| {
            currency_code(raw).ok_or_else(|| format!("`{}` is not a three-letter currency code, like USD", raw.trim()))
        };
        let reporting = code(reporting)?;
        let mut rates: Vec<(String, String)> = Vec::new();
        for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (currency, rate) = line
                .split_once(['=', ' ', '\t'])
                .ok_or_else(|| format!("`{line}`: write a currency and its rate, like CAD 0.73"))?;
            let currency = code(currency)?;
            let rate = rate.trim();
            let valid = rate.len() <= 40
                && rate.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && rate.parse::<f64>().is_ok_and(|r| r > 0.0 && r.is_finite());
            if !valid {
                return Err(format!("`{line}`: the rate is a number above 0, like 0.73"));
            }
            if currency == reporting || rates.iter().any(|(c, _)| *c == currency) {
                return Err(format!("`{line}`: each currency once, other than {reporting}"));
            }
            rates.push((currency, rate.to_owned()));
        }
        rates.sort();
        Ok(Self { reporting, rates })
    }
}

/// How a converted overview was made: the rates used and the currencies left out for want of one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    pub used: Vec<(String, String)>,
    pub left_out: Vec<String>,
}

/// What one engineer costs the organisation a month, in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineerRate {
    /// Exact decimal text.
    pub monthly_cost: String,
    pub currency: String,
}

impl EngineerRate {
    /// A month's `amount` in `currency` as engineers, to one decimal ("≈ 1.4 engineers"); none
    /// in another currency. Display only: the amounts themselves stay exact decimals.
    pub fn engineers(&self, amount: &str, currency: &str) -> Option<String> {
        if currency != self.currency {
            return None;
        }
        let (amount, rate) = (amount.parse::<f64>().ok()?, self.monthly_cost.parse::<f64>().ok()?);
        let people = amount / rate;
        let unit = if format!("{people:.1}") == "1.0" { "engineer" } else { "engineers" };
        Some(format!("≈ {people:.1} {unit}"))
    }
}

/// What the owner breakdown calls cost no allocation rule matches.
pub const UNALLOCATED: &str = "Unallocated";

/// What an allocation rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A tag's value (`application=checkout`).
    Tag,
    /// The sub-account (AWS account, Azure subscription, GCP project), by id or name.
    SubAccount,
    /// The resource id.
    Resource,
}

impl RuleKind {
    pub const ALL: [RuleKind; 3] = [RuleKind::Tag, RuleKind::SubAccount, RuleKind::Resource];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Tag => "tag",
            RuleKind::SubAccount => "sub_account",
            RuleKind::Resource => "resource",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RuleKind::Tag => "Tag",
            RuleKind::SubAccount => "Sub-account",
            RuleKind::Resource => "Resource id",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw.trim())
    }
}

/// One allocation rule: cost whose `kind` (the tag `key`) matches `pattern` (exact, or with
/// `*` for any run of characters) goes to the catalog entity `target` — or, for a shared rule,
/// to the pool `target` (`pool:kubernetes`), split among its recipients. First match wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationRule {
    pub kind: RuleKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub pattern: String,
    /// An entity reference in its stored (lower-case) form, or a pool's `pool:<name>`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedSplit>,
}

/// How a shared pool's cost of a day is split among its recipients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitMethod {
    /// The same part each.
    Even,
    /// In proportion to each recipient's own (not shared) amortized cost that day, in that
    /// currency; evenly on a day none has any.
    Proportional,
    /// Fixed percents that add up to 100.
    Fixed,
    /// By each recipient namespace's share of the day in the OpenCost allocations imported for
    /// the cluster the pool is named after; evenly on a day without any.
    #[serde(rename = "opencost")]
    OpenCost,
}

impl SplitMethod {
    pub const ALL: [SplitMethod; 4] =
        [SplitMethod::Even, SplitMethod::Proportional, SplitMethod::Fixed, SplitMethod::OpenCost];

    pub fn as_str(self) -> &'static str {
        match self {
            SplitMethod::Even => "even",
            SplitMethod::Proportional => "proportional",
            SplitMethod::Fixed => "fixed",
            SplitMethod::OpenCost => "opencost",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SplitMethod::Even => "evenly",
            SplitMethod::Proportional => "by their direct cost",
            SplitMethod::Fixed => "by fixed percents",
            SplitMethod::OpenCost => "by OpenCost namespaces",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw.trim())
    }
}

/// A pool's split: the method and the recipients, in order (the last takes what rounding leaves).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedSplit {
    pub method: SplitMethod,
    pub shares: Vec<Share>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// An entity reference in its stored (lower-case) form.
    pub target: String,
    /// For a fixed split: the percent, as written (up to two decimals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<String>,
    /// For an OpenCost split: the Kubernetes namespace whose allocation is this recipient's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl AllocationRule {
    /// What the rule says, for people: `tag application = checkout* → component:default/checkout`.
    pub fn describe(&self) -> String {
        let matched = match (&self.kind, &self.key) {
            (RuleKind::Tag, Some(key)) => format!("tag {key} = {}", self.pattern),
            (kind, _) => format!("{} = {}", kind.label().to_lowercase(), self.pattern),
        };
        match &self.shared {
            None => format!("{matched} → {}", self.target),
            Some(split) => {
                let recipients: Vec<String> = split
                    .shares
                    .iter()
                    .map(|s| match (&s.percent, &s.namespace) {
                        (Some(percent), _) => format!("{} {percent}%", s.target),
                        (_, Some(namespace)) => format!("{} (namespace {namespace})", s.target),
                        _ => s.target.clone(),
                    })
                    .collect();
                format!("{matched} → {}, shared {} among {}", self.target, split.method.label(), recipients.join(", "))
            }
        }
    }
}

/// A version of the rule list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRevision {
    pub revision: i32,
    pub rules: Vec<AllocationRule>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub reason: String,
    /// Whether the allocation has been recomputed with these rules yet.
    pub applied: bool,
}

/// Money that a rule change moves from one target to another ('' is Unallocated).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub currency: String,
    pub amount: String,
}

/// A resource no rule matches, with what could make a rule for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnallocatedResource {
    pub resource_id: String,
    pub service_name: String,
    pub sub_account_id: String,
    /// Its tags as `key=value`, for a rule by tag.
    pub tags: Vec<(String, String)>,
    pub currency: String,
    pub amount: String,
}

/// The allocation settings page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationPage {
    pub current: Option<RuleRevision>,
    pub revisions: Vec<RuleRevision>,
    /// The window the amounts below are summed over (the last 30 days of imported charges).
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// Per currency: allocated, unallocated (rounded to cents).
    pub split: Vec<(String, String, String)>,
    pub unallocated: Vec<UnallocatedResource>,
    /// What the rule under preview would move, when one is previewed.
    pub preview: Option<Vec<Move>>,
    /// Why the rule under preview is not one.
    pub preview_error: Option<String>,
}

/// The cost panel of a catalog entity: what is allocated to it (and, for a group, to what it
/// owns) over the last 30 and 90 days of imported charges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityCost {
    pub currency: String,
    pub last_30_days: String,
    pub previous_30_days: String,
    pub last_90_days: String,
    pub daily: Vec<(NaiveDate, String)>,
    pub top_services: Vec<(String, String)>,
    /// For a group: each entity it owns (and itself), the last 30 days against the 30 before.
    pub by_entity: Vec<Movement>,
    /// The last 30 days as engineers, when an engineer's monthly cost is set in this currency.
    pub engineers: Option<String>,
}

/// What a budget threshold is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdOn {
    Actual,
    Forecast,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub percent: f64,
    pub on: ThresholdOn,
}

/// A budget and where its current period stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetView {
    pub id: uuid::Uuid,
    pub name: String,
    /// `None`: the whole organisation.
    pub scope: Option<String>,
    /// `month`, `quarter` or `year`.
    pub period: String,
    /// `billed` or `amortized`.
    pub metric: String,
    pub amount: String,
    pub currency: String,
    pub thresholds: Vec<Threshold>,
    /// The period the figures are for: the one holding the newest imported day.
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub as_of: NaiveDate,
    pub actual: String,
    pub forecast: String,
    pub actual_percent: f64,
    pub forecast_percent: f64,
    /// Indexes of the thresholds that fired in this period.
    pub fired: Vec<usize>,
}

/// A day's cost far from its baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnomalyView {
    /// The allocation target ('' for Unallocated).
    pub target: String,
    pub service: String,
    pub currency: String,
    pub day: NaiveDate,
    pub actual: String,
    pub expected: String,
    pub low: String,
    pub high: String,
    pub z: f64,
    /// (resource id, cost), the largest first.
    pub top_resources: Vec<(String, String)>,
    pub acknowledged_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnomaliesView {
    pub absolute_floor: String,
    pub percent_floor: f64,
    pub anomalies: Vec<AnomalyView>,
}
