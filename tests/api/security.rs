//! Rules that must hold on every route, checked over the route table read from the source: a
//! POST without its session's CSRF token is refused and changes nothing, and every route that
//! takes an id answers 404 for another tenant's ids.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use sea_orm::{DatabaseConnection, EntityTrait, FromQueryResult, JsonValue, Statement};
use sync365::sandbox::RunningSandbox;
use sync365::store::entity::psa_connection;

use crate::helpers::{ADMIN_PASSWORD, TestApp};
use crate::integrations::{admin_of, app_with_sandbox, save_connectwise};

/// Every POST route, as written in `src/web`. A new one must be added here (and so get checked).
pub const POST_ROUTES: &[&str] = &[
    "/account/password",
    "/login",
    "/logout",
    "/setup",
    "/support/tenants",
    "/support/tenants/{tid}/integrations/{cid}/test",
    "/tools/integrations/psa",
    "/tools/integrations/psa/{id}/delete",
    "/tools/integrations/psa/{id}/edit",
    "/tools/integrations/psa/{id}/sync",
    "/tools/integrations/psa/{id}/test",
    "/tools/users",
    "/tools/users/{id}/deactivate",
    "/tools/users/{id}/role",
];

/// Every route that takes a tenant's id. Support pages take a tenant id and are support-only.
const ID_ROUTES: &[(&str, &str)] = &[
    ("GET", "/customers/{id}"),
    ("GET", "/support/tenants/{id}"),
    ("POST", "/support/tenants/{tid}/integrations/{cid}/test"),
    ("GET", "/tools/integrations/psa/{id}"),
    ("GET", "/tools/integrations/psa/{id}/edit"),
    ("GET", "/tools/integrations/psa/{id}/status.json"),
    ("POST", "/tools/integrations/psa/{id}/delete"),
    ("POST", "/tools/integrations/psa/{id}/edit"),
    ("POST", "/tools/integrations/psa/{id}/sync"),
    ("POST", "/tools/integrations/psa/{id}/test"),
    ("POST", "/tools/users/{id}/deactivate"),
    ("POST", "/tools/users/{id}/role"),
];

/// A route with its placeholders filled: `{id}`, and a support route's `{tid}` and `{cid}`.
pub fn fill(route: &str, id: i64, tenant: i64, connection: i64) -> String {
    route
        .replace("{id}", &id.to_string())
        .replace("{tid}", &tenant.to_string())
        .replace("{cid}", &connection.to_string())
}

/// `(METHOD, path)` of every `.route(...)` call under `src/web`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let flat: String = text.split_whitespace().collect();
        for call in flat.split(".route(\"").skip(1) {
            let Some((path, rest)) = call.split_once("\",web::") else {
                continue;
            };
            let method = rest.split('(').next().unwrap().to_uppercase();
            found.insert((method, path.to_string()));
        }
    }
    found
}

#[test]
fn the_lists_here_name_every_post_route_and_every_id_route_in_the_source() {
    let source = routes_in_source();
    assert!(source.len() > 20, "the route table was read: {source:?}");
    let posts: BTreeSet<&str> = source
        .iter()
        .filter(|(m, _)| m == "POST")
        .map(|(_, p)| p.as_str())
        .collect();
    assert_eq!(posts, POST_ROUTES.iter().copied().collect());
    let with_ids: BTreeSet<(&str, &str)> = source
        .iter()
        .filter(|(_, p)| p.contains('{') && !p.starts_with("/static/"))
        .map(|(m, p)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(with_ids, ID_ROUTES.iter().copied().collect());
}

/// Every row of every table not in `skip`, as text: equal before and after means nothing
/// changed.
pub async fn dump_tables(db: &DatabaseConnection, skip: &[&str]) -> String {
    let backend = db.get_database_backend();
    let list = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
    };
    let tables = JsonValue::find_by_statement(Statement::from_string(backend, list))
        .all(db)
        .await
        .unwrap();
    let mut out = String::new();
    for t in tables {
        let name = t["name"].as_str().unwrap();
        if !skip.contains(&name) {
            out.push_str(&format!("{name}: {:?}\n", all_rows(db, name).await));
        }
    }
    out
}

/// The database without the session store, which every request may touch.
async fn database_contents(db: &DatabaseConnection) -> String {
    dump_tables(db, &["session", "sessions"]).await
}

/// Contoso's admin with a saved ConnectWise connection and a member: `(admin, sandbox,
/// connection id, member id)`.
async fn contoso_with_a_connection_and_a_member() -> (TestApp, RunningSandbox, i64, i64) {
    let (admin, sb) = app_with_sandbox().await;
    let connection = save_connectwise(&admin).await;
    let member = admin
        .create_user(
            Some("Contoso IT"),
            "m@contoso.test",
            ADMIN_PASSWORD,
            "member",
            false,
        )
        .await;
    (admin, sb, connection, member)
}

