//! Signing in and out, and the one-time setup of the first organisation and administrator.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use secrecy::SecretString;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::State;
use super::audit::{self, Actor};
use super::csrf::{CheckedForm, TokenOnly};
use super::error::AppError;
use super::page::{Layout, see_other};
use super::user::CurrentUser;
use crate::password;
use crate::store::sessions::USER_ID_KEY;
use crate::store::throttle::{self, PER_ACCOUNT, PER_ADDRESS};
use crate::store::users::{self, NewUser, Role};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/setup", web::get().to(setup_page))
        .route("/setup", web::post().to(setup));
}

/// The sign-in page.
#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    /// Where to go after signing in (already checked to be a local path).
    next: String,
    /// The email as typed, kept after a failure.
    email: String,
    /// Why the last attempt failed, if it did.
    error: String,
    /// No user exists yet: point to the setup page.
    needs_setup: bool,
    /// Setup just finished.
    setup_done: bool,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    setup: Option<String>,
}

async fn login_page(
    state: State,
    session: Session,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let page = LoginPage {
        layout: Layout::public(&session)?,
        next: safe_next(query.next.as_deref()),
        email: String::new(),
        error: String::new(),
        needs_setup: state.setup_token.is_some() && users::count_users(&state.db).await? == 0,
        setup_done: query.setup.as_deref() == Some("done"),
    };
    Ok(respond(page, StatusCode::OK))
}

/// Renders a page with a status (422 for field errors, 401 for refused sign-ins...).
pub fn respond(page: impl Template, status: StatusCode) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => actix_web::ResponseError::error_response(&AppError::Internal(e.into())),
    }
}

