//! ConnectWise JSON as it arrives, read tolerantly (absent keys are null, older model versions,
//! `IsCloud` as text or boolean), and its conversion into the portal's records.

use serde::{Deserialize, Deserializer};

use crate::psa::records::{Agreement, AgreementLine, Customer, Product};

/// `GET /login/companyinfo/{id}`; PascalCase, unlike the REST API.
#[derive(Debug, Clone, Deserialize)]
pub struct CompanyInfo {
    #[serde(rename = "Codebase")]
    pub codebase: Option<String>,
    #[serde(rename = "VersionCode")]
    pub version_code: Option<String>,
    #[serde(rename = "VersionNumber")]
    pub version_number: Option<String>,
    #[serde(rename = "IsCloud", default, deserialize_with = "flexible_bool")]
    pub is_cloud: Option<bool>,
}

/// Accepts `true`, `"True"`, `"false"`, ... and treats anything else as unknown.
fn flexible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) => s.trim().to_ascii_lowercase().parse().ok(),
        _ => None,
    })
}

/// `GET /system/info`.
#[derive(Debug, Deserialize)]
pub struct SystemInfo {
    pub version: Option<String>,
}

/// `GET .../count`.
#[derive(Debug, Deserialize)]
pub struct Count {
    pub count: u64,
}

/// `{id, name}` reference; `name` is absent on some references.
#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub identifier: Option<String>,
}

