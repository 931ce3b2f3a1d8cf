//! The HTTP side of the portal: one module per area of the site, each registering its own
//! routes, plus the extractors, CSRF and error pages they share.

pub mod activity;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod client;
pub mod csrf;
pub mod data;
pub mod error;
pub mod forms;
pub mod health;
pub mod integrations;
pub mod page;
pub mod support;
pub mod user;
pub mod users;
pub mod views;

use std::sync::Arc;

use actix_web::web;
use sea_orm::DatabaseConnection;

use crate::config::Settings;

/// What every handler can reach.
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Settings,
    /// The one-time setup token while no user exists.
    pub setup_token: Option<String>,
    /// Held through a setup, so two concurrent ones cannot both create a first admin.
    pub setup_lock: tokio::sync::Mutex<()>,
    /// Seals and opens stored PSA secrets.
    pub sealer: crate::secrets::Sealer,
    /// Vendor ids, hosts and outbound policy for PSA calls.
    pub psa: crate::psa::connector::PsaServers,
}

pub type State = web::Data<Arc<AppState>>;

/// Registers every area's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    assets::routes(cfg);
    health::routes(cfg);
    auth::routes(cfg);
    integrations::routes(cfg);
    data::routes(cfg);
    support::routes(cfg);
    activity::routes(cfg);
    users::routes(cfg);
    cfg.route("/", web::get().to(home));
}

async fn home(user: user::CurrentUser) -> actix_web::HttpResponse {
    if user.is_support {
        return page::see_other("/support/tenants");
    }
    page::see_other("/tools/integrations")
}

/// Anything no route matched.
pub async fn not_found() -> Result<actix_web::HttpResponse, error::AppError> {
    Err(error::AppError::NotFound)
}
