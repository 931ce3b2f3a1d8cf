//! Autotask JSON shapes of the seeded records, with the Swagger's field names. Unlike
//! ConnectWise, Autotask returns null fields, so every field is always present.

use serde_json::{Map, Value, json};

use crate::sandbox::data::{
    AGREEMENT_TYPES, AgreementStatus, CITIES, Dataset, FIRST_NAMES, LAST_NAMES, guid, iso,
};

/// The entities the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Companies,
    Contacts,
    Contracts,
    ContractServices,
    ContractServiceUnits,
    ContractServiceBundles,
    Services,
    ServiceBundles,
    Products,
    Tickets,
}

pub const ALL: &[Entity] = &[
    Entity::Companies,
    Entity::Contacts,
    Entity::Contracts,
    Entity::ContractServices,
    Entity::ContractServiceUnits,
    Entity::ContractServiceBundles,
    Entity::Services,
    Entity::ServiceBundles,
    Entity::Products,
    Entity::Tickets,
];

/// Two fixed service bundles: name, price.
const BUNDLES: &[(&str, f64)] = &[
    ("M365 Business Premium + Defender", 40.0),
    ("Managed Workstation Bundle", 65.0),
];

impl Entity {
    /// The route segment, matched case-insensitively.
    pub fn from_route(segment: &str) -> Option<Self> {
        ALL.iter()
            .copied()
            .find(|e| e.route().eq_ignore_ascii_case(segment))
    }

    pub fn route(self) -> &'static str {
        match self {
            Self::Companies => "Companies",
            Self::Contacts => "Contacts",
            Self::Contracts => "Contracts",
            Self::ContractServices => "ContractServices",
            Self::ContractServiceUnits => "ContractServiceUnits",
            Self::ContractServiceBundles => "ContractServiceBundles",
            Self::Services => "Services",
            Self::ServiceBundles => "ServiceBundles",
            Self::Products => "Products",
            Self::Tickets => "Tickets",
        }
    }

    /// Singular name used in error texts ("Unable to find x in the Contract Entity").
    pub fn singular(self) -> &'static str {
        match self {
            Self::Companies => "Company",
            Self::Contacts => "Contact",
            Self::Contracts => "Contract",
            Self::ContractServices => "ContractService",
            Self::ContractServiceUnits => "ContractServiceUnit",
            Self::ContractServiceBundles => "ContractServiceBundle",
            Self::Services => "Service",
            Self::ServiceBundles => "ServiceBundle",
            Self::Products => "Product",
            Self::Tickets => "Ticket",
        }
    }

    /// Id offset: large numbers like real tenants, distinct per entity.
    pub fn base_id(self) -> i64 {
        match self {
            Self::Companies => 29_684_000,
            Self::Contacts => 30_100_000,
            Self::Contracts => 29_685_000,
            Self::ContractServices => 29_686_000,
            Self::ContractServiceUnits => 29_687_000,
            Self::ContractServiceBundles => 29_688_000,
            Self::Services => 29_683_000,
            Self::ServiceBundles => 29_689_000,
            Self::Products => 29_690_000,
            Self::Tickets => 29_691_000,
        }
    }

    /// Row indexes of the entity, ascending.
    pub fn rows(self, data: &Dataset) -> Vec<usize> {
        match self {
            Self::Companies => (0..data.companies.len()).collect(),
            Self::Contacts => (0..data.contacts.len()).collect(),
            Self::Contracts => (0..data.agreements.len()).collect(),
            Self::ContractServices | Self::ContractServiceUnits => {
                (0..data.additions.len()).collect()
            }
            Self::ContractServiceBundles => (0..data.agreements.len())
                .filter(|a| has_bundle(*a))
                .collect(),
            Self::Services => (0..data.products.len())
                .filter(|p| data.products[*p].recurring)
                .collect(),
            Self::ServiceBundles => (0..BUNDLES.len()).collect(),
            Self::Products => (0..data.products.len()).collect(),
            Self::Tickets => (0..data.tickets.len()).collect(),
        }
    }

    pub fn render(self, data: &Dataset, idx: usize) -> Value {
        match self {
            Self::Companies => company(data, idx),
            Self::Contacts => contact(data, idx),
            Self::Contracts => contract(data, idx),
            Self::ContractServices => contract_service(data, idx),
            Self::ContractServiceUnits => contract_service_unit(data, idx),
            Self::ContractServiceBundles => contract_service_bundle(idx),
            Self::Services => service(data, idx),
            Self::ServiceBundles => service_bundle(idx),
            Self::Products => product(data, idx),
            Self::Tickets => ticket(data, idx),
        }
    }

    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Companies => COMPANY_FIELDS,
            Self::Contacts => CONTACT_FIELDS,
            Self::Contracts => CONTRACT_FIELDS,
            Self::ContractServices => CONTRACT_SERVICE_FIELDS,
            Self::ContractServiceUnits => CONTRACT_SERVICE_UNIT_FIELDS,
            Self::ContractServiceBundles => CONTRACT_SERVICE_BUNDLE_FIELDS,
            Self::Services => SERVICE_FIELDS,
            Self::ServiceBundles => SERVICE_BUNDLE_FIELDS,
            Self::Products => PRODUCT_FIELDS,
            Self::Tickets => TICKET_FIELDS,
        }
    }
}

