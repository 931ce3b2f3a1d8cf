//! Tools > Integration Settings: the PSA Tools list, the + PSA Tools form (Test / Test and
//! Save), and one connection's page with its test, sync, edit and remove actions.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use sea_orm::TransactionTrait;
use serde::Deserialize;

use super::State;
use super::audit::{self, Actor};
use super::auth::respond;
use super::csrf::{CheckedForm, TokenOnly};
use super::error::AppError;
use super::forms::{AUTOTASK, CONNECTWISE, PsaForm, kind_of};
use super::page::{Layout, see_other};
use super::user::CurrentUser;
use super::views::{self, ConnectionRow, ConnectionView, PhaseView, RunView, TestView};
use crate::domain::FieldError;
use crate::domain::autotask::Zone;
use crate::psa::connector::{Connector, PsaCredentials};
use crate::psa::error::Field;
use crate::psa::{PsaError, Verification};
use crate::store::connections::{self, Identity, TestResult};
use crate::store::entity::psa_connection;
use crate::store::{records, runs};
use crate::sync::progress::Progress;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tools/integrations", web::get().to(index))
        .route("/tools/integrations/psa/new", web::get().to(new_form))
        .route("/tools/integrations/psa", web::post().to(create))
        .route("/tools/integrations/psa/{id}", web::get().to(show))
        .route(
            "/tools/integrations/psa/{id}/status.json",
            web::get().to(status_json),
        )
        .route("/tools/integrations/psa/{id}/test", web::post().to(retest))
        .route(
            "/tools/integrations/psa/{id}/sync",
            web::post().to(sync_now),
        )
        .route(
            "/tools/integrations/psa/{id}/edit",
            web::get().to(edit_form),
        )
        .route("/tools/integrations/psa/{id}/edit", web::post().to(edit))
        .route(
            "/tools/integrations/psa/{id}/delete",
            web::post().to(delete),
        );
}

fn connection_path(id: i64) -> String {
    format!("/tools/integrations/psa/{id}")
}

/// Integration Settings.
#[derive(Template, WebTemplate)]
#[template(path = "integrations/index.html")]
struct IndexPage {
    layout: Layout,
    /// Whether the user may add or change connections.
    can_edit: bool,
    /// One row per saved connection.
    connections: Vec<ConnectionRow>,
}

async fn index(
    state: State,
    session: Session,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let tenant = user.tenant()?;
    let mut rows = vec![];
    for c in connections::find_connections(&state.db, tenant).await? {
        let latest = runs::find_latest_run(&state.db, tenant, c.id).await?;
        rows.push(ConnectionRow::new(&c, latest.as_ref()));
    }
    let page = IndexPage {
        layout: Layout::signed_in(&session, &user, "integrations")?,
        can_edit: user.is_admin(),
        connections: rows,
    };
    Ok(respond(page, StatusCode::OK))
}

/// The + PSA Tools form, also used to edit a connection.
#[derive(Template, WebTemplate)]
#[template(path = "integrations/form.html")]
struct FormPage {
    layout: Layout,
    /// `connectwise` or `autotask`: which fieldset shows.
    psa_type: &'static str,
    /// Where the form posts.
    action: String,
    /// The connection being edited: its type is fixed and blank secrets keep the stored ones.
    editing: Option<i64>,
    /// The non-secret values as typed; secrets are never written back.
    typed: PsaForm,
    errors: Vec<FieldError>,
    /// A failure that belongs to no single field.
    form_error: String,
    /// A successful test's result (Test button).
    result: Option<TestView>,
}

impl FormPage {
    fn new(layout: Layout, psa_type: &'static str, editing: Option<i64>, typed: PsaForm) -> Self {
        let action = match editing {
            Some(id) => format!("{}/edit", connection_path(id)),
            None => "/tools/integrations/psa".to_string(),
        };
        Self {
            layout,
            psa_type,
            action,
            editing,
            typed: without_secrets(typed),
            errors: vec![],
            form_error: String::new(),
            result: None,
        }
    }

