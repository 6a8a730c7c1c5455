//! Reading company files: CSV, a JSON array or JSON Lines, each possibly gzipped, sniffed from
//! the bytes. Columns are matched to fields by name (case and punctuation ignored, common
//! aliases known, e.g. YC's `long_description` and `isHiring`) or by an explicit mapping
//! `field=column`. A record without a usable name, or with a NUL byte, is refused with its line;
//! a file that does not parse is refused whole.

use std::collections::HashMap;
use std::io::Read;

use serde_json::{Map, Value};

use super::model::{Company, Sensitive};
use crate::error::{AppError, AppResult};

/// The largest company file accepted (uncompressed): 100k companies with long descriptions
/// take about 60 MB.
pub const MAX_FILE_BYTES: usize = 256 * 1024 * 1024;
/// Records refused and listed in a report (all are counted).
const REFUSED_LISTED: usize = 100;
const MAX_TEXT: usize = 10_000;
const MAX_SHORT: usize = 500;
const MAX_LIST: usize = 50;

/// Each field and the column names it is read from when no mapping names its column.
const ALIASES: &[(&str, &[&str])] = &[
    ("name", &["name", "company", "companyname", "organization", "organisation"]),
    ("website", &["website", "homepage", "domain", "homepageurl", "websiteurl"]),
    ("one_liner", &["oneliner", "tagline", "shortdescription", "summary"]),
    ("description", &["longdescription", "description", "about"]),
    ("industry", &["industry"]),
    ("subindustry", &["subindustry", "sector", "category"]),
    ("tags", &["tags", "keywords"]),
    ("regions", &["regions", "region", "countries", "country"]),
    ("stage", &["stage"]),
    ("status", &["status"]),
    ("batch", &["batch", "cohort"]),
    ("team_size", &["teamsize", "employees", "headcount", "employeecount"]),
    ("is_hiring", &["ishiring", "hiring"]),
    ("funding", &["funding", "totalfunding", "fundingtotalusd", "fundingtotal"]),
    ("revenue", &["revenue", "annualrevenue"]),
    ("valuation", &["valuation"]),
    ("notes", &["notes", "note"]),
];

/// A record read from a file: its first line, the public facts and the sensitive fields.
pub struct CompanyRecord {
    pub line: u64,
    pub company: Company,
    pub sensitive: Sensitive,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refused {
    pub line: u64,
    pub reason: String,
}

pub struct CompanyFile {
    pub records: Vec<CompanyRecord>,
    pub refused: Vec<Refused>,
    pub refused_count: u64,
}

fn fold(column: &str) -> String {
    column.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// `field=column` pairs, comma or newline separated; the fields are this reader's names.
pub fn parse_mapping(raw: &str) -> AppResult<HashMap<String, String>> {
    let mut mapping = HashMap::new();
    for pair in raw.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let (field, column) = pair.split_once('=').ok_or_else(|| {
            AppError::invalid(format!("`{pair}`: write a mapping as field=column, e.g. one_liner=tagline"))
        })?;
        let field = field.trim().to_ascii_lowercase();
        if !ALIASES.iter().any(|(f, _)| *f == field) {
            let known: Vec<&str> = ALIASES.iter().map(|(f, _)| *f).collect();
            return Err(AppError::invalid(format!("`{field}` is not a company field; use {}", known.join(", "))));
        }
        mapping.insert(field, column.trim().to_owned());
    }
    Ok(mapping)
}

/// Reads a whole company file.
pub fn read(bytes: &[u8], mapping: &HashMap<String, String>) -> AppResult<CompanyFile> {
    let bytes = gunzip(bytes)?;
    let text =
        std::str::from_utf8(&bytes).map_err(|e| AppError::invalid(format!("The file is not UTF-8 text: {e}")))?;
    let text = text.trim_start_matches('\u{feff}');
    let records: Vec<(u64, Map<String, Value>)> = match text.trim_start().chars().next() {
        None => return Err(AppError::invalid("The file is empty.")),
        Some('[') => {
            let values: Vec<Value> = serde_json::from_str(text)
                .map_err(|e| AppError::invalid(format!("The JSON array does not parse: {e}")))?;
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i as u64 + 1, v.as_object().cloned().unwrap_or_default()))
                .collect()
        }
        Some('{') => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str::<Map<String, Value>>(line)
                    .map(|record| (i as u64 + 1, record))
                    .map_err(|e| AppError::invalid(format!("line {}: not a JSON object: {e}", i + 1)))
            })
            .collect::<AppResult<_>>()?,
        Some(_) => csv_records(text)?,
    };
    let mut file = CompanyFile { records: Vec::new(), refused: Vec::new(), refused_count: 0 };
    let mut columns: HashMap<String, String> = HashMap::new();
    for (line, record) in records {
        for key in record.keys() {
            columns.entry(fold(key)).or_insert_with(|| key.clone());
        }
        match company(&record, mapping, &columns) {
            Ok((company, sensitive)) => file.records.push(CompanyRecord { line, company, sensitive }),
            Err(reason) => {
                file.refused_count += 1;
                if file.refused.len() < REFUSED_LISTED {
                    file.refused.push(Refused { line, reason });
                }
            }
        }
    }
    Ok(file)
}

