//! What every page shares: the layout's context (who is signed in, the CSRF token, the active
//! menu) and small response helpers.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::header;

use super::csrf;
use super::error::AppError;
use super::user::CurrentUser;

/// The base layout's data, built once per page.
pub struct Layout {
    pub csrf_token: String,
    /// Signed-in user's email, empty on public pages.
    pub user_email: String,
    /// Signed-in user's tenant name (or "Support"), empty on public pages.
    pub tenant_name: String,
    pub is_support: bool,
    /// A tenant admin: the Users page is in the menu.
    pub is_admin: bool,
    /// The navigation entry to highlight.
    pub active: &'static str,
}

impl Layout {
    pub fn public(session: &Session) -> Result<Self, AppError> {
        Ok(Self {
            csrf_token: csrf::token(session)?,
            user_email: String::new(),
            tenant_name: String::new(),
            is_support: false,
            is_admin: false,
            active: "",
        })
    }

    pub fn signed_in(
        session: &Session,
        user: &CurrentUser,
        active: &'static str,
    ) -> Result<Self, AppError> {
        Ok(Self {
            csrf_token: csrf::token(session)?,
            user_email: user.email.clone(),
            tenant_name: user.tenant_name.clone(),
            is_support: user.is_support,
            is_admin: user.is_admin(),
            active,
        })
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}
