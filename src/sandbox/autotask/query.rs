//! Autotask queries: the QueryModel from `?search=` or a POST body, `MaxRecords`,
//! `IncludeFields`, cursor paging through absolute `nextPageUrl`/`prevPageUrl`, counts and
//! single records.

use actix_web::http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::filter::{self, Filter, property};
use super::render::Entity;
use super::{errors, method_not_allowed};
use crate::sandbox::server::{Incoming, Reply, State};

const MAX_RECORDS: i64 = 500;

/// Everything a query handler needs about its request.
pub struct QueryCtx<'a> {
    pub state: &'a State,
    pub req: &'a Incoming,
    pub entity: Entity,
    pub zone: &'a str,
    /// False for a restricted security level: queries succeed with no rows.
    pub visible: bool,
}

/// The cursor carried in `nextPageUrl`: the page starts at the first id not below `nextIds[0]`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Paging {
    #[serde(rename = "pageSize")]
    page_size: i64,
    #[serde(rename = "previousIds", default)]
    previous_ids: Vec<i64>,
    #[serde(rename = "nextIds", default)]
    next_ids: Vec<i64>,
}

/// A parsed QueryModel.
struct QueryModel {
    filters: Vec<Filter>,
    max_records: i64,
    include: Vec<String>,
    /// The raw `search` text of a GET query, carried into page URLs.
    search: Option<String>,
}

fn server_error(message: &str) -> Reply {
    errors(StatusCode::INTERNAL_SERVER_ERROR, message)
}

/// Reads the QueryModel from `?search=` (GET) or the body (POST).
fn read_model(ctx: &QueryCtx) -> Result<QueryModel, Reply> {
    let (raw, search) = match ctx.req.method {
        Method::GET => {
            let search = ctx
                .req
                .param("search")
                .ok_or_else(|| server_error("The search parameter is required."))?;
            (search.clone(), Some(search))
        }
        Method::POST => (String::from_utf8_lossy(&ctx.req.body).into_owned(), None),
        ref other => return Err(method_not_allowed(other)),
    };
    let value: Value = serde_json::from_str(&raw)
        .map_err(|_| server_error("The query could not be parsed as JSON."))?;
    let model = parse_model(&value, search)?;
    check_fields(ctx.entity, &model.filters)?;
    Ok(model)
}

fn parse_model(value: &Value, search: Option<String>) -> Result<QueryModel, Reply> {
    let filters = property(value, "filter")
        .map(filter::parse)
        .transpose()
        .map_err(|e| server_error(&e))?;
    // Unverified status and text: the API is reported to refuse filterless queries (brief §3.2).
    let filters = filters
        .filter(|f| !f.is_empty())
        .ok_or_else(|| server_error("A filter is required for this query."))?;
    let max_records = match property(value, "MaxRecords") {
        None | Some(Value::Null) => MAX_RECORDS,
        Some(n) => n
            .as_i64()
            .filter(|n| (1..=MAX_RECORDS).contains(n))
            .ok_or_else(|| server_error("MaxRecords must be an integer between 1 and 500."))?,
    };
    let include = property(value, "IncludeFields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(QueryModel {
        filters,
        max_records,
        include,
        search,
    })
}

fn check_fields(entity: Entity, filters: &[Filter]) -> Result<(), Reply> {
    match filter::unknown_field(filters, entity.fields()) {
        Some(field) => Err(server_error(&format!(
            "Unable to find {field} in the {} Entity",
            entity.singular()
        ))),
        None => Ok(()),
    }
}

/// Ids of the matching rows, ascending, rendering rows only when the filter needs more than ids.
fn matching_ids(ctx: &QueryCtx, filters: &[Filter]) -> Vec<(i64, usize)> {
    if !ctx.visible {
        return Vec::new();
    }
    let data = &ctx.state.data;
    let base = ctx.entity.base_id();
    let cheap = filter::only_id(filters);
    ctx.entity
        .rows(data)
        .into_iter()
        .map(|idx| (base + idx as i64, idx))
        .filter(|(id, idx)| {
            let record = if cheap {
                json!({"id": id})
            } else {
                ctx.entity.render(data, *idx)
            };
            filter::matches_all(filters, &record)
        })
        .collect()
}

pub fn count(ctx: &QueryCtx) -> Reply {
    match read_model(ctx) {
        Ok(model) => Reply::json(
            StatusCode::OK,
            &json!({"queryCount": matching_ids(ctx, &model.filters).len()}),
        ),
        Err(reply) => reply,
    }
}