fn gunzip(bytes: &[u8]) -> AppResult<std::borrow::Cow<'_, [u8]>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(too_large());
        }
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| AppError::invalid(format!("The gzip file is damaged: {e}")))?;
    if out.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(std::borrow::Cow::Owned(out))
}

fn too_large() -> AppError {
    AppError::too_large(format!("Company files are limited to {} MiB uncompressed.", MAX_FILE_BYTES / 1024 / 1024))
}

fn csv_records(text: &str) -> AppResult<Vec<(u64, Map<String, Value>)>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers =
        reader.headers().map_err(|e| AppError::invalid(format!("The CSV header does not parse: {e}")))?.clone();
    let mut records = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| AppError::invalid(format!("The CSV does not parse: {e}")))?;
        let line = row.position().map_or(0, |p| p.line());
        let record = headers
            .iter()
            .zip(row.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| (h.to_owned(), Value::String(v.to_owned())))
            .collect();
        records.push((line, record));
    }
    Ok(records)
}

/// The value of `field` in `record`: from the mapped column, else the first alias present.
fn value<'a>(
    record: &'a Map<String, Value>,
    field: &str,
    mapping: &HashMap<String, String>,
    columns: &HashMap<String, String>,
) -> Option<&'a Value> {
    if let Some(column) = mapping.get(field) {
        return record.get(column);
    }
    let aliases = ALIASES.iter().find(|(f, _)| *f == field).map_or(&[][..], |(_, a)| a);
    aliases
        .iter()
        .filter_map(|alias| columns.get(*alias))
        .find_map(|column| record.get(column))
        .filter(|v| !v.is_null())
}

fn text_value(value: Option<&Value>, cap: usize) -> Result<Option<String>, String> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(_) | Value::Object(_)) => return Err("a text field holds a list or an object".into()),
        Some(other) => other.to_string(),
    };
    if text.contains('\0') {
        return Err("a NUL byte in a text field".into());
    }
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    Ok(Some(text.chars().take(cap).collect()))
}

fn list_value(value: Option<&Value>) -> Result<Vec<String>, String> {
    let items: Vec<String> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(Value::String(s)) if s.contains('|') => s.split('|').map(str::to_owned).collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        Some(_) => return Err("a list field holds neither a list nor text".into()),
    };
    if items.iter().any(|i| i.contains('\0')) {
        return Err("a NUL byte in a list field".into());
    }
    let mut out: Vec<String> = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let item: String = item.chars().take(100).collect();
        if !out.contains(&item) && out.len() < MAX_LIST {
            out.push(item);
        }
    }
    Ok(out)
}

/// A company from named fields (a form's), with the same rules as a file's record.
pub fn from_fields(fields: &Map<String, Value>) -> Result<(Company, Sensitive), String> {
    let columns = fields.keys().map(|k| (fold(k), k.clone())).collect();
    company(fields, &HashMap::new(), &columns)
}

