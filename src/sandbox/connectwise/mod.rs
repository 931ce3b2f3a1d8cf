//! The ConnectWise Manage imitation: companyinfo discovery, Basic auth with `clientId`, role
//! enforcement, and the company, contact, agreement, addition and catalog endpoints.

pub mod conditions;
mod listing;
pub mod render;
mod security;

use actix_web::http::{Method, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};

use super::accounts::{CwMember, CwProfile};
use super::server::{Incoming, Reply, State};
use listing::Listing;
use render::Ctx;

/// The newest model version the sandbox speaks (the codebase of its cloud company).
const LATEST: (u16, u16) = (2025, 1);

/// Whether a first path segment is a ConnectWise codebase (`v4_6_release`, `v2025_1`).
pub fn is_codebase(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    lower == "v4_6_release" || parse_versioned(&lower).is_some()
}

fn parse_versioned(codebase: &str) -> Option<(u16, u16)> {
    let (year, release) = codebase.strip_prefix('v')?.split_once('_')?;
    Some((year.parse().ok()?, release.parse().ok()?))
}

/// Answers one ConnectWise request (latency and other faults are applied by the caller).
pub fn handle(state: &State, req: &Incoming) -> Reply {
    let segments = req.segments();
    match segments.as_slice() {
        [login, info, company]
            if login.eq_ignore_ascii_case("login") && info.eq_ignore_ascii_case("companyinfo") =>
        {
            company_info(state, req, company)
        }
        [codebase, apis, three, rest @ ..]
            if apis.eq_ignore_ascii_case("apis") && *three == "3.0" =>
        {
            api(state, req, codebase, rest)
        }
        _ => not_found("The requested resource was not found."),
    }
}

/// A ConnectWise error body (`ErrorResponseMessage`).
pub fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"code": code, "message": message, "errors": null}),
    )
}

fn not_found(message: &str) -> Reply {
    error(StatusCode::NOT_FOUND, "NotFound", message)
}

fn find_condition(message: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, "ApiFindCondition", message)
}

fn forbidden() -> Reply {
    error(
        StatusCode::FORBIDDEN,
        "Security",
        "You do not have security permission to perform this action.",
    )
}

fn company_info(state: &State, req: &Incoming, company_id: &str) -> Reply {
    let Some(company) = state.accounts.cw_company(company_id) else {
        // Unknown company: 200 with a JSON null body (the most-cited behaviour, brief §1.3).
        return Reply::json(StatusCode::OK, &Value::Null);
    };
    let (year, release) = parse_versioned(company.codebase.trim_end_matches('/')).unwrap_or(LATEST);
    let short: String = company
        .company_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(4)
        .collect();
    Reply::json(
        StatusCode::OK,
        &json!({
            "CompanyName": company.company_id,
            "Codebase": company.codebase,
            "VersionCode": format!("v{year}.{release}"),
            "VersionNumber": "v4.6.10333",
            "CompanyID": short.to_ascii_uppercase(),
            "IsCloud": if company.is_cloud { "True" } else { "False" },
            "SiteUrl": req.host(),
        }),
    )
}

/// The authenticated caller of an API request.
struct Caller<'a> {
    member: &'a CwMember,
    ctx: Ctx,
}

fn api(state: &State, req: &Incoming, codebase: &str, rest: &[&str]) -> Reply {
    let caller = match authenticate(state, req, codebase) {
        Ok(caller) => caller,
        Err(reply) => return reply,
    };
    if req.method != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The requested method is not supported by the sandbox.",
        );
    }
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    route(state, req, &caller, &lower)
}

fn route(state: &State, req: &Incoming, caller: &Caller, path: &[&str]) -> Reply {
    match path {
        ["system", "info"] => system_info(state, caller),
        ["system", "mysecurity"] => {
            Reply::json(StatusCode::OK, &security::rows(caller.member, &caller.ctx))
        }
        ["company", "companies", tail @ ..] => collection(req, companies(state, caller), tail),
        ["company", "contacts", tail @ ..] => collection(req, contacts(state, caller), tail),
        ["finance", "agreements", "types", tail @ ..] => {
            collection(req, agreement_types(state, caller), tail)
        }
        ["finance", "agreements", id, "additions", tail @ ..] => {
            additions(state, req, caller, id, tail)
        }
        ["finance", "agreements", tail @ ..] => match agreements(state, caller) {
            Ok(listing) => collection(req, listing, tail),
            Err(reply) => reply,
        },
        ["procurement", "catalog", tail @ ..] => collection(req, catalog(state, caller), tail),
        ["service", "tickets", tail @ ..] => collection(req, tickets(state, caller), tail),
        _ => not_found("The requested resource was not found."),
    }
}

