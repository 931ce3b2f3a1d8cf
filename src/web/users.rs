//! Tools > Users (a tenant's admins only): the tenant's users, adding one with a temporary
//! password shown once, changing a role, deactivating. And, for everyone signed in, changing
//! one's own password. Every change is an audit event; no password is ever logged.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::TransactionTrait;
use secrecy::SecretString;
use serde::Deserialize;

use super::State;
use super::audit::{self, Actor};
use super::auth::respond;
use super::csrf::CheckedForm;
use super::error::AppError;
use super::page::{Layout, see_other};
use super::user::CurrentUser;
use crate::password;
use crate::store::sessions::{self, USER_ID_KEY};
use crate::store::users::{self, NewUser, Role};

/// Length of a generated temporary password (alphanumeric: about 119 bits).
const TEMPORARY_LEN: usize = 20;

/// A random password for a new user, shown once to whoever created the account.
pub fn temporary_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), TEMPORARY_LEN)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tools/users", web::get().to(index))
        .route("/tools/users", web::post().to(create))
        .route("/tools/users/{id}/role", web::post().to(change_role))
        .route("/tools/users/{id}/deactivate", web::post().to(deactivate))
        .route("/account/password", web::get().to(password_page))
        .route("/account/password", web::post().to(change_password));
}

struct UserRow {
    id: i64,
    email: String,
    role: String,
    active: bool,
    is_me: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "tools/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    /// Why the last change was refused.
    error: String,
    /// The add form as typed, kept after a refusal, and what is wrong with its email.
    email: String,
    email_error: String,
    /// Set once, right after a user was added: shown on this page only.
    created_email: String,
    temporary_password: String,
}

async fn users_page(
    state: &State,
    session: &Session,
    user: &CurrentUser,
    tenant: i64,
) -> Result<UsersPage, AppError> {
    let mut rows: Vec<UserRow> = users::find_tenant_users(&state.db, tenant)
        .await?
        .into_iter()
        .map(|u| UserRow {
            is_me: u.id == user.id,
            id: u.id,
            email: u.email,
            role: u.role,
            active: u.active,
        })
        .collect();
    rows.sort_by(|a, b| b.active.cmp(&a.active).then(a.email.cmp(&b.email)));
    Ok(UsersPage {
        layout: Layout::signed_in(session, user, "users")?,
        users: rows,
        error: String::new(),
        email_error: String::new(),
        email: String::new(),
        created_email: String::new(),
        temporary_password: String::new(),
    })
}

async fn refused(
    state: &State,
    session: &Session,
    user: &CurrentUser,
    tenant: i64,
    error: &str,
) -> Result<HttpResponse, AppError> {
    let mut page = users_page(state, session, user, tenant).await?;
    page.error = error.to_string();
    Ok(respond(page, StatusCode::UNPROCESSABLE_ENTITY))
}

async fn index(
    state: State,
    session: Session,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let page = users_page(&state, &session, &user, tenant).await?;
    Ok(respond(page, StatusCode::OK))
}

