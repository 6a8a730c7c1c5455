//! Bulk loads through PostgreSQL's binary `COPY … FROM STDIN`, which diesel-async does not
//! speak. A bulk load gets a connection of its own (tokio-postgres, the driver under
//! diesel-async), scoped to one tenant's schema for its whole life with the pool's budgets, so
//! requests never wait behind an import for a pooled connection. At most [`BULK_LOADS`] run
//! per server at once: a burst of imports queues here instead of taking the database's
//! connections from everyone else.
//!
//! Why it exists: an `INSERT … SELECT FROM unnest(…)` of wide rows makes PostgreSQL build
//! and take apart one array per column and cast every value from text; COPY hands it each
//! value in its binary form.

use std::pin::Pin;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls};

use super::{Database, BUDGETS};
use crate::error::AppError;
use crate::tenancy::model::Tenant;

/// Bulk loads one server runs at once (each holds a connection and keeps a core busy).
pub const BULK_LOADS: usize = 2;

/// The slots bulk loads take; shared by every clone of a [`Database`].
#[derive(Clone)]
pub struct BulkSlots(Arc<Semaphore>);

impl Default for BulkSlots {
    fn default() -> Self {
        Self(Arc::new(Semaphore::new(BULK_LOADS)))
    }
}

/// A connection that appends rows to one tenant's tables. Closed when dropped.
pub struct BulkLoad {
    client: Client,
    _slot: OwnedSemaphorePermit,
}

impl Database {
    /// Waits for a bulk-load slot, then opens a connection whose search path is the tenant's
    /// schema alone (as inside `with_tenant`).
    pub async fn bulk_load(&self, tenant: &Tenant) -> Result<BulkLoad, AppError> {
        let slot = self.bulk_slots.0.clone().acquire_owned().await.map_err(AppError::internal)?;
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await.map_err(AppError::internal)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "bulk-load connection ended with an error");
            }
        });
        // The schema name has the checked shape `tenant_<digits>`, so it needs no quoting.
        client
            .batch_execute(&format!("SET search_path TO {}; {BUDGETS}", tenant.schema.as_str()))
            .await
            .map_err(AppError::internal)?;
        Ok(BulkLoad { client, _slot: slot })
    }
}

impl BulkLoad {
    /// Starts one `COPY … FROM STDIN (FORMAT binary)` (`statement`) of rows whose values are of
    /// the `types` the statement names, in its order.
    pub async fn copy_in(&self, statement: &str, types: &[Type]) -> Result<CopyIn, AppError> {
        let sink = self.client.copy_in(statement).await.map_err(copy_failed)?;
        Ok(CopyIn { writer: Box::pin(BinaryCopyInWriter::new(sink, types)) })
    }
}

/// A COPY being written: rows stream to PostgreSQL as they are given (no round trip per batch),
/// and `finish` commits them all. Dropped unfinished, the statement fails and none is kept.
pub struct CopyIn {
    writer: Pin<Box<BinaryCopyInWriter>>,
}

impl CopyIn {
    /// Writes `rows`, each row's values given by `values`.
    pub async fn write<R>(
        &mut self,
        rows: &[R],
        values: impl Fn(&R) -> Vec<&(dyn ToSql + Sync)>,
    ) -> Result<(), AppError> {
        for row in rows {
            self.writer.as_mut().write(&values(row)).await.map_err(copy_failed)?;
        }
        Ok(())
    }

    /// Ends the statement: every row written so far is committed, or none is. Returns how many.
    pub async fn finish(mut self) -> Result<u64, AppError> {
        self.writer.as_mut().finish().await.map_err(copy_failed)
    }
}

fn copy_failed(e: tokio_postgres::Error) -> AppError {
    match e.as_db_error() {
        Some(db) if db.message().starts_with("canceling statement due to") => {
            AppError::unavailable("A bulk write ran past its time budget and was rolled back. Try again.")
        }
        _ => AppError::internal(e),
    }
}