/// `""` lists, `count` counts, a number fetches one record.
fn collection(req: &Incoming, listing: Listing, tail: &[&str]) -> Reply {
    match tail {
        [] => listing.list(req),
        ["count"] => listing.count(req),
        [id] => match id.parse::<i64>() {
            Ok(id) => listing.one(req, id),
            Err(_) => not_found("The requested resource was not found."),
        },
        _ => not_found("The requested resource was not found."),
    }
}

fn authenticate<'a>(state: &'a State, req: &Incoming, codebase: &str) -> Result<Caller<'a>, Reply> {
    check_client_id(state, req)?;
    let member = find_member(state, req).ok_or_else(unauthenticated)?;
    if member.profile == CwProfile::Disabled {
        return Err(unauthenticated());
    }
    check_codebase(state, member, codebase)?;
    let version = accept_version(req)?;
    let api_root = format!("{}/{}/apis/3.0", req.base, codebase);
    Ok(Caller {
        member,
        ctx: Ctx { api_root, version },
    })
}

fn unauthenticated() -> Reply {
    // Real servers were seen answering "UserNotAuthenticated"; PSCWM also expects the
    // "Unauthorized" code (brief §6.3, BR-12), so both appear.
    error(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "UserNotAuthenticated",
    )
}

fn check_client_id(state: &State, req: &Incoming) -> Result<(), Reply> {
    match req.header("clientid") {
        // Unverified body: vendors report a 400 that mentions clientId (brief §2.2).
        None => Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidClientId",
            "A clientId header is required for all API requests. Register one at developer.connectwise.com.",
        )),
        Some(id) if id.trim() == state.accounts.connectwise.client_id => Ok(()),
        // BR-02: a revoked or unknown clientId answers 401 with a plain-text body.
        Some(_) => Err(Reply::text(
            StatusCode::UNAUTHORIZED,
            "The supplied clientId is not valid or has been revoked.",
        )),
    }
}

fn find_member<'a>(state: &'a State, req: &Incoming) -> Option<&'a CwMember> {
    let encoded = req.header("authorization")?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, private_key) = text.split_once(':')?;
    let (company, public_key) = user.split_once('+')?;
    state.accounts.connectwise.members.iter().find(|m| {
        m.company_id.eq_ignore_ascii_case(company.trim())
            && m.public_key == public_key.trim()
            && m.private_key == private_key.trim()
    })
}

/// `v4_6_release` routes to any company; a versioned codebase must be the company's own, so a
/// stale stored codebase gets the 404 of BR-03.
fn check_codebase(state: &State, member: &CwMember, codebase: &str) -> Result<(), Reply> {
    if codebase.eq_ignore_ascii_case("v4_6_release") {
        return Ok(());
    }
    let own = state
        .accounts
        .cw_company(&member.company_id)
        .map(|c| c.codebase.trim_end_matches('/'));
    match own {
        Some(own) if own.eq_ignore_ascii_case(codebase) => Ok(()),
        _ => Err(not_found("Cannot route. Codebase/company is invalid")),
    }
}

/// `Accept: application/vnd.connectwise.com+json; version=2019.4` pins a model version;
/// pre-2018 versions such as `3.0.0` are refused as in BR-05.
fn accept_version(req: &Incoming) -> Result<(u16, u16), Reply> {
    let Some(accept) = req.header("accept") else {
        return Ok(LATEST);
    };
    let Some(raw) = accept
        .split(['&', ';', ','])
        .find_map(|part| part.trim().strip_prefix("version="))
    else {
        return Ok(LATEST);
    };
    let mut parts = raw.trim().trim_matches('"').split('.');
    let year = parts.next().and_then(|y| y.parse::<u16>().ok());
    let release = parts.next().and_then(|r| r.parse::<u16>().ok());
    match (year, release) {
        (Some(year), Some(release)) if year >= 2018 => Ok((year, release).min(LATEST)),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "ConnectWiseApi",
            "The requested resource does not support the API version '0.0'.",
        )),
    }
}

fn system_info(state: &State, caller: &Caller) -> Reply {
    let cloud = state
        .accounts
        .cw_company(&caller.member.company_id)
        .is_none_or(|c| c.is_cloud);
    let mut info = json!({
        "version": "v2025.1.10333", "isCloud": cloud, "serverTimeZone": "AUS Eastern Standard Time",
        "licenseBits": [{"name": "Agreement", "activeFlag": true}, {"name": "Inventory", "activeFlag": true},
                        {"name": "ManagedServices", "activeFlag": true}],
        "maxWorkFlowRecordsAllowed": 1000,
    });
    if cloud {
        info["cloudRegion"] = json!("AU");
    }
    Reply::json(StatusCode::OK, &info)
}

