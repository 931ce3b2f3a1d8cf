//! Autotask query filters: the JSON `filter` array of the QueryModel, parsed into a tree and
//! evaluated over rendered records.
//!
//! Property names, operator names and field names are all case-insensitive, as the real API
//! treats them. An unknown operator is ignored (the clause matches everything), which is the
//! live behaviour the brief records; an unknown field is an error.

use std::cmp::Ordering;

use serde_json::Value;

/// One node of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `and` (all) or `or` (any) over nested items.
    Group { any: bool, items: Vec<Filter> },
    Test {
        op: TestOp,
        field: String,
        udf: bool,
        value: Value,
    },
    /// An operator the API does not know: silently matches everything.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOp {
    Eq,
    NotEq,
    Gt,
    Gte,
    Lt,
    Lte,
    BeginsWith,
    EndsWith,
    Contains,
    Exist,
    NotExist,
    In,
    NotIn,
}

/// Looks a property up ignoring case (`filter`/`Filter`, `MaxRecords`/`maxRecords`).
pub fn property<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Parses the `filter` value: an array of filters (a single object is accepted too).
pub fn parse(value: &Value) -> Result<Vec<Filter>, String> {
    match value {
        Value::Array(items) => items.iter().map(parse_one).collect(),
        Value::Object(_) => Ok(vec![parse_one(value)?]),
        _ => Err("The filter must be an array of filter objects.".into()),
    }
}

fn parse_one(value: &Value) -> Result<Filter, String> {
    if !value.is_object() {
        return Err("Each filter must be an object with op, field and value.".into());
    }
    let op = property(value, "op")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if op == "and" || op == "or" {
        let items = property(value, "items")
            .map(parse)
            .transpose()?
            .unwrap_or_default();
        return Ok(Filter::Group {
            any: op == "or",
            items,
        });
    }
    let Some(op) = test_op(&op) else {
        return Ok(Filter::Ignored);
    };
    let field = property(value, "field")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    if field.is_empty() {
        return Err("A filter is missing its field.".into());
    }
    let udf = property(value, "udf").is_some_and(truthy);
    let value = property(value, "value").cloned().unwrap_or(Value::Null);
    Ok(Filter::Test {
        op,
        field,
        udf,
        value,
    })
}

fn test_op(op: &str) -> Option<TestOp> {
    Some(match op {
        "eq" => TestOp::Eq,
        "noteq" => TestOp::NotEq,
        "gt" => TestOp::Gt,
        "gte" => TestOp::Gte,
        "lt" => TestOp::Lt,
        "lte" => TestOp::Lte,
        "beginswith" => TestOp::BeginsWith,
        "endswith" => TestOp::EndsWith,
        "contains" => TestOp::Contains,
        "exist" => TestOp::Exist,
        "notexist" => TestOp::NotExist,
        "in" => TestOp::In,
        "notin" => TestOp::NotIn,
        _ => return None,
    })
}

/// `true`, `"true"` and `1` all count as true: clients send all three successfully.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true") || s == "1",
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => false,
    }
}

/// The first non-UDF field that the entity does not have.
pub fn unknown_field<'a>(filters: &'a [Filter], fields: &[&str]) -> Option<&'a str> {
    filters.iter().find_map(|filter| match filter {
        Filter::Group { items, .. } => unknown_field(items, fields),
        Filter::Test {
            field, udf: false, ..
        } if !fields.iter().any(|f| f.eq_ignore_ascii_case(field)) => Some(field.as_str()),
        _ => None,
    })
}

/// Whether every test names `id` only, so a record need not be rendered to be judged.
pub fn only_id(filters: &[Filter]) -> bool {
    filters.iter().all(|filter| match filter {
        Filter::Group { items, .. } => only_id(items),
        Filter::Test { field, udf, .. } => !udf && field.eq_ignore_ascii_case("id"),
        Filter::Ignored => true,
    })
}

/// The top-level array is an implicit `and`.
pub fn matches_all(filters: &[Filter], record: &Value) -> bool {
    filters.iter().all(|f| f.matches(record))
}

impl Filter {
    pub fn matches(&self, record: &Value) -> bool {
        match self {
            Self::Group { any: false, items } => items.iter().all(|f| f.matches(record)),
            Self::Group { any: true, items } => {
                items.is_empty() || items.iter().any(|f| f.matches(record))
            }
            Self::Test {
                op,
                field,
                udf,
                value,
            } => test(*op, field_value(record, field, *udf), value),
            Self::Ignored => true,
        }
    }
}

fn field_value<'a>(record: &'a Value, field: &str, udf: bool) -> &'a Value {
    if !udf {
        return property(record, field).unwrap_or(&Value::Null);
    }
    let udfs = property(record, "userDefinedFields").and_then(Value::as_array);
    udfs.into_iter()
        .flatten()
        .find(|u| {
            property(u, "name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(field))
        })
        .and_then(|u| property(u, "value"))
        .unwrap_or(&Value::Null)
}