fn company(
    record: &Map<String, Value>,
    mapping: &HashMap<String, String>,
    columns: &HashMap<String, String>,
) -> Result<(Company, Sensitive), String> {
    let get = |field: &str| value(record, field, mapping, columns);
    let name = text_value(get("name"), 200)?.ok_or("no name")?;
    let team_size = match get("team_size") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()).filter(|n| *n >= 0),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            s.trim().replace(',', "").parse::<i32>().ok().filter(|n| *n >= 0).ok_or("the team size is not a number")?,
        ),
        Some(_) => return Err("the team size is not a number".into()),
    };
    let is_hiring = match get("is_hiring") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            "" => None,
            _ => return Err("hiring is not true or false".into()),
        },
        Some(_) => return Err("hiring is not true or false".into()),
    };
    let website = text_value(get("website"), MAX_SHORT)?;
    let company = Company {
        id: uuid::Uuid::nil(),
        domain: website.as_deref().and_then(super::text::domain_of),
        website,
        one_liner: text_value(get("one_liner"), MAX_SHORT)?,
        description: text_value(get("description"), MAX_TEXT)?,
        industry: text_value(get("industry"), MAX_SHORT)?,
        subindustry: text_value(get("subindustry"), MAX_SHORT)?,
        tags: list_value(get("tags"))?,
        regions: list_value(get("regions"))?,
        stage: text_value(get("stage"), 100)?,
        status: text_value(get("status"), 100)?,
        batch: text_value(get("batch"), 100)?,
        team_size,
        is_hiring,
        name,
    };
    if super::text::name_key(&company.name).is_empty() {
        return Err("the name has no letters or digits".into());
    }
    let mut sensitive = Sensitive::default();
    for field in Sensitive::FIELDS {
        sensitive.set(field, text_value(get(field), MAX_TEXT)?);
    }
    Ok((company, sensitive))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yc_csv_and_json_lines_read_alike() {
        let csv = "id,name,website,one_liner,team_size,industry,subindustry,tags,regions,isHiring\n\
                   5,CircuitHub,https://circuithub.com,On-Demand Electronics Manufacturing,58,Industrials,Industrials -> Manufacturing,Hardware|Robotics,Europe|Remote,True\n\
                   6,,http://x.com,nameless,,,,,,\n";
        let file = read(csv.as_bytes(), &HashMap::new()).unwrap();
        assert_eq!(file.records.len(), 1);
        let company = &file.records[0].company;
        assert_eq!((company.name.as_str(), company.domain.as_deref()), ("CircuitHub", Some("circuithub.com")));
        assert_eq!(company.tags, ["Hardware", "Robotics"]);
        assert_eq!((company.team_size, company.is_hiring), (Some(58), Some(true)));
        assert_eq!(file.refused, [Refused { line: 3, reason: "no name".into() }]);

        let jsonl = r#"{"name": "CircuitHub", "long_description": "Robots.", "tags": ["Hardware"], "team_size": 58, "isHiring": true}"#;
        let file = read(jsonl.as_bytes(), &HashMap::new()).unwrap();
        assert_eq!(file.records[0].company.description.as_deref(), Some("Robots."));
        assert_eq!(file.records[0].company.is_hiring, Some(true));
    }

    #[test]
    fn a_mapping_names_columns_and_sensitive_fields_are_read() {
        let csv = "Company,Pitch,Raised\nAcme,Rockets for everyone,\"12,500,000\"\n";
        let mapping = parse_mapping("name=Company, one_liner=Pitch, funding=Raised").unwrap();
        let file = read(csv.as_bytes(), &mapping).unwrap();
        let record = &file.records[0];
        assert_eq!(record.company.one_liner.as_deref(), Some("Rockets for everyone"));
        assert_eq!(record.sensitive.funding.as_deref(), Some("12,500,000"));
        assert!(parse_mapping("colour=Pitch").is_err());
    }

    #[test]
    fn bad_files_and_bad_records_are_refused() {
        assert!(read(b"[{\"name\": ", &HashMap::new()).is_err());
        assert!(read(b"{\"name\": \"a\"}\nnot json\n", &HashMap::new()).is_err());
        assert!(read(&[0x1f, 0x8b, 0, 1, 2], &HashMap::new()).is_err());
        let file = read("[{\"name\": \"a\\u0000b\"}, {\"name\": \"!!!\"}]".as_bytes(), &HashMap::new()).unwrap();
        assert_eq!(file.records.len(), 0);
        assert_eq!(file.refused_count, 2);
    }
}
