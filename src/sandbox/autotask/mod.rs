//! The Autotask REST imitation: zone discovery, header auth with its failure matrix, usage
//! limits, and `query` / `query/count` / `{id}` for the entities the portal reads.
//!
//! One listener serves every zone: `/{zone}/atservicesrest/...` is zone `{zone}`, and the bare
//! `/atservicesrest/...` is the discovery host.

pub mod filter;
pub mod limits;
mod query;
pub mod render;

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use super::accounts::{AtLevel, AtUser};
use super::server::{Incoming, Reply, State};
use limits::Usage;
use render::Entity;

/// Whether a path segment is a zone host name (`webservices14`, `prde`, `pres`).
pub fn is_zone(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    lower == "prde"
        || lower == "pres"
        || lower
            .strip_prefix("webservices")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// The zone named by a request path, and the segments after `atservicesrest`.
fn split_path<'a>(segments: &[&'a str]) -> (Option<&'a str>, Vec<&'a str>) {
    match segments {
        [zone, root, rest @ ..] if is_zone(zone) && root.eq_ignore_ascii_case("atservicesrest") => {
            (Some(zone), rest.to_vec())
        }
        [_root, rest @ ..] => (None, rest.to_vec()),
        [] => (None, Vec::new()),
    }
}

/// `{"errors":[...]}`, Autotask's usual error body.
pub fn errors(status: StatusCode, message: &str) -> Reply {
    Reply::json(status, &json!({"errors": [message]}))
}

/// ASP.NET's framework-level body for a route that does not take this method.
fn method_not_allowed(method: &Method) -> Reply {
    let message = format!("The requested resource does not support http method '{method}'.");
    Reply::json(StatusCode::METHOD_NOT_ALLOWED, &json!({"Message": message}))
}

fn no_route(req: &Incoming) -> Reply {
    let message = format!(
        "No HTTP resource was found that matches the request URI '{}{}'.",
        req.base, req.path
    );
    Reply::json(StatusCode::NOT_FOUND, &json!({"Message": message}))
}

/// The empty 401 Autotask gives for every credential problem.
fn unauthorized(zone: &str) -> Reply {
    Reply::empty(StatusCode::UNAUTHORIZED).with_header(
        "WWW-Authenticate",
        format!("Basic Realm=\"{zone}.autotask.net\""),
    )
}

/// Answers one Autotask request.
pub fn handle(state: &State, req: &Incoming) -> Reply {
    let segments = req.segments();
    let (zone, rest) = split_path(&segments);
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    match lower
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["versioninformation"] => Reply::json(StatusCode::OK, &json!({"apiVersions": ["V1.0"]})),
        ["v1.0", "zoneinformation"] => zone_information(state, req),
        ["v1.0", ..] => authenticated(state, req, zone, &rest[1..]),
        _ => no_route(req),
    }
}

fn zone_information(state: &State, req: &Incoming) -> Reply {
    let user = req.param("user").unwrap_or_default();
    let Some(user) = state.accounts.at_user(&user) else {
        return errors(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Zone information could not be determined",
        );
    };
    let number: String = user.zone.chars().filter(char::is_ascii_digit).collect();
    Reply::json(
        StatusCode::OK,
        &json!({
            "zoneName": zone_name(&user.zone),
            "url": format!("{}/{}/ATServicesRest/", req.base, user.zone),
            "webUrl": format!("{}/ww{number}/", req.base),
            "ci": 600_000 + number.parse::<i64>().unwrap_or(0),
        }),
    )
}

/// Short zone codes; only `AE02` (webservices14) is attested, the rest are opaque labels.
fn zone_name(zone: &str) -> String {
    match zone {
        "webservices2" => "Pre-Release".into(),
        "webservices5" => "AW01".into(),
        "webservices14" => "AE02".into(),
        other => other.to_ascii_uppercase(),
    }
}