/// Managed Services contracts (every third) carry one service bundle.
fn has_bundle(agreement: usize) -> bool {
    agreement.is_multiple_of(3)
}

/// Builds an object from field names and values given in the same order.
fn object(fields: &[&str], values: Vec<Value>) -> Value {
    let map: Map<String, Value> = fields
        .iter()
        .map(|f| (*f).to_string())
        .zip(values)
        .collect();
    Value::Object(map)
}

const COMPANY_FIELDS: &[&str] = &[
    "id",
    "additionalAddressInformation",
    "address1",
    "address2",
    "alternatePhone1",
    "alternatePhone2",
    "apiVendorID",
    "assetValue",
    "billToCompanyLocationID",
    "billToAdditionalAddressInformation",
    "billingAddress1",
    "billingAddress2",
    "billToAddressToUse",
    "billToAttention",
    "billToCity",
    "billToCountryID",
    "billToState",
    "billToZipCode",
    "city",
    "classification",
    "companyCategoryID",
    "companyName",
    "companyNumber",
    "companyType",
    "competitorID",
    "countryID",
    "createDate",
    "createdByResourceID",
    "currencyID",
    "fax",
    "impersonatorCreatorResourceID",
    "invoiceEmailMessageID",
    "invoiceMethod",
    "invoiceNonContractItemsToParentCompany",
    "invoiceTemplateID",
    "isActive",
    "isClientPortalActive",
    "isEnabledForComanaged",
    "isSample",
    "isTaskFireActive",
    "isTaxExempt",
    "lastActivityDate",
    "lastTrackedModifiedDateTime",
    "marketSegmentID",
    "ownerResourceID",
    "parentCompanyID",
    "phone",
    "postalCode",
    "purchaseOrderTemplateID",
    "quoteEmailMessageID",
    "quoteTemplateID",
    "sicCode",
    "state",
    "stockMarket",
    "stockSymbol",
    "surveyCompanyRating",
    "taxID",
    "taxRegionID",
    "territoryID",
    "webAddress",
    "userDefinedFields",
];

