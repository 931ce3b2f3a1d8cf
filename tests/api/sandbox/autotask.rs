//! Autotask imitation: zones, auth failures, queries, filters, paging, limits.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sync365::sandbox::{AutotaskLimits, DataSizes, Faults, SandboxConfig};

use super::{
    AT_FULL, AT_LOCKED, AT_OTHER_ZONE, AT_RESTRICTED, at_query, at_request, spawn, spawn_default,
};

fn match_all() -> Value {
    json!([{"op": "exist", "field": "id"}])
}

async fn body(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn zone_information_points_back_at_the_sandbox_without_auth() {
    let sandbox = spawn_default().await;
    let url = format!(
        "{}/atservicesrest/V1.0/zoneInformation?user=sbxotherzone001%40SANDBOX.EXAMPLE",
        sandbox.base_url
    );
    let zone = body(reqwest::get(url).await.unwrap()).await;
    assert_eq!(
        zone["url"],
        format!("{}/webservices5/ATServicesRest/", sandbox.base_url)
    );
}

#[tokio::test]
async fn an_unknown_user_gets_zone_could_not_be_determined() {
    let sandbox = spawn_default().await;
    let url = format!(
        "{}/atservicesrest/v1.0/zoneInformation?user=apiuser%40contoso.test",
        sandbox.base_url
    );
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body(response).await,
        json!({"errors": ["Zone information could not be determined"]})
    );
}

#[tokio::test]
async fn version_information_lists_v1() {
    let sandbox = spawn_default().await;
    let url = format!("{}/atservicesrest/VersionInformation", sandbox.base_url);
    assert_eq!(
        body(reqwest::get(url).await.unwrap()).await["apiVersions"],
        json!(["V1.0"])
    );
}

async fn status_of(request: reqwest::RequestBuilder) -> (StatusCode, String, String) {
    let response = request.send().await.unwrap();
    let realm = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (response.status(), realm, response.text().await.unwrap())
}

