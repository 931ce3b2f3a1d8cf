//! Benchmark baseline: a bare actix-web app that shows the same rows as the portal's main pages,
//! read from the same SQLite file and rendered with askama, with nothing else (no session,
//! sign-in, CSRF, middleware or layout). `tests/bench/pages.sh` measures both side by side, so
//! the ratio shows what the portal's own layers cost.
//!
//! Run: `cargo run --release --example bench_baseline -- DATABASE_URL BIND_ADDRESS`, after a
//! retrieval has filled the database.

use actix_web::{App, HttpResponse, HttpServer, web};
use askama::Template;
use sea_orm::{
    DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement, Value as SqlValue,
};
use serde::Deserialize;

/// Rows per page, as on the portal's lists.
const PER_PAGE: i64 = 50;

/// The connection whose live run is shown: the first one with a live run.
#[derive(Clone, Copy, FromQueryResult)]
struct Live {
    tenant_id: i64,
    id: i64,
    live_run_id: i64,
}

#[derive(FromQueryResult)]
struct Total {
    n: i64,
}

#[derive(FromQueryResult)]
struct ListRow {
    id: i64,
    name: String,
    identifier: Option<String>,
    status: Option<String>,
}

#[derive(FromQueryResult)]
struct ConnectionRow {
    id: i64,
    psa_type: String,
    account: String,
    state: Option<String>,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1><p>{{ total }} in all</p><table>
{% for r in rows %}<tr><td><a href="/x/{{ r.id }}">{{ r.name }}</a></td><td>{{ r.identifier.as_deref().unwrap_or("") }}</td><td>{{ r.status.as_deref().unwrap_or("") }}</td></tr>
{% endfor %}</table></body></html>"#
)]
struct ListPage {
    title: &'static str,
    total: i64,
    rows: Vec<ListRow>,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Connections</title></head>
<body><h1>Connections</h1><table>
{% for c in rows %}<tr><td>{{ c.id }}</td><td>{{ c.psa_type }}</td><td>{{ c.account }}</td><td>{{ c.state.as_deref().unwrap_or("never") }}</td></tr>
{% endfor %}</table></body></html>"#
)]
struct ConnectionsPage {
    rows: Vec<ConnectionRow>,
}

#[derive(Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

fn statement(sql: &str, values: Vec<SqlValue>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

/// `%text%` for LIKE (case-insensitive for ASCII in SQLite), wildcards escaped.
fn like(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A record table and the columns a list shows as name (also searched) and status.
struct Listing {
    table: &'static str,
    name: &'static str,
    status: &'static str,
}

const CUSTOMERS: Listing = Listing {
    table: "customers",
    name: "name",
    status: "status",
};

/// Catalog items have no status.
const PRODUCTS: Listing = Listing {
    table: "products",
    name: "description",
    status: "NULL",
};

/// The total and the first page of a listing's live rows, searched when a search is given.
async fn first_page(
    db: &DatabaseConnection,
    live: Live,
    list: &Listing,
    search: &str,
) -> Result<(i64, Vec<ListRow>), DbErr> {
    let Listing {
        table,
        name,
        status,
    } = list;
    let mut filter =
        format!("FROM {table} WHERE tenant_id = ? AND connection_id = ? AND run_id = ?");
    let mut values: Vec<SqlValue> = vec![
        live.tenant_id.into(),
        live.id.into(),
        live.live_run_id.into(),
    ];
    if !search.is_empty() {
        filter.push_str(&format!(" AND {name} LIKE ? ESCAPE '\\'"));
        values.push(like(search).into());
    }
    let count = statement(&format!("SELECT COUNT(*) AS n {filter}"), values.clone());
    let total = Total::find_by_statement(count).one(db).await?;
    let select = format!(
        "SELECT id, {name} AS name, identifier, {status} AS status {filter} \
         ORDER BY {name}, id LIMIT {PER_PAGE}"
    );
    let rows = ListRow::find_by_statement(statement(&select, values))
        .all(db)
        .await?;
    Ok((total.map_or(0, |t| t.n), rows))
}

fn html(page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn list(
    db: &DatabaseConnection,
    live: Live,
    title: &'static str,
    listing: &Listing,
    search: &str,
) -> HttpResponse {
    match first_page(db, live, listing, search).await {
        Ok((total, rows)) => html(&ListPage { title, total, rows }),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn customers(
    db: web::Data<DatabaseConnection>,
    live: web::Data<Live>,
    query: web::Query<Search>,
) -> HttpResponse {
    list(&db, **live, "Customers", &CUSTOMERS, query.q.trim()).await
}

async fn products(db: web::Data<DatabaseConnection>, live: web::Data<Live>) -> HttpResponse {
    list(&db, **live, "Products", &PRODUCTS, "").await
}

/// The tenant's connections with the state of each one's latest run.
async fn connections(db: web::Data<DatabaseConnection>, live: web::Data<Live>) -> HttpResponse {
    let sql = "SELECT c.id, c.psa_type, c.account, (SELECT r.state FROM sync_runs r \
               WHERE r.connection_id = c.id ORDER BY r.id DESC LIMIT 1) AS state \
               FROM psa_connections c WHERE c.tenant_id = ? ORDER BY c.id";
    let found = ConnectionRow::find_by_statement(statement(sql, vec![live.tenant_id.into()]))
        .all(db.get_ref())
        .await;
    match found {
        Ok(rows) => html(&ConnectionsPage { rows }),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn find_live(db: &DatabaseConnection) -> anyhow::Result<Live> {
    let sql = "SELECT tenant_id, id, live_run_id FROM psa_connections \
               WHERE live_run_id IS NOT NULL ORDER BY id LIMIT 1";
    Live::find_by_statement(statement(sql, vec![]))
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no connection has a live run yet: retrieve first"))
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(bind)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: bench_baseline DATABASE_URL BIND_ADDRESS");
    };
    // The portal's own pool settings, so both sides get the same database access.
    let db = sync365::store::connect(&url).await?;
    let live = find_live(&db).await?;
    let (db, live) = (web::Data::new(db), web::Data::new(live));
    HttpServer::new(move || {
        App::new()
            .app_data(db.clone())
            .app_data(live.clone())
            .route("/customers", web::get().to(customers))
            .route("/products", web::get().to(products))
            .route("/connections", web::get().to(connections))
    })
    .bind(bind)?
    .run()
    .await?;
    Ok(())
}
