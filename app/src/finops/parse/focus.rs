//! FOCUS files (1.0–1.2): the columns are already FOCUS's; only nulls, money formats, dates
//! and missing optional columns need care.

use super::{month_of, tags, CostRecord, Defaults, Headers, Row};

/// Every FOCUS column this importer maps to a field; the others go to `extra`.
const MAPPED: &[&str] = &[
    "providername",
    "billingaccountid",
    "billingaccountname",
    "subaccountid",
    "subaccountname",
    "billingcurrency",
    "billingperiodstart",
    "billingperiodend",
    "chargeperiodstart",
    "chargeperiodend",
    "chargecategory",
    "chargeclass",
    "chargedescription",
    "servicename",
    "servicecategory",
    "regionid",
    "resourceid",
    "resourcename",
    "resourcetype",
    "skuid",
    "billedcost",
    "effectivecost",
    "listcost",
    "contractedcost",
    "pricingquantity",
    "pricingunit",
    "commitmentdiscountid",
    "tags",
];

/// What the import assumes because a column is absent from the whole file.
pub(super) fn warnings(headers: &Headers, defaults: &Defaults) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut assumed = |column: &str, what: String| {
        if !headers.has(&column.to_ascii_lowercase()) {
            warnings.push(format!("The file has no {column} column: {what}."));
        }
    };
    assumed("BillingCurrency", format!("every row is taken to be in {}", defaults.currency));
    assumed("ProviderName", format!("the provider is taken to be the source, {}", defaults.provider));
    assumed("BillingAccountId", "the rows are kept under no billing account".into());
    assumed("BillingPeriodStart", "each row's billing period is the calendar month of its charge".into());
    assumed("EffectiveCost", "the amortized cost of each row is its BilledCost".into());
    assumed("ServiceName", "services are shown as unnamed".into());
    warnings
}

pub(super) fn record(row: &Row<'_>, defaults: &Defaults) -> Result<CostRecord, String> {
    let charge_start = row.time("chargeperiodstart", "ChargePeriodStart")?.ok_or("ChargePeriodStart is empty")?;
    let charge_end = row.time("chargeperiodend", "ChargePeriodEnd")?.unwrap_or(charge_start + chrono::Days::new(1));
    if charge_end < charge_start {
        return Err("ChargePeriodEnd is before ChargePeriodStart".into());
    }
    let (month_start, month_end) = month_of(charge_start);
    let billing_start = row.time("billingperiodstart", "BillingPeriodStart")?.unwrap_or(month_start);
    let billing_end = row.time("billingperiodend", "BillingPeriodEnd")?.unwrap_or(month_end);
    let billed = row.money("billedcost", "BilledCost")?.ok_or("BilledCost is empty")?;
    // A file without the column is treated as unamortized; an empty cell in a file that has it
    // is an error, as FOCUS makes EffectiveCost mandatory.
    let effective = if row.headers.has("effectivecost") {
        row.money("effectivecost", "EffectiveCost")?.ok_or("EffectiveCost is empty")?
    } else {
        billed.clone()
    };
    let currency = match row.headers.has("billingcurrency") {
        true => row.required("billingcurrency", "BillingCurrency")?.to_ascii_uppercase(),
        false => defaults.currency.clone(),
    };
    Ok(CostRecord {
        line: 0,
        provider: row.text("providername").unwrap_or_else(|| defaults.provider.clone()),
        billing_account_id: row.text("billingaccountid").unwrap_or_default(),
        billing_account_name: row.text("billingaccountname"),
        sub_account_id: row.text("subaccountid"),
        sub_account_name: row.text("subaccountname"),
        billing_currency: currency,
        billing_period_start: billing_start,
        billing_period_end: billing_end,
        charge_period_start: charge_start,
        charge_period_end: charge_end,
        charge_category: row.text("chargecategory").unwrap_or_else(|| "Usage".into()),
        charge_class: row.text("chargeclass"),
        charge_description: row.text("chargedescription"),
        service_name: row.text("servicename").unwrap_or_else(|| "Unnamed service".into()),
        service_category: row.text("servicecategory").unwrap_or_else(|| "Other".into()),
        region_id: row.text("regionid"),
        resource_id: row.text("resourceid"),
        resource_name: row.text("resourcename"),
        resource_type: row.text("resourcetype"),
        sku_id: row.text("skuid"),
        billed_cost: billed,
        effective_cost: effective,
        list_cost: row.money("listcost", "ListCost")?,
        contracted_cost: row.money("contractedcost", "ContractedCost")?,
        pricing_quantity: row.money("pricingquantity", "PricingQuantity")?,
        pricing_unit: row.text("pricingunit"),
        commitment_discount_id: row.text("commitmentdiscountid"),
        tags: tags(row.get("tags"))?,
        extra: row.extra(&|name| MAPPED.contains(&name)),
    })
}