fn company(data: &Dataset, idx: usize) -> Value {
    let c = &data.companies[idx];
    let (city, state, zip, _) = CITIES[c.city as usize];
    let street = format!("{} Harbour Road", idx % 200 + 1);
    let country = json!(c.city as i64 + 1);
    let company_type = match c.type_id {
        2 => 3,
        3 => 7,
        _ => 1,
    };
    let udfs = json!([
        {"name": "Microsoft Tenant ID", "value": guid(idx as u64 + 7)},
        {"name": "Seats", "value": format!("{}.0000", c.seats)},
    ]);
    object(
        COMPANY_FIELDS,
        vec![
            json!(Entity::Companies.base_id() + idx as i64),
            json!(""),
            json!(street),
            Value::Null,
            json!(""),
            json!(""),
            Value::Null,
            Value::Null,
            Value::Null,
            json!(""),
            json!(street),
            json!(""),
            json!(1),
            json!(""),
            json!(city),
            country.clone(),
            json!(state),
            json!(zip),
            json!(city),
            Value::Null,
            json!(1),
            json!(c.name),
            json!(c.identifier.to_uppercase()),
            json!(company_type),
            Value::Null,
            country,
            json!(iso(c.entered)),
            json!(29_682_885),
            json!(1),
            json!(""),
            Value::Null,
            json!(1),
            json!(2),
            json!(false),
            json!(102),
            json!(c.active && !c.deleted),
            json!(false),
            json!(false),
            json!(false),
            json!(false),
            json!(false),
            json!(iso(c.updated)),
            json!(iso(c.updated)),
            Value::Null,
            json!(29_682_891),
            Value::Null,
            json!(format!("0{}", c.phone)),
            json!(zip),
            Value::Null,
            json!(2),
            json!(1),
            json!(""),
            json!(state),
            json!(""),
            json!(""),
            Value::Null,
            json!(""),
            Value::Null,
            Value::Null,
            json!(format!("www.{}.example", c.identifier.to_lowercase())),
            udfs,
        ],
    )
}

const CONTACT_FIELDS: &[&str] = &[
    "id",
    "additionalAddressInformation",
    "addressLine",
    "addressLine1",
    "alternatePhone",
    "apiVendorID",
    "bulkEmailOptOutTime",
    "city",
    "companyID",
    "companyLocationID",
    "countryID",
    "createDate",
    "emailAddress",
    "emailAddress2",
    "emailAddress3",
    "extension",
    "externalID",
    "facebookUrl",
    "faxNumber",
    "firstName",
    "impersonatorCreatorResourceID",
    "isActive",
    "isOptedOutFromBulkEmail",
    "lastActivityDate",
    "lastModifiedDate",
    "lastName",
    "linkedInUrl",
    "middleInitial",
    "mobilePhone",
    "namePrefix",
    "nameSuffix",
    "note",
    "receivesEmailNotifications",
    "phone",
    "primaryContact",
    "roomNumber",
    "solicitationOptOut",
    "solicitationOptOutTime",
    "state",
    "surveyOptOut",
    "title",
    "twitterUrl",
    "zipCode",
    "userDefinedFields",
];

fn contact(data: &Dataset, idx: usize) -> Value {
    let c = &data.contacts[idx];
    let company = &data.companies[c.company as usize];
    let (first, last) = (FIRST_NAMES[c.first as usize], LAST_NAMES[c.last as usize]);
    let (city, state, zip, _) = CITIES[company.city as usize];
    let email = format!("contact{idx}@{}.example", company.identifier.to_lowercase());
    object(
        CONTACT_FIELDS,
        vec![
            json!(Entity::Contacts.base_id() + idx as i64),
            json!(""),
            json!(""),
            json!(""),
            json!(""),
            Value::Null,
            Value::Null,
            json!(city),
            json!(Entity::Companies.base_id() + c.company as i64),
            Value::Null,
            json!(company.city as i64 + 1),
            json!(iso(company.entered)),
            json!(email),
            json!(""),
            json!(""),
            json!(""),
            json!(""),
            json!(""),
            json!(""),
            json!(first),
            Value::Null,
            json!(if c.inactive { 0 } else { 1 }),
            json!(false),
            Value::Null,
            json!(iso(c.updated)),
            json!(last),
            json!(""),
            json!(""),
            json!(""),
            Value::Null,
            Value::Null,
            json!(""),
            json!(true),
            json!(format!("0{}", company.phone)),
            json!(idx.is_multiple_of(2)),
            json!(""),
            json!(false),
            Value::Null,
            json!(state),
            json!(false),
            json!("IT Manager"),
            json!(""),
            json!(zip),
            json!([]),
        ],
    )
}