/// `query/next`: only the verb the first page used works (GET pages carry `search`).
pub fn next(ctx: &QueryCtx) -> Reply {
    let has_search = ctx.req.param("search").is_some();
    let same_verb = match ctx.req.method {
        Method::GET => has_search,
        Method::POST => !has_search,
        _ => false,
    };
    if !same_verb {
        return method_not_allowed(&ctx.req.method);
    }
    let paging = ctx
        .req
        .param("paging")
        .and_then(|p| serde_json::from_str::<Paging>(&p).ok());
    match paging {
        Some(paging) => query(ctx, Some(paging)),
        None => server_error("The paging parameter is missing or invalid."),
    }
}

pub fn query(ctx: &QueryCtx, paging: Option<Paging>) -> Reply {
    let model = match read_model(ctx) {
        Ok(model) => model,
        Err(reply) => return reply,
    };
    // A cursor keeps the page size it was created with, as the real `paging` token does.
    let size = paging
        .as_ref()
        .map_or(model.max_records, |p| p.page_size.clamp(1, MAX_RECORDS)) as usize;
    let start = paging
        .as_ref()
        .and_then(|p| p.next_ids.first().copied())
        .unwrap_or(i64::MIN);
    let ids = matching_ids(ctx, &model.filters);
    let first = ids.partition_point(|(id, _)| *id < start);
    let page = &ids[first..(first + size).min(ids.len())];
    let next_url = ids
        .get(first + size)
        .map(|(id, _)| page_url(ctx, &model, size, *id, page));
    let prev_url =
        (first > 0).then(|| page_url(ctx, &model, size, ids[first.saturating_sub(size)].0, page));
    let items: Vec<Value> = page
        .iter()
        .map(|(_, idx)| include(ctx.entity.render(&ctx.state.data, *idx), &model.include))
        .collect();
    let details = json!({"count": items.len(), "requestCount": size, "prevPageUrl": prev_url, "nextPageUrl": next_url});
    Reply::json(
        StatusCode::OK,
        &json!({"items": items, "pageDetails": details}),
    )
    .with_page_size(size)
}

/// An absolute page URL on the zone host; GET pages repeat the `search` text.
fn page_url(
    ctx: &QueryCtx,
    model: &QueryModel,
    size: usize,
    start: i64,
    page: &[(i64, usize)],
) -> String {
    let paging = Paging {
        page_size: size as i64,
        previous_ids: page.iter().take(1).map(|(id, _)| *id).collect(),
        next_ids: vec![start],
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair(
        "paging",
        &serde_json::to_string(&paging).unwrap_or_default(),
    );
    if let Some(search) = &model.search {
        query.append_pair("search", search);
    }
    let base = &ctx.req.base;
    format!(
        "{base}/{}/ATServicesRest/V1.0/{}/query/next?{}",
        ctx.zone,
        ctx.entity.route(),
        query.finish()
    )
}

/// Keeps the listed fields; `id` and `userDefinedFields` stay, as observed live.
fn include(record: Value, fields: &[String]) -> Value {
    if fields.is_empty() {
        return record;
    }
    let Value::Object(map) = record else {
        return record;
    };
    let kept: Map<String, Value> = map
        .into_iter()
        .filter(|(key, _)| {
            key == "id"
                || key == "userDefinedFields"
                || fields.iter().any(|f| f.eq_ignore_ascii_case(key))
        })
        .collect();
    Value::Object(kept)
}

pub fn by_id(ctx: &QueryCtx, id: &str) -> Reply {
    let base = ctx.entity.base_id();
    let idx = id
        .parse::<i64>()
        .ok()
        .and_then(|id| usize::try_from(id - base).ok());
    let found = idx
        .filter(|idx| ctx.visible && ctx.entity.rows(&ctx.state.data).binary_search(idx).is_ok());
    match found {
        Some(idx) => Reply::json(
            StatusCode::OK,
            &json!({"item": ctx.entity.render(&ctx.state.data, idx)}),
        ),
        // A 404 whose body also satisfies clients that expect `{"item": null}` (brief §3.4).
        None => Reply::json(StatusCode::NOT_FOUND, &json!({"item": null})),
    }
}

/// A minimal `entityInformation/fields`: names and queryability, types left generic.
pub fn field_information(entity: Entity) -> Reply {
    let fields: Vec<Value> = entity
        .fields()
        .iter()
        .filter(|name| **name != "userDefinedFields")
        .map(|name| {
            json!({
                "name": name, "dataType": if name.ends_with("ID") || *name == "id" { "integer" } else { "string" },
                "length": 0, "isRequired": *name == "id", "isReadOnly": *name == "id", "isQueryable": true,
                "isReference": name.ends_with("ID"), "referenceEntityType": "", "isPickList": false,
                "picklistValues": null, "picklistParentValueField": "", "isSupportedWebhookField": false,
            })
        })
        .collect();
    Reply::json(StatusCode::OK, &json!({"fields": fields}))
}
