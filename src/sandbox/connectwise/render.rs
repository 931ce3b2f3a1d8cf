//! ConnectWise JSON shapes of the seeded records: camelCase fields, reference objects with
//! `_info` hrefs named after the target entity, and null fields left out.

use serde_json::{Map, Value, json};

use crate::sandbox::data::{
    AGREEMENT_TYPES, CITIES, COMPANY_TYPES, Dataset, FIRST_NAMES, LAST_NAMES, LOCATIONS, guid, iso,
};

/// Id offsets, so a company id never equals an agreement id by accident.
pub const COMPANY_BASE: i64 = 19_300;
pub const CONTACT_BASE: i64 = 800;
pub const AGREEMENT_BASE: i64 = 2_200;
pub const ADDITION_BASE: i64 = 5_500;
pub const CATALOG_BASE: i64 = 370;
pub const TICKET_BASE: i64 = 41_000;
pub const TYPE_BASE: i64 = 1;

/// What a rendering depends on besides the record.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `{scheme}://{host}/{codebase}apis/3.0`, the base of every href.
    pub api_root: String,
    /// The model version the client pinned with `Accept`, as (year, release).
    pub version: (u16, u16),
}

impl Ctx {
    fn href(&self, path: &str) -> String {
        format!("{}/{path}", self.api_root)
    }

    /// Models up to 2018.6 carried `parentAgreementId` instead of `parentAgreement`.
    fn legacy_parent(&self) -> bool {
        self.version < (2019, 1)
    }

    /// `agreementStatus` arrived in 2019.4.
    fn has_agreement_status(&self) -> bool {
        self.version >= (2019, 4)
    }
}

fn reference(ctx: &Ctx, id: i64, label: (&str, &str), href_key: &str, path: &str) -> Value {
    let mut info = Map::new();
    info.insert(format!("{href_key}_href"), json!(ctx.href(path)));
    json!({"id": id, label.0: label.1, "_info": info})
}

pub fn company_ref(ctx: &Ctx, data: &Dataset, idx: usize) -> Value {
    let company = &data.companies[idx];
    let id = COMPANY_BASE + idx as i64;
    let mut value = reference(
        ctx,
        id,
        ("identifier", &company.identifier),
        "company",
        &format!("company/companies/{id}"),
    );
    value["name"] = json!(company.name);
    value
}

fn contact_ref(ctx: &Ctx, data: &Dataset, idx: usize) -> Value {
    let id = CONTACT_BASE + idx as i64;
    reference(
        ctx,
        id,
        ("name", &contact_name(data, idx)),
        "contact",
        &format!("company/contacts/{id}"),
    )
}

fn contact_name(data: &Dataset, idx: usize) -> String {
    let contact = &data.contacts[idx];
    format!(
        "{} {}",
        FIRST_NAMES[contact.first as usize], LAST_NAMES[contact.last as usize]
    )
}

fn type_ref(ctx: &Ctx, type_idx: usize) -> Value {
    let id = TYPE_BASE + type_idx as i64;
    reference(
        ctx,
        id,
        ("name", AGREEMENT_TYPES[type_idx].0),
        "type",
        &format!("finance/agreements/types/{id}"),
    )
}

fn monthly(ctx: &Ctx) -> Value {
    reference(
        ctx,
        2,
        ("name", "Monthly"),
        "billingCycle",
        "finance/billingCycles/2",
    )
}

fn info(ctx: &Ctx, updated: i64, extra: &[(&str, String)]) -> Value {
    let mut map = Map::new();
    map.insert("lastUpdated".into(), json!(iso(updated)));
    map.insert("updatedBy".into(), json!("apisync"));
    for (key, path) in extra {
        map.insert((*key).into(), json!(ctx.href(path)));
    }
    Value::Object(map)
}

/// The first contact of a company, if it has any.
fn default_contact(data: &Dataset, company: usize) -> Option<usize> {
    let per = data.contacts.len().checked_div(data.companies.len())?;
    (per > 0).then_some(company * per)
}

