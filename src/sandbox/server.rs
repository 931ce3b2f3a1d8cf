//! The HTTP side: one catch-all handler that classifies each request (ConnectWise, Autotask),
//! applies the fault knobs, answers, and logs; plus the `/_sandbox/` control endpoints.
//!
//! The control endpoints take no credentials: the sandbox is for local use only and binds to
//! loopback by default.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde_json::{Value, json};

use super::accounts::Accounts;
use super::autotask::limits::{AutotaskLimits, Limiter};
use super::data::Dataset;
use super::faults::{self, FaultControl, Faults, Planned};
use super::log::{LoggedRequest, RequestLog, Vendor};
use super::{autotask, connectwise};

/// Everything shared by the workers.
#[derive(Debug)]
pub struct State {
    pub data: Dataset,
    pub accounts: Accounts,
    pub faults: FaultControl,
    /// The faults given at start, restored by `reset`.
    pub startup_faults: Faults,
    pub log: RequestLog,
    pub autotask_limits: AutotaskLimits,
    pub limiter: Limiter,
}

impl State {
    /// Clears the log and counters and restores the startup faults.
    pub fn reset(&self) {
        self.log.clear();
        self.limiter.clear();
        self.faults.set(self.startup_faults.clone());
    }
}

/// A request reduced to what the imitations read.
#[derive(Debug)]
pub struct Incoming {
    pub method: actix_web::http::Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `scheme://host[:port]` as the client addressed the sandbox; the base of every link.
    pub base: String,
    host: String,
}

impl Incoming {
    fn new(req: &HttpRequest, body: Bytes) -> Self {
        let info = req.connection_info();
        Self {
            method: req.method().clone(),
            path: req.path().to_string(),
            query: req.query_string().to_string(),
            headers: req.headers().clone(),
            body,
            base: format!("{}://{}", info.scheme(), info.host()),
            host: info.host().to_string(),
        }
    }

    /// Non-empty path segments, percent-decoded.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// A query parameter, name matched case-insensitively (`orderby`, `PageSize`).
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.into_owned())
    }
}

/// An answer before faults are applied.
pub struct Reply {
    pub status: StatusCode,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
    page_size: Option<u32>,
    /// Released after the answer is sent (an Autotask thread slot).
    hold: Option<Box<dyn std::any::Any + Send>>,
    delay_ms: u64,
}

impl Reply {
    pub fn json(status: StatusCode, value: &Value) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self::with_body(
            status,
            Some("application/json; charset=utf-8"),
            Bytes::from(body),
        )
    }

    pub fn text(status: StatusCode, text: &str) -> Self {
        Self::with_body(
            status,
            Some("text/plain; charset=utf-8"),
            Bytes::from(text.to_string()),
        )
    }

    pub fn empty(status: StatusCode) -> Self {
        Self::with_body(status, None, Bytes::new())
    }

    fn with_body(status: StatusCode, content_type: Option<&'static str>, body: Bytes) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body,
            page_size: None,
            hold: None,
            delay_ms: 0,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size as u32);
        self
    }

    pub fn with_hold(mut self, hold: Box<dyn std::any::Any + Send>) -> Self {
        self.hold = Some(hold);
        self
    }

    pub fn with_delay(mut self, delay_ms: u64) -> Self {
        self.delay_ms = delay_ms;
        self
    }
}

/// Which imitation a path belongs to, and the entity used for concurrency accounting.
fn classify(req: &Incoming) -> (Vendor, String) {
    let segments = req.segments();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    match lower.as_slice() {
        [first, ..] if first == "login" => (Vendor::Connectwise, "companyinfo".into()),
        [first, apis, _, rest @ ..] if connectwise::is_codebase(first) && apis == "apis" => {
            let entity: Vec<&str> = rest
                .iter()
                .map(String::as_str)
                .filter(|s| !s.chars().all(|c| c.is_ascii_digit()) && *s != "count")
                .collect();
            (Vendor::Connectwise, entity.join("/"))
        }
        [zone, root, rest @ ..] if autotask::is_zone(zone) && root == "atservicesrest" => {
            (Vendor::Autotask, autotask_entity(rest))
        }
        [root, rest @ ..] if root == "atservicesrest" => (Vendor::Autotask, autotask_entity(rest)),
        _ => (Vendor::Unknown, String::new()),
    }
}

fn autotask_entity(rest: &[String]) -> String {
    match rest {
        [version, entity, ..] if version.starts_with('v') => entity.clone(),
        [other, ..] => other.clone(),
        [] => String::new(),
    }
}

/// The vendor's way of saying "slow down".
fn throttled(vendor: Vendor, retry_after: u64) -> Reply {
    let reply = match vendor {
        Vendor::Autotask => autotask::errors(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests. Please retry later.",
        ),
        _ => Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({
                "error": "ConnectWiseAPI",
                "message": format!("Too many requests. Please try again in {retry_after} seconds."),
            }),
        ),
    };
    reply.with_header("Retry-After", retry_after.to_string())
}

