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
}