pub fn company(ctx: &Ctx, data: &Dataset, idx: usize) -> Value {
    let c = &data.companies[idx];
    let id = COMPANY_BASE + idx as i64;
    let (city, state, zip, country) = CITIES[c.city as usize];
    let status = if c.active {
        (1, "Active")
    } else {
        (2, "Inactive")
    };
    let type_id = c.type_id as i64;
    let mut v = json!({
        "id": id, "identifier": c.identifier, "name": c.name,
        "status": reference(ctx, status.0, ("name", status.1), "status", &format!("company/companies/statuses/{}", status.0)),
        "addressLine1": format!("{} Harbour Street", idx % 200 + 1), "city": city, "zip": zip,
        "country": json!({"id": c.city as i64 + 1, "identifier": country, "name": country}),
        "phoneNumber": format!("0{}", c.phone),
        "website": format!("www.{}.example", c.identifier.to_lowercase()),
        "territory": reference(ctx, c.territory as i64, ("name", LOCATIONS[c.territory as usize - 1]), "location", &format!("system/locations/{}", c.territory)),
        "leadFlag": false, "unsubscribeFlag": false,
        "billToCompany": company_stub(ctx, data, idx),
        "deletedFlag": c.deleted, "mobileGuid": guid(id as u64), "isVendorFlag": c.type_id == 3,
        "types": [reference(ctx, type_id, ("name", COMPANY_TYPES[c.type_id as usize - 1]), "type", &format!("company/companies/types/{type_id}"))],
        "_info": info(ctx, c.updated, &[
            ("contacts_href", format!("company/contacts?conditions=company/id={id}")),
            ("agreements_href", format!("finance/agreements?conditions=company/id={id}")),
            ("sites_href", format!("company/companies/{id}/sites")),
        ]),
    });
    v["_info"]["dateEntered"] = json!(iso(c.entered));
    v["_info"]["enteredBy"] = json!("jsmith");
    if !state.is_empty() {
        v["state"] = json!(state);
    }
    if let Some(contact) = default_contact(data, idx) {
        v["defaultContact"] = contact_ref(ctx, data, contact);
    }
    if c.deleted {
        v["dateDeleted"] = json!(iso(c.updated));
        v["deletedBy"] = json!("jsmith");
    }
    v
}

fn company_stub(ctx: &Ctx, data: &Dataset, idx: usize) -> Value {
    company_ref(ctx, data, idx)
}

pub fn contact(ctx: &Ctx, data: &Dataset, idx: usize) -> Value {
    let c = &data.contacts[idx];
    let id = CONTACT_BASE + idx as i64;
    let (first, last) = (FIRST_NAMES[c.first as usize], LAST_NAMES[c.last as usize]);
    let company = &data.companies[c.company as usize];
    let email = format!(
        "{}.{}{}@{}.example",
        ascii(first),
        ascii(last),
        idx,
        company.identifier.to_lowercase()
    );
    json!({
        "id": id, "firstName": first, "lastName": last,
        "company": company_ref(ctx, data, c.company as usize),
        "inactiveFlag": c.inactive, "marriedFlag": false, "childrenFlag": false,
        "disablePortalLoginFlag": false, "unsubscribeFlag": false,
        "mobileGuid": guid(id as u64 + 1_000_000),
        "defaultBillingFlag": idx.is_multiple_of(2), "defaultFlag": idx.is_multiple_of(2),
        "communicationItems": [{
            "id": id, "type": {"id": 1, "name": "Email"}, "value": email,
            "defaultFlag": true, "communicationType": "Email"
        }],
        "types": [],
        "_info": info(ctx, c.updated, &[("notes_href", format!("company/contacts/{id}/notes"))]),
    })
}

fn ascii(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_lowercase()
}