    /// The message for one field, empty when it is fine.
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
            .unwrap_or_default()
    }

    fn site_is(&self, key: &str) -> bool {
        let site = if self.typed.site.is_empty() {
            "na"
        } else {
            self.typed.site.as_str()
        };
        site == key
    }

    /// After any failure the secret fields are empty: say so once, above the form.
    fn secrets_hint(&self) -> bool {
        self.editing.is_none() && (!self.errors.is_empty() || !self.form_error.is_empty())
    }
}

fn without_secrets(form: PsaForm) -> PsaForm {
    PsaForm {
        private_key: String::new(),
        secret: String::new(),
        ..form
    }
}

#[derive(Deserialize)]
struct NewQuery {
    psa_type: Option<String>,
}

async fn new_form(
    session: Session,
    user: CurrentUser,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    user.require_admin()?;
    let kind = kind_of(query.psa_type.as_deref().unwrap_or_default());
    let typed = PsaForm {
        psa_type: kind.to_string(),
        ..PsaForm::default()
    };
    let layout = Layout::signed_in(&session, &user, "integrations")?;
    Ok(respond(
        FormPage::new(layout, kind, None, typed),
        StatusCode::OK,
    ))
}

/// Everything a POST handler needs to answer.
struct Ctx<'a> {
    state: &'a State,
    session: &'a Session,
    req: &'a HttpRequest,
    user: &'a CurrentUser,
    tenant: i64,
}

impl Ctx<'_> {
    async fn audit(
        &self,
        action: &'static str,
        target: &str,
        outcome: &'static str,
        detail: &str,
    ) -> Result<(), AppError> {
        let actor = Actor::from(self.user);
        audit::record(
            &self.state.db,
            self.req,
            actor,
            action,
            target,
            outcome,
            detail,
        )
        .await
    }

    fn form_page(&self, form: PsaForm, editing: Option<i64>) -> Result<FormPage, AppError> {
        let layout = Layout::signed_in(self.session, self.user, "integrations")?;
        let kind = form.kind();
        Ok(FormPage::new(layout, kind, editing, form))
    }

    fn field_errors(
        &self,
        form: PsaForm,
        editing: Option<i64>,
        errors: Vec<FieldError>,
        form_error: String,
    ) -> Result<HttpResponse, AppError> {
        let mut page = self.form_page(form, editing)?;
        page.errors = errors;
        page.form_error = form_error;
        Ok(respond(page, StatusCode::UNPROCESSABLE_ENTITY))
    }

    /// A PSA failure, beside the field it points at.
    fn psa_failed(
        &self,
        form: PsaForm,
        editing: Option<i64>,
        err: &PsaError,
    ) -> Result<HttpResponse, AppError> {
        let message = err.user_message();
        match form_field(err.field(), &form) {
            Some(field) => self.field_errors(
                form,
                editing,
                vec![FieldError::new(field, message)],
                String::new(),
            ),
            None => self.field_errors(form, editing, vec![], message),
        }
    }
}

/// The form field a PSA failure belongs beside; `None` means above the form.
fn form_field(field: Field, form: &PsaForm) -> Option<&'static str> {
    let autotask = form.kind() == AUTOTASK;
    Some(match field {
        Field::CompanyId => "company_id",
        Field::Site if autotask => "zone",
        Field::Site if form.site == "self_hosted" => "site_url",
        Field::Site => "site",
        Field::PublicKey => "public_key",
        Field::PrivateKey if autotask => "secret",
        Field::PrivateKey => "private_key",
        Field::Zone => "zone",
        Field::Username => "username",
        Field::Secret if autotask => "secret",
        Field::Secret => "private_key",
        Field::Form => return None,
    })
}

/// Builds the connector and runs the test. It calls the PSA: seconds, not milliseconds.
// Limitation: the request waits for the PSA (bounded by the connector's timeouts and retries);
// there is no background test with a progress page, only the script's "Testing…" label.
async fn verify(state: &State, credentials: PsaCredentials) -> Result<Verification, PsaError> {
    Connector::new(credentials, &state.psa)?.verify().await
}

