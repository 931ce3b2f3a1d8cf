//! ConnectWise retrieval against mock servers: paging at the boundaries, bounded concurrency,
//! throttling and server-error bursts, cut-off bodies, foreign links, restricted roles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sync365::psa::PsaError;
use sync365::psa::records::{Agreement, AgreementLine, Customer, Phase, Product, RecordSink};
use wiremock::matchers::{path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{ROOT, api, companyinfo, connect};

/// Everything the connector handed over, and how.
#[derive(Default)]
pub struct Collected {
    pub customers: Vec<Customer>,
    pub agreements: Vec<Agreement>,
    pub lines: Vec<AgreementLine>,
    pub products: Vec<Product>,
    pub expected: Vec<(Phase, u64)>,
    pub largest_batch: usize,
}

#[async_trait::async_trait]
impl RecordSink for Collected {
    async fn expect(&mut self, phase: Phase, total: u64) -> Result<(), PsaError> {
        self.expected.push((phase, total));
        Ok(())
    }
    async fn customers(&mut self, page: Vec<Customer>) -> Result<(), PsaError> {
        self.largest_batch = self.largest_batch.max(page.len());
        self.customers.extend(page);
        Ok(())
    }
    async fn agreements(&mut self, page: Vec<Agreement>) -> Result<(), PsaError> {
        self.agreements.extend(page);
        Ok(())
    }
    async fn agreement_lines(&mut self, page: Vec<AgreementLine>) -> Result<(), PsaError> {
        self.lines.extend(page);
        Ok(())
    }
    async fn products(&mut self, page: Vec<Product>) -> Result<(), PsaError> {
        self.products.extend(page);
        Ok(())
    }
}

/// A list endpoint over `total` generated rows, answering `page`/`pageSize` and `/count`.
#[derive(Clone)]
pub struct Table {
    pub total: usize,
    pub make: fn(usize) -> Value,
    pub delay: Duration,
    pub link_to: Option<String>,
    pub arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Table {
    pub fn new(total: usize, make: fn(usize) -> Value) -> Self {
        Self {
            total,
            make,
            delay: Duration::ZERO,
            link_to: None,
            arrivals: Arc::default(),
        }
    }
}

fn query(req: &Request) -> HashMap<String, String> {
    req.url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Respond for Table {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.url.path().ends_with("/count") {
            return ResponseTemplate::new(200).set_body_json(json!({"count": self.total}));
        }
        self.arrivals.lock().unwrap().push(Instant::now());
        let q = query(req);
        let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let size: usize = q.get("pageSize").and_then(|p| p.parse().ok()).unwrap_or(25);
        let start = (page - 1) * size;
        let rows: Vec<Value> = (start..(start + size).min(self.total))
            .map(|i| (self.make)(i + 1))
            .collect();
        let mut answer = ResponseTemplate::new(200)
            .set_body_json(rows)
            .set_delay(self.delay);
        if let Some(other) = &self.link_to {
            let link = format!(
                "<{other}{}?pageSize={size}&page={}>; rel=\"next\"",
                req.url.path(),
                page + 1
            );
            answer = answer.insert_header("Link", link.as_str());
        }
        answer
    }
}

/// Answers with `bad` for the first `times` requests, then delegates.
struct Flaky<R> {
    bad: ResponseTemplate,
    times: usize,
    seen: AtomicUsize,
    then: R,
}

impl<R: Respond> Respond for Flaky<R> {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if self.seen.fetch_add(1, Ordering::SeqCst) < self.times {
            return self.bad.clone();
        }
        self.then.respond(req)
    }
}

fn company(i: usize) -> Value {
    json!({"id": i, "identifier": format!("C{i}"), "name": format!("Company {i}"), "status": {"id": 1, "name": "Active"}})
}

fn catalog_item(i: usize) -> Value {
    json!({"id": i, "identifier": format!("SKU-{i}"), "description": format!("Item {i}"), "price": 1.5, "inactiveFlag": i.is_multiple_of(10)})
}

fn agreement(i: usize) -> Value {
    let status = if i.is_multiple_of(2) {
        "Active"
    } else {
        "Expired"
    };
    json!({"id": i, "name": format!("Agreement {i}"), "company": {"id": i}, "type": {"id": 1, "name": "M365"},
        "billingCycle": {"id": 2, "name": "Monthly"}, "agreementStatus": status, "startDate": "2024-07-01T00:00:00Z"})
}

async fn mount<R: Respond + 'static>(server: &MockServer, rel: &str, responder: R) {
    Mock::given(path_regex(format!("^{ROOT}/{rel}(/count)?$")))
        .respond_with(responder)
        .mount(server)
        .await;
}