fn test(op: TestOp, actual: &Value, expected: &Value) -> bool {
    match op {
        TestOp::Exist => !actual.is_null(),
        TestOp::NotExist => actual.is_null(),
        TestOp::In => list(expected).iter().any(|e| equal(actual, e)),
        TestOp::NotIn => !list(expected).iter().any(|e| equal(actual, e)),
        TestOp::Eq => equal(actual, expected),
        TestOp::NotEq => !equal(actual, expected),
        TestOp::Gt => order(actual, expected) == Some(Ordering::Greater),
        TestOp::Gte => matches!(
            order(actual, expected),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        TestOp::Lt => order(actual, expected) == Some(Ordering::Less),
        TestOp::Lte => matches!(
            order(actual, expected),
            Some(Ordering::Less | Ordering::Equal)
        ),
        TestOp::BeginsWith => text(actual).is_some_and(|t| t.starts_with(&lower(expected))),
        TestOp::EndsWith => text(actual).is_some_and(|t| t.ends_with(&lower(expected))),
        TestOp::Contains => text(actual).is_some_and(|t| t.contains(&lower(expected))),
    }
}

fn list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn equal(actual: &Value, expected: &Value) -> bool {
    order(actual, expected) == Some(Ordering::Equal)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.to_lowercase()),
        other => Some(other.to_string().to_lowercase()),
    }
}

fn lower(value: &Value) -> String {
    text(value).unwrap_or_default()
}

/// Compares a record value with a filter value, coercing the way SQL Server would: numbers
/// numerically (numeric strings too), booleans against 1/0/"true", dates as instants, and
/// other strings without regard to case.
fn order(actual: &Value, expected: &Value) -> Option<Ordering> {
    if actual.is_null() {
        return None;
    }
    if let (Some(a), Some(e)) = (number(actual), number(expected)) {
        return Some(a.total_cmp(&e));
    }
    if let (Some(a), Some(e)) = (date(actual), date(expected)) {
        return Some(a.cmp(&e));
    }
    Some(text(actual)?.cmp(&text(expected)?))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(1.0),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(0.0),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn date(value: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let raw = value.as_str()?;
    raw.contains('-')
        .then(|| crate::sandbox::connectwise::conditions::parse_date(raw).ok())
        .flatten()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn record() -> Value {
        json!({
            "id": 29684012, "companyName": "Ænima & <Sons>", "isActive": true, "companyType": 1,
            "createDate": "2022-04-11T09:14:03Z", "parentCompanyID": null,
            "userDefinedFields": [{"name": "Seats", "value": "42.0000"}]
        })
    }

    fn check(filter: Value) -> bool {
        matches_all(&parse(&filter).unwrap(), &record())
    }

    #[test]
    fn every_operator_matches_as_documented() {
        assert!(check(
            json!([{"op": "eq", "field": "companyType", "value": 1}])
        ));
        assert!(check(
            json!([{"op": "noteq", "field": "companyType", "value": 2}])
        ));
        assert!(check(
            json!([{"op": "gt", "field": "id", "value": 1}, {"op": "gte", "field": "id", "value": 29684012}])
        ));
        assert!(check(
            json!([{"op": "lt", "field": "id", "value": 29684013}, {"op": "lte", "field": "id", "value": 29684012}])
        ));
        assert!(check(
            json!([{"op": "beginsWith", "field": "companyName", "value": "ænima"}])
        ));
        assert!(check(
            json!([{"op": "endsWith", "field": "companyName", "value": "<SONS>"}])
        ));
        assert!(check(
            json!([{"op": "contains", "field": "companyname", "value": "& <"}])
        ));
        assert!(check(
            json!([{"op": "exist", "field": "id"}, {"op": "notExist", "field": "parentCompanyID"}])
        ));
        assert!(check(
            json!([{"op": "in", "field": "companyType", "value": [1, 3]}])
        ));
        assert!(check(
            json!([{"op": "notIn", "field": "companyType", "value": [2, 3]}])
        ));
    }

    #[test]
    fn groups_nest_and_or() {
        let filter = json!([{"op": "or", "items": [
            {"op": "eq", "field": "id", "value": 1},
            {"op": "and", "items": [{"op": "eq", "field": "isActive", "value": true}, {"op": "gt", "field": "createDate", "value": "2022-01-01T00:00:00Z"}]}
        ]}]);
        assert!(check(filter));
        assert!(!check(
            json!([{"op": "or", "items": [{"op": "eq", "field": "id", "value": 1}]}])
        ));
    }

    #[test]
    fn booleans_accept_strings_and_numbers() {
        assert!(check(
            json!([{"op": "eq", "field": "isActive", "value": "true"}])
        ));
        assert!(check(
            json!([{"op": "eq", "field": "isActive", "value": 1}])
        ));
    }

    #[test]
    fn udf_filters_read_user_defined_fields() {
        assert!(check(
            json!([{"op": "gte", "field": "Seats", "udf": true, "value": 40}])
        ));
    }

    #[test]
    fn unknown_operators_are_ignored() {
        assert!(check(
            json!([{"op": "ne", "field": "id", "value": 29684012}])
        ));
    }

    #[test]
    fn unknown_fields_are_reported() {
        let filters = parse(
            &json!([{"op": "or", "items": [{"op": "eq", "field": "contractNam", "value": 1}]}]),
        )
        .unwrap();
        assert_eq!(
            unknown_field(&filters, &["id", "contractName"]),
            Some("contractNam")
        );
    }

    proptest! {
        #[test]
        fn random_json_never_panics(input in ".{0,120}") {
            let filters = serde_json::from_str::<Value>(&input).ok().and_then(|v| parse(&v).ok());
            if let Some(filters) = filters {
                let _ = matches_all(&filters, &record());
            }
        }

        #[test]
        fn random_filter_objects_never_panic(op in "[a-zA-Z]{0,10}", field in "[a-zA-Z ]{0,12}", n in any::<i64>(), s in ".{0,10}") {
            let value = json!([{"op": op, "field": field, "value": [n, s]}, {"op": "or", "items": [{"op": op, "field": field, "value": n}]}]);
            if let Ok(filters) = parse(&value) {
                let _ = matches_all(&filters, &record());
            }
        }
    }
}
