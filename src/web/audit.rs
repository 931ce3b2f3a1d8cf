//! Recording audit events from handlers, with the request id that ties them to the logs.

use actix_web::{HttpMessage, HttpRequest};
use sea_orm::ConnectionTrait;

use super::error::AppError;
use super::user::CurrentUser;
use crate::store::audit::{NewEvent, insert_event};

/// Who acted.
pub struct Actor {
    pub tenant_id: Option<i64>,
    pub user_id: Option<i64>,
    pub email: String,
}

impl Actor {
    /// Someone not signed in, known only by the email they typed (cut short: it is user input).
    pub fn anonymous(typed_email: &str) -> Self {
        Self {
            tenant_id: None,
            user_id: None,
            email: typed_email.chars().take(320).collect(),
        }
    }
}

impl From<&CurrentUser> for Actor {
    fn from(u: &CurrentUser) -> Self {
        Self {
            tenant_id: u.tenant_id,
            user_id: Some(u.id),
            email: u.email.clone(),
        }
    }
}

/// The request id tracing-actix-web gave this request.
pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_default()
}

/// Records one event. `detail` must never hold a secret.
pub async fn record(
    db: &impl ConnectionTrait,
    req: &HttpRequest,
    actor: Actor,
    action: &'static str,
    target: &str,
    outcome: &'static str,
    detail: &str,
) -> Result<(), AppError> {
    let event = NewEvent {
        tenant_id: actor.tenant_id,
        actor_user_id: actor.user_id,
        actor_email: printable(&actor.email, 320),
        action,
        target: printable(target, 400),
        outcome,
        request_id: request_id(req),
        detail: printable(detail, 4000),
    };
    Ok(insert_event(db, event).await?)
}

/// Typed text goes into the log as printable text only (PostgreSQL refuses NUL), cut short.
fn printable(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}
