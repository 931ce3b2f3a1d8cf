//! The signed-in user, as an extractor: a handler that takes `CurrentUser` only runs for a
//! signed-in, active user; anyone else is sent to sign in and brought back afterwards.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::{FromRequest, HttpRequest, dev::Payload, http::Method};

use super::State;
use super::error::AppError;
use crate::store::sessions::USER_ID_KEY;
use crate::store::users::{self, Role};

/// Who is signed in, loaded fresh from the database on every request (so a deactivated user
/// is out at once).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    /// None for support users, who belong to no tenant.
    pub tenant_id: Option<i64>,
    pub tenant_name: String,
    pub role: Role,
    pub is_support: bool,
    /// Signed in with a temporary password, not yet replaced.
    pub must_change_password: bool,
}

impl CurrentUser {
    /// The tenant whose data this user may see; support users have none here.
    pub fn tenant(&self) -> Result<i64, AppError> {
        self.tenant_id.ok_or(AppError::Forbidden)
    }

    /// Only a tenant's admins may change its data.
    pub fn require_admin(&self) -> Result<i64, AppError> {
        match self.role {
            Role::Admin => self.tenant(),
            Role::Member => Err(AppError::Forbidden),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin && self.tenant_id.is_some()
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let state = req.app_data::<State>().cloned();
        let path = req.path().to_string();
        let return_to = if req.method() == Method::GET {
            req.uri().to_string()
        } else {
            "/".to_string()
        };
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("app state missing")))?;
            let user_id = session.get::<i64>(USER_ID_KEY).ok().flatten();
            let Some(user_id) = user_id else {
                return Err(AppError::SignInRequired { return_to });
            };
            match load(&state, user_id).await? {
                Some(user) if user.must_change_password && !may_skip_change(&path) => {
                    Err(AppError::PasswordChangeRequired)
                }
                Some(user) => Ok(user),
                None => {
                    session.purge();
                    Err(AppError::SignInRequired { return_to })
                }
            }
        })
    }
}

/// The pages a user with a temporary password may open: choosing their own, and leaving.
fn may_skip_change(path: &str) -> bool {
    matches!(path, "/account/password" | "/logout")
}

async fn load(state: &State, user_id: i64) -> Result<Option<CurrentUser>, AppError> {
    let Some(user) = users::find_user(&state.db, user_id)
        .await?
        .filter(|u| u.active)
    else {
        return Ok(None);
    };
    let tenant_name = match user.tenant_id {
        Some(t) => users::find_tenant(&state.db, t)
            .await?
            .map(|t| t.name)
            .unwrap_or_default(),
        None => "Support".to_string(),
    };
    Ok(Some(CurrentUser {
        id: user.id,
        email: user.email,
        tenant_id: user.tenant_id,
        tenant_name,
        role: Role::parse(&user.role).unwrap_or(Role::Member),
        is_support: user.is_support,
        must_change_password: user.must_change_password,
    }))
}