/// Only local paths: never another host, never a scheme, never `//` or `/\`.
pub fn safe_next(next: Option<&str>) -> String {
    let next = next.unwrap_or("/");
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if local {
        next.to_string()
    } else {
        "/".to_string()
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    state: State,
    session: Session,
    req: HttpRequest,
    CheckedForm(form): CheckedForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    // What is shown back in the form: no control characters (PostgreSQL refuses NUL).
    let email: String = form
        .email
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(320)
        .collect();
    // Throttling, lookup and audit all use the one canonical spelling, so no variant of an
    // address gets an allowance of its own. Anything that is not an email shares one key.
    let account = crate::domain::account::parse_email(&form.email).ok();
    let canonical = account.as_deref().unwrap_or(NOT_AN_EMAIL);
    let keys = ThrottleKeys::new(canonical, &req, &state.settings.trusted_proxies);
    if !attempt_allowed(&state, &keys).await? {
        return throttled(&state, &session, &req, &form, email, &keys).await;
    }
    let user = match &account {
        Some(valid) => users::find_user_by_email(&state.db, valid).await?,
        None => None,
    };
    let stored = user
        .as_ref()
        .filter(|u| u.active)
        .map(|u| u.password_hash.clone());
    let ok = password::verify(SecretString::from(form.password.clone()), stored).await?;
    match user.filter(|_| ok) {
        Some(user) => sign_in(&state, &session, &req, user, &keys, &form.next).await,
        None => {
            let actor = Actor::anonymous(canonical);
            audit::record(&state.db, &req, actor, "sign_in", canonical, "failed", "").await?;
            let error = "That email and password do not match an active account.".to_string();
            login_failed(&session, &form, email, error, StatusCode::UNAUTHORIZED)
        }
    }
}

/// What the throttle and the audit log use for typed text that is not an email address (it
/// could be a password typed into the wrong field).
const NOT_AN_EMAIL: &str = "(not an email address)";

/// The throttling keys of one attempt: the account, and the client address (an IPv6 client
/// by its /64, since one host can use the whole prefix).
struct ThrottleKeys {
    account: String,
    address: String,
}

impl ThrottleKeys {
    fn new(email: &str, req: &HttpRequest, trusted_proxies: &[std::net::IpAddr]) -> Self {
        let address = match super::client::address(req, trusted_proxies) {
            Some(std::net::IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            Some(ip) => ip.to_string(),
            None => String::new(),
        };
        Self {
            account: format!("account:{email}"),
            address: format!("address:{address}"),
        }
    }

    fn with_policies(&self) -> [(&str, throttle::ThrottlePolicy); 2] {
        [(&self.account, PER_ACCOUNT), (&self.address, PER_ADDRESS)]
    }
}

/// Counts the attempt before the password is checked; false when a key is locked or this
/// attempt goes past its allowance (parallel guesses).
async fn attempt_allowed(state: &State, keys: &ThrottleKeys) -> Result<bool, AppError> {
    for (key, _) in keys.with_policies() {
        if throttle::locked_until(&state.db, key).await?.is_some() {
            return Ok(false);
        }
    }
    let mut allowed = true;
    for (key, policy) in keys.with_policies() {
        allowed &=
            throttle::record_failure(&state.db, key, policy).await? <= policy.allowed_failures;
    }
    Ok(allowed)
}

/// Counts one current-password check on the password page. False when this user has guessed
/// wrong too often, so a stolen session cannot become a password-guessing oracle. The key is
/// apart from sign-in's, so wrong guesses here never lock the owner out of signing in.
pub async fn password_check_allowed(state: &State, user_id: i64) -> Result<bool, AppError> {
    let key = format!("password:{user_id}");
    if throttle::locked_until(&state.db, &key).await?.is_some() {
        return Ok(false);
    }
    let counted = throttle::record_failure(&state.db, &key, PER_ACCOUNT).await?;
    Ok(counted <= PER_ACCOUNT.allowed_failures)
}

/// The current password was right: the count starts again.
pub async fn password_check_passed(state: &State, user_id: i64) -> Result<(), AppError> {
    throttle::clear(&state.db, &format!("password:{user_id}")).await?;
    Ok(())
}

async fn throttled(
    state: &State,
    session: &Session,
    req: &HttpRequest,
    form: &LoginForm,
    email: String,
    keys: &ThrottleKeys,
) -> Result<HttpResponse, AppError> {
    let mut until = chrono::Utc::now() + PER_ACCOUNT.first_lock;
    for (key, _) in keys.with_policies() {
        until = until.max(
            throttle::locked_until(&state.db, key)
                .await?
                .unwrap_or(until),
        );
    }
    let canonical = keys.account.trim_start_matches("account:");
    let actor = Actor::anonymous(canonical);
    audit::record(&state.db, req, actor, "sign_in", canonical, "throttled", "").await?;
    let minutes = ((until - chrono::Utc::now()).num_seconds() + 59) / 60;
    let error = format!("Too many failed sign-ins. Try again in {minutes} minute(s).");
    login_failed(session, form, email, error, StatusCode::TOO_MANY_REQUESTS)
}

fn login_failed(
    session: &Session,
    form: &LoginForm,
    email: String,
    error: String,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = LoginPage {
        layout: Layout::public(session)?,
        next: safe_next(Some(&form.next)),
        email,
        error,
        needs_setup: false,
        setup_done: false,
    };
    Ok(respond(page, status))
}

async fn sign_in(
    state: &State,
    session: &Session,
    req: &HttpRequest,
    user: crate::store::entity::user::Model,
    keys: &ThrottleKeys,
    next: &str,
) -> Result<HttpResponse, AppError> {
    throttle::clear(&state.db, &keys.account).await?;
    throttle::forgive_one(&state.db, &keys.address).await?;
    // A new session id and a new CSRF token: nothing set before sign-in carries over.
    session.clear();
    session.renew();
    session
        .insert(USER_ID_KEY, user.id)
        .map_err(|e| AppError::Internal(e.into()))?;
    let actor = Actor {
        tenant_id: user.tenant_id,
        user_id: Some(user.id),
        email: user.email.clone(),
    };
    audit::record(
        &state.db,
        req,
        actor,
        "sign_in",
        &user.email,
        "succeeded",
        "",
    )
    .await?;
    Ok(see_other(&safe_next(Some(next))))
}

async fn logout(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    _form: CheckedForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    audit::record(
        &state.db,
        &req,
        Actor::from(&user),
        "sign_out",
        &user.email,
        "succeeded",
        "",
    )
    .await?;
    session.purge();
    Ok(see_other("/login"))
}

/// The first-run page: creates the first organisation and its administrator.
#[derive(Template, WebTemplate)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    layout: Layout,
    organisation: String,
    email: String,
    errors: Vec<(&'static str, String)>,
}

impl SetupPage {
    /// The message for one field, empty when it is fine.
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

async fn setup_available(state: &State) -> Result<(), AppError> {
    if state.setup_token.is_none() || users::count_users(&state.db).await? > 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

async fn setup_page(state: State, session: Session) -> Result<HttpResponse, AppError> {
    setup_available(&state).await?;
    let page = SetupPage {
        layout: Layout::public(&session)?,
        organisation: String::new(),
        email: String::new(),
        errors: vec![],
    };
    Ok(respond(page, StatusCode::OK))
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    setup_token: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn setup(
    state: State,
    session: Session,
    req: HttpRequest,
    CheckedForm(form): CheckedForm<SetupForm>,
) -> Result<HttpResponse, AppError> {
    // Limitation: the lock is per process; instances sharing a database should not be set up at once.
    let _one_at_a_time = state.setup_lock.lock().await;
    setup_available(&state).await?;
    let errors = setup_errors(&state, &form);
    if !errors.is_empty() {
        let page = SetupPage {
            layout: Layout::public(&session)?,
            organisation: form.organisation,
            email: form.email,
            errors,
        };
        return Ok(respond(page, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let hash = password::hash(SecretString::from(form.password)).await?;
    let (organisation, email) = (form.organisation.trim(), form.email.trim());
    create_first_admin(&state, &req, organisation, email, hash).await?;
    Ok(see_other("/login?setup=done"))
}

fn setup_errors(state: &State, form: &SetupForm) -> Vec<(&'static str, String)> {
    let mut errors = vec![];
    let expected = state.setup_token.as_deref().unwrap_or_default();
    if !bool::from(
        expected
            .as_bytes()
            .ct_eq(form.setup_token.trim().as_bytes()),
    ) {
        errors.push((
            "setup_token",
            "This is not the setup token. Copy it from the server log.".to_string(),
        ));
    }
    if let Err(e) = crate::domain::account::parse_organisation(&form.organisation) {
        errors.push(("organisation", e.message));
    }
    if let Err(e) = crate::domain::account::parse_email(&form.email) {
        errors.push(("email", e.message));
    }
    if let Err(m) = password::check_new(&form.password) {
        errors.push(("password", m));
    } else if form.password != form.password_confirm {
        errors.push(("password_confirm", "The two passwords differ.".to_string()));
    }
    errors
}

/// The first tenant, its admin and the audit event, in one transaction.
async fn create_first_admin(
    state: &State,
    req: &HttpRequest,
    organisation: &str,
    email: &str,
    password_hash: String,
) -> Result<(), AppError> {
    use sea_orm::TransactionTrait;
    let txn = state.db.begin().await?;
    let tenant = users::insert_tenant(&txn, organisation).await?;
    let new = NewUser {
        tenant_id: Some(tenant.id),
        email,
        password_hash,
        role: Role::Admin,
        is_support: false,
        must_change_password: false,
    };
    let user = users::insert_user(&txn, new).await?;
    let actor = Actor {
        tenant_id: user.tenant_id,
        user_id: Some(user.id),
        email: user.email,
    };
    audit::record(&txn, req, actor, "setup", organisation, "succeeded", "").await?;
    txn.commit().await?;
    Ok(())
}