/// Tests per tenant: enough for anyone fixing a connection, too few to probe a network with
/// (each test names what it found at the address it was given).
const TESTS: crate::store::throttle::ThrottlePolicy = crate::store::throttle::ThrottlePolicy {
    allowed_failures: 30,
    window: chrono::Duration::minutes(10),
    first_lock: chrono::Duration::minutes(5),
    max_lock: chrono::Duration::minutes(15),
};

/// Counts one test of the tenant; false past its allowance. Checked before a test, and a
/// refusal changes nothing stored.
pub async fn tests_left(state: &State, tenant: i64) -> Result<bool, AppError> {
    use crate::store::throttle;
    let key = format!("psa_test:{tenant}");
    if throttle::locked_until(&state.db, &key).await?.is_some() {
        return Ok(false);
    }
    let counted = throttle::record_failure(&state.db, &key, TESTS).await?;
    Ok(counted <= TESTS.allowed_failures)
}

/// The identity a verified form saves: an Autotask zone left empty becomes the detected one.
fn saved_identity(mut identity: Identity, v: &Verification) -> Identity {
    if identity.psa_type == AUTOTASK && identity.host.is_empty() {
        let detected = Zone::parse(&v.detected).ok().flatten();
        identity.host = detected.map_or_else(|| v.detected.clone(), |z| z.name().to_string());
    }
    identity
}

fn audit_target(identity: &Identity) -> String {
    format!(
        "{} {} at {}",
        identity.psa_type, identity.account, identity.host
    )
}

/// Test, or Test and Save: parse, verify against the PSA, then show the checklist or save.
async fn create(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    CheckedForm(mut form): CheckedForm<PsaForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let ctx = Ctx {
        state: &state,
        session: &session,
        req: &req,
        user: &user,
        tenant,
    };
    form.psa_type = form.kind().to_string();
    let parsed = match form.parse(None) {
        Ok(p) => p,
        Err(errors) => return ctx.field_errors(form, None, errors, String::new()),
    };
    let action = if form.action == "save" {
        "psa_create"
    } else {
        "psa_test"
    };
    let target = audit_target(&parsed.identity);
    if !tests_left(&state, tenant).await? {
        return ctx.psa_failed(form, None, &PsaError::TooManyTests);
    }
    let verification = match verify(&state, parsed.credentials).await {
        Ok(v) => v,
        Err(e) => {
            ctx.audit(action, &target, "failed", &e.user_message())
                .await?;
            return ctx.psa_failed(form, None, &e);
        }
    };
    if action == "psa_test" {
        ctx.audit(action, &target, "succeeded", &verification.detected)
            .await?;
        let mut page = ctx.form_page(form, None)?;
        page.result = Some(TestView::from_verification(&verification));
        return Ok(respond(page, StatusCode::OK));
    }
    save_new(&ctx, form, parsed.identity, &parsed.secret, &verification).await
}

/// The save half of Test and Save, after a successful test.
async fn save_new(
    ctx: &Ctx<'_>,
    form: PsaForm,
    identity: Identity,
    secret: &secrecy::SecretString,
    verification: &Verification,
) -> Result<HttpResponse, AppError> {
    let identity = saved_identity(identity, verification);
    let target = audit_target(&identity);
    let test = TestResult::from_verification(verification);
    let Some(id) = insert(ctx, &identity, &test, secret).await? else {
        ctx.audit("psa_create", &target, "duplicate", "").await?;
        let errors = vec![duplicate_error(&identity)];
        return ctx.field_errors(form, None, errors, String::new());
    };
    Ok(see_other(&connection_path(id)))
}

fn duplicate_error(identity: &Identity) -> FieldError {
    let field = if identity.psa_type == AUTOTASK {
        "username"
    } else {
        "company_id"
    };
    FieldError::new(
        field,
        "This PSA account is already connected. Open it from Integration Settings to change it.",
    )
}