/// A tenant with `companies` companies and nothing else.
async fn tenant<R: Respond + 'static>(server: &MockServer, companies: R) {
    companyinfo(server, json!("True")).await;
    mount(server, "company/companies", companies).await;
    mount(server, "finance/agreements", Table::new(0, agreement)).await;
    mount(server, "procurement/catalog", Table::new(0, catalog_item)).await;
}

fn page_requests(calls: &[Request], rel: &str) -> usize {
    calls
        .iter()
        .filter(|r| r.url.path() == format!("{ROOT}/{rel}"))
        .count()
}

async fn retrieve(server: &MockServer) -> Result<Collected, PsaError> {
    let mut sink = Collected::default();
    connect(server).retrieve(&mut sink).await.map(|()| sink)
}

#[tokio::test]
async fn customers_are_all_retrieved_at_every_page_boundary() {
    // (rows, page requests): a full last page is followed by one more to see the end.
    for (rows, pages) in [(0, 1), (1, 1), (999, 1), (1000, 2), (1001, 2)] {
        let server = MockServer::start().await;
        tenant(&server, Table::new(rows, company)).await;
        let got = retrieve(&server).await.unwrap();
        assert_eq!(got.customers.len(), rows, "{rows} rows");
        assert_eq!(got.expected[0], (Phase::Customers, rows as u64));
        let ids: Vec<String> = (1..=rows).map(|i| i.to_string()).collect();
        assert!(
            got.customers.iter().map(|c| &c.external_id).eq(ids.iter()),
            "{rows}: order or duplicates"
        );
        let calls = server.received_requests().await.unwrap();
        assert_eq!(
            page_requests(&calls, "company/companies"),
            pages,
            "{rows} rows"
        );
    }
}

#[tokio::test]
async fn twenty_five_thousand_companies_arrive_in_pages_of_at_most_a_thousand() {
    let server = MockServer::start().await;
    tenant(&server, Table::new(25_000, company)).await;
    let got = retrieve(&server).await.unwrap();
    assert_eq!(got.customers.len(), 25_000);
    assert_eq!(got.largest_batch, 1000);
    let calls = server.received_requests().await.unwrap();
    assert!(
        calls
            .iter()
            .filter(|r| r.url.path().ends_with("company/companies"))
            .all(|r| query(r)["pageSize"] == "1000")
    );
    assert_eq!(got.customers[24_999].name, "Company 25000");
}

#[tokio::test]
async fn rows_added_during_paging_are_still_retrieved() {
    let server = MockServer::start().await;
    companyinfo(&server, json!("True")).await;
    // The count says 1000, but 1500 rows are there by the time the pages are read.
    Mock::given(path(format!("{ROOT}/company/companies/count")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"count": 1000})))
        .with_priority(1)
        .mount(&server)
        .await;
    tenant(&server, Table::new(1500, company)).await;
    assert_eq!(retrieve(&server).await.unwrap().customers.len(), 1500);
}

#[tokio::test]
async fn pages_are_fetched_concurrently_but_never_more_than_the_bound() {
    let server = MockServer::start().await;
    let mut table = Table::new(10_000, company);
    table.delay = Duration::from_millis(150);
    let arrivals = table.arrivals.clone();
    tenant(&server, table).await;
    let started = Instant::now();
    retrieve(&server).await.unwrap();
    let took = started.elapsed();
    let times = arrivals.lock().unwrap().clone();
    let overlap = |t: &Instant| {
        times
            .iter()
            .filter(|u| **u <= *t && t.duration_since(**u) < Duration::from_millis(120))
            .count()
    };
    let most = times.iter().map(overlap).max().unwrap();
    assert!((2..=4).contains(&most), "{most} requests in flight at once");
    assert!(
        took < Duration::from_millis(10 * 150),
        "not concurrent: {took:?}"
    );
}

