//! Autotask connector tests: a scriptable fake Autotask (a wiremock responder) and a sink
//! that collects what retrieval streams.

#[path = "autotask_retrieve.rs"]
mod retrieve;
#[path = "autotask_sandbox.rs"]
mod sandbox;
#[path = "autotask_verify.rs"]
mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::{Value, json};
use sync365::domain::autotask::Zone;
use sync365::psa::autotask::{Autotask, Credentials, ServerSettings};
use sync365::psa::http::{OutboundPolicy, RetryPolicy};
use sync365::psa::records::Phase;
use sync365::psa::{Agreement, AgreementLine, Customer, Product, PsaError, RecordSink};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const CODE: &str = "VENDORCODE0123456789ABCDEFG";
pub const USER: &str = "k3x9qpl2m7vbz4r@NORTHWIND.EXAMPLE";
pub const SECRET: &str = "s3cr*t@#~$";

/// How the fake answers a sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Accept,
    /// The 2023-era refusal of an unknown integration code.
    IntegrationCode500,
    /// A refusal that says the secret expired (BR-35; the text is unverified).
    Expired401,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub zone: String,
    pub entity: String,
    pub method: String,
    pub path: String,
    pub body: Value,
    pub at: Instant,
    pub delay: Duration,
}

/// A small Autotask: one listener for every zone (`/{zone}/atservicesrest/...`) and the
/// lookup service (`/lookup/atservicesrest/...`).
#[derive(Clone)]
pub struct Fake {
    pub base: String,
    /// The zone the user lives in; `None` makes zone lookup answer "could not be determined".
    pub user_zone: Option<&'static str>,
    pub auth: Auth,
    pub rows: HashMap<&'static str, usize>,
    /// Counts answer zero and queries nothing, as a restricted security level does.
    pub restricted: bool,
    pub delay: Duration,
    /// Per-entity delays that override `delay`.
    pub slow: HashMap<&'static str, Duration>,
    /// Entities whose requests answer 403.
    pub forbidden: Vec<&'static str>,
    /// Zone lookup says "could not be determined" even for the known user.
    pub lookup_unknown: bool,
    /// The next this many first-page Companies queries are refused with Autotask's thread-limit error.
    pub thread_refusals: Arc<Mutex<usize>>,
    /// Host put into `nextPageUrl`, to test foreign links.
    pub next_base: Option<String>,
    /// ThresholdInformation reports this plus every request received.
    pub used_before: u64,
    pub hits: Arc<Mutex<Vec<Hit>>>,
}

impl Fake {
    pub async fn start() -> (MockServer, Fake) {
        let server = MockServer::start().await;
        let fake = Fake {
            base: server.uri(),
            user_zone: Some("webservices5"),
            auth: Auth::Accept,
            rows: HashMap::from([
                ("Companies", 3),
                ("Contracts", 4),
                ("ContractServices", 5),
                ("Services", 2),
                ("Products", 2),
                ("Tickets", 7),
            ]),
            restricted: false,
            delay: Duration::ZERO,
            slow: HashMap::new(),
            forbidden: Vec::new(),
            lookup_unknown: false,
            thread_refusals: Arc::default(),
            next_base: None,
            used_before: 100,
            hits: Arc::default(),
        };
        (server, fake)
    }

