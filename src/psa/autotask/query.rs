//! Autotask's query API: `POST {Entity}/query` with a filter, cursor paging through
//! `pageDetails.nextPageUrl`, and `POST {Entity}/query/count`.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::api::Api;
use crate::psa::PsaError;

/// Autotask's largest page; asking for more is a 500 (BR-24).
pub const PAGE_SIZE: u32 = 500;

/// Page size to request: within 1..=500 whatever the caller asked for. A total cap, if any,
/// is the caller's business, never this number.
pub fn page_size(requested: u32) -> u32 {
    requested.clamp(1, PAGE_SIZE)
}

/// Matches every row: Autotask refuses a query without a filter.
pub fn every() -> Value {
    json!({"op": "exist", "field": "id"})
}

pub fn cond(op: &str, field: &str, value: Value) -> Value {
    json!({"op": op, "field": field, "value": value})
}

/// A query body: the filter (an implicit AND) and the fields we read (`id` always, which
/// Autotask requires for results beyond one page).
pub fn body(filter: Vec<Value>, fields: &[&str]) -> Value {
    let mut include: Vec<&str> = vec!["id"];
    include.extend(fields.iter().filter(|f| **f != "id"));
    json!({"MaxRecords": page_size(PAGE_SIZE), "IncludeFields": include, "filter": filter})
}

/// How many rows a filter matches.
pub async fn count(api: &Api, entity: &str, filter: Vec<Value>) -> Result<u64, PsaError> {
    let url = api.url(&format!("{entity}/query/count"))?;
    let answer: CountAnswer = api.post(entity, url, &json!({ "filter": filter })).await?;
    Ok(answer.query_count)
}

#[derive(Deserialize)]
struct CountAnswer {
    #[serde(rename = "queryCount", alias = "QueryCount")]
    query_count: u64,
}

#[derive(Deserialize)]
struct PageAnswer {
    #[serde(alias = "Items", default)]
    items: Vec<Value>,
    #[serde(rename = "pageDetails", alias = "PageDetails", default)]
    page_details: PageDetails,
}

#[derive(Deserialize, Default)]
struct PageDetails {
    #[serde(rename = "nextPageUrl", alias = "NextPageUrl", default)]
    next_page_url: Option<String>,
}

/// Walks the pages of one query. Each next page is asked for with the same verb (POST) and
/// body as the first; a GET there is a 405.
pub struct Pager<T> {
    api: Arc<Api>,
    entity: &'static str,
    body: Value,
    next: Option<Url>,
    started: bool,
    /// A bad next-page link: reported after the page that carried it has been handed over.
    broken: Option<PsaError>,
    rows: PhantomData<T>,
}

impl<T: DeserializeOwned> Pager<T> {
    pub fn new(api: Arc<Api>, entity: &'static str, body: Value) -> Self {
        Self {
            api,
            entity,
            body,
            next: None,
            started: false,
            broken: None,
            rows: PhantomData,
        }
    }

    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, PsaError> {
        if let Some(e) = self.broken.take() {
            return Err(e);
        }
        let url = match (self.started, self.next.take()) {
            (false, _) => self.api.url(&format!("{}/query", self.entity))?,
            (true, Some(next)) => next,
            (true, None) => return Ok(None),
        };
        self.started = true;
        let page: PageAnswer = self.api.post(self.entity, url.clone(), &self.body).await?;
        match self.follow(&url, &page) {
            Ok(next) => self.next = next,
            Err(e) => self.broken = Some(e),
        }
        Ok(Some(typed(self.entity, page.items)))
    }

    /// The next page's URL, only on our host; an empty page ends the walk whatever it says,
    /// and a link to the page just read is a loop.
    fn follow(&self, current: &Url, page: &PageAnswer) -> Result<Option<Url>, PsaError> {
        let link = page
            .page_details
            .next_page_url
            .as_deref()
            .filter(|l| !l.trim().is_empty());
        let Some(link) = link.filter(|_| !page.items.is_empty()) else {
            return Ok(None);
        };
        let next = self.api.own_link(link)?;
        if next == *current {
            let detail = format!(
                "{}: the next page link points at the same page",
                self.entity
            );
            return Err(PsaError::Upstream {
                host: self.api.host().into(),
                detail,
            });
        }
        Ok(Some(next))
    }
}

/// Rows as typed records. Field names are matched case-insensitively (Autotask has sent both
/// camelCase and PascalCase); a row that still cannot be read is skipped and logged rather
/// than failing the whole retrieval.
fn typed<T: DeserializeOwned>(entity: &str, items: Vec<Value>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| {
            let id = item.get("id").cloned().unwrap_or(Value::Null);
            match serde_json::from_value(lower_keys(item)) {
                Ok(row) => Some(row),
                Err(e) => {
                    tracing::warn!(entity, %id, error = %e, "skipped an unreadable Autotask row");
                    None
                }
            }
        })
        .collect()
}

fn lower_keys(item: Value) -> Value {
    match item {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_page_size_is_clamped_to_what_autotask_accepts() {
        assert_eq!(page_size(1000), 500);
        assert_eq!(page_size(20_000), 500);
        assert_eq!(page_size(0), 1);
        assert_eq!(page_size(37), 37);
    }

    #[test]
    fn a_query_body_asks_for_500_rows_and_always_includes_the_id() {
        let b = body(vec![every()], &["companyName", "id"]);
        assert_eq!(b["MaxRecords"], 500);
        assert_eq!(b["IncludeFields"], json!(["id", "companyName"]));
        assert_eq!(b["filter"], json!([{"op": "exist", "field": "id"}]));
    }

    #[test]
    fn rows_are_read_whatever_the_casing_and_bad_rows_are_skipped() {
        #[derive(Deserialize)]
        struct Row {
            id: i64,
            companyname: String,
        }
        let rows: Vec<Row> = typed(
            "Companies",
            vec![
                json!({"id": 1, "companyName": "A"}),
                json!({"Id": 2, "CompanyName": "B"}),
                json!({"id": "x"}),
            ],
        );
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(rows[1].companyname, "B");
    }
}
