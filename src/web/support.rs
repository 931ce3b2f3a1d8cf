//! The support console: every tenant's PSA connections at a glance, one tenant's integrations
//! read-only with a copyable diagnostic summary, and (when allowed) a re-run of a test. Only
//! support users get in; every view leaves an audit event in the viewed tenant's log.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::State;
use super::audit::{self, Actor};
use super::auth::respond;
use super::csrf::{CheckedForm, TokenOnly};
use super::error::AppError;
use super::page::{Layout, see_other};
use super::user::CurrentUser;
use super::views::{ConnectionRow, ConnectionView, RunView, TestView, when};
use crate::store::connections;
use crate::store::entity::{psa_connection, sync_run, tenant};
use crate::store::{runs, users};

/// Runs shown per integration.
const RUN_HISTORY: u64 = 20;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/support/tenants", web::get().to(index))
        .route("/support/tenants", web::post().to(create_tenant))
        .route("/support/tenants/{id}", web::get().to(show))
        .route(
            "/support/tenants/{tid}/integrations/{cid}/test",
            web::post().to(retest),
        );
}

fn require_support(user: &CurrentUser) -> Result<(), AppError> {
    if user.is_support {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The support user, recorded in the viewed tenant's log.
fn actor_in(user: &CurrentUser, tenant_id: i64) -> Actor {
    Actor {
        tenant_id: Some(tenant_id),
        user_id: Some(user.id),
        email: user.email.clone(),
    }
}

/// One connection on the tenant list.
struct SupportRow {
    row: ConnectionRow,
    last_test: String,
    threshold: String,
    failing: bool,
}

struct TenantRow {
    id: i64,
    name: String,
    failing: bool,
    connections: Vec<SupportRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "support/index.html")]
struct IndexPage {
    layout: Layout,
    q: String,
    tenants: Vec<TenantRow>,
    /// The new-tenant form: values as typed and the error, if any.
    organisation: String,
    admin_email: String,
    error: String,
    /// Just created: the admin's email and temporary password, shown this once.
    created_email: String,
    temporary_password: String,
}

#[derive(Deserialize)]
struct IndexQuery {
    q: Option<String>,
}

fn is_failing(c: &psa_connection::Model, latest: Option<&sync_run::Model>) -> bool {
    c.last_test_ok == Some(false) || latest.is_some_and(|r| r.state == runs::FAILED)
}

async fn tenant_row(state: &State, t: &tenant::Model) -> Result<TenantRow, AppError> {
    let mut connections = vec![];
    for c in connections::find_connections(&state.db, t.id).await? {
        let latest = runs::find_latest_run(&state.db, t.id, c.id).await?;
        let test = TestView::from_stored(&c);
        connections.push(SupportRow {
            row: ConnectionRow::new(&c, latest.as_ref()),
            last_test: c.last_test_message.clone().unwrap_or_default(),
            threshold: test.map(|t| t.threshold).unwrap_or_default(),
            failing: is_failing(&c, latest.as_ref()),
        });
    }
    connections.sort_by_key(|c| !c.failing);
    Ok(TenantRow {
        id: t.id,
        name: t.name.clone(),
        failing: connections.iter().any(|c| c.failing),
        connections,
    })
}

/// Every tenant with its connections, failing ones first.
async fn index(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    query: web::Query<IndexQuery>,
) -> Result<HttpResponse, AppError> {
    require_support(&user)?;
    let q: String = query
        .q
        .as_deref()
        .unwrap_or("")
        .trim()
        .chars()
        .take(200)
        .collect();
    let needle = q.to_lowercase();
    let mut tenants = vec![];
    // Limitation: every tenant is loaded and filtered in memory; fine for hundreds, not more.
    for t in users::all_tenants(&state.db).await? {
        if !needle.is_empty() && !t.name.to_lowercase().contains(&needle) {
            continue;
        }
        tenants.push(tenant_row(&state, &t).await?);
    }
    tenants.sort_by_key(|t| !t.failing);
    // Limitation: the list leaves one event per tenant shown, so a long list writes many rows.
    for t in &tenants {
        let actor = actor_in(&user, t.id);
        audit::record(
            &state.db,
            &req,
            actor,
            "support_view",
            "tenant list",
            "succeeded",
            "",
        )
        .await?;
    }
    let page = IndexPage {
        layout: Layout::signed_in(&session, &user, "support")?,
        q,
        tenants,
        organisation: String::new(),
        admin_email: String::new(),
        error: String::new(),
        created_email: String::new(),
        temporary_password: String::new(),
    };
    Ok(respond(page, StatusCode::OK))
}

#[derive(Deserialize)]
struct NewTenantForm {
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    admin_email: String,
}

/// Creates a tenant and its first admin, whose temporary password is shown once. Only support
/// users create tenants; tenant admins cannot.
async fn create_tenant(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    CheckedForm(form): CheckedForm<NewTenantForm>,
) -> Result<HttpResponse, AppError> {
    require_support(&user)?;
    let mut page = IndexPage {
        layout: Layout::signed_in(&session, &user, "support")?,
        q: String::new(),
        tenants: vec![],
        organisation: form
            .organisation
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect(),
        admin_email: form
            .admin_email
            .chars()
            .filter(|c| !c.is_control())
            .take(320)
            .collect(),
        error: String::new(),
        created_email: String::new(),
        temporary_password: String::new(),
    };
    let parsed = crate::domain::account::parse_organisation(&form.organisation).and_then(|org| {
        crate::domain::account::parse_email(&form.admin_email).map(|email| (org, email))
    });
    let (organisation, email) = match parsed {
        Ok(both) => both,
        Err(e) => {
            page.error = e.message;
            return Ok(respond(page, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    let temporary = super::users::temporary_password();
    let hash = crate::password::hash(secrecy::SecretString::from(temporary.clone())).await?;
    let created = NewTenant {
        organisation: &organisation,
        email: &email,
        password_hash: hash,
    };
    if !insert_tenant_with_admin(&state, &req, &user, created).await? {
        page.error =
            "An organisation of that name, or a user with that email, already exists.".into();
        return Ok(respond(page, StatusCode::UNPROCESSABLE_ENTITY));
    }
    page.created_email = email;
    page.temporary_password = temporary;
    // The page holds a password: neither the browser nor a proxy may keep it.
    let mut resp = respond(page, StatusCode::OK);
    resp.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

/// A tenant to create with its first admin.
struct NewTenant<'a> {
    organisation: &'a str,
    email: &'a str,
    password_hash: String,
}

/// Tenant, admin and the audit event in one transaction; false when the name or email is taken.
async fn insert_tenant_with_admin(
    state: &State,
    req: &HttpRequest,
    user: &CurrentUser,
    new: NewTenant<'_>,
) -> Result<bool, AppError> {
    use sea_orm::TransactionTrait;
    let txn = state.db.begin().await?;
    let tenant = match users::insert_tenant(&txn, new.organisation).await {
        Ok(t) => t,
        Err(e) if users::is_unique_violation(&e) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let admin = users::NewUser {
        tenant_id: Some(tenant.id),
        email: new.email,
        password_hash: new.password_hash,
        role: users::Role::Admin,
        is_support: false,
        must_change_password: true,
    };
    match users::insert_user(&txn, admin).await {
        Ok(_) => {}
        Err(e) if users::is_unique_violation(&e) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let actor = actor_in(user, tenant.id);
    let (organisation, email) = (new.organisation, new.email);
    audit::record(
        &txn,
        req,
        actor,
        "tenant_create",
        organisation,
        "succeeded",
        email,
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// A failed run's error.
struct FailedRun {
    at: String,
    error: String,
    request_id: String,
}

/// One integration, read-only.
struct Integration {
    conn: ConnectionView,
    state: String,
    test: Option<TestView>,
    runs: Vec<RunView>,
    failures: Vec<FailedRun>,
    /// Plain text for a support ticket: never a secret.
    diagnostic: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "support/show.html")]
struct ShowPage {
    layout: Layout,
    tenant_id: i64,
    tenant_name: String,
    can_test: bool,
    integrations: Vec<Integration>,
}

fn diagnostic(
    tenant: &tenant::Model,
    v: &ConnectionView,
    state: &str,
    test: Option<&TestView>,
    failures: &[FailedRun],
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "Tenant: {} (id {})", tenant.name, tenant.id);
    let _ = writeln!(s, "Connection: {} (id {})", v.psa, v.id);
    let _ = writeln!(s, "Host or zone: {}", v.host);
    let _ = writeln!(s, "Company ID or username: {}", v.account);
    if !v.is_autotask {
        let _ = writeln!(s, "Public key: {}", v.public_key);
    }
    let secret = if v.secret_set { "set" } else { "not set" };
    let _ = writeln!(s, "Secret: {secret}");
    let _ = writeln!(s, "Detected version or zone: {}", v.detected);
    let _ = writeln!(s, "API root: {}", v.api_root);
    let _ = writeln!(s, "Run state: {state}");
    let _ = writeln!(s, "Last verified: {}", v.last_verified);
    let _ = writeln!(s, "Last test message: {}", v.last_test_message);
    if let Some(t) = test {
        if !t.threshold.is_empty() {
            let _ = writeln!(s, "Request budget: {}", t.threshold);
        }
        let _ = writeln!(s, "Checklist:");
        for c in &t.checks {
            let _ = writeln!(s, "  [{}] {}: {}", c.label, c.item, c.detail);
        }
    }
    if !failures.is_empty() {
        let _ = writeln!(s, "Last errors:");
        for f in failures {
            let _ = writeln!(s, "  {} {} (request {})", f.at, f.error, f.request_id);
        }
    }
    s
}

async fn show(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    require_support(&user)?;
    let t = users::find_tenant(&state.db, *id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut integrations = vec![];
    for c in connections::find_connections(&state.db, t.id).await? {
        let history = runs::find_connection_runs(&state.db, t.id, c.id, RUN_HISTORY).await?;
        let failures: Vec<FailedRun> = history
            .iter()
            .filter(|r| r.state == runs::FAILED)
            .take(5)
            .map(|r| FailedRun {
                at: when(r.finished_at.unwrap_or(r.queued_at)),
                error: r.error.clone().unwrap_or_default(),
                request_id: r.request_id.clone().unwrap_or_default(),
            })
            .collect();
        let conn = ConnectionView::new(&c);
        let run_state = runs::state_of(history.first()).to_string();
        let test = TestView::from_stored(&c);
        let diagnostic = diagnostic(&t, &conn, &run_state, test.as_ref(), &failures);
        integrations.push(Integration {
            conn,
            state: run_state,
            test,
            runs: history.iter().map(RunView::new).collect(),
            failures,
            diagnostic,
        });
    }
    audit::record(
        &state.db,
        &req,
        actor_in(&user, t.id),
        "support_view",
        &format!("tenant {}", t.id),
        "succeeded",
        "",
    )
    .await?;
    let page = ShowPage {
        layout: Layout::signed_in(&session, &user, "support")?,
        tenant_id: t.id,
        tenant_name: t.name,
        can_test: state.settings.support_can_test,
        integrations,
    };
    Ok(respond(page, StatusCode::OK))
}

/// Re-runs a connection's test with its stored credentials; only the test result changes.
async fn retest(
    state: State,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(i64, i64)>,
    _form: CheckedForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    require_support(&user)?;
    if !state.settings.support_can_test {
        return Err(AppError::Forbidden);
    }
    let (tid, cid) = path.into_inner();
    let c = connections::find_connection(&state.db, tid, cid)
        .await?
        .ok_or(AppError::NotFound)?;
    if !super::integrations::tests_left(&state, tid).await? {
        return Err(AppError::TooManyTests);
    }
    let actor = actor_in(&user, tid);
    super::integrations::test_again(&state, &req, actor, "support_psa_test", &c).await?;
    Ok(see_other(&format!("/support/tenants/{tid}")))
}