    pub async fn mount(&self, server: &MockServer) {
        server.reset().await;
        Mock::given(any())
            .respond_with(self.clone())
            .mount(server)
            .await;
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Requests to one entity's query routes (first pages and next pages, not counts).
    pub fn query_hits(&self, entity: &str) -> Vec<Hit> {
        let query = format!("/{}/query", entity.to_ascii_lowercase());
        self.hits()
            .into_iter()
            .filter(|h| h.path.to_ascii_lowercase().contains(&query) && !h.path.ends_with("/count"))
            .collect()
    }

    /// The most requests to one entity that were ever in flight at once.
    pub fn peak_in_flight(&self, entity: &str) -> usize {
        let hits: Vec<Hit> = self
            .hits()
            .into_iter()
            .filter(|h| h.entity.eq_ignore_ascii_case(entity))
            .collect();
        hits.iter()
            .map(|h| {
                hits.iter()
                    .filter(|o| o.at <= h.at && h.at < o.at + o.delay)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    fn record(&self, req: &Request, zone: &str, entity: &str) {
        let body = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        self.hits.lock().unwrap().push(Hit {
            zone: zone.into(),
            entity: entity.into(),
            method: req.method.to_string(),
            path: req.url.path().to_string(),
            body,
            at: Instant::now(),
            delay: self.delay_for(entity),
        });
    }

    fn delay_for(&self, entity: &str) -> Duration {
        self.slow.get(entity).copied().unwrap_or(self.delay)
    }
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path().to_string();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (zone, rest) = match parts.as_slice() {
            [zone, api, version, rest @ ..]
                if api.eq_ignore_ascii_case("atservicesrest")
                    && version.eq_ignore_ascii_case("v1.0") =>
            {
                (*zone, rest)
            }
            _ => return ResponseTemplate::new(404),
        };
        let entity = rest.first().copied().unwrap_or_default();
        self.record(req, zone, entity);
        if zone == "lookup" {
            return self.zone_information(req);
        }
        if let Some(refusal) = self.refusal(req, zone) {
            return refusal;
        }
        if let Some(refusal) = self.limited(entity, &rest[1..]) {
            return refusal;
        }
        self.answer(req, entity, &rest[1..])
            .set_delay(self.delay_for(entity))
    }
}

impl Fake {
    fn zone_information(&self, req: &Request) -> ResponseTemplate {
        let user = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "user")
            .map(|(_, v)| v.into_owned());
        match (user.as_deref(), self.user_zone) {
            (Some(USER), Some(zone)) if !self.lookup_unknown => ResponseTemplate::new(200)
                .set_body_json(json!({
                    "zoneName": "WE01", "url": format!("{}/{zone}/ATServicesRest/", self.base),
                    "webUrl": "https://ww5.autotask.net/", "ci": 1234
                })),
            _ => ResponseTemplate::new(500)
                .set_body_json(json!({"errors": ["Zone information could not be determined"]})),
        }
    }

    fn limited(&self, entity: &str, rest: &[&str]) -> Option<ResponseTemplate> {
        if self.forbidden.contains(&entity) {
            return Some(ResponseTemplate::new(403));
        }
        let mut left = self.thread_refusals.lock().unwrap();
        if *left > 0 && entity == "Companies" && rest == ["query"] {
            *left -= 1;
            let text = "Thread Threshold Exceeded: thread threshold of 3 threads has been exceeded (Itgenatr005)";
            return Some(ResponseTemplate::new(403).set_body_json(json!({"errors": [text]})));
        }
        None
    }

    fn refusal(&self, req: &Request, zone: &str) -> Option<ResponseTemplate> {
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let empty_401 = || {
            ResponseTemplate::new(401).insert_header(
                "WWW-Authenticate",
                "Basic Realm=\"webservices5.autotask.net\"",
            )
        };
        if header("apiintegrationcode") != CODE {
            return Some(match self.auth {
                Auth::IntegrationCode500 => ResponseTemplate::new(500)
                    .set_body_json(json!({"errors": ["IntegrationCode is invalid."]})),
                _ => empty_401(),
            });
        }
        if header("username") != USER || header("secret") != SECRET || Some(zone) != self.user_zone
        {
            return Some(empty_401());
        }
        match self.auth {
            Auth::Accept => None,
            Auth::IntegrationCode500 => Some(
                ResponseTemplate::new(500)
                    .set_body_json(json!({"errors": ["IntegrationCode is invalid."]})),
            ),
            Auth::Expired401 => Some(
                ResponseTemplate::new(401)
                    .set_body_json(json!({"errors": ["The password has expired"]})),
            ),
        }
    }

    fn answer(&self, req: &Request, entity: &str, rest: &[&str]) -> ResponseTemplate {
        let post = req.method.as_str() == "POST";
        match (entity, rest) {
            ("ThresholdInformation", []) => {
                let used = self.used_before + self.hits.lock().unwrap().len() as u64;
                ResponseTemplate::new(200).set_body_json(json!({
                    "externalRequestThreshold": 10000, "requestThresholdTimeframe": 60, "currentTimeframeRequestCount": used
                }))
            }
            (_, ["query", "count"]) if post => ResponseTemplate::new(200)
                .set_body_json(json!({"queryCount": self.visible(entity)})),
            (_, ["query"]) if post => self.page(req, entity, 0),
            (_, ["query", "next"]) if post => {
                let after = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "after")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                self.page(req, entity, after)
            }
            (_, ["query", "next"]) => ResponseTemplate::new(405).set_body_json(
                json!({"Message": "The requested resource does not support http method 'GET'."}),
            ),
            _ => ResponseTemplate::new(404),
        }
    }

    fn visible(&self, entity: &str) -> usize {
        if self.restricted {
            0
        } else {
            self.rows.get(entity).copied().unwrap_or(0)
        }
    }

    fn page(&self, req: &Request, entity: &str, after: usize) -> ResponseTemplate {
        if entity == "ContractServiceUnits" {
            return self.units(req);
        }
        let total = self.visible(entity);
        let ids: Vec<usize> = (after + 1..=total.min(after + 500)).collect();
        let items: Vec<Value> = ids.iter().map(|&id| row(entity, id, &self.rows)).collect();
        let next = (after + 500 < total).then(|| {
            let base = self.next_base.clone().unwrap_or_else(|| self.base.clone());
            format!(
                "{base}/webservices5/ATServicesRest/V1.0/{entity}/query/next?after={}",
                after + 500
            )
        });
        page_json(items, next)
    }

    /// One current unit row per contract service asked for, quantity = id % 40 + 1.
    fn units(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let filter = body["filter"].as_array().cloned().unwrap_or_default();
        let ids: Vec<u64> = filter
            .iter()
            .find(|f| f["field"] == "contractServiceID")
            .and_then(|f| f["value"].as_array())
            .map(|v| v.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let items = ids
            .iter()
            .map(|id| json!({"id": 9_000_000 + id, "contractServiceID": id, "startDate": "2000-01-01T00:00:00Z", "endDate": "2999-12-31T00:00:00Z", "units": id % 40 + 1}))
            .collect();
        page_json(items, None)
    }
}

fn page_json(items: Vec<Value>, next: Option<String>) -> ResponseTemplate {
    let count = items.len();
    ResponseTemplate::new(200).set_body_json(json!({
        "items": items,
        "pageDetails": {"count": count, "requestCount": 500, "prevPageUrl": null, "nextPageUrl": next}
    }))
}

fn row(entity: &str, id: usize, rows: &HashMap<&'static str, usize>) -> Value {
    let of = |e: &str| rows.get(e).copied().unwrap_or(1).max(1);
    match entity {
        "Companies" => {
            json!({"id": id, "companyName": format!("Company {id}"), "companyNumber": format!("C{id}"), "companyType": 1, "isActive": true})
        }
        "Contracts" => {
            json!({"id": id, "companyID": (id - 1) % of("Companies") + 1, "contractName": format!("Contract {id}"),
            "contractType": 7, "status": 1, "startDate": "2024-04-01T00:00:00Z", "endDate": "2030-03-31T00:00:00Z", "contractPeriodType": 1})
        }
        "ContractServices" => {
            json!({"id": id, "contractID": (id - 1) % of("Contracts") + 1, "serviceID": 1,
            "invoiceDescription": format!("Licence {id}"), "unitPrice": 12.0})
        }
        "Services" => {
            json!({"id": id, "name": format!("Service {id}"), "unitPrice": 10.0, "isActive": true})
        }
        "Products" => {
            json!({"id": id, "name": format!("Product {id}"), "sku": format!("SKU-{id}"), "unitPrice": 48.0, "isActive": true})
        }
        _ => json!({"id": id}),
    }
}

/// Collects what retrieval streams, and the largest page handed over.
#[derive(Default)]
pub struct Collect {
    pub expected: HashMap<String, u64>,
    pub customers: Vec<Customer>,
    pub agreements: Vec<Agreement>,
    pub lines: Vec<AgreementLine>,
    pub products: Vec<Product>,
    pub largest_page: usize,
}

#[async_trait::async_trait]
impl RecordSink for Collect {
    async fn expect(&mut self, phase: Phase, total: u64) -> Result<(), PsaError> {
        self.expected.insert(format!("{phase:?}"), total);
        Ok(())
    }
    async fn customers(&mut self, page: Vec<Customer>) -> Result<(), PsaError> {
        self.largest_page = self.largest_page.max(page.len());
        self.customers.extend(page);
        Ok(())
    }
    async fn agreements(&mut self, page: Vec<Agreement>) -> Result<(), PsaError> {
        self.largest_page = self.largest_page.max(page.len());
        self.agreements.extend(page);
        Ok(())
    }
    async fn agreement_lines(&mut self, page: Vec<AgreementLine>) -> Result<(), PsaError> {
        self.largest_page = self.largest_page.max(page.len());
        self.lines.extend(page);
        Ok(())
    }
    async fn products(&mut self, page: Vec<Product>) -> Result<(), PsaError> {
        self.largest_page = self.largest_page.max(page.len());
        self.products.extend(page);
        Ok(())
    }
}

pub fn policy() -> OutboundPolicy {
    OutboundPolicy {
        allow_private: true,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
        ..OutboundPolicy::default()
    }
}

pub fn settings(base: &str) -> ServerSettings {
    let lookup = format!("{base}/lookup/atservicesrest/");
    let template = format!("{base}/{{zone}}/atservicesrest/");
    ServerSettings::new(SecretString::from(CODE), &lookup, &template).unwrap()
}

pub fn connect(base: &str, zone: &str, user: &str, secret: &str) -> Autotask {
    connect_with(&settings(base), zone, user, secret)
}

pub fn connect_with(server: &ServerSettings, zone: &str, user: &str, secret: &str) -> Autotask {
    let creds = Credentials {
        zone: Zone::parse(zone).unwrap(),
        username: user.into(),
        secret: SecretString::from(secret),
    };
    Autotask::new(creds, server, &policy()).unwrap()
}