pub fn agreement(ctx: &Ctx, data: &Dataset, idx: usize) -> Value {
    let a = &data.agreements[idx];
    let mut v = json!({
        "id": AGREEMENT_BASE + idx as i64, "name": a.name,
        "type": type_ref(ctx, a.type_idx as usize),
        "company": company_ref(ctx, data, a.company as usize),
        "restrictLocationFlag": false, "restrictDepartmentFlag": false,
        "startDate": iso(a.start), "noEndingDateFlag": a.end.is_none(),
        "cancelledFlag": a.status == crate::sandbox::data::AgreementStatus::Cancelled,
        "applicationUnits": "Amount", "applicationUnlimitedFlag": false, "oneTimeFlag": false,
        "coverAgreementTime": false, "coverAgreementProduct": false, "coverAgreementExpense": false,
        "coverSalesTax": false, "carryOverUnused": false, "allowOverruns": false,
        "expireWhenZero": false, "chargeToFirm": false,
        "employeeCompRate": "Actual", "employeeCompNotExceed": "Billing",
        "billingCycle": monthly(ctx), "billOneTimeFlag": false, "invoicingCycle": "CalendarYear",
        "billAmount": a.bill_amount, "taxable": true, "billStartDate": iso(a.start),
        "prorateFlag": true, "billTime": "NoDefault", "billExpenses": "NoDefault",
        "billProducts": "Billable", "billableTimeInvoice": false, "billableExpenseInvoice": false,
        "billableProductInvoice": false, "autoInvoiceFlag": false,
        "_info": info(ctx, a.updated, &[]),
    });
    if let Some(contact) = default_contact(data, a.company as usize) {
        v["contact"] = contact_ref(ctx, data, contact);
    }
    if let Some(end) = a.end {
        v["endDate"] = json!(iso(end));
    }
    if a.status == crate::sandbox::data::AgreementStatus::Cancelled {
        v["dateCancelled"] = json!(iso(a.updated));
        v["reasonCancelled"] = json!("Customer moved to another provider");
    }
    if let Some(parent) = a.parent {
        add_parent(ctx, data, &mut v, parent as usize);
    }
    if ctx.has_agreement_status() {
        v["agreementStatus"] = json!(a.status.as_str());
    }
    v
}

fn add_parent(ctx: &Ctx, data: &Dataset, v: &mut Value, parent: usize) {
    let id = AGREEMENT_BASE + parent as i64;
    if ctx.legacy_parent() {
        v["parentAgreementId"] = json!(id);
        return;
    }
    let p = &data.agreements[parent];
    v["parentAgreement"] = json!({
        "id": id, "name": p.name, "type": AGREEMENT_TYPES[p.type_idx as usize].0,
        "chargeFirmFlag": false,
        "_info": {"agreement_href": ctx.href(&format!("finance/agreements/{id}")), "typeId": (TYPE_BASE + p.type_idx as i64).to_string()},
    });
}

pub fn agreement_type(ctx: &Ctx, idx: usize) -> Value {
    let (name, inactive, _) = AGREEMENT_TYPES[idx];
    json!({
        "id": TYPE_BASE + idx as i64, "name": name, "defaultFlag": idx == 0, "inactiveFlag": inactive,
        "prePaymentFlag": false, "restrictLocationFlag": false, "restrictDepartmentFlag": false,
        "applicationUnits": "Amount", "applicationUnlimitedFlag": false, "oneTimeFlag": false,
        "employeeCompRate": "Actual", "employeeCompNotExceed": "Billing", "invoicingCycle": "CalendarYear",
        "billingCycle": monthly(ctx), "billTime": "NoDefault", "billExpenses": "NoDefault", "billProducts": "Billable",
        "taxableFlag": true, "prorateFlag": true, "autoInvoiceFlag": false,
        "_info": {"lastUpdated": "2021-01-04T09:00:00Z", "updatedBy": "jsmith"},
    })
}

