//! Parquet bills as text rows: the column names are the header row, each value becomes the
//! cell a CSV export would hold, so one set of FOCUS rules reads both. Read one row group at a
//! time through the `parquet` crate's row API (no Arrow).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::reader::RowIter;
use parquet::record::Field;
use serde_json::Value;

use super::{FileError, Headers, Records, Rejected};

/// The file's headers and its rows; `read` is moved towards the file's size as rows are done.
pub(super) fn open(file: std::fs::File, read: Arc<AtomicU64>) -> Result<(Headers, Records), FileError> {
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = SerializedFileReader::new(file)
        .map_err(|e| FileError::Unreadable(format!("not a readable Parquet file: {e}")))?;
    let metadata = reader.metadata().file_metadata();
    let total = metadata.num_rows().max(1) as u64;
    let names: csv::StringRecord =
        metadata.schema_descr().root_schema().get_fields().iter().map(|f| f.name().to_owned()).collect();
    let headers = Headers::new(&names);
    let columns = names.len();
    let mut number = 0u64;
    let rows = RowIter::from_file_into(Box::new(reader)).map(move |row| {
        number += 1;
        if number.is_multiple_of(1024) || number == total {
            read.store(size.saturating_mul(number) / total, Ordering::Relaxed);
        }
        let row = row.map_err(|e| Rejected { line: number, reason: format!("not readable as Parquet: {e}") })?;
        let mut record = csv::StringRecord::with_capacity(64, columns);
        for (_, field) in row.get_column_iter() {
            record.push_field(&cell(field));
        }
        Ok((number, record))
    });
    Ok((headers, Box::new(rows)))
}

/// The text a CSV export would hold for the value: empty for null, exact decimals, RFC 3339
/// times in UTC, JSON for maps, lists and groups.
fn cell(field: &Field) -> String {
    match field {
        Field::Null => String::new(),
        Field::Str(text) => text.clone(),
        Field::Bytes(bytes) => String::from_utf8_lossy(bytes.data()).into_owned(),
        Field::Date(days) => NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|epoch| epoch.checked_add_signed(chrono::TimeDelta::days(i64::from(*days))))
            .map(|day| day.to_string())
            .unwrap_or_default(),
        Field::TimestampMillis(ms) => DateTime::from_timestamp_millis(*ms).map(|t| t.to_rfc3339()).unwrap_or_default(),
        Field::TimestampMicros(us) => DateTime::from_timestamp_micros(*us).map(|t| t.to_rfc3339()).unwrap_or_default(),
        Field::MapInternal(_) | Field::ListInternal(_) | Field::Group(_) => json(field).to_string(),
        // Numbers, booleans and decimals: their own text (decimals exactly, from the digits).
        other => other.to_string(),
    }
}

fn json(field: &Field) -> Value {
    match field {
        Field::MapInternal(map) => {
            Value::Object(map.entries().iter().map(|(key, value)| (cell(key), Value::String(cell(value)))).collect())
        }
        Field::ListInternal(list) => Value::Array(list.elements().iter().map(json).collect()),
        Field::Group(row) => {
            Value::Object(row.get_column_iter().map(|(name, value)| (name.clone(), json(value))).collect())
        }
        Field::Null => Value::Null,
        other => Value::String(cell(other)),
    }
}
