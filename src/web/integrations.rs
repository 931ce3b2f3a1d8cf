//! Tools > Integration Settings: the PSA Tools list and its + button.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::auth::respond;
use super::error::AppError;
use super::page::Layout;
use super::user::CurrentUser;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tools/integrations", web::get().to(index));
}

/// Integration Settings.
#[derive(Template, WebTemplate)]
#[template(path = "integrations/index.html")]
struct IndexPage {
    layout: Layout,
    /// Whether the user may add or change connections.
    can_edit: bool,
}

async fn index(session: Session, user: CurrentUser) -> Result<HttpResponse, AppError> {
    user.tenant()?;
    let page = IndexPage {
        layout: Layout::signed_in(&session, &user, "integrations")?,
        can_edit: user.is_admin(),
    };
    Ok(respond(page, StatusCode::OK))
}
