//! A seeded estate's span of cloud bills as one FOCUS file (every run with the same shape
//! writes the same bytes): three providers, 40 sub-accounts, 10 services, one row a day per
//! resource (each at its own steady rate, growing by a fifth over the span, half on weekends in
//! development), tags with gaps (a third of the resources carry no `application`), commitment
//! purchases with the usage they cover, corrections of the month before, and injected spikes
//! that it reports — what the FinOps bench imports and the anomaly detector is scored against.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use diesel::sql_types::{Array, Date, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use app::db::Database;
use app::error::AppResult;
use app::tenancy::model::Tenant;

const SERVICES: [(&str, &str); 10] = [
    ("Amazon Elastic Compute Cloud", "Compute"),
    ("Amazon Simple Storage Service", "Storage"),
    ("Amazon Relational Database Service", "Databases"),
    ("AWS Lambda", "Compute"),
    ("Amazon CloudFront", "Networking"),
    ("Virtual Machines", "Compute"),
    ("Azure Cosmos DB", "Databases"),
    ("Storage", "Storage"),
    ("Compute Engine", "Compute"),
    ("BigQuery", "Analytics"),
];
const PROVIDERS: [&str; 3] = ["AWS", "Microsoft", "Google Cloud"];
/// Applications are tagged `app-0` … `app-149`; `app-N` runs on service `N % 10` alone, and
/// the applications whose `N % 30` is under 10 are never tagged.
pub const APPLICATIONS: u64 = 150;

/// The estate to write: `rows` cost rows over the `days` days before `end`.
#[derive(Clone, Copy)]
pub struct Estate {
    pub rows: u64,
    pub days: u64,
    pub end: NaiveDate,
}

/// A day on which costs were multiplied: all of a service's, or one application's alone.
#[derive(Clone, Debug)]
pub struct Spike {
    pub day: NaiveDate,
    pub service: &'static str,
    pub application: Option<String>,
    pub factor: i64,
}

/// splitmix64: a seeded sequence, so every run writes the same file.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Micro-units as a decimal with ten places, as bills write them (no float anywhere).
fn money(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    format!("{sign}{}.{:06}0000", micros / 1_000_000, micros % 1_000_000)
}

fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("day 1")
}

impl Estate {
    /// The spikes, in the second half of the span (so each has weeks of history): three of a
    /// whole service at 8 times its usual, three of one application at 3 times.
    pub fn spikes(&self) -> Vec<Spike> {
        let first = self.end - Days::new(self.days);
        let at = |percent: u64| first + Days::new(self.days * percent / 100);
        let service = |day, s: usize| Spike { day, service: SERVICES[s].0, application: None, factor: 8 };
        let application = |day, n: u64| Spike {
            day,
            service: SERVICES[(n % 10) as usize].0,
            application: Some(format!("app-{n}")),
            factor: 3,
        };
        vec![
            service(at(50), 0),
            application(at(60), 10),
            service(at(70), 2),
            application(at(80), 23),
            service(at(88), 5),
            application(at(95), 47),
        ]
    }

