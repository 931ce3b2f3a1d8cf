//! Autotask rows as read (field names lower-cased) and their mapping into the portal's
//! records, with the tenant's picklist labels.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::api::Api;
use crate::psa::{Agreement, AgreementLine, Customer, Product, PsaError};

/// Fields each query asks for (IncludeFields), so pages stay small.
pub const COMPANY_FIELDS: &[&str] = &["companyName", "companyNumber", "companyType", "isActive"];
pub const CONTRACT_FIELDS: &[&str] = &[
    "companyID",
    "contractName",
    "contractNumber",
    "contractType",
    "contractCategory",
    "status",
    "startDate",
    "endDate",
    "contractPeriodType",
];
pub const SERVICE_LINE_FIELDS: &[&str] = &[
    "contractID",
    "serviceID",
    "invoiceDescription",
    "internalDescription",
    // Not `adjustedPrice`: the documentation names it but the Swagger does not, and an unknown
    // field can make Autotask answer 500.
    "unitPrice",
];
pub const UNIT_FIELDS: &[&str] = &["contractServiceID", "startDate", "endDate", "units"];
pub const SERVICE_FIELDS: &[&str] = &[
    "name",
    "description",
    "invoiceDescription",
    "unitPrice",
    "isActive",
];
pub const PRODUCT_FIELDS: &[&str] = &[
    "name",
    "description",
    "sku",
    "internalProductID",
    "unitPrice",
    "isActive",
];

#[derive(Debug, Deserialize)]
pub struct CompanyRow {
    pub id: i64,
    pub companyname: Option<String>,
    pub companynumber: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub isactive: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct ContractRow {
    pub id: i64,
    pub companyid: i64,
    pub contractname: Option<String>,
    pub contractnumber: Option<String>,
    pub contracttype: Option<i64>,
    pub status: Option<i64>,
    pub startdate: Option<String>,
    pub enddate: Option<String>,
    pub contractperiodtype: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct ContractServiceRow {
    pub id: i64,
    pub contractid: i64,
    pub serviceid: Option<i64>,
    pub invoicedescription: Option<String>,
    pub internaldescription: Option<String>,
    #[serde(default, deserialize_with = "flex_f64")]
    pub unitprice: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct UnitRow {
    pub contractserviceid: i64,
    pub startdate: Option<String>,
    #[serde(default, deserialize_with = "flex_f64")]
    pub units: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct ServiceRow {
    pub id: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub invoicedescription: Option<String>,
    #[serde(default, deserialize_with = "flex_f64")]
    pub unitprice: Option<f64>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub isactive: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct ProductRow {
    pub id: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub sku: Option<String>,
    pub internalproductid: Option<String>,
    #[serde(default, deserialize_with = "flex_f64")]
    pub unitprice: Option<f64>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub isactive: Option<bool>,
}

/// Booleans arrive as `true`, `1` or `"true"` depending on the entity and era.
fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::Number(n)) => Some(n.as_f64() != Some(0.0)),
        Some(Value::String(s)) => Some(matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "1"
        )),
        _ => None,
    })
}

/// Decimals arrive as numbers (`12.0000`), and as strings in user-defined fields.
fn flex_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Picklist labels of the tenant (they differ between Autotask databases), with the codes
/// seen in the vendor's documentation as the fallback.
#[derive(Debug, Clone)]
pub struct Labels {
    contract_type: HashMap<i64, String>,
    contract_status: HashMap<i64, String>,
    period_type: HashMap<i64, String>,
    /// companyType codes labelled "Customer".
    pub customer_types: Vec<i64>,
}

impl Default for Labels {
    fn default() -> Self {
        let table =
            |pairs: &[(i64, &str)]| pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Self {
            contract_type: table(&[
                (1, "Time and Materials"),
                (3, "Fixed Price"),
                (4, "Block Hours"),
                (6, "Retainer"),
                (7, "Recurring Service"),
                (8, "Per Ticket"),
            ]),
            contract_status: table(&[(0, "Inactive"), (1, "Active")]),
            period_type: HashMap::new(),
            customer_types: vec![1],
        }
    }
}