const CONTRACT_FIELDS: &[&str] = &[
    "id",
    "billingPreference",
    "billToCompanyContactID",
    "billToCompanyID",
    "companyID",
    "contactID",
    "contactName",
    "contractCategory",
    "contractExclusionSetID",
    "contractName",
    "contractNumber",
    "contractPeriodType",
    "contractType",
    "description",
    "endDate",
    "estimatedCost",
    "estimatedHours",
    "estimatedRevenue",
    "exclusionContractID",
    "internalCurrencyOverageBillingRate",
    "internalCurrencySetupFee",
    "isCompliant",
    "isDefaultContract",
    "opportunityID",
    "organizationalLevelAssociationID",
    "overageBillingRate",
    "purchaseOrderNumber",
    "renewedContractID",
    "serviceLevelAgreementID",
    "setupFee",
    "setupFeeBillingCodeID",
    "startDate",
    "status",
    "timeReportingRequiresStartAndStopTimes",
    "userDefinedFields",
];

fn contract(data: &Dataset, idx: usize) -> Value {
    let a = &data.agreements[idx];
    let (_, _, contract_type) = AGREEMENT_TYPES[a.type_idx as usize];
    let status = if a.status == AgreementStatus::Active {
        1
    } else {
        0
    };
    let end = a.end.unwrap_or(a.start + 3 * 365 * 86_400);
    object(
        CONTRACT_FIELDS,
        vec![
            json!(Entity::Contracts.base_id() + idx as i64),
            json!(2),
            Value::Null,
            Value::Null,
            json!(Entity::Companies.base_id() + a.company as i64),
            Value::Null,
            Value::Null,
            json!(13),
            Value::Null,
            json!(a.name),
            json!(format!("SBX-{}", idx + 1)),
            json!(if contract_type == 7 {
                json!(1)
            } else {
                Value::Null
            }),
            json!(contract_type),
            Value::Null,
            json!(iso(end)),
            json!(0.0),
            json!(0.0),
            json!(a.bill_amount),
            Value::Null,
            Value::Null,
            json!(0.0),
            json!(true),
            json!(idx == 0),
            Value::Null,
            Value::Null,
            Value::Null,
            json!(""),
            Value::Null,
            Value::Null,
            json!(0.0),
            Value::Null,
            json!(iso(a.start)),
            json!(status),
            json!(0),
            json!([]),
        ],
    )
}

const CONTRACT_SERVICE_FIELDS: &[&str] = &[
    "id",
    "contractID",
    "internalCurrencyAdjustedPrice",
    "internalCurrencyUnitPrice",
    "internalDescription",
    "invoiceDescription",
    "quoteItemID",
    "serviceID",
    "unitCost",
    "unitPrice",
];

fn contract_service(data: &Dataset, idx: usize) -> Value {
    let line = &data.additions[idx];
    let p = &data.products[line.product as usize];
    object(
        CONTRACT_SERVICE_FIELDS,
        vec![
            json!(Entity::ContractServices.base_id() + idx as i64),
            json!(Entity::Contracts.base_id() + line.agreement as i64),
            json!(p.price),
            json!(p.price),
            json!(""),
            json!(format!("{} (per user / month)", p.description)),
            Value::Null,
            json!(Entity::Services.base_id() + line.product as i64),
            json!(p.cost),
            json!(p.price),
        ],
    )
}

const CONTRACT_SERVICE_UNIT_FIELDS: &[&str] = &[
    "id",
    "approveAndPostDate",
    "contractID",
    "contractServiceID",
    "cost",
    "endDate",
    "internalCurrencyPrice",
    "organizationalLevelAssociationID",
    "price",
    "serviceID",
    "startDate",
    "units",
    "vendorCompanyID",
];

