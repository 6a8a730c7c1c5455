//! Reading cost files: FOCUS 1.0–1.2 CSV or Parquet, AWS Cost and Usage Reports (legacy
//! `lineItem/…` columns) and Azure EA/MCA usage exports, each row turned into one FOCUS
//! [`CostRecord`]. Gzip is recognised by its magic bytes, a UTF-8 BOM is dropped, headers match
//! whatever their case. The reader is a plain iterator: the caller streams the file through it
//! in bounded memory (a Parquet file one row group at a time).

mod aws;
mod azure;
mod focus;
mod parquet_rows;
pub mod values;

use std::io::{BufRead, BufReader, Read};

use chrono::{DateTime, Months, Utc};
use serde_json::{Map, Value};

/// A bill's row in FOCUS's terms; money is decimal text (see [`values::money`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CostRecord {
    /// The row's line in the file (of its first line when a quoted cell spans several).
    pub line: u64,
    pub provider: String,
    pub billing_account_id: String,
    pub billing_account_name: Option<String>,
    pub sub_account_id: Option<String>,
    pub sub_account_name: Option<String>,
    pub billing_currency: String,
    pub billing_period_start: DateTime<Utc>,
    /// Exclusive, as FOCUS defines it.
    pub billing_period_end: DateTime<Utc>,
    pub charge_period_start: DateTime<Utc>,
    /// Exclusive.
    pub charge_period_end: DateTime<Utc>,
    pub charge_category: String,
    pub charge_class: Option<String>,
    pub charge_description: Option<String>,
    pub service_name: String,
    pub service_category: String,
    pub region_id: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub resource_type: Option<String>,
    pub sku_id: Option<String>,
    pub billed_cost: String,
    pub effective_cost: String,
    pub list_cost: Option<String>,
    pub contracted_cost: Option<String>,
    pub pricing_quantity: Option<String>,
    pub pricing_unit: Option<String>,
    pub commitment_discount_id: Option<String>,
    pub tags: Map<String, Value>,
    /// Every other non-empty cell, by its header as written.
    pub extra: Map<String, Value>,
}

/// Which kind of file this is, told from its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Focus,
    AwsCur,
    AzureUsage,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Focus => "FOCUS",
            Layout::AwsCur => "AWS CUR",
            Layout::AzureUsage => "Azure usage export",
        }
    }

    fn detect(headers: &Headers) -> Option<Self> {
        if headers.has("billedcost") || headers.has("effectivecost") {
            Some(Layout::Focus)
        } else if headers.has("lineitem/unblendedcost") {
            Some(Layout::AwsCur)
        } else if headers.has("costinbillingcurrency") || headers.has("costinbillingcurrencycode") {
            Some(Layout::AzureUsage)
        } else {
            None
        }
    }
}

/// What the file does not say and the import assumes, told back in the import's report.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// For files without a BillingCurrency column (some FOCUS examples).
    pub currency: String,
    /// For files without a ProviderName column: the import's source name.
    pub provider: String,
}

/// A row that cannot be imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub line: u64,
    pub reason: String,
}

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Unreadable(String),
    #[error("{0}")]
    Unsupported(String),
}

/// The header row, lowercased for lookups, as written for the extra columns.
pub(crate) struct Headers {
    written: Vec<String>,
    lower: Vec<String>,
}

impl Headers {
    fn new(record: &csv::StringRecord) -> Self {
        let written: Vec<String> = record.iter().map(|h| h.trim().to_owned()).collect();
        let lower = written.iter().map(|h| h.to_ascii_lowercase()).collect();
        Self { written, lower }
    }

    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        self.lower.iter().position(|h| h == name)
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.index(name).is_some()
    }
}