/// Saves connection, sealed secret, test result and the first run in one transaction; `None`
/// when the same account is already connected.
async fn insert(
    ctx: &Ctx<'_>,
    identity: &Identity,
    test: &TestResult,
    secret: &secrecy::SecretString,
) -> Result<Option<i64>, AppError> {
    let txn = ctx.state.db.begin().await?;
    let row = match connections::insert_connection(&txn, ctx.tenant, identity, test).await {
        Ok(row) => row,
        Err(e) if connections::is_duplicate(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let sealed = ctx
        .state
        .sealer
        .seal(ctx.tenant, row.id, secret)
        .map_err(|e| AppError::Internal(e.into()))?;
    connections::set_sealed_secret(&txn, ctx.tenant, row.id, &sealed).await?;
    runs::queue_run(&txn, ctx.tenant, row.id).await?;
    // The connection and its audit event stand or fall together.
    let target = format!("connection {}: {}", row.id, audit_target(identity));
    audit::record(
        &txn,
        ctx.req,
        Actor::from(ctx.user),
        "psa_create",
        &target,
        "succeeded",
        "",
    )
    .await?;
    txn.commit().await?;
    Ok(Some(row.id))
}

/// One connection's page.
#[derive(Template, WebTemplate)]
#[template(path = "integrations/show.html")]
struct ShowPage {
    layout: Layout,
    can_edit: bool,
    conn: ConnectionView,
    /// The last test's checklist, when one was stored.
    result: Option<TestView>,
    /// `never`, `queued`, `running`, `succeeded` or `failed`.
    state: String,
    /// The latest run's failure, if it failed.
    run_error: String,
    /// Progress per phase while a run is queued or running.
    phases: Vec<PhaseView>,
    runs: Vec<RunView>,
    counts: records::Counts,
    /// Shown when the remove form was sent without its confirmation.
    delete_error: String,
}

impl ShowPage {
    fn active(&self) -> bool {
        self.state == runs::QUEUED || self.state == runs::RUNNING
    }
}

async fn find_own(state: &State, tenant: i64, id: i64) -> Result<psa_connection::Model, AppError> {
    connections::find_connection(&state.db, tenant, id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn show_page(
    state: &State,
    session: &Session,
    user: &CurrentUser,
    c: &psa_connection::Model,
) -> Result<ShowPage, AppError> {
    let history = runs::find_connection_runs(&state.db, c.tenant_id, c.id, 20).await?;
    let latest = history.first();
    let progress = latest
        .map(|r| Progress::from_json(&r.progress))
        .unwrap_or_default();
    Ok(ShowPage {
        layout: Layout::signed_in(session, user, "integrations")?,
        can_edit: user.is_admin(),
        conn: ConnectionView::new(c),
        result: TestView::from_stored(c),
        state: runs::state_of(latest).to_string(),
        run_error: latest
            .filter(|r| r.state == runs::FAILED)
            .and_then(|r| r.error.clone())
            .unwrap_or_default(),
        phases: views::phases(&progress),
        runs: history.iter().map(RunView::new).collect(),
        counts: records::count_live(&state.db, c).await?,
        delete_error: String::new(),
    })
}

async fn show(
    state: State,
    session: Session,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.tenant()?;
    let c = find_own(&state, tenant, *id).await?;
    let page = show_page(&state, &session, &user, &c).await?;
    Ok(respond(page, StatusCode::OK))
}

/// Progress bars' data: the six contract keys plus per-phase progress.
async fn status_json(
    state: State,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.tenant()?;
    let c = find_own(&state, tenant, *id).await?;
    let latest = runs::find_latest_run(&state.db, tenant, c.id).await?;
    let run_state = runs::state_of(latest.as_ref()).to_string();
    let progress = latest
        .as_ref()
        .map(|r| Progress::from_json(&r.progress))
        .unwrap_or_default();
    let counts = if run_state == runs::RUNNING {
        records::Counts {
            customers: progress.customers.done,
            agreements: progress.agreements.done,
            agreement_lines: progress.agreement_lines.done,
            products: progress.products.done,
        }
    } else {
        records::count_live(&state.db, &c).await?
    };
    let error = latest
        .filter(|r| r.state == runs::FAILED)
        .and_then(|r| r.error);
    let body = serde_json::json!({
        "state": run_state,
        "customers": counts.customers,
        "agreements": counts.agreements,
        "agreement_lines": counts.agreement_lines,
        "products": counts.products,
        "error": error,
        "progress": progress,
    });
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

/// The stored connection as a form, secrets blank (so parsing keeps the stored ones).
fn stored_form(c: &psa_connection::Model) -> PsaForm {
    let cloud = ["aus", "eu", "na"].contains(&c.host.as_str());
    let connectwise = c.psa_type == CONNECTWISE;
    PsaForm {
        psa_type: kind_of(&c.psa_type).to_string(),
        company_id: if connectwise {
            c.account.clone()
        } else {
            String::new()
        },
        site: if cloud {
            c.host.clone()
        } else {
            "self_hosted".into()
        },
        site_url: if cloud { String::new() } else { c.host.clone() },
        public_key: c.public_key.clone().unwrap_or_default(),
        zone: if connectwise {
            String::new()
        } else {
            c.host.clone()
        },
        username: if connectwise {
            String::new()
        } else {
            c.account.clone()
        },
        ..PsaForm::default()
    }
}

fn open_secret(
    state: &State,
    c: &psa_connection::Model,
) -> Result<secrecy::SecretString, AppError> {
    state
        .sealer
        .open(c.tenant_id, c.id, &c.sealed_secret)
        .map_err(|e| AppError::Internal(e.into()))
}

/// Test again: re-verify with the stored credentials; only the test fields change.
async fn retest(
    state: State,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    _form: CheckedForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let c = find_own(&state, tenant, *id).await?;
    if !tests_left(&state, tenant).await? {
        return Err(AppError::TooManyTests);
    }
    test_again(&state, &req, Actor::from(&user), "psa_test", &c).await?;
    Ok(see_other(&connection_path(c.id)))
}

/// Tests a saved connection again with its stored credentials; the result and its audit event
/// commit together. A stored secret that cannot be opened is a failed test that says so.
pub async fn test_again(
    state: &State,
    req: &HttpRequest,
    actor: Actor,
    action: &'static str,
    c: &psa_connection::Model,
) -> Result<(), AppError> {
    let verified = match crate::sync::credentials::credentials_of(c, &state.sealer) {
        Ok(credentials) => verify(state, credentials)
            .await
            .map_err(|e| e.user_message()),
        Err(e) => Err(e.user_message()),
    };
    let txn = state.db.begin().await?;
    let (outcome, detail) = match verified {
        Ok(v) => {
            let test = TestResult::from_verification(&v);
            connections::update_test_result(&txn, c.tenant_id, c.id, &test).await?;
            ("succeeded", test.message)
        }
        Err(message) => {
            connections::record_failed_test(&txn, c.tenant_id, c.id, &message).await?;
            ("failed", message)
        }
    };
    let target = format!("connection {}", c.id);
    audit::record(&txn, req, actor, action, &target, outcome, &detail).await?;
    txn.commit().await?;
    Ok(())
}

async fn sync_now(
    state: State,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    _form: CheckedForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let c = find_own(&state, tenant, *id).await?;
    let txn = state.db.begin().await?;
    let run = runs::queue_run(&txn, tenant, c.id).await?;
    let (target, detail) = (format!("connection {}", c.id), format!("run {}", run.id));
    let actor = Actor::from(&user);
    audit::record(&txn, &req, actor, "psa_sync", &target, "queued", &detail).await?;
    txn.commit().await?;
    Ok(see_other(&connection_path(c.id)))
}

async fn edit_form(
    state: State,
    session: Session,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let c = find_own(&state, tenant, *id).await?;
    let layout = Layout::signed_in(&session, &user, "integrations")?;
    let form = stored_form(&c);
    let page = FormPage::new(layout, form.kind(), Some(c.id), form);
    Ok(respond(page, StatusCode::OK))
}

/// Edit: same fields, blank secret keeps the stored one; re-verified before anything changes.
async fn edit(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    CheckedForm(mut form): CheckedForm<PsaForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let c = find_own(&state, tenant, *id).await?;
    let ctx = Ctx {
        state: &state,
        session: &session,
        req: &req,
        user: &user,
        tenant,
    };
    form.psa_type = kind_of(&c.psa_type).to_string();
    let kept = open_secret(&state, &c)?;
    let parsed = match form.parse(Some(kept)) {
        Ok(p) => p,
        Err(errors) => return ctx.field_errors(form, Some(c.id), errors, String::new()),
    };
    if let Some(error) = kept_key_would_move(&c, &form, &parsed.identity) {
        return ctx.field_errors(form, Some(c.id), vec![error], String::new());
    }
    let target = format!("connection {}", c.id);
    if !tests_left(&state, tenant).await? {
        return ctx.psa_failed(form, Some(c.id), &PsaError::TooManyTests);
    }
    let verification = match verify(&state, parsed.credentials).await {
        Ok(v) => v,
        Err(e) => {
            ctx.audit("psa_edit", &target, "failed", &e.user_message())
                .await?;
            return ctx.psa_failed(form, Some(c.id), &e);
        }
    };
    let identity = saved_identity(parsed.identity, &verification);
    let test = TestResult::from_verification(&verification);
    if !update(&ctx, c.id, &identity, &test, &parsed.secret).await? {
        ctx.audit("psa_edit", &target, "duplicate", "").await?;
        return ctx.field_errors(
            form,
            Some(c.id),
            vec![duplicate_error(&identity)],
            String::new(),
        );
    }
    Ok(see_other(&connection_path(c.id)))
}

/// The stored private key is only ever sent to the address it was saved with: a new ConnectWise
/// URL needs the key typed again (else whoever runs that host would receive the stored key).
fn kept_key_would_move(
    c: &psa_connection::Model,
    form: &PsaForm,
    identity: &Identity,
) -> Option<FieldError> {
    let moved = c.psa_type == CONNECTWISE && identity.host != c.host;
    (moved && form.private_key.trim().is_empty()).then(|| {
        FieldError::new(
            "private_key",
            "Enter the private key again: a changed ConnectWise URL never receives the stored key.",
        )
    })
}

/// Stores an edit in one transaction; false when it would duplicate another connection.
async fn update(
    ctx: &Ctx<'_>,
    id: i64,
    identity: &Identity,
    test: &TestResult,
    secret: &secrecy::SecretString,
) -> Result<bool, AppError> {
    let sealed = ctx
        .state
        .sealer
        .seal(ctx.tenant, id, secret)
        .map_err(|e| AppError::Internal(e.into()))?;
    let txn = ctx.state.db.begin().await?;
    match connections::update_identity(&txn, ctx.tenant, id, identity, &sealed).await {
        Ok(()) => {}
        Err(e) if connections::is_duplicate(&e) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    connections::update_test_result(&txn, ctx.tenant, id, test).await?;
    // The records shown must come from the account now saved: a run still going with the old
    // one may not become live.
    runs::supersede_open_runs(&txn, ctx.tenant, id, SUPERSEDED).await?;
    runs::queue_run(&txn, ctx.tenant, id).await?;
    let (target, detail) = (format!("connection {id}"), audit_target(identity));
    let actor = Actor::from(ctx.user);
    audit::record(
        &txn,
        ctx.req,
        actor,
        "psa_edit",
        &target,
        "succeeded",
        &detail,
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Why a run stopped when its connection was edited.
const SUPERSEDED: &str = "The connection was edited while this run was going; a new run was queued with the new settings.";

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

/// Remove: only with the confirmation box ticked; takes the runs and retrieved records along.
async fn delete(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    CheckedForm(form): CheckedForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let c = find_own(&state, tenant, *id).await?;
    if form.confirm != "yes" {
        let mut page = show_page(&state, &session, &user, &c).await?;
        page.delete_error =
            "Tick the box to confirm: removing deletes the connection and everything retrieved with it."
                .to_string();
        return Ok(respond(page, StatusCode::UNPROCESSABLE_ENTITY));
    }
    // Limitation: a run in progress is not stopped first; the worker's next write for it fails.
    let target = format!(
        "connection {}: {} {} at {}",
        c.id, c.psa_type, c.account, c.host
    );
    // The removal and its audit event stand or fall together.
    let txn = state.db.begin().await?;
    connections::delete_connection(&txn, tenant, c.id).await?;
    let actor = Actor::from(&user);
    audit::record(&txn, &req, actor, "psa_delete", &target, "succeeded", "").await?;
    txn.commit().await?;
    Ok(see_other("/tools/integrations"))
}
