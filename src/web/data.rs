//! What was retrieved: customers (searchable, paged), one customer's agreements and their
//! lines, and the product catalog. Only each connection's live snapshot is shown; PSA text is
//! data and is escaped like any other.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::State;
use super::auth::respond;
use super::error::{AppError, urlencode};
use super::page::Layout;
use super::user::CurrentUser;
use super::views::{host_label, psa_label};
use crate::store::entity::{customer, product, psa_connection};
use crate::store::records;

/// Rows per page of the customer and product lists.
const PER_PAGE: u64 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/customers", web::get().to(customers))
        .route("/customers/{id}", web::get().to(customer_page))
        .route("/products", web::get().to(products));
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    /// 1-based; anything unreadable is page 1.
    page: Option<String>,
}

impl ListQuery {
    fn search(&self) -> String {
        self.q
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect()
    }

    /// 0-based page index.
    fn index(&self) -> u64 {
        let page = self.page.as_deref().and_then(|p| p.parse::<u64>().ok());
        page.unwrap_or(1).clamp(1, 100_000) - 1
    }
}

/// Previous / next links of a paged list.
struct Pager {
    /// 1-based current page and page count.
    page: u64,
    pages: u64,
    total: u64,
    prev: String,
    next: String,
}

impl Pager {
    fn new(base: &str, search: &str, index: u64, total: u64) -> Self {
        let pages = total.div_ceil(PER_PAGE).max(1);
        let link = |page: u64| format!("{base}?q={}&page={page}", urlencode(search));
        Self {
            page: index + 1,
            pages,
            total,
            prev: if index > 0 {
                link(index)
            } else {
                String::new()
            },
            next: if index + 1 < pages {
                link(index + 2)
            } else {
                String::new()
            },
        }
    }
}

/// Which PSA a record came from, e.g. "ConnectWise sandbox".
fn source(live: &HashMap<i64, psa_connection::Model>, connection_id: i64) -> String {
    live.get(&connection_id)
        .map(|c| format!("{} {}", psa_label(&c.psa_type), c.account))
        .unwrap_or_default()
}

/// One row of the customer list.
struct CustomerRow {
    id: i64,
    name: String,
    identifier: String,
    status: String,
    source: String,
    removed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "data/customers.html")]
struct CustomersPage {
    layout: Layout,
    /// The search as typed (trimmed).
    q: String,
    rows: Vec<CustomerRow>,
    pager: Pager,
}

async fn customers(
    state: State,
    session: Session,
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.tenant()?;
    let search = query.search();
    let index = query.index();
    let (found, live) =
        records::find_live_customers(&state.db, tenant, &search, index, PER_PAGE).await?;
    let rows = found
        .items
        .into_iter()
        .map(|c| CustomerRow {
            source: source(&live, c.connection_id),
            id: c.id,
            name: c.name,
            identifier: c.identifier.unwrap_or_default(),
            status: c.status.unwrap_or_default(),
            removed: c.removed,
        })
        .collect();
    let page = CustomersPage {
        layout: Layout::signed_in(&session, &user, "customers")?,
        pager: Pager::new("/customers", &search, index, found.total),
        q: search,
        rows,
    };
    Ok(respond(page, StatusCode::OK))
}

/// One agreement line as shown.
struct LineRow {
    product: String,
    description: String,
    quantity: String,
    price: String,
    status: String,
    removed: bool,
}

struct AgreementView {
    name: String,
    agreement_type: String,
    status: String,
    period: String,
    is_child: bool,
    removed: bool,
    lines: Vec<LineRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "data/customer.html")]
struct CustomerPage {
    layout: Layout,
    customer: customer::Model,
    /// The PSA and where it is, e.g. "ConnectWise · North America".
    source: String,
    agreements: Vec<AgreementView>,
}

fn money(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

/// Quantities are usually whole numbers; show `3`, not `3.00`.
fn quantity(q: f64) -> String {
    if q.fract() == 0.0 {
        format!("{q:.0}")
    } else {
        format!("{q:.2}")
    }
}

fn line_row(line: records::AgreementLineRow) -> LineRow {
    let (line, item) = line;
    LineRow {
        product: item
            .map(|p| p.identifier.unwrap_or(p.description))
            .or(line.product_external_id)
            .unwrap_or_default(),
        description: line.description,
        quantity: quantity(line.quantity),
        price: money(line.unit_price),
        status: line.status.unwrap_or_default(),
        removed: line.removed,
    }
}

fn agreement_view(a: records::AgreementWithLines) -> AgreementView {
    let ag = a.agreement;
    // Both PSAs send timestamps; a date is what the page needs.
    let day = |d: String| d.get(..10).map(str::to_string).unwrap_or(d);
    let period = match (ag.start_date.map(day), ag.end_date.map(day)) {
        (Some(s), Some(e)) => format!("{s} – {e}"),
        (Some(s), None) => format!("from {s}"),
        (None, Some(e)) => format!("until {e}"),
        (None, None) => String::new(),
    };
    AgreementView {
        name: ag.name,
        agreement_type: ag.agreement_type.unwrap_or_default(),
        status: ag.status.unwrap_or_default(),
        period,
        is_child: ag.parent_external_id.is_some(),
        removed: ag.removed,
        lines: a.lines.into_iter().map(line_row).collect(),
    }
}

async fn customer_page(
    state: State,
    session: Session,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.tenant()?;
    let (found, conn) = records::find_live_customer(&state.db, tenant, *id)
        .await?
        .ok_or(AppError::NotFound)?;
    let agreements = records::find_customer_agreements(&state.db, &found).await?;
    let page = CustomerPage {
        layout: Layout::signed_in(&session, &user, "customers")?,
        source: format!(
            "{} {} · {}",
            psa_label(&conn.psa_type),
            conn.account,
            host_label(&conn.psa_type, &conn.host)
        ),
        customer: found,
        agreements: agreements.into_iter().map(agreement_view).collect(),
    };
    Ok(respond(page, StatusCode::OK))
}

struct ProductRow {
    identifier: String,
    description: String,
    price: String,
    active: bool,
    source: String,
    removed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "data/products.html")]
struct ProductsPage {
    layout: Layout,
    q: String,
    rows: Vec<ProductRow>,
    pager: Pager,
}

async fn products(
    state: State,
    session: Session,
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.tenant()?;
    let search = query.search();
    let index = query.index();
    let (found, live) =
        records::find_live_products(&state.db, tenant, &search, index, PER_PAGE).await?;
    let rows = found
        .items
        .into_iter()
        .map(|p: product::Model| ProductRow {
            source: source(&live, p.connection_id),
            identifier: p.identifier.unwrap_or_default(),
            description: p.description,
            price: money(p.price),
            active: p.active,
            removed: p.removed,
        })
        .collect();
    let page = ProductsPage {
        layout: Layout::signed_in(&session, &user, "products")?,
        pager: Pager::new("/products", &search, index, found.total),
        q: search,
        rows,
    };
    Ok(respond(page, StatusCode::OK))
}
