//! The cell values of cost files as they really come: `NULL` for null, money with a currency
//! sign, thousands separators or a trailing space, times with or without `T`/`Z`, US dates.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Longest money value accepted: a bill's amounts have at most a few dozen digits.
const MAX_MONEY_CHARS: usize = 64;

/// The cell's text, or `None` for FOCUS's nulls: empty, or the string `NULL`.
pub fn nullable(raw: &str) -> Option<&str> {
    let value = raw.trim();
    (!value.is_empty() && !value.eq_ignore_ascii_case("null")).then_some(value)
}

/// A decimal amount as text PostgreSQL's NUMERIC reads exactly: `$10,000.00 ` → `10000.00`,
/// `(1.50)` → `-1.50`, `1.2E-5` kept. Never goes through a float.
pub fn money(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.len() > MAX_MONEY_CHARS {
        return Err(format!("the amount has more than {MAX_MONEY_CHARS} characters"));
    }
    let (negative, value) = match value.strip_prefix('(').and_then(|v| v.strip_suffix(')')) {
        Some(inner) => (true, inner.trim()),
        None => (false, value),
    };
    let (sign, value) = match value.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", value.strip_prefix('+').unwrap_or(value)),
    };
    let value = value.trim_start_matches(['$', '€', '£', '¥']).trim();
    let digits = without_thousands_separators(value).ok_or_else(|| format!("`{}` is not an amount", raw.trim()))?;
    if !is_decimal(&digits) {
        return Err(format!("`{}` is not an amount", raw.trim()));
    }
    let sign = if negative {
        if sign == "-" {
            ""
        } else {
            "-"
        }
    } else {
        sign
    };
    Ok(format!("{sign}{digits}"))
}

/// `10,000.00` → `10000.00`; commas must separate groups of three digits before the point.
fn without_thousands_separators(value: &str) -> Option<String> {
    if !value.contains(',') {
        return Some(value.to_owned());
    }
    let whole = value.split(['.', 'e', 'E']).next().unwrap_or_default();
    let mut groups = whole.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || groups.clone().any(|g| g.len() != 3) {
        return None;
    }
    Some(value.replace(',', ""))
}

/// Digits with at most one point and an optional exponent: `12`, `0.5`, `.5`, `1.2E-5`.
fn is_decimal(value: &str) -> bool {
    let (mantissa, exponent) = match value.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (value, None),
    };
    let mantissa_ok = {
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        (!whole.is_empty() || !fraction.is_empty())
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
        (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// A point in time, UTC unless it says otherwise: RFC 3339, `2024-09-18 22:00:00`,
/// `2024-09-18`, and US dates `9/2/2023` or `5/1/25` (month first, as Azure and the FOCUS
/// examples write them).
pub fn timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    let value = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive_formats =
        ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%d %H:%M:%S%.fZ"];
    for format in naive_formats {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(t.and_utc());
        }
    }
    let two_digit_year = value.split(' ').next().and_then(|d| d.rsplit_once('/')).is_some_and(|(_, y)| y.len() == 2);
    let us_with_time: [&str; 2] = match two_digit_year {
        true => ["%m/%d/%y %H:%M:%S", "%m/%d/%y %H:%M"],
        false => ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M"],
    };
    for format in us_with_time {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(t.and_utc());
        }
    }
    // The year's width picks the format: chrono's `%Y` would take `25` as the year 25.
    let day_format = match value.rsplit_once('/') {
        None => "%Y-%m-%d",
        Some((_, year)) if year.len() == 2 => "%m/%d/%y",
        Some(_) => "%m/%d/%Y",
    };
    if let Ok(day) = NaiveDate::parse_from_str(value, day_format) {
        return Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(format!("`{value}` is not a date or time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_empty_cells_and_the_string_null() {
        assert_eq!(nullable(" NULL "), None);
        assert_eq!(nullable("null"), None);
        assert_eq!(nullable(""), None);
        assert_eq!(nullable(" Usage "), Some("Usage"));
    }

    #[test]
    fn money_keeps_every_digit_and_drops_only_formatting() {
        assert_eq!(money("0.00001605990").unwrap(), "0.00001605990");
        assert_eq!(money("$10,000.00 ").unwrap(), "10000.00");
        assert_eq!(money("$1,234,567.891").unwrap(), "1234567.891");
        assert_eq!(money("-3.5").unwrap(), "-3.5");
        assert_eq!(money("(1.50)").unwrap(), "-1.50");
        assert_eq!(money("1.2E-5").unwrap(), "1.2E-5");
        assert_eq!(money(".5").unwrap(), ".5");
        assert_eq!(money("48").unwrap(), "48");
    }

    #[test]
    fn money_refuses_what_is_not_an_amount() {
        for bad in
            ["", "abc", "1.2.3", "1,5", "12,34.00", "1e", "1e12345", "--1", "$", "0x10", "1 000", "NaN", "Infinity"]
        {
            assert!(money(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(money(&"9".repeat(65)).is_err());
    }

    #[test]
    fn times_in_every_shape_the_samples_use() {
        let t = |s: &str| timestamp(s).unwrap().to_rfc3339();
        assert_eq!(t("2024-09-18 22:00:00"), "2024-09-18T22:00:00+00:00");
        assert_eq!(t("2023-01-01T00:00:00Z"), "2023-01-01T00:00:00+00:00");
        assert_eq!(t("2023-11-01T00:00:00.000Z"), "2023-11-01T00:00:00+00:00");
        assert_eq!(t("2023-11-01T02:00:00+02:00"), "2023-11-01T00:00:00+00:00");
        assert_eq!(t("2024-09-18"), "2024-09-18T00:00:00+00:00");
        assert_eq!(t("9/2/2023"), "2023-09-02T00:00:00+00:00");
        assert_eq!(t("5/1/25"), "2025-05-01T00:00:00+00:00");
        assert_eq!(t("12/31/2024 13:05"), "2024-12-31T13:05:00+00:00");
        assert_eq!(t("5/1/25 08:00"), "2025-05-01T08:00:00+00:00");
        assert!(timestamp("31/12/2024").is_err());
        // An hour that does not exist (a FOCUS example has one) is refused, never rolled over.
        assert!(timestamp("2023-02-01T30:00:00Z").is_err());
        assert!(timestamp("yesterday").is_err());
    }
}