impl Labels {
    /// Reads the picklists from entityInformation/fields. A tenant or sandbox that cannot
    /// answer leaves the documented defaults in place; refusals and the budget still stop us.
    pub async fn fetch(api: &Api) -> Result<Self, PsaError> {
        let mut labels = Self::default();
        let (companies, contracts) =
            futures::join!(fields(api, "Companies"), fields(api, "Contracts"));
        if let Some(fields) = tolerate(companies)? {
            let customer = codes_labelled(&picklist(&fields, "companytype"), "customer");
            if !customer.is_empty() {
                labels.customer_types = customer;
            }
        }
        if let Some(fields) = tolerate(contracts)? {
            merge(&mut labels.contract_type, picklist(&fields, "contracttype"));
            merge(&mut labels.contract_status, picklist(&fields, "status"));
            merge(
                &mut labels.period_type,
                picklist(&fields, "contractperiodtype"),
            );
        }
        Ok(labels)
    }

    pub fn customer(&self, row: CompanyRow) -> Customer {
        Customer {
            external_id: row.id.to_string(),
            name: text(row.companyname).unwrap_or_else(|| format!("Company {}", row.id)),
            identifier: text(row.companynumber),
            status: Some(
                if row.isactive == Some(false) {
                    "Inactive"
                } else {
                    "Active"
                }
                .into(),
            ),
        }
    }

    pub fn agreement(&self, row: ContractRow) -> Agreement {
        Agreement {
            external_id: row.id.to_string(),
            customer_external_id: row.companyid.to_string(),
            name: text(row.contractname)
                .or(text(row.contractnumber))
                .unwrap_or_else(|| format!("Contract {}", row.id)),
            // Autotask contracts have no parent contract.
            parent_external_id: None,
            agreement_type: label(&self.contract_type, row.contracttype, "type"),
            billing_cycle: label(&self.period_type, row.contractperiodtype, "period"),
            status: label(&self.contract_status, row.status, "status"),
            start_date: row.startdate.as_deref().and_then(day),
            end_date: row.enddate.as_deref().and_then(day),
        }
    }
}

fn tolerate(fetched: Result<Value, PsaError>) -> Result<Option<Value>, PsaError> {
    match fetched {
        Ok(value) => Ok(Some(value)),
        Err(e @ (PsaError::AutotaskRefused { .. } | PsaError::BudgetReserve { .. })) => Err(e),
        Err(e) => {
            tracing::info!(error = %e, "Autotask picklists unavailable; using the documented codes");
            Ok(None)
        }
    }
}

async fn fields(api: &Api, entity: &str) -> Result<Value, PsaError> {
    let url = api.url(&format!("{entity}/entityInformation/fields"))?;
    api.get(entity, url).await
}

/// `(code, label)` pairs of one picklist field, names compared case-insensitively.
fn picklist(fields: &Value, name: &str) -> Vec<(i64, String)> {
    let list = get_ci(fields, "fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let field = list.into_iter().find(|f| {
        get_ci(f, "name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    });
    let values = field
        .and_then(|f| get_ci(f, "picklistValues"))
        .and_then(Value::as_array);
    values
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let code = get_ci(v, "value").and_then(|c| {
                c.as_str()
                    .map(str::to_string)
                    .or(c.as_i64().map(|n| n.to_string()))
            })?;
            let label = get_ci(v, "label")?.as_str()?;
            Some((code.trim().parse().ok()?, label.to_string()))
        })
        .collect()
}

fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn codes_labelled(list: &[(i64, String)], wanted: &str) -> Vec<i64> {
    list.iter()
        .filter(|(_, l)| l.trim().eq_ignore_ascii_case(wanted))
        .map(|(c, _)| *c)
        .collect()
}

fn merge(into: &mut HashMap<i64, String>, list: Vec<(i64, String)>) {
    into.extend(list);
}

fn label(table: &HashMap<i64, String>, code: Option<i64>, kind: &str) -> Option<String> {
    let code = code?;
    Some(
        table
            .get(&code)
            .cloned()
            .unwrap_or_else(|| format!("{kind} {code}")),
    )
}

fn text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The date part of an Autotask datetime (always UTC; date-only values are midnight).
pub fn day(datetime: &str) -> Option<String> {
    let date = datetime.get(..10)?;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .map(|d| d.to_string())
}