fn authenticated(state: &State, req: &Incoming, zone: Option<&str>, rest: &[&str]) -> Reply {
    let user = match authenticate(state, req, zone) {
        Ok(user) => user,
        Err(reply) => return reply,
    };
    let endpoint = rest.first().copied().unwrap_or_default();
    let code = req.header("apiintegrationcode").unwrap_or_default();
    let limits = state.autotask_limits;
    let usage = state.limiter.count(&limits);
    if usage == Usage::Exceeded {
        return threshold_exceeded(&limits);
    }
    let Some(slot) = state.limiter.enter(&limits, code, endpoint) else {
        return thread_exceeded(&limits);
    };
    let delay = match usage {
        Usage::Allowed { delay_ms } => delay_ms,
        Usage::Exceeded => 0,
    };
    let reply = route(state, req, user, zone.unwrap_or(&user.zone), rest);
    reply.with_hold(Box::new(slot)).with_delay(delay)
}

fn threshold_exceeded(limits: &limits::AutotaskLimits) -> Reply {
    // Status and text unverified (brief §5); 429 is what clients are known to handle.
    let message = format!(
        "Request rejected: the external request threshold of {} requests per {} minutes has been exceeded.",
        limits.hourly_threshold,
        limits.window_secs / 60
    );
    errors(StatusCode::TOO_MANY_REQUESTS, &message).with_header("Retry-After", "60".to_string())
}

fn thread_exceeded(limits: &limits::AutotaskLimits) -> Reply {
    let message = format!(
        "Thread Threshold Exceeded: the thread threshold of {} threads has been exceeded for this \
         integration code and endpoint. (Itgenatr005)",
        limits.threads
    );
    errors(StatusCode::TOO_MANY_REQUESTS, &message)
}

/// Checks the three headers and the zone. Every failure is the same empty 401 (brief §2.2).
fn authenticate<'a>(
    state: &'a State,
    req: &Incoming,
    zone: Option<&str>,
) -> Result<&'a AtUser, Reply> {
    let realm = zone.unwrap_or("webservices");
    let username = req.header("username").ok_or_else(|| unauthorized(realm))?;
    let secret = req.header("secret").ok_or_else(|| unauthorized(realm))?;
    let code = req
        .header("apiintegrationcode")
        .ok_or_else(|| unauthorized(realm))?;
    let user = state
        .accounts
        .at_user(username)
        .ok_or_else(|| unauthorized(realm))?;
    let good_secret = user.secret == secret.trim();
    let good_code = code.trim() == state.accounts.autotask.integration_code;
    // No zone prefix: the discovery host answers for any zone (tolerant reading, unverified).
    let right_zone = zone.is_none_or(|z| z.eq_ignore_ascii_case(&user.zone));
    if !good_secret || !good_code || !right_zone || user.level == AtLevel::Locked {
        return Err(unauthorized(realm));
    }
    Ok(user)
}

fn route(state: &State, req: &Incoming, user: &AtUser, zone: &str, rest: &[&str]) -> Reply {
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    match lower.as_slice() {
        ["thresholdinformation"] => threshold_information(state),
        ["version"] => Reply::json(
            StatusCode::OK,
            &json!({"majorVersion": "1", "minorVersion": "0", "build": "2025.1.67"}),
        ),
        [entity, tail @ ..] => match Entity::from_route(entity) {
            Some(entity) => entity_route(state, req, user, zone, entity, tail),
            None => no_route(req),
        },
        [] => no_route(req),
    }
}

fn threshold_information(state: &State) -> Reply {
    let limits = state.autotask_limits;
    Reply::json(
        StatusCode::OK,
        &json!({
            "externalRequestThreshold": limits.hourly_threshold,
            "requestThresholdTimeframe": limits.window_secs / 60,
            "currentTimeframeRequestCount": state.limiter.used(&limits),
        }),
    )
}

fn entity_route(
    state: &State,
    req: &Incoming,
    user: &AtUser,
    zone: &str,
    entity: Entity,
    tail: &[&str],
) -> Reply {
    let ctx = query::QueryCtx {
        state,
        req,
        entity,
        zone,
        visible: user.level == AtLevel::FullAccess,
    };
    match tail {
        ["query"] => query::query(&ctx, None),
        ["query", "count"] => query::count(&ctx),
        ["query", "next"] => query::next(&ctx),
        ["entityinformation", "fields"] if req.method == Method::GET => {
            query::field_information(entity)
        }
        [id] if req.method == Method::GET => query::by_id(&ctx, id),
        [_] => method_not_allowed(&req.method),
        _ => no_route(req),
    }
}