/// A decimal written as text (`-12.5`, `.5`, `1.2E-5`: what `finops::parse::values::money`
/// checked) bound as PostgreSQL NUMERIC, exactly: digits regrouped in base 10,000 around the
/// point, never through a float.
#[derive(Debug)]
pub struct Numeric<'a>(pub &'a str);

/// NUMERIC's binary form: base-10,000 digits, the weight of the first, sign, display scale.
#[derive(Debug, PartialEq, Eq)]
struct NumericParts {
    digits: Vec<i16>,
    weight: i16,
    negative: bool,
    scale: u16,
}

fn numeric_parts(text: &str) -> Result<NumericParts, String> {
    let not_a_number = || format!("`{text}` is not a decimal number");
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| not_a_number())?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit())
        || exponent.abs() > 1000
    {
        return Err(not_a_number());
    }
    let scale = u16::try_from((fraction.len() as i32 - exponent).max(0)).map_err(|_| not_a_number())?;
    // The decimal digits, and how many of them stand before the point.
    let all: Vec<u8> = whole.bytes().chain(fraction.bytes()).map(|b| b - b'0').collect();
    let mut point = whole.len() as i32 + exponent;
    let leading = all.iter().take_while(|d| **d == 0).count();
    let trailing = all[leading..].iter().rev().take_while(|d| **d == 0).count();
    let significant = &all[leading..all.len() - trailing];
    if significant.is_empty() {
        return Ok(NumericParts { digits: Vec::new(), weight: 0, negative: false, scale });
    }
    point -= leading as i32;
    // Pad on the left so that the point falls between groups of four.
    let pad = (4 - point.rem_euclid(4)) % 4;
    point += pad;
    let mut padded = vec![0u8; pad as usize];
    padded.extend_from_slice(significant);
    let digits = padded
        .chunks(4)
        .map(|group| (0..4).fold(0i16, |n, i| n * 10 + i16::from(group.get(i).copied().unwrap_or(0))))
        .collect();
    let weight = i16::try_from(point / 4 - 1).map_err(|_| not_a_number())?;
    Ok(NumericParts { digits, weight, negative, scale })
}

impl ToSql for Numeric<'_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let parts = numeric_parts(self.0)?;
        out.put_i16(i16::try_from(parts.digits.len())?);
        out.put_i16(parts.weight);
        out.put_u16(if parts.negative { 0x4000 } else { 0 });
        out.put_u16(parts.scale);
        for digit in parts.digits {
            out.put_i16(digit);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (Vec<i16>, i16, bool, u16) {
        let p = numeric_parts(text).unwrap();
        (p.digits, p.weight, p.negative, p.scale)
    }

    #[test]
    fn decimals_regroup_around_the_point() {
        assert_eq!(parts("12345.6"), (vec![1, 2345, 6000], 1, false, 1));
        assert_eq!(parts("-0.00012"), (vec![1, 2000], -1, true, 5));
        assert_eq!(parts("10000"), (vec![1], 1, false, 0));
        assert_eq!(parts(".5"), (vec![5000], -1, false, 1));
        assert_eq!(parts("0.00000000001"), (vec![10], -3, false, 11));
        assert_eq!(parts("1.2E-5"), (vec![1200], -2, false, 6));
        assert_eq!(parts("1.5e3"), (vec![1500], 0, false, 0));
        assert_eq!(parts("+42"), (vec![42], 0, false, 0));
    }

    #[test]
    fn zero_has_no_digits_and_keeps_its_scale() {
        assert_eq!(parts("0"), (vec![], 0, false, 0));
        assert_eq!(parts("-0.000"), (vec![], 0, false, 3));
    }

    #[test]
    fn what_is_not_a_decimal_is_refused() {
        for bad in ["", "-", ".", "1.2.3", "1e", "1e99999", "12a", "NaN", "1,000"] {
            assert!(numeric_parts(bad).is_err(), "{bad}");
        }
    }
}