pub async fn all_rows(db: &DatabaseConnection, table: &str) -> Vec<JsonValue> {
    let backend = db.get_database_backend();
    let sql = format!("SELECT * FROM \"{table}\"");
    JsonValue::find_by_statement(Statement::from_string(backend, sql))
        .all(db)
        .await
        .unwrap()
}

/// Plausible fields for each POST, so a refusal is down to the token and nothing else.
fn fields_for(path: &str) -> Vec<(&'static str, &'static str)> {
    match path {
        "/login" => vec![
            ("email", "admin@contoso.test"),
            ("password", ADMIN_PASSWORD),
        ],
        "/setup" => vec![
            ("organisation", "Evil"),
            ("email", "evil@example.test"),
            ("password", "a long enough password"),
        ],
        "/account/password" => vec![
            ("current", ADMIN_PASSWORD),
            ("new", "another long password 1"),
            ("confirm", "another long password 1"),
        ],
        "/support/tenants" => vec![("organisation", "Evil MSP"), ("admin_email", "e@evil.test")],
        "/tools/users" => vec![("email", "new@contoso.test"), ("role", "admin")],
        p if p.ends_with("/role") => vec![("role", "member")],
        _ => vec![("confirm", "yes"), ("private_key", "x"), ("action", "save")],
    }
}

#[tokio::test]
async fn every_post_without_its_sessions_csrf_token_is_refused_and_changes_nothing() {
    let (admin, _sb, connection, member) = contoso_with_a_connection_and_a_member().await;
    let support = admin.another_browser();
    support
        .create_user(None, "help@sync365.test", ADMIN_PASSWORD, "member", true)
        .await;
    assert_eq!(
        support
            .sign_in("help@sync365.test", ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let anonymous = admin.another_browser();
    let stranger_token = anonymous.csrf_token("/login").await;
    let before = database_contents(&admin.state.db).await;

    for route in POST_ROUTES {
        let id = if route.starts_with("/tools/users/") {
            member
        } else {
            connection
        };
        let path = fill(route, id, contoso_tenant(&admin).await, connection);
        let browser = if route.starts_with("/support") {
            &support
        } else {
            &admin
        };
        let fields = fields_for(route);
        for token in [None, Some("forged-token"), Some(stranger_token.as_str())] {
            let mut body = fields.clone();
            if let Some(t) = token {
                body.push(("csrf_token", t));
            }
            let resp = browser.post_raw(&path, &body).await;
            assert_eq!(
                resp.status(),
                StatusCode::FORBIDDEN,
                "{path} with {token:?}"
            );
        }
    }

    assert_eq!(database_contents(&admin.state.db).await, before);
    let still_signed_in = admin.get("/tools/integrations").await;
    assert_eq!(still_signed_in.status, StatusCode::OK, "logout was refused");
}

/// Fills an id route with `id`, with plausible fields for POSTs.
async fn request(browser: &TestApp, method: &str, route: &str, ids: (i64, i64, i64)) -> StatusCode {
    let path = fill(route, ids.0, ids.1, ids.2);
    if method == "GET" {
        return browser.get_raw(&path).await.status();
    }
    browser
        .post("/tools/integrations", &path, &fields_for(route))
        .await
        .status()
}

#[tokio::test]
async fn every_id_route_answers_404_for_another_tenants_ids_and_changes_nothing() {
    let (contoso, _sb, connection, member) = contoso_with_a_connection_and_a_member().await;
    let model = psa_connection::Entity::find_by_id(connection)
        .one(&contoso.state.db)
        .await
        .unwrap()
        .unwrap();
    let customer = crate::data::seed_customer(&contoso, &model, "Contoso Customer").await;
    let fabrikam = contoso.another_browser();
    admin_of(&fabrikam, "Fabrikam", "admin@fabrikam.test").await;
    let before = database_contents(&contoso.state.db).await;

    for (method, route) in ID_ROUTES {
        let id = match *route {
            r if r.starts_with("/customers") => customer,
            r if r.starts_with("/tools/users") => member,
            r if r.starts_with("/support") => contoso_tenant(&contoso).await,
            _ => connection,
        };
        let ids = (id, contoso_tenant(&contoso).await, connection);
        let status = request(&fabrikam, method, route, ids).await;
        // Tenant admins may not open support pages at all: 403 says nothing about the id.
        let expected = if route.starts_with("/support") {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(status, expected, "{method} {route}");
    }

    let after = database_contents(&contoso.state.db).await;
    assert_eq!(strip_audit(&after), strip_audit(&before));
}

async fn contoso_tenant(app: &TestApp) -> i64 {
    sync365::store::users::find_or_insert_tenant(&app.state.db, "Contoso IT")
        .await
        .unwrap()
        .id
}

/// The database text without the audit log, which may record the refused attempts.
fn strip_audit(contents: &str) -> String {
    contents
        .lines()
        .filter(|l| !l.starts_with("audit"))
        .collect::<Vec<_>>()
        .join("\n")
}