    /// Writes the estate as FOCUS CSV to `path`; returns the row count.
    pub fn write(&self, path: &Path) -> std::io::Result<u64> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        writeln!(
            out,
            "BilledCost,EffectiveCost,ListCost,BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,\
             ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ChargeClass,ProviderName,ServiceName,ServiceCategory,\
             SubAccountId,RegionId,ResourceId,CommitmentDiscountId,Tags"
        )?;
        let spikes = self.spikes();
        let mut rng = Seeded(42);
        let first = self.end - Days::new(self.days);
        let per_day = (self.rows / self.days).max(1);
        let mut written = 0;
        let mut day = first;
        while day < self.end && written < self.rows {
            let (period, next_period) = (month_start(day), month_start(day) + Months::new(1));
            let (start, end) = (format!("{day}T00:00:00Z"), format!("{}T00:00:00Z", day + Days::new(1)));
            let elapsed = (day - first).num_days();
            let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
            for resource in 0..per_day {
                let service = (resource % SERVICES.len() as u64) as usize;
                let provider = PROVIDERS[service * PROVIDERS.len() / SERVICES.len()];
                let (name, category) = SERVICES[service];
                let account = resource % 40;
                let application = (resource % 30 >= 10).then(|| format!("app-{}", resource % APPLICATIONS));
                let dev = !resource.is_multiple_of(3);
                // A third of the resources carry no application tag, a tenth no team either.
                let tags = match (&application, resource % 30) {
                    (Some(application), _) => format!(
                        r#""{{""application"": ""{application}"", ""team"": ""team-{}"", ""environment"": ""{}""}}""#,
                        resource % 12,
                        if dev { "dev" } else { "prod" }
                    ),
                    (None, 0..=2) => String::new(),
                    (None, _) => format!(r#""{{""team"": ""team-{}""}}""#, resource % 12),
                };
                let factor = spikes
                    .iter()
                    .find(|s| {
                        s.day == day && s.service == name && (s.application.is_none() || s.application == application)
                    })
                    .map_or(1, |s| s.factor);
                // Each resource costs about the same every day: its own rate, growing by a fifth
                // over the span, half on weekends in development, within ±10% from day to day.
                let rate = (Seeded(resource).below(2_000_000) + 10_000) as i64;
                let growth = 100 + 20 * elapsed / self.days as i64;
                let quiet = if dev && weekend { 50 } else { 100 };
                let jitter = 90 + rng.below(21) as i64;
                let micros = rate * growth / 100 * quiet / 100 * jitter / 100 * factor;
                let covered = resource.is_multiple_of(7);
                let effective = if covered { micros * 7 / 10 } else { micros };
                let commitment = if covered { format!("commitment-{}", account % 4) } else { String::new() };
                writeln!(
                    out,
                    "{},{},{},billing-{},USD,{period}T00:00:00Z,{next_period}T00:00:00Z,{start},{end},Usage,,{provider},{name},{category},account-{account},region-{},resource-{resource},{commitment},{tags}",
                    money(if covered { 0 } else { micros }),
                    money(effective),
                    money(micros * 12 / 10),
                    account % 3,
                    resource % 8,
                )?;
                written += 1;
            }
            // The first of a month: each commitment's purchase (billed, no effective cost) and a
            // correction of the month before.
            if day.day() == 1 {
                for c in 0..4 {
                    writeln!(
                        out,
                        "{},{},,billing-{},USD,{period}T00:00:00Z,{next_period}T00:00:00Z,{period}T00:00:00Z,{next_period}T00:00:00Z,Purchase,,AWS,Savings Plans,Compute,account-{c},,,commitment-{c},",
                        money(900_000_000),
                        money(0),
                        c % 3
                    )?;
                    written += 1;
                }
                let before = period - Months::new(1);
                writeln!(
                    out,
                    "{},{},,billing-0,USD,{period}T00:00:00Z,{next_period}T00:00:00Z,{before}T00:00:00Z,{period}T00:00:00Z,Usage,Correction,AWS,Amazon Elastic Compute Cloud,Compute,account-0,region-0,,,",
                    money(-25_000_000),
                    money(-25_000_000)
                )?;
                written += 1;
            }
            day = day + Days::new(1);
        }
        out.flush()?;
        Ok(written)
    }
}

/// One allocation target's service on one day.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, QueryableByName)]
pub struct Cell {
    #[diesel(sql_type = Text)]
    pub target: String,
    #[diesel(sql_type = Text)]
    pub service_name: String,
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
}

/// The anomalies found, scored against the spikes injected.
#[derive(Debug)]
pub struct Score {
    /// Every cell a spike touched: each target with costs of a spiked service that day, or
    /// the spiked application's target.
    pub injected: BTreeSet<Cell>,
    pub found: BTreeSet<Cell>,
}

impl Score {
    /// Reads what the tenant's detector kept; `target_of` names the target an application's
    /// rule allocates to.
    pub async fn read(
        db: &Database,
        tenant: &Tenant,
        spikes: &[Spike],
        target_of: impl Fn(&str) -> String,
    ) -> AppResult<Self> {
        let (whole, single): (Vec<&Spike>, Vec<&Spike>) = spikes.iter().partition(|s| s.application.is_none());
        let services: Vec<String> = whole.iter().map(|s| s.service.to_owned()).collect();
        let days: Vec<NaiveDate> = whole.iter().map(|s| s.day).collect();
        let (touched, found) = db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    let touched: Vec<Cell> = diesel::sql_query(
                        "SELECT DISTINCT target, service_name, day FROM cost_allocated
                          WHERE (service_name, day) IN (SELECT * FROM unnest($1::text[], $2::date[]))",
                    )
                    .bind::<Array<Text>, _>(services)
                    .bind::<Array<Date>, _>(days)
                    .load(conn)
                    .await?;
                    let found: Vec<Cell> =
                        diesel::sql_query("SELECT target, service_name, day FROM cost_anomalies").load(conn).await?;
                    Ok::<_, app::error::AppError>((touched, found))
                })
            })
            .await?;
        let mut injected: BTreeSet<Cell> = touched.into_iter().collect();
        injected.extend(single.iter().map(|s| Cell {
            target: target_of(s.application.as_deref().unwrap_or_default()),
            service_name: s.service.to_owned(),
            day: s.day,
        }));
        Ok(Score { injected, found: found.into_iter().collect() })
    }

    pub fn precision(&self) -> f64 {
        let hits = self.found.intersection(&self.injected).count();
        if self.found.is_empty() {
            1.0
        } else {
            hits as f64 / self.found.len() as f64
        }
    }

    pub fn recall(&self) -> f64 {
        let hits = self.injected.intersection(&self.found).count();
        if self.injected.is_empty() {
            1.0
        } else {
            hits as f64 / self.injected.len() as f64
        }
    }

    /// Found but not injected.
    pub fn false_alarms(&self) -> impl Iterator<Item = &Cell> {
        self.found.difference(&self.injected)
    }

    /// Injected but not found.
    pub fn missed(&self) -> impl Iterator<Item = &Cell> {
        self.injected.difference(&self.found)
    }
}
