//! AWS Cost and Usage Reports in the legacy column names (`lineItem/UnblendedCost`, …) turned
//! into FOCUS rows the way the FOCUS converters map them: BilledCost is the unblended cost;
//! EffectiveCost is the amortized cost of covered usage, the unused part of commitment fees,
//! and nothing for the negations and upfront fees that amortization spreads elsewhere.

use super::{CostRecord, Defaults, Row};
use serde_json::Map;

const MAPPED_PREFIXES: &[&str] = &["resourcetags/"];
const MAPPED: &[&str] = &[
    "bill/payeraccountid",
    "bill/billingperiodstartdate",
    "bill/billingperiodenddate",
    "lineitem/usageaccountid",
    "lineitem/lineitemtype",
    "lineitem/usagestartdate",
    "lineitem/usageenddate",
    "lineitem/productcode",
    "lineitem/usageamount",
    "lineitem/currencycode",
    "lineitem/unblendedcost",
    "lineitem/lineitemdescription",
    "lineitem/resourceid",
    "product/productname",
    "product/region",
    "product/sku",
    "pricing/publicondemandcost",
    "pricing/unit",
    "reservation/effectivecost",
    "reservation/reservationarn",
    "savingsplan/savingsplanarn",
    "savingsplan/savingsplaneffectivecost",
];

/// FOCUS's ChargeCategory of a CUR line item type.
fn charge_category(line_item_type: &str) -> &'static str {
    match line_item_type {
        "Usage" | "DiscountedUsage" | "SavingsPlanCoveredUsage" => "Usage",
        "Tax" => "Tax",
        "Fee" | "RIFee" | "SavingsPlanUpfrontFee" | "SavingsPlanRecurringFee" => "Purchase",
        "Credit" | "BundledDiscount" | "EdpDiscount" | "PrivateRateDiscount" | "SavingsPlanNegation" | "Discount" => {
            "Credit"
        }
        _ => "Adjustment",
    }
}

/// FOCUS's ServiceCategory for the common AWS product codes; the rest are `Other`.
fn service_category(product_code: &str) -> &'static str {
    match product_code {
        "AmazonEC2" | "AWSLambda" | "AmazonECS" | "AmazonEKS" | "AWSFargate" | "AmazonLightsail" | "AWSBatch" => {
            "Compute"
        }
        "AmazonS3" | "AmazonEFS" | "AmazonGlacier" | "AWSBackup" | "AmazonFSx" => "Storage",
        "AmazonRDS" | "AmazonDynamoDB" | "AmazonElastiCache" | "AmazonRedshift" | "AmazonDocDB" | "AmazonNeptune" => {
            "Databases"
        }
        "AmazonVPC" | "AmazonCloudFront" | "AmazonRoute53" | "AWSELB" | "AWSDataTransfer" | "AmazonApiGateway" => {
            "Networking"
        }
        "AmazonCloudWatch" | "AWSCloudTrail" | "AWSConfig" | "AWSCostExplorer" | "AWSSystemsManager" => {
            "Management and Governance"
        }
        "AmazonSQS" | "AmazonSNS" | "AmazonMQ" | "AWSEvents" | "AmazonKinesis" => "Integration",
        "AWSKMS" | "AWSSecretsManager" | "AmazonGuardDuty" | "AWSWAF" | "AmazonInspector" => "Security",
        "AmazonSageMaker" | "AmazonBedrock" | "AmazonRekognition" => "AI and Machine Learning",
        _ => "Other",
    }
}

pub(super) fn record(row: &Row<'_>, defaults: &Defaults) -> Result<CostRecord, String> {
    let line_item_type = row.required("lineitem/lineitemtype", "lineItem/LineItemType")?;
    let billed =
        row.money("lineitem/unblendedcost", "lineItem/UnblendedCost")?.ok_or("lineItem/UnblendedCost is empty")?;
    let effective = match line_item_type {
        "SavingsPlanCoveredUsage" => {
            row.money("savingsplan/savingsplaneffectivecost", "savingsPlan/SavingsPlanEffectiveCost")?
        }
        "DiscountedUsage" => row.money("reservation/effectivecost", "reservation/EffectiveCost")?,
        "SavingsPlanNegation" | "SavingsPlanUpfrontFee" => Some("0".into()),
        _ => None,
    }
    .unwrap_or_else(|| billed.clone());
    let charge_start =
        row.time("lineitem/usagestartdate", "lineItem/UsageStartDate")?.ok_or("lineItem/UsageStartDate is empty")?;
    let charge_end = row.time("lineitem/usageenddate", "lineItem/UsageEndDate")?.unwrap_or(charge_start);
    let billing_start = row
        .time("bill/billingperiodstartdate", "bill/BillingPeriodStartDate")?
        .ok_or("bill/BillingPeriodStartDate is empty")?;
    let billing_end = row
        .time("bill/billingperiodenddate", "bill/BillingPeriodEndDate")?
        .ok_or("bill/BillingPeriodEndDate is empty")?;
    let product_code = row.get("lineitem/productcode").unwrap_or_default();
    // One column per tag (`resourceTags/user:team`); user tags lose their `user:` prefix.
    let mut resource_tags = Map::new();
    for (i, name) in row.headers.lower.iter().enumerate() {
        if let (true, Some(value)) = (name.starts_with("resourcetags/"), row.at(i)) {
            let written = &row.headers.written[i]["resourceTags/".len()..];
            let key = written.strip_prefix("user:").unwrap_or(written);
            resource_tags.insert(key.trim().to_owned(), serde_json::Value::String(value.to_owned()));
        }
    }
    Ok(CostRecord {
        line: 0,
        provider: "AWS".into(),
        billing_account_id: row.required("bill/payeraccountid", "bill/PayerAccountId")?.to_owned(),
        billing_account_name: None,
        sub_account_id: row.text("lineitem/usageaccountid"),
        sub_account_name: None,
        billing_currency: row.text("lineitem/currencycode").unwrap_or_else(|| defaults.currency.clone()),
        billing_period_start: billing_start,
        billing_period_end: billing_end,
        charge_period_start: charge_start,
        charge_period_end: charge_end,
        charge_category: charge_category(line_item_type).into(),
        charge_class: None,
        charge_description: row.text("lineitem/lineitemdescription"),
        service_name: row
            .text("product/productname")
            .or_else(|| row.text("lineitem/productcode"))
            .unwrap_or_else(|| "Unnamed service".into()),
        service_category: service_category(product_code).into(),
        region_id: row.text("product/region"),
        resource_id: row.text("lineitem/resourceid"),
        resource_name: None,
        resource_type: None,
        sku_id: row.text("product/sku"),
        billed_cost: billed,
        effective_cost: effective,
        list_cost: row.money("pricing/publicondemandcost", "pricing/publicOnDemandCost")?,
        contracted_cost: None,
        pricing_quantity: row.money("lineitem/usageamount", "lineItem/UsageAmount")?,
        pricing_unit: row.text("pricing/unit"),
        commitment_discount_id: row
            .text("savingsplan/savingsplanarn")
            .or_else(|| row.text("reservation/reservationarn")),
        tags: resource_tags,
        extra: row.extra(&|name| MAPPED.contains(&name) || MAPPED_PREFIXES.iter().any(|p| name.starts_with(p))),
    })
}