#[tokio::test]
async fn throttled_pages_wait_and_resume() {
    let server = MockServer::start().await;
    let throttled = ResponseTemplate::new(429)
        .insert_header("Retry-After", "1")
        .set_body_json(json!({"error": "ConnectWiseAPI", "message": "Too many requests."}));
    let flaky = Flaky {
        bad: throttled,
        times: 3,
        seen: AtomicUsize::new(0),
        then: Table::new(2500, company),
    };
    tenant(&server, flaky).await;
    assert_eq!(retrieve(&server).await.unwrap().customers.len(), 2500);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retry_budget_is_reported_as_throttling() {
    let server = MockServer::start().await;
    tenant(
        &server,
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
    )
    .await;
    let err = retrieve(&server).await.err().unwrap();
    assert_eq!(
        err,
        PsaError::Throttled {
            host: server.address().to_string()
        }
    );
}

#[tokio::test]
async fn a_burst_of_server_errors_is_retried_and_resumes() {
    let server = MockServer::start().await;
    let bad = ResponseTemplate::new(503).set_body_string("busy");
    let flaky = Flaky {
        bad,
        times: 3,
        seen: AtomicUsize::new(0),
        then: Table::new(1200, company),
    };
    tenant(&server, flaky).await;
    assert_eq!(retrieve(&server).await.unwrap().customers.len(), 1200);
}

#[tokio::test]
async fn server_errors_that_persist_are_an_upstream_failure() {
    let server = MockServer::start().await;
    let body = json!({"code": "ConnectWiseApi", "message": "String was not recognized as a valid Boolean."});
    tenant(&server, ResponseTemplate::new(500).set_body_json(body)).await;
    let err = retrieve(&server).await.err().unwrap();
    let PsaError::Upstream { host, detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(host, &server.address().to_string());
    assert!(detail.contains("valid Boolean"), "{detail}");
}

#[tokio::test]
async fn a_body_cut_off_mid_json_is_fetched_again() {
    let server = MockServer::start().await;
    let cut =
        ResponseTemplate::new(200).set_body_raw(r#"[{"id":1,"name":"Comp"#, "application/json");
    let flaky = Flaky {
        bad: cut,
        times: 2,
        seen: AtomicUsize::new(0),
        then: Table::new(1500, company),
    };
    tenant(&server, flaky).await;
    assert_eq!(retrieve(&server).await.unwrap().customers.len(), 1500);
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_fetched_again() {
    let server = MockServer::start().await;
    tenant(&server, Table::new(3, company)).await;
    // A proxy in front that cuts the first answer for the companies page.
    let proxy = cutting_proxy(server.address().to_string()).await;
    let settings = super::settings(&[]);
    let cw = super::connect_to(
        sync365::domain::connectwise::Site::parse("self_hosted", &proxy).unwrap(),
        &settings,
    );
    let mut sink = Collected::default();
    cw.retrieve(&mut sink).await.unwrap();
    assert_eq!(sink.customers.len(), 3);
}

/// Forwards plain HTTP/1.1 to `upstream`, but answers the first companies page with a
/// `Content-Length` larger than the bytes it sends before closing.
async fn cutting_proxy(upstream: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cut_done = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let (mut inbound, _) = listener.accept().await.unwrap();
            let (upstream, cut_done) = (upstream.clone(), cut_done.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let n = inbound.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let is_page = head.starts_with(&format!("GET {ROOT}/company/companies?"));
                if is_page && cut_done.fetch_add(1, Ordering::SeqCst) == 0 {
                    let _ = inbound.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n[{\"id\":1").await;
                    return;
                }
                let mut out = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let request = head.replace("\r\n\r\n", "\r\nconnection: close\r\n\r\n");
                out.write_all(request.as_bytes()).await.unwrap();
                let mut answer = Vec::new();
                let _ = out.read_to_end(&mut answer).await;
                let _ = inbound.write_all(&answer).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_link_to_another_host_is_never_contacted() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let mut table = Table::new(2500, company);
    table.link_to = Some(elsewhere.uri());
    tenant(&server, table).await;
    assert_eq!(retrieve(&server).await.unwrap().customers.len(), 2500);
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the foreign host was contacted"
    );
}

#[tokio::test]
async fn deleted_companies_are_asked_away_and_never_become_customers() {
    let server = MockServer::start().await;
    tenant(
        &server,
        Table::new(3, |i| json!({"id": i, "name": "x", "deletedFlag": i == 2})),
    )
    .await;
    let got = retrieve(&server).await.unwrap();
    assert_eq!(
        got.customers
            .iter()
            .map(|c| c.external_id.as_str())
            .collect::<Vec<_>>(),
        ["1", "3"]
    );
    let calls = server.received_requests().await.unwrap();
    let page = calls
        .iter()
        .find(|r| r.url.path() == format!("{ROOT}/company/companies"))
        .unwrap();
    assert_eq!(query(page)["conditions"], "deletedFlag=false");
}

/// Two additions per agreement, the second one cancelled.
struct Additions;

impl Respond for Additions {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id: usize = req
            .url
            .path()
            .split('/')
            .rev()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap();
        let lines = json!([
            {"id": id * 10, "product": {"id": 377, "identifier": "M365-BP"}, "quantity": 18.0, "unitPrice": 36.3,
             "description": "Business Premium", "agreementStatus": "Active", "agreementId": id},
            {"id": id * 10 + 1, "product": {"id": 378}, "quantity": 2.0, "cancelledDate": "2025-01-31T00:00:00Z", "agreementId": id}
        ]);
        ResponseTemplate::new(200).set_body_json(lines)
    }
}

#[tokio::test]
async fn agreements_additions_of_active_ones_and_products_are_all_retrieved() {
    let server = MockServer::start().await;
    companyinfo(&server, json!("True")).await;
    mount(&server, "company/companies", Table::new(5, company)).await;
    mount(&server, "finance/agreements", Table::new(1200, agreement)).await;
    Mock::given(path_regex(format!(
        "^{ROOT}/finance/agreements/[0-9]+/additions$"
    )))
    .respond_with(Additions)
    .mount(&server)
    .await;
    mount(&server, "procurement/catalog", Table::new(30, catalog_item)).await;
    let got = retrieve(&server).await.unwrap();
    assert_eq!(got.agreements.len(), 1200);
    assert_eq!(
        got.lines.len(),
        600 * 2,
        "only the 600 active agreements' additions"
    );
    assert!(got.lines.iter().all(|l| {
        l.agreement_external_id
            .parse::<usize>()
            .unwrap()
            .is_multiple_of(2)
    }));
    let cancelled = got
        .lines
        .iter()
        .filter(|l| l.status.as_deref() == Some("Cancelled"))
        .count();
    assert_eq!(cancelled, 600);
    let first = &got.agreements[0];
    assert_eq!(
        (
            first.billing_cycle.as_deref(),
            first.agreement_type.as_deref()
        ),
        (Some("Monthly"), Some("M365"))
    );
    assert_eq!(first.start_date.as_deref(), Some("2024-07-01T00:00:00Z"));
    assert_eq!(got.products.len(), 30);
    assert_eq!(got.products.iter().filter(|p| !p.active).count(), 3);
    assert!(
        got.expected.contains(&(Phase::Agreements, 1200))
            && got.expected.contains(&(Phase::Products, 30))
    );
}

#[tokio::test]
async fn forbidden_additions_name_the_agreement_and_its_parent() {
    let server = MockServer::start().await;
    companyinfo(&server, json!("True")).await;
    mount(&server, "company/companies", Table::new(1, company)).await;
    let child = |_| {
        json!({"id": 812, "name": "M365", "agreementStatus": "Active", "type": {"id": 1, "name": "M365"},
        "parentAgreement": {"id": 700, "name": "MSP Gold", "type": "Managed Services"}})
    };
    mount(&server, "finance/agreements", Table::new(1, child)).await;
    api(
        &server,
        "finance/agreements/812/additions",
        403,
        json!({"code": "Security", "message": "no"}),
    )
    .await;
    let err = retrieve(&server).await.err().unwrap();
    let PsaError::PermissionMissing { item, fix } = &err else {
        panic!("{err:?}")
    };
    assert!(
        item.starts_with("Agreement 812's parent (700, Managed Services) is not visible"),
        "{item}"
    );
    assert!(fix.contains("System > Security Roles"), "{fix}");
}

#[tokio::test]
async fn keys_revoked_mid_run_stop_at_once_without_retrying() {
    let server = MockServer::start().await;
    tenant(
        &server,
        ResponseTemplate::new(401).set_body_json(json!({"code": "Unauthorized", "message": "x"})),
    )
    .await;
    let err = retrieve(&server).await.err().unwrap();
    assert_eq!(
        err,
        PsaError::CredentialsRefused {
            host: server.address().to_string()
        }
    );
    let calls = server.received_requests().await.unwrap();
    assert_eq!(
        calls
            .iter()
            .filter(|r| r.url.path().contains("company/companies"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_role_without_company_access_fails_retrieval_with_the_permission_named() {
    let server = MockServer::start().await;
    tenant(
        &server,
        ResponseTemplate::new(403).set_body_json(json!({"code": "Security", "message": "no"})),
    )
    .await;
    let err = retrieve(&server).await.err().unwrap();
    let PsaError::PermissionMissing { item, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(item, "Companies > Company Maintenance");
}
