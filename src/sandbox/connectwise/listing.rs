//! One ConnectWise collection served three ways (list, count, by id), with `conditions`,
//! `orderBy`, `fields`, navigable paging with `Link` headers, and forward-only paging.

use std::cmp::Ordering;

use actix_web::http::StatusCode;
use serde_json::{Map, Value, json};

use super::conditions::{self, Condition};
use super::render::schema;
use super::{find_condition, not_found};
use crate::sandbox::server::{Incoming, Reply};

const DEFAULT_PAGE_SIZE: usize = 25;
const MAX_PAGE_SIZE: usize = 1000;

/// The rows a caller may see (ascending ids), and how to render one.
pub struct Listing<'a> {
    entity: &'static str,
    base_id: i64,
    rows: Vec<usize>,
    fields: &'static [&'static str],
    render: Box<dyn Fn(usize) -> Value + 'a>,
}

/// A row, rendered only once something needs its JSON.
struct Row {
    idx: usize,
    json: Option<Value>,
}

impl<'a> Listing<'a> {
    pub fn new(
        entity: &'static str,
        base_id: i64,
        rows: Vec<usize>,
        fields: &'static [&'static str],
        render: impl Fn(usize) -> Value + 'a,
    ) -> Self {
        Self {
            entity,
            base_id,
            rows,
            fields,
            render: Box::new(render),
        }
    }

    fn id(&self, idx: usize) -> i64 {
        self.base_id + idx as i64
    }

    pub fn one(&self, req: &Incoming, id: i64) -> Reply {
        let idx = usize::try_from(id - self.base_id)
            .ok()
            .filter(|i| self.rows.binary_search(i).is_ok());
        match idx {
            Some(idx) => Reply::json(
                StatusCode::OK,
                &project((self.render)(idx), req.param("fields").as_deref()),
            ),
            None => not_found(&format!("{} {id} not found", self.entity)),
        }
    }

    pub fn count(&self, req: &Incoming) -> Reply {
        match self.select(req, false) {
            Ok(rows) => Reply::json(StatusCode::OK, &json!({"count": rows.len()})),
            Err(reply) => reply,
        }
    }

    pub fn list(&self, req: &Incoming) -> Reply {
        let forward_only = req
            .header("pagination-type")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("forward-only"));
        if forward_only && req.param("orderBy").is_some() {
            return find_condition("orderBy cannot be used with forward-only pagination.");
        }
        match self.select(req, true) {
            Ok(rows) if forward_only => self.forward_only_page(req, rows),
            Ok(rows) => self.navigable_page(req, rows),
            Err(reply) => reply,
        }
    }

    /// Applies `conditions` and `orderBy`; renders rows only when one of them needs the JSON.
    fn select(&self, req: &Incoming, ordered: bool) -> Result<Vec<Row>, Reply> {
        let condition = self.parse_conditions(req)?;
        let order = if ordered {
            self.parse_order(req)?
        } else {
            Vec::new()
        };
        if condition.is_none() && order.is_empty() {
            return Ok(self
                .rows
                .iter()
                .map(|&idx| Row { idx, json: None })
                .collect());
        }
        let mut rows = Vec::new();
        for &idx in &self.rows {
            let json = (self.render)(idx);
            let keep = match &condition {
                Some(c) => c.matches(&json).map_err(|e| find_condition(&e.0))?,
                None => true,
            };
            if keep {
                rows.push(Row {
                    idx,
                    json: Some(json),
                });
            }
        }
        sort(&mut rows, &order);
        Ok(rows)
    }

    fn parse_conditions(&self, req: &Incoming) -> Result<Option<Condition>, Reply> {
        let Some(text) = req.param("conditions").filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let condition = conditions::parse(&text).map_err(|e| find_condition(&e.0))?;
        self.check_paths(condition.paths())?;
        Ok(Some(condition))
    }

    fn check_paths(&self, paths: Vec<&[String]>) -> Result<(), Reply> {
        match paths.into_iter().find(|p| !schema::knows(self.fields, p)) {
            Some(unknown) => Err(find_condition(&format!(
                "{} is not a recognized name.",
                unknown.join("/")
            ))),
            None => Ok(()),
        }
    }

    fn parse_order(&self, req: &Incoming) -> Result<Vec<(Vec<String>, bool)>, Reply> {
        let Some(text) = req.param("orderBy").filter(|t| !t.trim().is_empty()) else {
            return Ok(Vec::new());
        };
        let mut order = Vec::new();
        for part in text.split(',') {
            let mut words = part.split_whitespace();
            let path: Vec<String> = words
                .next()
                .unwrap_or_default()
                .split('/')
                .map(str::to_string)
                .collect();
            let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(find_condition(&format!(
                        "{other} is not a valid sort direction."
                    )));
                }
            };
            self.check_paths(vec![path.as_slice()])?;
            order.push((path, descending));
        }
        Ok(order)
    }

    fn page_size(req: &Incoming) -> usize {
        // Limitation: real behaviour above 1000 is unverified; clamping is the tolerant reading.
        match req
            .param("pageSize")
            .and_then(|s| s.trim().parse::<i64>().ok())
        {
            Some(n) if n >= 1 => (n as usize).min(MAX_PAGE_SIZE),
            _ => DEFAULT_PAGE_SIZE,
        }
    }

    fn navigable_page(&self, req: &Incoming, rows: Vec<Row>) -> Reply {
        let size = Self::page_size(req);
        let page = req
            .param("page")
            .and_then(|p| p.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let last = rows.len().div_ceil(size).max(1);
        let start = (page - 1).saturating_mul(size).min(rows.len());
        let end = (start + size).min(rows.len());
        let body = self.render_page(req, rows.into_iter().skip(start).take(end - start));
        let mut reply = Reply::json(StatusCode::OK, &body).with_page_size(size);
        if let Some(link) = navigable_link(req, size, page, last) {
            reply = reply.with_header("Link", link);
        }
        reply
    }

    fn forward_only_page(&self, req: &Incoming, rows: Vec<Row>) -> Reply {
        let size = Self::page_size(req);
        let after = req
            .param("pageId")
            .and_then(|p| p.trim().parse::<i64>().ok())
            .unwrap_or(0);
        let remaining: Vec<Row> = rows
            .into_iter()
            .filter(|r| self.id(r.idx) > after)
            .collect();
        let more = remaining.len() > size;
        let page: Vec<Row> = remaining.into_iter().take(size).collect();
        let last_id = page.last().map(|r| self.id(r.idx));
        let link = match (more, last_id) {
            (true, Some(id)) => format!(
                "<{}>; rel=\"next\"",
                page_url(req, size, "pageId", id as usize)
            ),
            // The last page still carries a Link header, with an empty value (brief §4.2).
            _ => String::new(),
        };
        let body = self.render_page(req, page.into_iter());
        Reply::json(StatusCode::OK, &body)
            .with_page_size(size)
            .with_header("Link", link)
    }

    fn render_page(&self, req: &Incoming, rows: impl Iterator<Item = Row>) -> Value {
        let fields = req.param("fields");
        let items = rows.map(|row| {
            let json = row.json.unwrap_or_else(|| (self.render)(row.idx));
            project(json, fields.as_deref())
        });
        Value::Array(items.collect())
    }
}