/// One unit row per 30-day billing period, as Autotask keeps them.
const UNIT_PERIOD_SECS: i64 = 30 * 86_400;

/// An active line's unit row is the one of the period covering today, so clients that read
/// "the current quantity" find one; a cancelled line keeps its first period.
fn current_period_start(effective: i64, active: bool) -> i64 {
    let now = chrono::Utc::now().timestamp();
    if !active || now < effective {
        return effective;
    }
    effective + (now - effective) / UNIT_PERIOD_SECS * UNIT_PERIOD_SECS
}

fn contract_service_unit(data: &Dataset, idx: usize) -> Value {
    let line = &data.additions[idx];
    let p = &data.products[line.product as usize];
    let units = if line.cancelled.is_some() {
        0
    } else {
        line.quantity
    };
    let price = (p.price * units as f64 * 100.0).round() / 100.0;
    let start = current_period_start(line.effective, line.cancelled.is_none());
    object(
        CONTRACT_SERVICE_UNIT_FIELDS,
        vec![
            json!(Entity::ContractServiceUnits.base_id() + idx as i64),
            Value::Null,
            json!(Entity::Contracts.base_id() + line.agreement as i64),
            json!(Entity::ContractServices.base_id() + idx as i64),
            json!((p.cost * units as f64 * 100.0).round() / 100.0),
            json!(iso(start + UNIT_PERIOD_SECS)),
            json!(price),
            Value::Null,
            json!(price),
            json!(Entity::Services.base_id() + line.product as i64),
            json!(iso(start)),
            json!(units),
            Value::Null,
        ],
    )
}

const CONTRACT_SERVICE_BUNDLE_FIELDS: &[&str] = &[
    "id",
    "adjustedPrice",
    "contractID",
    "internalCurrencyAdjustedPrice",
    "internalCurrencyUnitPrice",
    "internalDescription",
    "invoiceDescription",
    "quoteItemID",
    "serviceBundleID",
    "unitPrice",
];

fn contract_service_bundle(agreement: usize) -> Value {
    let (name, price) = BUNDLES[agreement % BUNDLES.len()];
    object(
        CONTRACT_SERVICE_BUNDLE_FIELDS,
        vec![
            json!(Entity::ContractServiceBundles.base_id() + agreement as i64),
            json!(price),
            json!(Entity::Contracts.base_id() + agreement as i64),
            json!(price),
            json!(price),
            json!(""),
            json!(name),
            Value::Null,
            json!(Entity::ServiceBundles.base_id() + (agreement % BUNDLES.len()) as i64),
            json!(price),
        ],
    )
}

const SERVICE_FIELDS: &[&str] = &[
    "id",
    "billingCodeID",
    "createDate",
    "creatorResourceID",
    "description",
    "invoiceDescription",
    "isActive",
    "lastModifiedDate",
    "markupRate",
    "name",
    "periodType",
    "serviceLevelAgreementID",
    "unitCost",
    "unitPrice",
    "updateResourceID",
    "vendorCompanyID",
];

fn service(data: &Dataset, idx: usize) -> Value {
    let p = &data.products[idx];
    object(
        SERVICE_FIELDS,
        vec![
            json!(Entity::Services.base_id() + idx as i64),
            json!(29_682_801),
            json!("2021-09-02T12:00:14.8Z"),
            json!(29_682_885),
            json!("Licence resale"),
            json!(format!("{} (per user / month)", p.description)),
            json!(!p.inactive),
            json!("2023-11-20T10:41:07.12Z"),
            Value::Null,
            json!(p.description),
            json!(1),
            Value::Null,
            json!(p.cost),
            json!(p.price),
            json!(29_682_885),
            Value::Null,
        ],
    )
}

const SERVICE_BUNDLE_FIELDS: &[&str] = &[
    "id",
    "billingCodeID",
    "createDate",
    "creatorResourceID",
    "description",
    "invoiceDescription",
    "isActive",
    "lastModifiedDate",
    "name",
    "percentageDiscount",
    "periodType",
    "serviceLevelAgreementID",
    "unitCost",
    "unitDiscount",
    "unitPrice",
    "updateResourceID",
];

