//! Azure EA and MCA usage exports (actual cost) turned into FOCUS rows: a row is one day of a
//! meter, billing periods are written with an inclusive last day (FOCUS's end is exclusive),
//! and tags come as a JSON object without its braces.

use chrono::Days;

use super::{tags, CostRecord, Defaults, Row};

const MAPPED: &[&str] = &[
    "billingaccountid",
    "billingaccountname",
    "subscriptionid",
    "subscriptionname",
    "billingcurrencycode",
    "billingcurrency",
    "billingperiodstartdate",
    "billingperiodenddate",
    "date",
    "chargetype",
    "metercategory",
    "meterid",
    "metername",
    "resourcelocation",
    "resourceid",
    "resourcename",
    "quantity",
    "unitofmeasure",
    "costinbillingcurrency",
    "reservationid",
    "benefitid",
    "tags",
    "productname",
];

/// FOCUS's ChargeCategory of an Azure ChargeType; refunds are negative rows of their kind.
fn charge_category(charge_type: &str) -> &'static str {
    match charge_type.to_ascii_lowercase().as_str() {
        "usage" | "unusedreservation" | "unusedsavingsplan" => "Usage",
        "purchase" | "refund" => "Purchase",
        "tax" => "Tax",
        "credit" => "Credit",
        _ => "Adjustment",
    }
}

/// FOCUS's ServiceCategory for the common meter categories; the rest are `Other`.
fn service_category(meter_category: &str) -> &'static str {
    match meter_category {
        "Virtual Machines" | "Azure App Service" | "Functions" | "Container Instances" | "Azure Kubernetes Service" => {
            "Compute"
        }
        "Storage" | "Backup" => "Storage",
        "SQL Database"
        | "Azure Cosmos DB"
        | "Azure Database for PostgreSQL"
        | "Azure Database for MySQL"
        | "Redis Cache" => "Databases",
        "Virtual Network" | "Bandwidth" | "Load Balancer" | "VPN Gateway" | "Azure DNS" | "Application Gateway" => {
            "Networking"
        }
        "Azure Monitor" | "Log Analytics" | "Insight and Analytics" => "Management and Governance",
        "Key Vault" | "Microsoft Defender for Cloud" => "Security",
        _ => "Other",
    }
}

pub(super) fn record(row: &Row<'_>, defaults: &Defaults) -> Result<CostRecord, String> {
    let day = row.time("date", "Date")?.ok_or("Date is empty")?;
    let billing_start =
        row.time("billingperiodstartdate", "BillingPeriodStartDate")?.ok_or("BillingPeriodStartDate is empty")?;
    let billing_last_day =
        row.time("billingperiodenddate", "BillingPeriodEndDate")?.ok_or("BillingPeriodEndDate is empty")?;
    let cost = row.money("costinbillingcurrency", "CostInBillingCurrency")?.ok_or("CostInBillingCurrency is empty")?;
    let meter_category = row.get("metercategory").unwrap_or_default();
    Ok(CostRecord {
        line: 0,
        provider: "Microsoft".into(),
        billing_account_id: row.text("billingaccountid").unwrap_or_default(),
        billing_account_name: row.text("billingaccountname"),
        sub_account_id: row.text("subscriptionid"),
        sub_account_name: row.text("subscriptionname"),
        billing_currency: row
            .text("billingcurrencycode")
            .or_else(|| row.text("billingcurrency"))
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_else(|| defaults.currency.clone()),
        billing_period_start: billing_start,
        billing_period_end: billing_last_day + Days::new(1),
        charge_period_start: day,
        charge_period_end: day + Days::new(1),
        charge_category: charge_category(row.get("chargetype").unwrap_or("Usage")).into(),
        charge_class: None,
        charge_description: row.text("metername"),
        service_name: row
            .text("metercategory")
            .or_else(|| row.text("productname"))
            .unwrap_or_else(|| "Unnamed service".into()),
        service_category: service_category(meter_category).into(),
        region_id: row.text("resourcelocation"),
        resource_id: row.text("resourceid"),
        resource_name: row.text("resourcename"),
        resource_type: None,
        sku_id: row.text("meterid"),
        billed_cost: cost.clone(),
        // An actual-cost export: what was billed is what the day cost.
        effective_cost: cost,
        list_cost: None,
        contracted_cost: None,
        pricing_quantity: row.money("quantity", "Quantity")?,
        pricing_unit: row.text("unitofmeasure"),
        commitment_discount_id: row.text("benefitid").or_else(|| row.text("reservationid")),
        tags: tags(row.get("tags"))?,
        extra: row.extra(&|name| MAPPED.contains(&name)),
    })
}