#[tokio::test]
async fn every_credential_failure_is_an_empty_401() {
    let sandbox = spawn_default().await;
    let path = "ThresholdInformation";
    let wrong_secret = at_request(
        &sandbox,
        Method::GET,
        (AT_FULL.0, "nope"),
        "webservices2",
        path,
    );
    let wrong_code = reqwest::Client::new()
        .get(format!(
            "{}/webservices2/atservicesrest/v1.0/{path}",
            sandbox.base_url
        ))
        .header("ApiIntegrationCode", "OTHERVENDOR")
        .header("UserName", AT_FULL.0)
        .header("Secret", AT_FULL.1);
    let wrong_zone = at_request(&sandbox, Method::GET, AT_OTHER_ZONE, "webservices2", path);
    let locked = at_request(&sandbox, Method::GET, AT_LOCKED, "webservices2", path);
    let missing = reqwest::Client::new().get(format!(
        "{}/webservices2/atservicesrest/v1.0/{path}",
        sandbox.base_url
    ));
    for request in [wrong_secret, wrong_code, wrong_zone, locked, missing] {
        let (status, realm, text) = status_of(request).await;
        assert_eq!((status, text.as_str()), (StatusCode::UNAUTHORIZED, ""));
        assert_eq!(realm, "Basic Realm=\"webservices2.autotask.net\"");
    }
    let right_zone = at_request(&sandbox, Method::GET, AT_OTHER_ZONE, "webservices5", path);
    assert_eq!(status_of(right_zone).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_restricted_security_level_gets_empty_results() {
    let sandbox = spawn_default().await;
    let response = at_request(
        &sandbox,
        Method::POST,
        AT_RESTRICTED,
        "webservices2",
        "Companies/query",
    )
    .json(&json!({"filter": match_all()}))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["items"], json!([]));
}

#[tokio::test]
async fn get_and_post_queries_return_the_same_items() {
    let sandbox = spawn_default().await;
    let search =
        json!({"filter": [{"op": "eq", "field": "companyName", "value": "Ænima & <Sons>"}]});
    let posted = body(at_query(&sandbox, "Companies", search.clone()).await).await;
    let got = at_request(
        &sandbox,
        Method::GET,
        AT_FULL,
        "webservices2",
        "Companies/query",
    )
    .query(&[("search", search.to_string())])
    .send()
    .await
    .unwrap();
    let got = body(got).await;
    assert_eq!(posted["items"].as_array().unwrap().len(), 1);
    assert_eq!(posted["items"], got["items"]);
    assert_eq!(
        posted["pageDetails"],
        json!({"count": 1, "requestCount": 500, "prevPageUrl": null, "nextPageUrl": null})
    );
}

async fn count(sandbox: &sync365::sandbox::RunningSandbox, entity: &str, filter: Value) -> i64 {
    let response = at_request(
        sandbox,
        Method::POST,
        AT_FULL,
        "webservices2",
        &format!("{entity}/query/count"),
    )
    .json(&json!({"filter": filter}))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await["queryCount"].as_i64().unwrap()
}

#[tokio::test]
async fn every_filter_operator_narrows_the_results() {
    let sandbox = spawn_default().await;
    let first = 29_684_000;
    let cases = [
        (json!({"op": "eq", "field": "id", "value": first}), 1),
        (json!({"op": "noteq", "field": "id", "value": first}), 39),
        (json!({"op": "gt", "field": "id", "value": first + 30}), 9),
        (json!({"op": "gte", "field": "id", "value": first + 30}), 10),
        (json!({"op": "lt", "field": "id", "value": first + 10}), 10),
        (json!({"op": "lte", "field": "id", "value": first + 10}), 11),
        (
            json!({"op": "beginsWith", "field": "companyName", "value": "ænima"}),
            1,
        ),
        (
            json!({"op": "endsWith", "field": "companyName", "value": "HOLDINGS"}),
            1,
        ),
        (
            json!({"op": "contains", "field": "companyName", "value": "<script>"}),
            1,
        ),
        (json!({"op": "exist", "field": "webAddress"}), 40),
        (json!({"op": "notExist", "field": "parentCompanyID"}), 40),
        (
            json!({"op": "in", "field": "id", "value": [first, first + 1, 5]}),
            2,
        ),
        (
            json!({"op": "notIn", "field": "id", "value": [first, first + 1]}),
            38,
        ),
        (
            json!({"op": "or", "items": [{"op": "eq", "field": "id", "value": first}, {"op": "eq", "field": "id", "value": first + 1}]}),
            2,
        ),
        (
            json!({"op": "and", "items": [{"op": "gte", "field": "id", "value": first}, {"op": "lt", "field": "id", "value": first + 3}]}),
            3,
        ),
        (
            json!({"op": "gte", "field": "Seats", "udf": true, "value": 0}),
            40,
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            count(&sandbox, "Companies", json!([filter])).await,
            expected,
            "{filter}"
        );
    }
}

#[tokio::test]
async fn max_records_must_be_between_1_and_500() {
    let sandbox = spawn_default().await;
    for bad in [0, 501, 1000] {
        let response = at_query(
            &sandbox,
            "Companies",
            json!({"MaxRecords": bad, "filter": match_all()}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            body(response).await["errors"][0]
                .as_str()
                .unwrap()
                .contains("between 1 and 500")
        );
    }
    let ok = at_query(
        &sandbox,
        "Companies",
        json!({"maxRecords": 500, "filter": match_all()}),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn next_page_url_works_with_the_same_verb_and_405s_with_another() {
    let sandbox = spawn_default().await;
    let query = json!({"MaxRecords": 15, "IncludeFields": ["companyName"], "filter": match_all()});
    let first = body(at_query(&sandbox, "Companies", query.clone()).await).await;
    let next = first["pageDetails"]["nextPageUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.starts_with(&format!(
        "{}/webservices2/ATServicesRest/V1.0/Companies/query/next?paging=",
        sandbox.base_url
    )));
    assert_eq!(first["items"][0].as_object().unwrap().len(), 3);
    let client = reqwest::Client::new();
    let headers = |r: reqwest::RequestBuilder| {
        r.header(
            "ApiIntegrationCode",
            sync365::sandbox::accounts::AT_INTEGRATION_CODE,
        )
        .header("UserName", AT_FULL.0)
        .header("Secret", AT_FULL.1)
    };
    let wrong = headers(client.get(&next)).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        body(wrong).await["Message"],
        "The requested resource does not support http method 'GET'."
    );
    let second = body(
        headers(client.post(&next))
            .json(&query)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 15);
    assert!(second["items"][0]["id"].as_i64() > first["items"][14]["id"].as_i64());
    assert!(second["pageDetails"]["prevPageUrl"].is_string());
}

#[tokio::test]
async fn get_query_pages_follow_with_get() {
    let sandbox = spawn_default().await;
    let search = json!({"MaxRecords": 30, "filter": match_all()}).to_string();
    let first = at_request(
        &sandbox,
        Method::GET,
        AT_FULL,
        "webservices2",
        "Companies/query",
    )
    .query(&[("search", &search)])
    .send()
    .await
    .unwrap();
    let next = body(first).await["pageDetails"]["nextPageUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let second = reqwest::Client::new()
        .get(&next)
        .header(
            "ApiIntegrationCode",
            sync365::sandbox::accounts::AT_INTEGRATION_CODE,
        )
        .header("UserName", AT_FULL.0)
        .header("Secret", AT_FULL.1)
        .send()
        .await
        .unwrap();
    let second = body(second).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 10);
    assert!(second["pageDetails"]["nextPageUrl"].is_null());
}

#[tokio::test]
async fn records_are_fetched_by_id_and_unknown_ids_are_404() {
    let sandbox = spawn_default().await;
    let found = at_request(
        &sandbox,
        Method::GET,
        AT_FULL,
        "webservices2",
        "Contracts/29685001",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(body(found).await["item"]["id"], 29685001);
    let missing = at_request(
        &sandbox,
        Method::GET,
        AT_FULL,
        "webservices2",
        "Contracts/1",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_unknown_filter_field_is_500_naming_the_singular_entity() {
    let sandbox = spawn_default().await;
    let response = at_query(
        &sandbox,
        "Contracts",
        json!({"filter": [{"op": "eq", "field": "contractNam", "value": 1}]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body(response).await,
        json!({"errors": ["Unable to find contractNam in the Contract Entity"]})
    );
}

#[tokio::test]
async fn contract_entities_link_together() {
    let sandbox = spawn_default().await;
    let services = body(
        at_query(
            &sandbox,
            "ContractServices",
            json!({"filter": [{"op": "eq", "field": "contractID", "value": 29685001}]}),
        )
        .await,
    )
    .await;
    let service_id = services["items"][0]["serviceID"].as_i64().unwrap();
    let service = at_request(
        &sandbox,
        Method::GET,
        AT_FULL,
        "webservices2",
        &format!("Services/{service_id}"),
    )
    .send()
    .await
    .unwrap();
    assert!(
        body(service).await["item"]["name"]
            .as_str()
            .unwrap()
            .contains("Microsoft")
            || service_id > 0
    );
    for entity in [
        "ContractServiceUnits",
        "ContractServiceBundles",
        "ServiceBundles",
        "Products",
        "Contacts",
        "Tickets",
    ] {
        let response = at_query(&sandbox, entity, json!({"filter": match_all()})).await;
        assert_eq!(response.status(), StatusCode::OK, "{entity}");
    }
}

#[tokio::test]
async fn a_fourth_concurrent_request_hits_the_thread_threshold() {
    let faults = Faults {
        latency_ms: 400,
        ..Faults::default()
    };
    let sandbox = spawn(SandboxConfig {
        faults,
        ..SandboxConfig::default()
    })
    .await;
    let calls =
        (0..4).map(|_| at_query(&sandbox, "ContractServices", json!({"filter": match_all()})));
    let statuses: Vec<StatusCode> = futures::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        1
    );
    assert!(sandbox.requests().iter().any(|r| r.concurrency == 4));
}

#[tokio::test]
async fn the_hourly_threshold_slows_then_refuses_requests() {
    let limits = AutotaskLimits {
        hourly_threshold: 4,
        latency_steps_ms: [50, 100],
        ..AutotaskLimits::default()
    };
    let sandbox = spawn(SandboxConfig {
        autotask_limits: limits,
        sizes: DataSizes::default(),
        ..SandboxConfig::default()
    })
    .await;
    let threshold = |s: &sync365::sandbox::RunningSandbox| {
        at_request(
            s,
            Method::GET,
            AT_FULL,
            "webservices2",
            "ThresholdInformation",
        )
        .send()
    };
    let info = body(threshold(&sandbox).await.unwrap()).await;
    assert_eq!(info["externalRequestThreshold"], 4);
    assert_eq!(info["currentTimeframeRequestCount"], 1);
    for _ in 0..3 {
        assert_eq!(threshold(&sandbox).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(
        threshold(&sandbox).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    sandbox.reset();
    assert_eq!(threshold(&sandbox).await.unwrap().status(), StatusCode::OK);
}
