//! Tools > Activity: the tenant's audit events, newest first, paged and filtered by who and
//! what. Every tenant user may read it, support views of the tenant included.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::State;
use super::auth::respond;
use super::error::{AppError, urlencode};
use super::page::Layout;
use super::user::CurrentUser;
use super::views::when;
use crate::store::audit;

const PER_PAGE: u64 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/tools/activity", web::get().to(index));
}

#[derive(Deserialize)]
struct ActivityQuery {
    #[serde(default)]
    who: String,
    #[serde(default)]
    what: String,
    page: Option<String>,
}

struct EventRow {
    at: String,
    who: String,
    action: String,
    target: String,
    outcome: String,
    detail: String,
    request_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tools/activity.html")]
struct ActivityPage {
    layout: Layout,
    who: String,
    what: String,
    events: Vec<EventRow>,
    page: u64,
    pages: u64,
    total: u64,
    prev: String,
    next: String,
}

async fn index(
    state: State,
    session: Session,
    user: CurrentUser,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, AppError> {
    let tenant = user.tenant()?;
    let who: String = query
        .who
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(320)
        .collect();
    let what: String = query
        .what
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let requested = query.page.as_deref().and_then(|p| p.parse::<u64>().ok());
    let index = requested.unwrap_or(1).clamp(1, 100_000) - 1;
    let (rows, total) =
        audit::find_tenant_events_page(&state.db, tenant, &who, &what, index, PER_PAGE).await?;
    let pages = total.div_ceil(PER_PAGE).max(1);
    let link = |page: u64| {
        format!(
            "/tools/activity?who={}&what={}&page={page}",
            urlencode(&who),
            urlencode(&what)
        )
    };
    let page = ActivityPage {
        layout: Layout::signed_in(&session, &user, "activity")?,
        events: rows
            .into_iter()
            .map(|e| EventRow {
                at: when(e.at),
                who: e.actor_email,
                action: e.action,
                target: e.target,
                outcome: e.outcome,
                detail: e.detail,
                request_id: e.request_id,
            })
            .collect(),
        prev: if index > 0 {
            link(index)
        } else {
            String::new()
        },
        next: if index + 1 < pages {
            link(index + 2)
        } else {
            String::new()
        },
        page: index + 1,
        pages,
        total,
        who,
        what,
    };
    Ok(respond(page, StatusCode::OK))
}