fn server_error(vendor: Vendor, status: u16) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match vendor {
        Vendor::Autotask => {
            autotask::errors(status, "An unexpected error has occurred (sandbox fault).")
        }
        _ => connectwise::error(
            status,
            "ConnectWiseApi",
            "An unexpected error has occurred (sandbox fault).",
        ),
    }
}

/// A redirect elsewhere, as a misconfigured proxy or a moved server would answer.
fn redirect(status: u16, faults: &Faults) -> Reply {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(StatusCode::is_redirection)
        .unwrap_or(StatusCode::FOUND);
    let target = faults
        .redirect_to
        .as_deref()
        .unwrap_or("https://example.invalid/");
    Reply::empty(status).with_header("Location", target.to_string())
}

/// The catch-all handler for PSA traffic.
pub async fn dispatch(req: HttpRequest, body: Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let incoming = Incoming::new(&req, body);
    let (vendor, entity) = classify(&incoming);
    if vendor == Vendor::Unknown {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("Not a ConnectWise or Autotask path.");
    }
    let in_flight = state.log.enter(vendor, &entity);
    let (planned, faults) = state.faults.plan();
    let reply = match planned {
        Planned::Throttle { retry_after } => throttled(vendor, retry_after),
        Planned::ServerError { status } => server_error(vendor, status),
        Planned::Redirect { status } => redirect(status, &faults),
        _ => answer(&state, vendor, &incoming),
    };
    let wait = faults.latency_ms + reply.delay_ms;
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    state.log.push(entry(
        &incoming,
        vendor,
        &reply,
        in_flight.at_start,
        planned,
        &faults,
    ));
    respond(reply, planned, faults.slow_body_ms)
}

fn answer(state: &State, vendor: Vendor, incoming: &Incoming) -> Reply {
    match vendor {
        Vendor::Autotask => autotask::handle(state, incoming),
        _ => connectwise::handle(state, incoming),
    }
}

fn entry(
    req: &Incoming,
    vendor: Vendor,
    reply: &Reply,
    concurrency: u32,
    planned: Planned,
    faults: &Faults,
) -> LoggedRequest {
    let slow = (faults.slow_body_ms > 0 && planned == Planned::None).then_some("slow_body");
    LoggedRequest {
        seq: 0,
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        vendor,
        method: req.method.to_string(),
        path: req.path.clone(),
        query: req.query.clone(),
        status: reply.status.as_u16(),
        page_size: reply.page_size,
        concurrency,
        fault: planned.label().or(slow).map(str::to_string),
    }
}

fn respond(reply: Reply, planned: Planned, slow_body_ms: u64) -> HttpResponse {
    let mut builder = HttpResponse::build(reply.status);
    if let Some(content_type) = reply.content_type {
        builder.content_type(content_type);
    }
    for (name, value) in &reply.headers {
        builder.insert_header((*name, value.as_str()));
    }
    let response = match planned {
        Planned::Reset => builder.streaming(faults::reset_stream()),
        Planned::Truncate => builder.body(faults::truncate(&reply.body)),
        _ if slow_body_ms > 0 => {
            builder.streaming(faults::slow_stream(reply.body.clone(), slow_body_ms))
        }
        _ => builder.body(reply.body.clone()),
    };
    drop(reply.hold);
    response
}

/// `/_sandbox/...`: request log, faults, reset and accounts, without credentials.
pub fn control_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_sandbox")
            .route("/requests", web::get().to(get_requests))
            .route("/requests", web::delete().to(clear_requests))
            .route("/faults", web::get().to(get_faults))
            .route("/faults", web::post().to(set_faults))
            .route("/reset", web::post().to(reset))
            .route("/accounts", web::get().to(get_accounts)),
    );
}

async fn get_requests(state: web::Data<Arc<State>>) -> HttpResponse {
    HttpResponse::Ok().json(state.log.entries())
}

async fn clear_requests(state: web::Data<Arc<State>>) -> HttpResponse {
    state.log.clear();
    HttpResponse::NoContent().finish()
}

async fn get_faults(state: web::Data<Arc<State>>) -> HttpResponse {
    HttpResponse::Ok().json(state.faults.get())
}

async fn set_faults(state: web::Data<Arc<State>>, faults: web::Json<Faults>) -> HttpResponse {
    state.faults.set(faults.into_inner());
    HttpResponse::Ok().json(state.faults.get())
}

async fn reset(state: web::Data<Arc<State>>) -> HttpResponse {
    state.reset();
    HttpResponse::NoContent().finish()
}

async fn get_accounts(state: web::Data<Arc<State>>) -> HttpResponse {
    HttpResponse::Ok().json(&state.accounts)
}