fn service_bundle(idx: usize) -> Value {
    let (name, price) = BUNDLES[idx];
    object(
        SERVICE_BUNDLE_FIELDS,
        vec![
            json!(Entity::ServiceBundles.base_id() + idx as i64),
            json!(29_682_801),
            json!("2022-02-01T08:00:00Z"),
            json!(29_682_885),
            json!(name),
            json!(name),
            json!(true),
            json!("2023-11-20T10:41:07.12Z"),
            json!(name),
            json!(0.0),
            json!(1),
            Value::Null,
            json!(price * 0.8),
            json!(0.0),
            json!(price),
            json!(29_682_885),
        ],
    )
}

const PRODUCT_FIELDS: &[&str] = &[
    "id",
    "billingType",
    "chargeBillingCodeID",
    "defaultVendorID",
    "description",
    "doesNotRequireProcurement",
    "externalProductID",
    "impersonatorCreatorResourceID",
    "internalProductID",
    "isActive",
    "isEligibleForRma",
    "isSerialized",
    "link",
    "manufacturerName",
    "manufacturerProductName",
    "markupRate",
    "msrp",
    "name",
    "periodType",
    "priceCostMethod",
    "productBillingCodeID",
    "productCategory",
    "sku",
    "unitCost",
    "unitPrice",
    "vendorProductNumber",
    "defaultInstalledProductCategoryID",
    "userDefinedFields",
];

fn product(data: &Dataset, idx: usize) -> Value {
    let p = &data.products[idx];
    let annual = p.recurring;
    let name = if annual {
        format!("{} (annual)", p.description)
    } else {
        p.description.clone()
    };
    object(
        PRODUCT_FIELDS,
        vec![
            json!(Entity::Products.base_id() + idx as i64),
            json!(1),
            Value::Null,
            Value::Null,
            json!(p.description),
            json!(annual),
            json!(""),
            Value::Null,
            json!(p.identifier),
            json!(!p.inactive),
            json!(false),
            json!(false),
            json!(""),
            json!(p.manufacturer),
            json!(p.description),
            Value::Null,
            json!(p.price * 12.0),
            json!(name),
            Value::Null,
            json!(1),
            json!(29_682_802),
            json!(p.category),
            json!(format!("{}-ANNUAL", p.identifier)),
            json!(p.cost * 12.0),
            json!(p.price * 12.0),
            json!(""),
            Value::Null,
            json!([]),
        ],
    )
}

const TICKET_FIELDS: &[&str] = &[
    "id",
    "companyID",
    "title",
    "description",
    "status",
    "priority",
    "queueID",
    "createDate",
    "ticketNumber",
    "completedDate",
    "userDefinedFields",
];

fn ticket(data: &Dataset, idx: usize) -> Value {
    let t = &data.tickets[idx];
    object(
        TICKET_FIELDS,
        vec![
            json!(Entity::Tickets.base_id() + idx as i64),
            json!(Entity::Companies.base_id() + t.company as i64),
            json!(t.title),
            json!("Raised by the sandbox"),
            json!(if t.complete { 5 } else { 1 }),
            json!(2),
            json!(29_683_481),
            json!(iso(t.created)),
            json!(format!("T20240101.{:04}", idx + 1)),
            if t.complete {
                json!(iso(t.created + 86_400))
            } else {
                Value::Null
            },
            json!([]),
        ],
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sandbox::data::DataSizes;

    #[test]
    fn every_entity_renders_exactly_its_declared_fields() {
        let data = Dataset::generate(5, DataSizes::default());
        for entity in ALL {
            let idx = entity.rows(&data)[0];
            let rendered = entity.render(&data, idx);
            let keys: Vec<&String> = rendered.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), entity.fields().len(), "{entity:?}");
        }
    }
}