/// One data row with its headers: typed access to cells by lowercase header name.
pub(crate) struct Row<'a> {
    headers: &'a Headers,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    /// The cell under `name`, `None` when the column is absent or the cell null.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.at(self.headers.index(name)?)
    }

    pub(crate) fn at(&self, index: usize) -> Option<&str> {
        values::nullable(self.record.get(index)?)
    }

    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// A mandatory cell: its absence is the row's error.
    pub(crate) fn required(&self, name: &str, written: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("{written} is empty"))
    }

    pub(crate) fn money(&self, name: &str, written: &str) -> Result<Option<String>, String> {
        self.get(name).map(|v| values::money(v).map_err(|e| format!("{written}: {e}"))).transpose()
    }

    pub(crate) fn time(&self, name: &str, written: &str) -> Result<Option<DateTime<Utc>>, String> {
        self.get(name).map(|v| values::timestamp(v).map_err(|e| format!("{written}: {e}"))).transpose()
    }

    /// Every non-empty cell whose lowercase header is not in `mapped`, by its written header.
    pub(crate) fn extra(&self, mapped: &dyn Fn(&str) -> bool) -> Map<String, Value> {
        let mut extra = Map::new();
        for (i, name) in self.headers.lower.iter().enumerate() {
            if mapped(name) {
                continue;
            }
            if let Some(value) = self.at(i) {
                extra.insert(self.headers.written[i].clone(), Value::String(value.to_owned()));
            }
        }
        extra
    }
}

/// Tags as a JSON object: keys trimmed (exported keys can start with a space), values as
/// text. A provider writing the object without braces (Azure's `"a": "b","c": "d"`) is read too.
pub(crate) fn tags(raw: Option<&str>) -> Result<Map<String, Value>, String> {
    let Some(raw) = raw else { return Ok(Map::new()) };
    let parsed: Value = serde_json::from_str(raw)
        .or_else(|_| serde_json::from_str(&format!("{{{raw}}}")))
        .map_err(|_| format!("Tags is not a JSON object: `{}`", shorten(raw)))?;
    let Value::Object(object) = parsed else { return Err(format!("Tags is not a JSON object: `{}`", shorten(raw))) };
    let as_text = |value: Value| match value {
        Value::String(s) => Value::String(s),
        other => Value::String(other.to_string()),
    };
    // Keys already clean first; a padded key then takes the trimmed name unless that name
    // holds another value, in which case it keeps its own: nothing is overwritten.
    let (clean, padded): (Vec<_>, Vec<_>) = object.into_iter().partition(|(key, _)| key.trim() == key);
    let mut tags: Map<String, Value> = clean.into_iter().map(|(key, value)| (key, as_text(value))).collect();
    for (key, value) in padded {
        let value = as_text(value);
        let trimmed = key.trim();
        match tags.get(trimmed) {
            Some(existing) if *existing != value => tags.insert(key, value),
            _ => tags.insert(trimmed.to_owned(), value),
        };
    }
    Ok(tags)
}

fn shorten(raw: &str) -> String {
    raw.chars().take(60).collect()
}

/// The calendar month a charge falls in, for files that name no billing period.
pub(crate) fn month_of(t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    use chrono::Datelike;
    let first = t.date_naive().with_day(1).expect("day 1 exists").and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    (first, first + Months::new(1))
}