fn sort(rows: &mut [Row], order: &[(Vec<String>, bool)]) {
    if order.is_empty() {
        return;
    }
    rows.sort_by(|a, b| {
        let (a, b) = (
            a.json.as_ref().unwrap_or(&Value::Null),
            b.json.as_ref().unwrap_or(&Value::Null),
        );
        order
            .iter()
            .map(|(path, descending)| {
                let ordering =
                    compare_values(conditions::lookup(a, path), conditions::lookup(b, path));
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
}

fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// Keeps only the `fields` paths (`id,name,status/id`), nesting sub-fields like the real API.
fn project(record: Value, fields: Option<&str>) -> Value {
    let Some(fields) = fields.filter(|f| !f.trim().is_empty()) else {
        return record;
    };
    let mut out = Value::Object(Map::new());
    for field in fields.split(',') {
        let path: Vec<String> = field.trim().split('/').map(str::to_string).collect();
        let value = conditions::lookup(&record, &path);
        if !value.is_null() {
            insert_path(&mut out, &path, value.clone());
        }
    }
    out
}

fn insert_path(target: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = target;
    for key in parents {
        let Value::Object(map) = node else { return };
        node = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Value::Object(map) = node {
        map.insert(last.clone(), value);
    }
}

/// `Link` with `page=` last in each URL, as pyconnectwise's parser requires. Rels follow what
/// clients observed: `next`/`last` while pages remain, `prev`/`first` after the first page.
fn navigable_link(req: &Incoming, size: usize, page: usize, last: usize) -> Option<String> {
    let mut links = Vec::new();
    if page > 1 {
        links.push((page.min(last + 1) - 1, "prev"));
        links.push((1, "first"));
    }
    if page < last {
        links.push((page + 1, "next"));
        links.push((last, "last"));
    }
    let parts: Vec<String> = links
        .into_iter()
        .map(|(p, rel)| format!("<{}>; rel=\"{rel}\"", page_url(req, size, "page", p)))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The request's own URL with its other parameters kept (pyconnectwise #14 lost them).
fn page_url(req: &Incoming, size: usize, key: &str, value: usize) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in req.query_pairs() {
        if !["page", "pagesize", "pageid"].contains(&k.to_ascii_lowercase().as_str()) {
            query.append_pair(&k, &v);
        }
    }
    query.append_pair("pageSize", &size.to_string());
    query.append_pair(key, &value.to_string());
    format!("{}{}?{}", req.base, req.path, query.finish())
}