fn sees_companies(caller: &Caller) -> bool {
    caller.member.profile != CwProfile::NoCompanies
}

fn companies<'a>(state: &'a State, caller: &'a Caller) -> Listing<'a> {
    let rows = if sees_companies(caller) {
        (0..state.data.companies.len()).collect()
    } else {
        Vec::new()
    };
    Listing::new(
        "Company",
        render::COMPANY_BASE,
        rows,
        render::schema::COMPANY,
        move |i| render::company(&caller.ctx, &state.data, i),
    )
}

fn contacts<'a>(state: &'a State, caller: &'a Caller) -> Listing<'a> {
    let rows = if sees_companies(caller) {
        (0..state.data.contacts.len()).collect()
    } else {
        Vec::new()
    };
    Listing::new(
        "Contact",
        render::CONTACT_BASE,
        rows,
        render::schema::CONTACT,
        move |i| render::contact(&caller.ctx, &state.data, i),
    )
}

fn agreement_types<'a>(_state: &'a State, caller: &'a Caller) -> Listing<'a> {
    let rows = (0..super::data::AGREEMENT_TYPES.len()).collect();
    Listing::new(
        "AgreementType",
        render::TYPE_BASE,
        rows,
        render::schema::AGREEMENT_TYPE,
        move |i| render::agreement_type(&caller.ctx, i),
    )
}

fn agreements<'a>(state: &'a State, caller: &'a Caller) -> Result<Listing<'a>, Reply> {
    if caller.member.profile == CwProfile::NoAgreements {
        return Err(forbidden());
    }
    let rows = (0..state.data.agreements.len())
        .filter(|i| agreement_listed(state, caller.member, *i))
        .collect();
    Ok(Listing::new(
        "Agreement",
        render::AGREEMENT_BASE,
        rows,
        render::schema::AGREEMENT,
        move |i| render::agreement(&caller.ctx, &state.data, i),
    ))
}

/// Whether the role lists an agreement. A child whose parent type is not allowed is still
/// listed; only its additions fail (BR-13).
fn agreement_listed(state: &State, member: &CwMember, idx: usize) -> bool {
    match member.profile {
        CwProfile::NoCompanies => false,
        CwProfile::RestrictedAgreementTypes => type_allowed(state, member, idx),
        _ => true,
    }
}

fn type_allowed(state: &State, member: &CwMember, idx: usize) -> bool {
    let type_name = super::data::AGREEMENT_TYPES[state.data.agreements[idx].type_idx as usize].0;
    member.profile != CwProfile::RestrictedAgreementTypes
        || member
            .allowed_agreement_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(type_name))
}

fn additions(state: &State, req: &Incoming, caller: &Caller, id: &str, tail: &[&str]) -> Reply {
    if caller.member.profile == CwProfile::NoAgreements {
        return forbidden();
    }
    let idx = id
        .parse::<i64>()
        .ok()
        .and_then(|id| id.checked_sub(render::AGREEMENT_BASE));
    let Some(idx) = idx
        .and_then(|i| usize::try_from(i).ok())
        .filter(|i| *i < state.data.agreements.len())
    else {
        return not_found(&format!("Agreement {id} not found"));
    };
    if caller.member.profile == CwProfile::NoCompanies {
        return not_found(&format!("Agreement {id} not found"));
    }
    let parent_ok = state.data.agreements[idx]
        .parent
        .is_none_or(|p| type_allowed(state, caller.member, p as usize));
    if !type_allowed(state, caller.member, idx) || !parent_ok {
        return forbidden();
    }
    let rows = state.data.additions_of(idx).collect();
    let listing = Listing::new(
        "Addition",
        render::ADDITION_BASE,
        rows,
        render::schema::ADDITION,
        move |i| render::addition(&caller.ctx, &state.data, i),
    );
    collection(req, listing, tail)
}

fn tickets<'a>(state: &'a State, caller: &'a Caller) -> Listing<'a> {
    let rows = (0..state.data.tickets.len()).collect();
    Listing::new(
        "Ticket",
        render::TICKET_BASE,
        rows,
        render::schema::TICKET,
        move |i| render::ticket(&caller.ctx, &state.data, i),
    )
}

fn catalog<'a>(state: &'a State, caller: &'a Caller) -> Listing<'a> {
    let rows = (0..state.data.products.len()).collect();
    Listing::new(
        "CatalogItem",
        render::CATALOG_BASE,
        rows,
        render::schema::CATALOG,
        move |i| render::catalog_item(&caller.ctx, &state.data, i),
    )
}
