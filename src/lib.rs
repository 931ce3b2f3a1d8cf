//! Sync 365 portal: connects an MSP's PSA (ConnectWise Manage or Autotask) and retrieves its
//! customers, agreements and products. `main.rs` only parses the command line; everything is
//! built here so tests start the real application on port 0.

pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod keys;
pub mod password;
pub mod psa;
pub mod sandbox;
pub mod secrets;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{PersistentSession, TtlExtensionPolicy};
use actix_web::cookie::{Key, SameSite, time::Duration};
use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web as aweb};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::keys::Keys;
use crate::store::sessions::DbSessionStore;
use crate::web::AppState;

/// A built application: its address and the server future to run.
pub struct Application {
    pub port: u16,
    pub server: Server,
    pub state: Arc<AppState>,
}

impl Application {
    /// Opens and migrates the database, loads the keys and binds the listener. Tests pass a
    /// listener on port 0.
    pub async fn build(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let db = store::connect(&settings.database_url).await?;
        store::migrate(&db).await?;
        let keys = Keys::load_or_create(&settings.data_dir)?;
        let setup_token = setup_token(&db).await?;
        let sealer = secrets::Sealer::new(keys.sealing.clone())?;
        let psa = psa::connector::PsaServers::from_settings(&settings)?;
        let state = Arc::new(AppState {
            db,
            settings,
            setup_token,
            setup_lock: tokio::sync::Mutex::new(()),
            sealer,
            psa,
        });
        if state.settings.worker_enabled {
            sync::worker::spawn(
                state.clone(),
                sync::worker::WorkerTiming::from_settings(&state.settings),
            )?;
        }
        let port = listener.local_addr()?.port();
        let server = serve(state.clone(), keys, listener)?;
        Ok(Self {
            port,
            server,
            state,
        })
    }
}

/// With no user yet, a one-time token printed to the log lets only whoever can read the log
/// claim the install.
async fn setup_token(db: &sea_orm::DatabaseConnection) -> anyhow::Result<Option<String>> {
    if store::users::count_users(db).await? > 0 {
        return Ok(None);
    }
    let token = Alphanumeric.sample_string(&mut rand::rng(), 24);
    tracing::warn!("no user exists yet: open /setup and enter the setup token {token}");
    Ok(Some(token))
}

fn serve(state: Arc<AppState>, keys: Keys, listener: TcpListener) -> anyhow::Result<Server> {
    let cookie_key = Key::from(keys.cookie.expose_secret());
    let secure = state.settings.cookie_secure;
    let data = aweb::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(session_middleware(
                data.get_ref().db.clone(),
                cookie_key.clone(),
                secure,
            ))
            .wrap(from_fn(web::error::session_store_outage))
            .wrap(ErrorHandlers::new().default_handler(web::error::render_error_page))
            .wrap(security_headers(secure))
            .wrap(TracingLogger::<telemetry::RequestSpans>::new())
            .app_data(data.clone())
            .app_data(aweb::FormConfig::default().limit(64 * 1024))
            .configure(web::routes)
            .default_service(aweb::to(web::not_found))
    })
    .listen(listener)?
    .run();
    Ok(server)
}

fn session_middleware(
    db: sea_orm::DatabaseConnection,
    key: Key,
    secure: bool,
) -> SessionMiddleware<DbSessionStore> {
    SessionMiddleware::builder(DbSessionStore::new(db), key)
        // Behind https the `__Host-` prefix keeps the cookie to this exact host and path.
        .cookie_name(
            if secure {
                "__Host-sync365_session"
            } else {
                "sync365_session"
            }
            .into(),
        )
        .cookie_http_only(true)
        .cookie_secure(secure)
        .cookie_same_site(SameSite::Lax)
        .session_lifecycle(
            PersistentSession::default()
                .session_ttl(Duration::hours(12))
                .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
        )
        .build()
}

/// CSP without inline script or style, no framing, no referrer leaks, no sniffing, no caching
/// of pages that may show tenant data.
fn security_headers(secure: bool) -> DefaultHeaders {
    let headers = if secure {
        // Served over https: browsers must never fall back to plain http for a year.
        DefaultHeaders::new().add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        DefaultHeaders::new()
    };
    headers
        .add(("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Cache-Control", "no-store"))
}