pub fn addition(ctx: &Ctx, data: &Dataset, idx: usize) -> Value {
    let line = &data.additions[idx];
    let product = &data.products[line.product as usize];
    let quantity = line.quantity as f64;
    let product_id = CATALOG_BASE + line.product as i64;
    let status = if line.cancelled.is_some() {
        "Cancelled"
    } else {
        data.agreements[line.agreement as usize].status.as_str()
    };
    let mut v = json!({
        "id": ADDITION_BASE + idx as i64,
        "product": {"id": product_id, "identifier": product.identifier, "serializedFlag": false,
                    "_info": {"ivItem_href": ctx.href(&format!("procurement/catalog/{product_id}"))}},
        "quantity": quantity, "lessIncluded": 0.0, "unitPrice": product.price, "unitCost": product.cost,
        "billCustomer": "Billable", "effectiveDate": iso(line.effective), "taxableFlag": true,
        "invoiceDescription": format!("{} (monthly)", product.description),
        "purchaseItemFlag": false, "specialOrderFlag": false,
        "agreementId": AGREEMENT_BASE + line.agreement as i64,
        "description": product.description, "billedQuantity": quantity, "uom": "Each",
        "extPrice": round(product.price * quantity), "extCost": round(product.cost * quantity),
        "sequenceNumber": 1.0, "margin": round((product.price - product.cost) * quantity),
        "prorateCurrentPeriodFlag": false,
        "_info": info(ctx, line.effective, &[]),
    });
    if let Some(cancelled) = line.cancelled {
        v["cancelledDate"] = json!(iso(cancelled));
    }
    if ctx.has_agreement_status() {
        v["agreementStatus"] = json!(status);
    }
    v
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A service ticket, with the fields the portal's permission probe and the fidelity checks read.
pub fn ticket(ctx: &Ctx, data: &Dataset, idx: usize) -> Value {
    let t = &data.tickets[idx];
    let status = if t.complete {
        (6, "Completed")
    } else {
        (1, "New")
    };
    json!({
        "id": TICKET_BASE + idx as i64, "summary": t.title, "recordType": "ServiceTicket",
        "company": company_ref(ctx, data, t.company as usize),
        "status": reference(ctx, status.0, ("name", status.1), "status", &format!("service/boards/1/statuses/{}", status.0)),
        "board": reference(ctx, 1, ("name", "Help Desk"), "board", "service/boards/1"),
        "closedFlag": t.complete,
        "_info": {"dateEntered": iso(t.created), "enteredBy": "jsmith"},
    })
}

pub fn catalog_item(ctx: &Ctx, data: &Dataset, idx: usize) -> Value {
    let p = &data.products[idx];
    let category = ["Software", "Hardware", "Services"][p.category as usize - 1];
    let mut v = json!({
        "id": CATALOG_BASE + idx as i64, "identifier": p.identifier, "description": p.description,
        "inactiveFlag": p.inactive,
        "subcategory": reference(ctx, p.category as i64 + 8, ("name", if p.category == 1 { "Microsoft 365" } else { category }), "subcategory", &format!("procurement/subcategories/{}", p.category as i64 + 8)),
        "type": reference(ctx, 4, ("name", if p.recurring { "Licence" } else { "Goods" }), "type", "procurement/types/4"),
        "productClass": if p.recurring { "NonInventory" } else { "Inventory" },
        "serializedFlag": false, "serializedCostFlag": false, "phaseProductFlag": false,
        "unitOfMeasure": reference(ctx, 1, ("name", "Each"), "uom", "procurement/unitOfMeasures/1"),
        "price": p.price, "cost": p.cost, "priceAttribute": "FixedFee", "taxableFlag": true,
        "dropShipFlag": false, "specialOrderFlag": false,
        "customerDescription": format!("{}, per user per month", p.description),
        "manufacturer": {"id": p.category as i64, "name": p.manufacturer},
        "recurringFlag": p.recurring, "recurringOneTimeFlag": false,
        "calculatedPriceFlag": false, "calculatedCostFlag": false,
        "category": reference(ctx, p.category as i64, ("name", category), "category", &format!("procurement/categories/{}", p.category)),
        "billableOption": "Billable",
        "_info": {"lastUpdated": "2024-06-20T05:02:13Z", "updatedBy": "jsmith"},
    });
    if p.recurring {
        v["recurringRevenue"] = json!(p.price);
        v["recurringCost"] = json!(p.cost);
        v["recurringBillCycle"] = monthly(ctx);
        v["recurringCycleType"] = json!("CalendarYear");
    }
    v
}

/// Field names each endpoint accepts in `conditions` and `orderBy`. A reference field accepts
/// any sub-field (`company/id`, `type/name`), which is how the real API reads them.
pub mod schema {
    pub const COMPANY: &[&str] = &[
        "id",
        "identifier",
        "name",
        "status",
        "addressLine1",
        "addressLine2",
        "city",
        "state",
        "zip",
        "country",
        "phoneNumber",
        "faxNumber",
        "website",
        "territory",
        "market",
        "accountNumber",
        "defaultContact",
        "dateAcquired",
        "parentCompany",
        "leadFlag",
        "unsubscribeFlag",
        "billToCompany",
        "deletedFlag",
        "dateDeleted",
        "deletedBy",
        "mobileGuid",
        "isVendorFlag",
        "types",
        "site",
        "lastUpdated",
        "_info",
    ];
    pub const CONTACT: &[&str] = &[
        "id",
        "firstName",
        "lastName",
        "company",
        "site",
        "inactiveFlag",
        "title",
        "marriedFlag",
        "childrenFlag",
        "disablePortalLoginFlag",
        "unsubscribeFlag",
        "mobileGuid",
        "defaultBillingFlag",
        "defaultFlag",
        "communicationItems",
        "types",
        "lastUpdated",
        "_info",
    ];
    pub const AGREEMENT: &[&str] = &[
        "id",
        "name",
        "type",
        "company",
        "contact",
        "site",
        "parentAgreement",
        "parentAgreementId",
        "customerPO",
        "location",
        "department",
        "startDate",
        "endDate",
        "noEndingDateFlag",
        "cancelledFlag",
        "dateCancelled",
        "reasonCancelled",
        "applicationUnits",
        "billingCycle",
        "billAmount",
        "taxable",
        "billStartDate",
        "agreementStatus",
        "lastUpdated",
        "_info",
        "restrictLocationFlag",
        "restrictDepartmentFlag",
        "oneTimeFlag",
        "invoicingCycle",
    ];
    pub const AGREEMENT_TYPE: &[&str] = &[
        "id",
        "name",
        "defaultFlag",
        "inactiveFlag",
        "prePaymentFlag",
        "billingCycle",
        "lastUpdated",
        "_info",
    ];
    pub const ADDITION: &[&str] = &[
        "id",
        "product",
        "quantity",
        "lessIncluded",
        "unitPrice",
        "unitCost",
        "billCustomer",
        "effectiveDate",
        "cancelledDate",
        "taxableFlag",
        "invoiceDescription",
        "agreementId",
        "description",
        "billedQuantity",
        "uom",
        "extPrice",
        "extCost",
        "sequenceNumber",
        "margin",
        "agreementStatus",
        "lastUpdated",
        "_info",
    ];
    pub const TICKET: &[&str] = &["id", "summary", "company", "status", "board", "closedFlag"];
    pub const CATALOG: &[&str] = &[
        "id",
        "identifier",
        "description",
        "inactiveFlag",
        "subcategory",
        "type",
        "productClass",
        "serializedFlag",
        "unitOfMeasure",
        "price",
        "cost",
        "priceAttribute",
        "taxableFlag",
        "customerDescription",
        "manufacturer",
        "recurringFlag",
        "recurringRevenue",
        "recurringCost",
        "recurringBillCycle",
        "recurringCycleType",
        "category",
        "billableOption",
        "lastUpdated",
        "_info",
    ];

    /// Whether a path names a known field (case-insensitive, sub-fields allowed).
    pub fn knows(fields: &[&str], path: &[String]) -> bool {
        path.first()
            .is_some_and(|head| fields.iter().any(|f| f.eq_ignore_ascii_case(head)))
    }
}