/// A contract service with its current unit count (0 when no unit row covers today).
pub fn line(row: ContractServiceRow, units: Option<f64>) -> AgreementLine {
    let description = text(row.invoicedescription).or(text(row.internaldescription));
    AgreementLine {
        external_id: row.id.to_string(),
        agreement_external_id: row.contractid.to_string(),
        product_external_id: row.serviceid.map(service_id),
        description: description.unwrap_or_else(|| format!("Contract service {}", row.id)),
        quantity: units.unwrap_or(0.0),
        unit_price: row.unitprice,
        status: Some(
            if units.is_some() {
                "Current"
            } else {
                "No units this period"
            }
            .into(),
        ),
    }
}

/// Services and products share the catalog; their ids come from different tables, so each
/// external id says which one it is.
pub fn service_id(id: i64) -> String {
    format!("service:{id}")
}

pub fn service(row: ServiceRow) -> Product {
    let name = text(row.name);
    Product {
        external_id: service_id(row.id),
        identifier: name.clone(),
        description: name
            .or(text(row.invoicedescription))
            .or(text(row.description))
            .unwrap_or_else(|| format!("Service {}", row.id)),
        price: row.unitprice,
        active: row.isactive.unwrap_or(true),
    }
}

pub fn product(row: ProductRow) -> Product {
    Product {
        external_id: format!("product:{}", row.id),
        identifier: text(row.sku).or(text(row.internalproductid)),
        description: text(row.name)
            .or(text(row.description))
            .unwrap_or_else(|| format!("Product {}", row.id)),
        price: row.unitprice,
        active: row.isactive.unwrap_or(true),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn picklists_are_read_case_insensitively_with_string_codes() {
        let fields = json!({"fields": [
            {"name": "contractType", "isPickList": true, "picklistValues": [
                {"value": "7", "label": "Recurring Service"}, {"value": "12", "label": "Managed M365"}]},
            {"Name": "CompanyType", "PicklistValues": [{"Value": "1", "Label": "Customer"}, {"Value": "9", "Label": "customer "}, {"Value": "2", "Label": "Lead"}]}
        ]});
        assert_eq!(
            picklist(&fields, "contracttype"),
            vec![(7, "Recurring Service".into()), (12, "Managed M365".into())]
        );
        assert_eq!(
            codes_labelled(&picklist(&fields, "companytype"), "customer"),
            vec![1, 9]
        );
    }

    #[test]
    fn contracts_map_to_agreements_with_labels_and_dates() {
        let row: ContractRow = serde_json::from_value(json!({
            "id": 29685100, "companyid": 29684012, "contractname": "Contoso – Managed M365",
            "contracttype": 7, "status": 1, "startdate": "2024-04-01T00:00:00Z", "enddate": "2025-03-31T00:00:00",
            "contractperiodtype": 42
        })).unwrap();
        let a = Labels::default().agreement(row);
        assert_eq!(a.customer_external_id, "29684012");
        assert_eq!(a.agreement_type.as_deref(), Some("Recurring Service"));
        assert_eq!(a.status.as_deref(), Some("Active"));
        assert_eq!(a.billing_cycle.as_deref(), Some("period 42"));
        assert_eq!(
            (a.start_date.as_deref(), a.end_date.as_deref()),
            (Some("2024-04-01"), Some("2025-03-31"))
        );
    }

    #[test]
    fn services_and_products_get_distinct_catalog_ids() {
        let s: ServiceRow = serde_json::from_value(
            json!({"id": 5, "name": "M365 BP", "unitprice": 12.0, "isactive": 1}),
        )
        .unwrap();
        let p: ProductRow = serde_json::from_value(json!({"id": 5, "name": "Exchange P1", "sku": "EXO", "unitprice": "48.0000", "isactive": false})).unwrap();
        let (s, p) = (service(s), product(p));
        assert_ne!(s.external_id, p.external_id);
        assert!(s.active && !p.active);
        assert_eq!(p.price, Some(48.0));
        assert_eq!(p.identifier.as_deref(), Some("EXO"));
    }

    #[test]
    fn a_contract_service_without_current_units_has_quantity_zero() {
        let row: ContractServiceRow = serde_json::from_value(
            json!({"id": 1, "contractid": 2, "serviceid": 3, "unitprice": 12.0}),
        )
        .unwrap();
        let l = line(row, None);
        assert_eq!(l.quantity, 0.0);
        assert_eq!(l.product_external_id.as_deref(), Some("service:3"));
    }
}