/// `parentAgreement` (2019.1+): its `type` is the parent's type name, as text.
#[derive(Debug, Clone, Deserialize)]
pub struct AgreementReference {
    pub id: i64,
    #[serde(rename = "type")]
    pub type_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    pub id: i64,
    pub identifier: Option<String>,
    pub name: Option<String>,
    pub status: Option<Reference>,
    #[serde(default)]
    pub deleted_flag: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CwAgreement {
    pub id: i64,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub agreement_type: Option<Reference>,
    pub company: Option<Reference>,
    pub parent_agreement: Option<AgreementReference>,
    /// Models up to 2018.6 carry only the id.
    pub parent_agreement_id: Option<i64>,
    pub billing_cycle: Option<Reference>,
    pub bill_cycle_id: Option<i64>,
    pub agreement_status: Option<String>,
    #[serde(default)]
    pub cancelled_flag: bool,
    #[serde(default)]
    pub no_ending_date_flag: bool,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Addition {
    pub id: i64,
    pub product: Option<Reference>,
    pub quantity: Option<f64>,
    pub unit_price: Option<f64>,
    pub description: Option<String>,
    pub invoice_description: Option<String>,
    pub agreement_status: Option<String>,
    pub cancelled_date: Option<String>,
    pub agreement_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogItem {
    pub id: i64,
    pub identifier: Option<String>,
    pub description: Option<String>,
    pub price: Option<f64>,
    #[serde(default)]
    pub inactive_flag: bool,
}

impl From<Company> for Customer {
    fn from(c: Company) -> Self {
        Customer {
            external_id: c.id.to_string(),
            name: c.name.or_else(|| c.identifier.clone()).unwrap_or_default(),
            identifier: c.identifier,
            status: c.status.and_then(|s| s.name),
        }
    }
}

impl CwAgreement {
    /// The parent's id, from the current or the pre-2019 model.
    pub fn parent_id(&self) -> Option<i64> {
        self.parent_agreement
            .as_ref()
            .map(|p| p.id)
            .or(self.parent_agreement_id)
    }

    /// Whether its additions are retrieved: the status when the server sends one, otherwise
    /// not cancelled and not ended (models before 2019.4 have no status).
    pub fn is_active(&self, today: &str) -> bool {
        if let Some(status) = &self.agreement_status {
            return status.eq_ignore_ascii_case("active");
        }
        let ended = !self.no_ending_date_flag
            && self
                .end_date
                .as_deref()
                .is_some_and(|end| end.get(..10).unwrap_or(end) < today);
        !self.cancelled_flag && !ended
    }

    pub fn into_record(self) -> Agreement {
        let parent = self.parent_id();
        let status = self
            .agreement_status
            .or_else(|| self.cancelled_flag.then(|| "Cancelled".to_string()));
        let cycle = self.billing_cycle.and_then(|b| b.name);
        Agreement {
            external_id: self.id.to_string(),
            customer_external_id: self
                .company
                .and_then(|c| c.id)
                .map(|id| id.to_string())
                .unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            parent_external_id: parent.map(|p| p.to_string()),
            agreement_type: self.agreement_type.and_then(|t| t.name),
            billing_cycle: cycle.or_else(|| self.bill_cycle_id.map(|id| format!("#{id}"))),
            status,
            start_date: self.start_date.map(normalise_date),
            end_date: self.end_date.map(normalise_date),
        }
    }
}

impl Addition {
    pub fn into_record(self, agreement_id: i64) -> AgreementLine {
        let status = self.agreement_status.or_else(|| {
            self.cancelled_date
                .is_some()
                .then(|| "Cancelled".to_string())
        });
        let description = self.description.or(self.invoice_description);
        let product = self.product;
        AgreementLine {
            external_id: self.id.to_string(),
            agreement_external_id: self.agreement_id.unwrap_or(agreement_id).to_string(),
            product_external_id: product.as_ref().and_then(|p| p.id).map(|id| id.to_string()),
            description: description
                .or_else(|| product.and_then(|p| p.identifier))
                .unwrap_or_default(),
            quantity: self.quantity.unwrap_or(0.0),
            unit_price: self.unit_price,
            status,
        }
    }
}

impl From<CatalogItem> for Product {
    fn from(p: CatalogItem) -> Self {
        Product {
            external_id: p.id.to_string(),
            description: p
                .description
                .or_else(|| p.identifier.clone())
                .unwrap_or_default(),
            identifier: p.identifier,
            price: p.price,
            active: !p.inactive_flag,
        }
    }
}

/// ConnectWise sends `2024-07-01T00:00:00Z`; other offsets are turned into UTC and values that
/// are not dates are kept as sent rather than lost.
pub fn normalise_date(raw: String) -> String {
    let text = raw.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return at
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return format!("{day}T00:00:00Z");
    }
    text.to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn info(json: &str) -> CompanyInfo {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn is_cloud_is_read_as_text_or_boolean() {
        assert_eq!(info(r#"{"IsCloud":"True"}"#).is_cloud, Some(true));
        assert_eq!(info(r#"{"IsCloud":"false"}"#).is_cloud, Some(false));
        assert_eq!(info(r#"{"IsCloud":true}"#).is_cloud, Some(true));
        assert_eq!(info(r#"{"IsCloud":null}"#).is_cloud, None);
        assert_eq!(info(r#"{}"#).is_cloud, None);
    }

    #[test]
    fn a_child_agreement_reads_its_parent_from_either_model_version() {
        let new: CwAgreement =
            serde_json::from_str(r#"{"id":2,"parentAgreement":{"id":7,"type":"Managed"}}"#)
                .unwrap();
        let old: CwAgreement = serde_json::from_str(r#"{"id":2,"parentAgreementId":7}"#).unwrap();
        assert_eq!(new.into_record().parent_external_id.as_deref(), Some("7"));
        assert_eq!(old.into_record().parent_external_id.as_deref(), Some("7"));
    }

    #[test]
    fn an_end_date_with_odd_characters_never_panics() {
        let a: CwAgreement = serde_json::from_str(r#"{"id":3,"endDate":"2025-01-0€x"}"#).unwrap();
        assert!(
            !a.is_active("2026-01-01"),
            "a past end date ends it, odd characters and all"
        );
        assert!(a.is_active("2024-01-01"));
    }

    #[test]
    fn an_agreement_with_only_its_id_still_reads() {
        let a: CwAgreement = serde_json::from_str(r#"{"id":5}"#).unwrap();
        let r = a.into_record();
        assert_eq!(
            (r.external_id.as_str(), r.name.as_str(), r.status),
            ("5", "", None)
        );
    }

    #[test]
    fn activity_follows_the_status_or_else_cancellation_and_end_date() {
        let read = |j: &str| serde_json::from_str::<CwAgreement>(j).unwrap();
        assert!(read(r#"{"id":1,"agreementStatus":"Active"}"#).is_active("2025-01-01"));
        assert!(!read(r#"{"id":1,"agreementStatus":"Expired"}"#).is_active("2025-01-01"));
        assert!(!read(r#"{"id":1,"cancelledFlag":true}"#).is_active("2025-01-01"));
        assert!(!read(r#"{"id":1,"endDate":"2024-12-31T00:00:00Z"}"#).is_active("2025-01-01"));
        assert!(read(r#"{"id":1,"endDate":"2025-12-31T00:00:00Z"}"#).is_active("2025-01-01"));
    }

    #[test]
    fn a_cancelled_addition_is_marked_by_status() {
        let a: Addition =
            serde_json::from_str(r#"{"id":9,"cancelledDate":"2025-01-01T00:00:00Z","quantity":3}"#)
                .unwrap();
        let line = a.into_record(44);
        assert_eq!(line.status.as_deref(), Some("Cancelled"));
        assert_eq!(line.agreement_external_id, "44");
        assert_eq!(line.quantity, 3.0);
    }

    #[test]
    fn dates_are_normalised_to_utc_and_odd_values_are_kept() {
        assert_eq!(
            normalise_date("2024-03-17T00:00:00Z".into()),
            "2024-03-17T00:00:00Z"
        );
        assert_eq!(
            normalise_date("2024-03-17T00:00:00+11:00".into()),
            "2024-03-16T13:00:00Z"
        );
        assert_eq!(normalise_date("2024-03-17".into()), "2024-03-17T00:00:00Z");
        assert_eq!(normalise_date("17/03/2024".into()), "17/03/2024");
    }
}