#[derive(Deserialize)]
struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn create(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    CheckedForm(form): CheckedForm<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let email = match crate::domain::account::parse_email(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let mut page = users_page(&state, &session, &user, tenant).await?;
            page.email_error = e.message;
            page.email = form.email.chars().take(320).collect();
            return Ok(respond(page, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    let Some(role) = Role::parse(&form.role) else {
        return refused(&state, &session, &user, tenant, "Choose admin or member.").await;
    };
    let temporary = temporary_password();
    let hash = password::hash(SecretString::from(temporary.clone())).await?;
    let new = NewUser {
        tenant_id: Some(tenant),
        email: &email,
        password_hash: hash,
        role,
        is_support: false,
        must_change_password: true,
    };
    let txn = state.db.begin().await?;
    match users::insert_user(&txn, new).await {
        Ok(_) => {}
        Err(e) if users::is_unique_violation(&e) => {
            let mut page = users_page(&state, &session, &user, tenant).await?;
            page.email_error = "A user with this email already exists.".to_string();
            page.email = email;
            return Ok(respond(page, StatusCode::UNPROCESSABLE_ENTITY));
        }
        Err(e) => return Err(e.into()),
    }
    let actor = Actor::from(&user);
    audit::record(
        &txn,
        &req,
        actor,
        "user_create",
        &email,
        "succeeded",
        role.as_str(),
    )
    .await?;
    txn.commit().await?;
    let mut page = users_page(&state, &session, &user, tenant).await?;
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

/// The tenant's user `id`, or 404.
async fn own_user(
    state: &State,
    tenant: i64,
    id: i64,
) -> Result<crate::store::entity::user::Model, AppError> {
    users::find_user(&state.db, id)
        .await?
        .filter(|u| u.tenant_id == Some(tenant))
        .ok_or(AppError::NotFound)
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

async fn change_role(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    CheckedForm(form): CheckedForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let target = own_user(&state, tenant, *id).await?;
    let Some(role) = Role::parse(&form.role) else {
        return refused(&state, &session, &user, tenant, "Choose admin or member.").await;
    };
    if target.id == user.id {
        let error = "You cannot change your own role. Ask another admin.";
        return refused(&state, &session, &user, tenant, error).await;
    }
    // The change and its audit event commit together.
    let txn = state.db.begin().await?;
    users::set_role(&txn, tenant, target.id, role).await?;
    let actor = Actor::from(&user);
    audit::record(
        &txn,
        &req,
        actor,
        "user_role",
        &target.email,
        "succeeded",
        role.as_str(),
    )
    .await?;
    txn.commit().await?;
    Ok(see_other("/tools/users"))
}

async fn deactivate(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<i64>,
    _form: CheckedForm<super::csrf::TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.require_admin()?;
    let target = own_user(&state, tenant, *id).await?;
    if target.id == user.id {
        let error = "You cannot deactivate yourself. Ask another admin.";
        return refused(&state, &session, &user, tenant, error).await;
    }
    let txn = state.db.begin().await?;
    users::deactivate(&txn, tenant, target.id).await?;
    sessions::delete_user_sessions(&txn, target.id).await?;
    let actor = Actor::from(&user);
    audit::record(
        &txn,
        &req,
        actor,
        "user_deactivate",
        &target.email,
        "succeeded",
        "",
    )
    .await?;
    txn.commit().await?;
    Ok(see_other("/tools/users"))
}

#[derive(Template, WebTemplate)]
#[template(path = "tools/password.html")]
struct PasswordPage {
    layout: Layout,
    error: String,
    /// The field the error belongs beside (`current`, `new`, `confirm`), or empty for the form.
    error_field: &'static str,
    done: bool,
    /// Signed in with a temporary password: nothing else opens until it is replaced.
    must_change: bool,
}

#[derive(Deserialize)]
struct PasswordQuery {
    done: Option<String>,
}

async fn password_page(
    session: Session,
    user: CurrentUser,
    query: web::Query<PasswordQuery>,
) -> Result<HttpResponse, AppError> {
    let page = PasswordPage {
        layout: Layout::signed_in(&session, &user, "account")?,
        error: String::new(),
        error_field: "",
        done: query.done.is_some(),
        must_change: user.must_change_password,
    };
    Ok(respond(page, StatusCode::OK))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

async fn change_password(
    state: State,
    session: Session,
    req: HttpRequest,
    user: CurrentUser,
    CheckedForm(form): CheckedForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let failed = |field: &'static str, error: String, status| -> Result<HttpResponse, AppError> {
        let page = PasswordPage {
            layout: Layout::signed_in(&session, &user, "account")?,
            error,
            error_field: field,
            done: false,
            must_change: user.must_change_password,
        };
        Ok(respond(page, status))
    };
    let stored = users::find_user(&state.db, user.id)
        .await?
        .map(|u| u.password_hash);
    if !super::auth::password_check_allowed(&state, user.id).await? {
        let error = "Too many wrong passwords. Try again in a few minutes.".to_string();
        return failed("", error, StatusCode::TOO_MANY_REQUESTS);
    }
    if !password::verify(SecretString::from(form.current.clone()), stored).await? {
        audit::record(
            &state.db,
            &req,
            Actor::from(&user),
            "password_change",
            &user.email,
            "failed",
            "wrong current password",
        )
        .await?;
        let error = "The current password is not right.".to_string();
        return failed("current", error, StatusCode::UNPROCESSABLE_ENTITY);
    }
    super::auth::password_check_passed(&state, user.id).await?;
    if let Err(m) = password::check_new(&form.new) {
        return failed("new", m, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if form.new == form.current {
        let error = "Choose a new password, different from the current one.".to_string();
        return failed("new", error, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if form.new != form.confirm {
        let error = "The two new passwords differ.".to_string();
        return failed("confirm", error, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let hash = password::hash(SecretString::from(form.new)).await?;
    // Every session of this user ends; this browser keeps going under a new session key.
    let txn = state.db.begin().await?;
    users::set_password_hash(&txn, user.id, &hash).await?;
    sessions::delete_user_sessions(&txn, user.id).await?;
    let actor = Actor::from(&user);
    audit::record(
        &txn,
        &req,
        actor,
        "password_change",
        &user.email,
        "succeeded",
        "",
    )
    .await?;
    txn.commit().await?;
    session.renew();
    session
        .insert(USER_ID_KEY, user.id)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(see_other("/account/password?done=1"))
}