/// Turns one row of a layout into a FOCUS record, or says why it cannot.
type RecordFn = fn(&Row<'_>, &Defaults) -> Result<CostRecord, String>;

/// A file's rows as text cells, each with its line (CSV) or row number (Parquet).
type Records = Box<dyn Iterator<Item = Result<(u64, csv::StringRecord), Rejected>> + Send>;

/// Reads a cost file (plain or gzip-compressed CSV, or Parquet) row by row.
pub struct CostReader {
    layout: Layout,
    headers: Headers,
    rows: Records,
    defaults: Defaults,
    record_row: RecordFn,
    warnings: Vec<String>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
pub const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

impl CostReader {
    pub fn open<R: Read + Send + 'static>(input: R, defaults: Defaults) -> Result<Self, FileError> {
        let mut buffered = BufReader::with_capacity(256 * 1024, input);
        let head = buffered.fill_buf().map_err(|e| FileError::Unreadable(format!("cannot read the file: {e}")))?;
        let plain: Box<dyn Read + Send> = if head.starts_with(&GZIP_MAGIC) {
            Box::new(BufReader::with_capacity(256 * 1024, flate2::read::MultiGzDecoder::new(buffered)))
        } else if head.starts_with(PARQUET_MAGIC) {
            return Err(FileError::Unsupported("Parquet is read from a file, not a stream".into()));
        } else if head.trim_ascii_start().starts_with(b"{") || head.trim_ascii_start().starts_with(b"[") {
            return Err(FileError::Unsupported(
                "this JSON is neither a bill nor an OpenCost allocation response: cost files are FOCUS, AWS CUR or \
                 Azure exports as CSV or CSV.gz, or OpenCost's {\"data\": [...]}"
                    .into(),
            ));
        } else {
            Box::new(buffered)
        };
        let mut csv = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(plain);
        let header_row =
            csv.headers().map_err(|e| FileError::Unreadable(format!("cannot read the header row: {e}")))?;
        // The csv crate keeps a UTF-8 byte-order mark in the first header; FOCUS names never start with one.
        let mut header_row = header_row.clone();
        if let Some(first) = header_row.get(0).and_then(|h| h.strip_prefix('\u{feff}')) {
            let mut cleaned = csv::StringRecord::new();
            cleaned.push_field(first);
            header_row.iter().skip(1).for_each(|h| cleaned.push_field(h));
            header_row = cleaned;
        }
        let rows = csv.into_records().map(|record| match record {
            Ok(record) => Ok((record.position().map_or(0, |p| p.line()), record)),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                Err(Rejected { line, reason: format!("not readable as CSV: {e}") })
            }
        });
        Self::over(Headers::new(&header_row), Box::new(rows), defaults)
    }

    /// Reads a Parquet file: its columns are the header row, each row's values its cells
    /// (decimals exact, timestamps as RFC 3339, maps such as Tags as JSON); `read` follows the
    /// rows done as a share of the file's bytes, for the progress bar.
    pub fn open_parquet(
        file: std::fs::File,
        read: std::sync::Arc<std::sync::atomic::AtomicU64>,
        defaults: Defaults,
    ) -> Result<Self, FileError> {
        let (headers, rows) = parquet_rows::open(file, read)?;
        Self::over(headers, rows, defaults)
    }

    fn over(headers: Headers, rows: Records, defaults: Defaults) -> Result<Self, FileError> {
        let layout = Layout::detect(&headers).ok_or_else(|| {
            FileError::Unsupported(
                "the header row names no cost column (BilledCost, lineItem/UnblendedCost or CostInBillingCurrency): \
                 not a FOCUS, AWS CUR or Azure usage file"
                    .into(),
            )
        })?;
        let (record_row, warnings): (RecordFn, Vec<String>) = match layout {
            Layout::Focus => (focus::record, focus::warnings(&headers, &defaults)),
            Layout::AwsCur => (aws::record, Vec::new()),
            Layout::AzureUsage => (azure::record, Vec::new()),
        };
        Ok(Self { layout, headers, rows, defaults, record_row, warnings })
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// What the import assumed for this file (a missing currency column, say).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl Iterator for CostReader {
    type Item = Result<CostRecord, Rejected>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, record) = match self.rows.next()? {
            Ok(numbered) => numbered,
            Err(rejected) => return Some(Err(rejected)),
        };
        if record.iter().all(|cell| cell.trim().is_empty()) {
            return self.next();
        }
        let row = Row { headers: &self.headers, record: &record };
        Some(
            (self.record_row)(&row, &self.defaults)
                .map(|mut r| {
                    r.line = line;
                    r
                })
                .map_err(|reason| Rejected { line, reason }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::tags;
    use serde_json::json;

    #[test]
    fn tags_are_trimmed_without_losing_a_value() {
        let read = |raw: &str| serde_json::Value::Object(tags(Some(raw)).unwrap());
        assert_eq!(read(r#"{" org": "trey", "org": "trey"}"#), json!({"org": "trey"}));
        assert_eq!(read(r#"{" org": "a", "org": "b"}"#), json!({" org": "a", "org": "b"}));
        assert_eq!(read(r#""tagA": "valueA","n": 3"#), json!({"tagA": "valueA", "n": "3"}));
        assert!(tags(Some("not json")).is_err());
        assert!(tags(Some("[1]")).is_err());
    }
}
