//! ConnectWise imitation: discovery, auth, roles, paging, conditions, orderBy, fields.

use reqwest::StatusCode;
use serde_json::Value;
use sync365::sandbox::{DataSizes, SandboxConfig, accounts};

use super::{
    CW_DISABLED, CW_FULL, CW_NO_AGREEMENTS, CW_NO_COMPANIES, CW_RESTRICTED, cw_basic, cw_get,
    spawn, spawn_default,
};

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn list(sandbox: &sync365::sandbox::RunningSandbox, path: &str) -> Vec<Value> {
    let response = cw_get(sandbox, CW_FULL, path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    json(response).await.as_array().unwrap().clone()
}

#[tokio::test]
async fn known_company_id_describes_its_codebase_without_auth() {
    let sandbox = spawn_default().await;
    let url = format!("{}/login/companyinfo/SANDBOX", sandbox.base_url);
    let info = json(reqwest::get(url).await.unwrap()).await;
    assert_eq!(info["Codebase"], "v2025_1/");
    assert_eq!(info["IsCloud"], "True");
    let url = format!(
        "{}/login/companyinfo/{}",
        sandbox.base_url,
        accounts::CW_ONPREM_COMPANY_ID
    );
    assert_eq!(
        json(reqwest::get(url).await.unwrap()).await["IsCloud"],
        "False"
    );
}

#[tokio::test]
async fn unknown_company_id_answers_null() {
    let sandbox = spawn_default().await;
    let response = reqwest::get(format!("{}/login/companyinfo/contoso", sandbox.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "null");
}

#[tokio::test]
async fn the_versioned_codebase_serves_the_api_and_a_stale_one_is_404() {
    let sandbox = spawn_default().await;
    let get = |codebase: &str| {
        reqwest::Client::new()
            .get(format!(
                "{}/{codebase}/apis/3.0/system/info",
                sandbox.base_url
            ))
            .header("clientId", accounts::CW_CLIENT_ID)
            .header("Authorization", cw_basic("sandbox", CW_FULL.0, CW_FULL.1))
            .send()
    };
    assert_eq!(get("v2025_1").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        get("v2023_1").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_wrong_private_key_is_401_user_not_authenticated() {
    let sandbox = spawn_default().await;
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v4_6_release/apis/3.0/system/info",
            sandbox.base_url
        ))
        .header("clientId", accounts::CW_CLIENT_ID)
        .header(
            "Authorization",
            cw_basic("sandbox", CW_FULL.0, "wrongwrongwrong1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(response).await["message"], "UserNotAuthenticated");
}

#[tokio::test]
async fn a_missing_client_id_is_400_and_an_unknown_one_is_401() {
    let sandbox = spawn_default().await;
    let url = format!("{}/v4_6_release/apis/3.0/system/info", sandbox.base_url);
    let auth = cw_basic("sandbox", CW_FULL.0, CW_FULL.1);
    let client = reqwest::Client::new();
    let missing = client
        .get(&url)
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(missing.text().await.unwrap().contains("clientId"));
    let unknown = client
        .get(&url)
        .header("Authorization", &auth)
        .header("clientId", "other")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_disabled_member_is_401() {
    let sandbox = spawn_default().await;
    let response = cw_get(&sandbox, CW_DISABLED, "company/companies")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_role_without_agreements_gets_403_security_but_reads_companies() {
    let sandbox = spawn_default().await;
    let companies = cw_get(&sandbox, CW_NO_AGREEMENTS, "company/companies")
        .send()
        .await
        .unwrap();
    assert_eq!(companies.status(), StatusCode::OK);
    let agreements = cw_get(&sandbox, CW_NO_AGREEMENTS, "finance/agreements")
        .send()
        .await
        .unwrap();
    assert_eq!(agreements.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(agreements).await["code"], "Security");
    let security = json(
        cw_get(&sandbox, CW_NO_AGREEMENTS, "system/mySecurity")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let row = security
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["moduleFunctionName"] == "Agreements")
        .unwrap();
    assert_eq!(row["inquireLevel"], "None");
}

#[tokio::test]
async fn a_child_agreement_whose_parent_type_is_not_allowed_fails_on_its_additions() {
    let sandbox = spawn_default().await;
    let listed = json(
        cw_get(&sandbox, CW_RESTRICTED, "finance/agreements?pageSize=1000")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let listed = listed.as_array().unwrap();
    assert!(listed.iter().all(|a| a["type"]["name"] == "M365 Licensing"));
    let child = listed
        .iter()
        .find(|a| a.get("parentAgreement").is_some())
        .unwrap();
    let standalone = listed
        .iter()
        .find(|a| a.get("parentAgreement").is_none())
        .unwrap();
    let child_lines = cw_get(
        &sandbox,
        CW_RESTRICTED,
        &format!("finance/agreements/{}/additions", child["id"]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(child_lines.status(), StatusCode::FORBIDDEN);
    let own_lines = cw_get(
        &sandbox,
        CW_RESTRICTED,
        &format!("finance/agreements/{}/additions", standalone["id"]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(own_lines.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_role_scoped_to_an_empty_location_sees_zero_companies() {
    let sandbox = spawn_default().await;
    let count = json(
        cw_get(&sandbox, CW_NO_COMPANIES, "company/companies/count")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(count["count"], 0);
}

#[tokio::test]
async fn an_unknown_record_is_404() {
    let sandbox = spawn_default().await;
    let response = cw_get(&sandbox, CW_FULL, "company/companies/999999")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn records_carry_references_and_omit_nulls() {
    let sandbox = spawn_default().await;
    let agreements = list(&sandbox, "finance/agreements?pageSize=3").await;
    assert!(agreements[0].get("parentAgreement").is_none());
    assert_eq!(agreements[1]["parentAgreement"]["id"], agreements[0]["id"]);
    assert!(
        agreements[0]["company"]["_info"]["company_href"]
            .as_str()
            .unwrap()
            .starts_with(&sandbox.base_url)
    );
    let names: Vec<Value> = list(&sandbox, "company/companies?pageSize=10")
        .await
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert!(names.contains(&Value::from("Ænima & <Sons>")));
}

#[tokio::test]
async fn the_default_page_is_25_with_next_and_last_links_ending_in_page() {
    let sandbox = spawn_default().await;
    let response = cw_get(
        &sandbox,
        CW_FULL,
        "company/companies?conditions=deletedFlag=false",
    )
    .send()
    .await
    .unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_string();
    assert_eq!(json(response).await.as_array().unwrap().len(), 25);
    let expected_next = format!(
        "<{}/v4_6_release/apis/3.0/company/companies?conditions=deletedFlag%3Dfalse&pageSize=25&page=2>; rel=\"next\"",
        sandbox.base_url
    );
    assert!(link.starts_with(&expected_next), "{link}");
    assert!(link.ends_with("&page=2>; rel=\"last\""), "{link}");
}

#[tokio::test]
async fn the_last_page_links_back_and_past_it_is_empty() {
    let sandbox = spawn_default().await;
    let response = cw_get(&sandbox, CW_FULL, "company/companies?pageSize=25&page=2")
        .send()
        .await
        .unwrap();
    let link = response.headers()["link"].to_str().unwrap().to_string();
    assert_eq!(json(response).await.as_array().unwrap().len(), 15);
    assert!(
        link.contains("page=1>; rel=\"prev\"") && link.ends_with("page=1>; rel=\"first\""),
        "{link}"
    );
    assert!(list(&sandbox, "company/companies?page=9").await.is_empty());
}

#[tokio::test]
async fn page_size_is_capped_at_1000() {
    let sizes = DataSizes {
        companies: 1500,
        ..DataSizes::default()
    };
    let sandbox = spawn(SandboxConfig {
        sizes,
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(
        list(&sandbox, "company/companies?pageSize=5000")
            .await
            .len(),
        1000
    );
    assert_eq!(sandbox.requests().last().unwrap().page_size, Some(1000));
}

#[tokio::test]
async fn forward_only_paging_follows_page_id_until_an_empty_link() {
    let sandbox = spawn_default().await;
    let client = reqwest::Client::new();
    let mut url = format!(
        "{}/v4_6_release/apis/3.0/company/companies?pageSize=15",
        sandbox.base_url
    );
    let mut seen = Vec::new();
    loop {
        let response = client
            .get(&url)
            .header("clientId", accounts::CW_CLIENT_ID)
            .header("Authorization", cw_basic("sandbox", CW_FULL.0, CW_FULL.1))
            .header("pagination-type", "forward-only")
            .send()
            .await
            .unwrap();
        let link = response.headers()["link"].to_str().unwrap().to_string();
        seen.extend(
            json(response)
                .await
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
        if link.is_empty() {
            break;
        }
        assert!(link.contains("pageId="), "{link}");
        url = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_string();
    }
    assert_eq!(seen.len(), 40);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
}

async fn count(sandbox: &sync365::sandbox::RunningSandbox, conditions: &str) -> i64 {
    let path = format!(
        "company/companies/count?conditions={}",
        urlencode(conditions)
    );
    let response = cw_get(sandbox, CW_FULL, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{conditions}");
    json(response).await["count"].as_i64().unwrap()
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn conditions_support_every_operator() {
    let sandbox = spawn_default().await;
    assert_eq!(count(&sandbox, "id=19300").await, 1);
    assert_eq!(count(&sandbox, "id!=19300").await, 39);
    assert_eq!(count(&sandbox, "id<19310").await, 10);
    assert_eq!(count(&sandbox, "id<=19310").await, 11);
    assert_eq!(count(&sandbox, "id>19330").await, 9);
    assert_eq!(count(&sandbox, "id>=19330").await, 10);
    assert_eq!(count(&sandbox, "name like \"Ænima%\"").await, 1);
    assert_eq!(count(&sandbox, "name contains '<script>'").await, 1);
    assert_eq!(count(&sandbox, "id in (19300, 19301, 5)").await, 2);
    assert_eq!(count(&sandbox, "deletedFlag=true").await, 3);
}

#[tokio::test]
async fn conditions_combine_with_and_or_parentheses_paths_and_dates() {
    let sandbox = spawn_default().await;
    assert_eq!(
        count(&sandbox, "id=19300 or id=19301 and deletedFlag=true").await,
        1
    );
    assert_eq!(
        count(&sandbox, "(id=19300 or id=19312) and deletedFlag=true").await,
        1
    );
    assert_eq!(
        count(&sandbox, "status/name=\"Active\" or status/name='Inactive'").await,
        40
    );
    assert_eq!(
        count(&sandbox, "lastUpdated > [2020-01-01T00:00:00Z]").await,
        40
    );
    assert_eq!(
        count(&sandbox, "_info/lastUpdated < [2020-01-01T00:00:00Z]").await,
        0
    );
    let agreements = cw_get(
        &sandbox,
        CW_FULL,
        "finance/agreements?conditions=company/id=19300%20and%20type/name=%22M365%20Licensing%22",
    )
    .send()
    .await
    .unwrap();
    let agreements = json(agreements).await;
    assert!(!agreements.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_condition_field_is_400_api_find_condition() {
    let sandbox = spawn_default().await;
    let response = cw_get(
        &sandbox,
        CW_FULL,
        "company/companies?conditions=invoiceDate=1",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(response).await;
    assert_eq!(body["code"], "ApiFindCondition");
    assert_eq!(body["message"], "invoiceDate is not a recognized name.");
    let broken = cw_get(&sandbox, CW_FULL, "company/companies?conditions=id%3D%28")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn order_by_sorts_descending_and_fields_trims_records() {
    let sandbox = spawn_default().await;
    let rows = list(
        &sandbox,
        "company/companies?orderBy=id%20desc&fields=id,name,status/id&pageSize=3",
    )
    .await;
    assert_eq!(rows[0]["id"], 19339);
    assert_eq!(rows[0].as_object().unwrap().len(), 3);
    assert!(rows[0]["status"]["id"].is_number() && rows[0]["status"].get("name").is_none());
}

#[tokio::test]
async fn a_pre_2018_accept_version_is_refused() {
    let sandbox = spawn_default().await;
    let response = cw_get(&sandbox, CW_FULL, "system/info")
        .header(
            "Accept",
            "application/vnd.connectwise.com+json; version=3.0.0",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let legacy = cw_get(&sandbox, CW_FULL, "finance/agreements/2201")
        .header(
            "Accept",
            "application/vnd.connectwise.com+json; version=2018.6",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json(legacy).await["parentAgreementId"], 2200);
}

#[tokio::test]
async fn additions_and_the_catalog_list_microsoft_365_lines() {
    let sandbox = spawn_default().await;
    let lines = list(&sandbox, "finance/agreements/2201/additions").await;
    assert!(lines.iter().all(|l| l["agreementId"] == 2201));
    let catalog = list(
        &sandbox,
        "procurement/catalog?conditions=description%3D%22Exchange%20Online%20(Plan%201)%22",
    )
    .await;
    assert_eq!(catalog.len(), 1);
}
