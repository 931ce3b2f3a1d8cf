//! Authenticated calls to one Autotask zone: the three headers, the thread-limit lanes, the
//! budget, tracing, and the classification of Autotask's answers into `PsaError`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use super::limits::{Budget, Lanes};
use crate::psa::error::{AutotaskRefusal, RedirectAt};
use crate::psa::http::{Answer, RetryPolicy, fetch_with_retry};
use crate::psa::{PsaError, ThresholdUsage};

/// A page of 500 records is well under this; anything larger is not an answer we want.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// The API version every call uses. Never negotiated: `V2.0` has no zoneInformation (BR-20).
pub const VERSION: &str = "v1.0/";

/// Lane name of ThresholdInformation: it counts against the thread limit as its own endpoint.
const THRESHOLD: &str = "ThresholdInformation";

/// Values of the three authentication headers, with the secret marked sensitive.
#[derive(Clone)]
pub struct AuthHeaders(HeaderMap);

impl AuthHeaders {
    /// Builds the headers; the only place the secret and integration code are exposed.
    pub fn new(
        code: &SecretString,
        username: &str,
        secret: &SecretString,
    ) -> Result<Self, PsaError> {
        let mut map = HeaderMap::new();
        insert(&mut map, "apiintegrationcode", code.expose_secret(), true)?;
        insert(&mut map, "username", username, false)?;
        insert(&mut map, "secret", secret.expose_secret(), true)?;
        Ok(Self(map))
    }
}

fn insert(
    map: &mut HeaderMap,
    name: &'static str,
    value: &str,
    sensitive: bool,
) -> Result<(), PsaError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| PsaError::AutotaskRefused {
        host: "(not sent)".into(),
        reason: AutotaskRefusal::ZoneUnconfirmed,
    })?;
    value.set_sensitive(sensitive);
    map.insert(HeaderName::from_static(name), value);
    Ok(())
}

/// One zone's API: everything a verification or retrieval run needs to make calls.
pub struct Api {
    client: reqwest::Client,
    headers: AuthHeaders,
    root: Url,
    host: String,
    retry: RetryPolicy,
    lanes: Lanes,
    pub budget: Budget,
}

/// How to build an `Api`.
pub struct ApiParts {
    pub client: reqwest::Client,
    pub headers: AuthHeaders,
    pub root: Url,
    pub retry: RetryPolicy,
    pub concurrency: usize,
    pub budget: Budget,
}

impl Api {
    pub fn new(parts: ApiParts) -> Arc<Self> {
        let host = host_label(&parts.root);
        Arc::new(Self {
            client: parts.client,
            headers: parts.headers,
            root: parts.root,
            host,
            retry: parts.retry,
            lanes: Lanes::new(parts.concurrency),
            budget: parts.budget,
        })
    }

    pub fn root(&self) -> &Url {
        &self.root
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Requests in flight allowed per entity.
    pub fn concurrency(&self) -> usize {
        self.lanes.limit()
    }

    /// `{root}v1.0/{path}`.
    pub fn url(&self, path: &str) -> Result<Url, PsaError> {
        self.root
            .join(&format!("{VERSION}{path}"))
            .map_err(|e| PsaError::Upstream {
                host: self.host.clone(),
                detail: format!("bad path {path}: {e}"),
            })
    }

    /// Accepts a link from an answer only if it is on this zone's host; a plain-http link on
    /// our https host is upgraded rather than followed in clear text.
    pub fn own_link(&self, link: &str) -> Result<Url, PsaError> {
        let mut url = Url::parse(link).map_err(|_| PsaError::Upstream {
            host: self.host.clone(),
            detail: "a page link is not a URL".into(),
        })?;
        let same_host = url.host_str().map(str::to_ascii_lowercase)
            == self.root.host_str().map(str::to_ascii_lowercase);
        if !same_host || !matches!(url.scheme(), "http" | "https") {
            return Err(PsaError::ForeignLink {
                host: url.host_str().unwrap_or("?").to_string(),
            });
        }
        if url.scheme() != self.root.scheme()
            || url.port_or_known_default() != self.root.port_or_known_default()
        {
            let _ = url.set_scheme(self.root.scheme());
            let _ = url.set_port(self.root.port());
        }
        Ok(url)
    }

    pub async fn get<T: DeserializeOwned>(&self, entity: &str, url: Url) -> Result<T, PsaError> {
        self.call(entity, Method::GET, url, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        entity: &str,
        url: Url,
        body: &serde_json::Value,
    ) -> Result<T, PsaError> {
        self.call(entity, Method::POST, url, Some(body)).await
    }

    /// ThresholdInformation: the hourly budget, used and available. Also our sign-in probe,
    /// since it needs the three headers and no entity permission.
    pub async fn threshold(&self) -> Result<ThresholdUsage, PsaError> {
        let url = self.url(THRESHOLD)?;
        let answer: ThresholdAnswer = self.exchange(THRESHOLD, Method::GET, url, None).await?;
        Ok(ThresholdUsage {
            used: answer.current_timeframe_request_count,
            limit: answer.external_request_threshold,
        })
    }

    /// Asks for fresh usage when one is due, and stops before the reserve is touched.
    async fn spend(&self) -> Result<(), PsaError> {
        if !self.budget.note_request() {
            return Ok(());
        }
        let _one_at_a_time = self.budget.refresh.lock().await;
        if !self.budget.still_due() {
            return Ok(());
        }
        let usage = self.threshold().await?;
        self.budget.record(usage)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        entity: &str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<T, PsaError> {
        self.spend().await?;
        self.exchange(entity, method, url, body).await
    }

    /// One request through the entity's lane, retried on thread-limit refusals.
    async fn exchange<T: DeserializeOwned>(
        &self,
        entity: &str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<T, PsaError> {
        let lane = self.lanes.get(entity);
        let mut attempt = 1;
        loop {
            let _permit = lane.enter().await?;
            let started = Instant::now();
            let outcome = self.send(entity, &method, &url, body).await;
            let refused_thread = matches!(&outcome, Ok(a) if thread_refusal(a));
            let throttled = refused_thread || matches!(&outcome, Err(PsaError::Throttled { .. }));
            lane.observe(started.elapsed(), throttled);
            let answer = outcome?;
            if refused_thread && attempt < self.retry.max_attempts {
                drop(_permit);
                tokio::time::sleep(self.retry.backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            return self.interpret(entity, answer);
        }
    }

    async fn send(
        &self,
        entity: &str,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, PsaError> {
        let span = tracing::info_span!(
            "autotask.request",
            host = %self.host,
            entity = %entity,
            method = %method,
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let build = || {
            let request = self
                .client
                .request(method.clone(), url.clone())
                .headers(self.headers.0.clone());
            match body {
                Some(json) => request.json(json),
                None => request,
            }
        };
        let outcome = fetch_with_retry(build, &self.host, &self.retry, MAX_BODY, is_business_error)
            .instrument(span.clone())
            .await
            .map_err(|e| e.redirect_at(RedirectAt::AutotaskZone));
        record(&span, &outcome, started.elapsed());
        outcome
    }

    fn interpret<T: DeserializeOwned>(&self, entity: &str, answer: Answer) -> Result<T, PsaError> {
        if !answer.status.is_success() {
            return Err(failure(&self.host, entity, answer.status, &answer.body));
        }
        serde_json::from_slice(&answer.body).map_err(|e| unreadable(&self.host, &answer.body, e))
    }
}

fn record(span: &tracing::Span, outcome: &Result<Answer, PsaError>, elapsed: Duration) {
    span.record("elapsed_ms", elapsed.as_millis() as u64);
    match outcome {
        Ok(answer) => span.record("status", answer.status.as_u16()),
        Err(_) => span.record("status", 0u16),
    };
    let _entered = span.enter();
    match outcome {
        Ok(answer) if answer.status.is_success() => tracing::debug!("Autotask answered"),
        Ok(answer) => tracing::info!(
            status = answer.status.as_u16(),
            "Autotask refused a request"
        ),
        Err(e) => tracing::warn!(error = %e, "Autotask request failed"),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThresholdAnswer {
    external_request_threshold: u64,
    current_timeframe_request_count: u64,
}

/// The host name used in messages, e.g. `webservices5.autotask.net`.
pub fn host_label(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => url.to_string(),
    }
}

/// Autotask sends business errors as 500; those are answers, not outages, and are not retried.
fn is_business_error(_status: StatusCode, body: &[u8]) -> bool {
    let text = messages(body).to_ascii_lowercase();
    [
        "integrationcode",
        "integration code",
        "could not be determined",
        "unable to find",
        "expired",
        "locked",
        "inactive",
        "api user",
        "api-only",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn thread_refusal(answer: &Answer) -> bool {
    !answer.status.is_success() && is_thread_limit(&answer.body)
}

/// Autotask's thread-limit refusal ("thread threshold ... exceeded", code Itgenatr005). Its
/// status is not reliable (sometimes not 429), so it is recognised by its text.
fn is_thread_limit(body: &[u8]) -> bool {
    let text = messages(body).to_ascii_lowercase();
    text.contains("thread threshold") || text.contains("itgenatr005")
}

/// The error texts of an answer: `{"errors":[...]}`, `{"Message":...}`, or the raw text.
pub fn messages(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
    };
    let errors = value.get("errors").and_then(|e| e.as_array());
    let mut texts: Vec<&str> = errors
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str())
        .collect();
    for key in ["Message", "message", "error"] {
        texts.extend(value.get(key).and_then(|m| m.as_str()));
    }
    texts.join("; ")
}

/// Classifies a refused request by status and by what Autotask said.
pub fn failure(host: &str, entity: &str, status: StatusCode, body: &[u8]) -> PsaError {
    let text = messages(body);
    let lower = text.to_ascii_lowercase();
    let refused = |reason| PsaError::AutotaskRefused {
        host: host.into(),
        reason,
    };
    if lower.contains("integrationcode")
        || lower.contains("integration code")
        || lower.contains("tracking identifier")
    {
        return refused(AutotaskRefusal::IntegrationCode);
    }
    match status {
        StatusCode::UNAUTHORIZED => refused(refusal_reason(&lower)),
        StatusCode::FORBIDDEN => PsaError::PermissionMissing {
            item: entity.into(),
            fix: "Give the API user's security level access to it.".into(),
        },
        StatusCode::NOT_FOUND => PsaError::NotTheApi { host: host.into() },
        StatusCode::TOO_MANY_REQUESTS => PsaError::Throttled { host: host.into() },
        _ if is_refusal_text(&lower) => refused(refusal_reason(&lower)),
        _ => PsaError::Upstream {
            host: host.into(),
            detail: format!("{entity}: {status}: {}", clip(&text)),
        },
    }
}

fn is_refusal_text(lower: &str) -> bool {
    refusal_reason(lower) != AutotaskRefusal::Secret
}

// Limitation: Autotask's usual 401 is empty, so a wrong secret, a locked or expired user, a
// non-API level and another Integration Vendor look the same; the message lists them all.
/// What a refusal's text says, when it says anything (usually a 401 is empty).
fn refusal_reason(lower: &str) -> AutotaskRefusal {
    if lower.contains("expired") {
        AutotaskRefusal::SecretExpired
    } else if lower.contains("locked") || lower.contains("inactive") || lower.contains("disabled") {
        AutotaskRefusal::UserInactive
    } else if lower.contains("api-only") || lower.contains("api only") || lower.contains("api user")
    {
        AutotaskRefusal::NotApiOnly
    } else {
        AutotaskRefusal::Secret
    }
}

fn unreadable(host: &str, body: &[u8], e: serde_json::Error) -> PsaError {
    let start = String::from_utf8_lossy(&body[..body.len().min(64)])
        .trim_start()
        .to_ascii_lowercase();
    if start.starts_with('<') {
        return PsaError::NotTheApi { host: host.into() };
    }
    PsaError::Upstream {
        host: host.into(),
        detail: format!("unreadable answer: {e}"),
    }
}

/// PSA text goes to logs only, and never at length.
fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn classify(status: u16, body: &str) -> PsaError {
        failure(
            "ws",
            "Companies",
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
        )
    }

    fn reason(e: PsaError) -> AutotaskRefusal {
        match e {
            PsaError::AutotaskRefused { reason, .. } => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_401_is_a_refused_secret() {
        assert_eq!(reason(classify(401, "")), AutotaskRefusal::Secret);
    }

    #[test]
    fn the_old_and_new_integration_code_refusals_are_recognised() {
        assert_eq!(
            reason(classify(
                500,
                r#"{"errors":["IntegrationCode is invalid."]}"#
            )),
            AutotaskRefusal::IntegrationCode
        );
        assert_eq!(
            reason(classify(401, r#"{"errors":["Invalid integration code"]}"#)),
            AutotaskRefusal::IntegrationCode
        );
    }

    #[test]
    fn expired_locked_and_non_api_users_are_told_apart_when_autotask_says_so() {
        assert_eq!(
            reason(classify(401, r#"{"errors":["Password has expired"]}"#)),
            AutotaskRefusal::SecretExpired
        );
        assert_eq!(
            reason(classify(401, r#"{"errors":["User account is locked"]}"#)),
            AutotaskRefusal::UserInactive
        );
        assert_eq!(
            reason(classify(500, r#"{"errors":["Resource is inactive"]}"#)),
            AutotaskRefusal::UserInactive
        );
        assert_eq!(
            reason(classify(401, "User is not an API-only user")),
            AutotaskRefusal::NotApiOnly
        );
    }

    #[test]
    fn other_errors_are_upstream_failures_and_html_is_not_the_api() {
        assert!(matches!(
            classify(
                500,
                r#"{"errors":["Unable to find contractNam in the Contract Entity"]}"#
            ),
            PsaError::Upstream { .. }
        ));
        assert!(matches!(
            classify(
                405,
                r#"{"Message":"The requested resource does not support http method 'GET'."}"#
            ),
            PsaError::Upstream { .. }
        ));
        assert!(matches!(
            classify(404, "<html>"),
            PsaError::NotTheApi { .. }
        ));
        assert!(matches!(
            unreadable(
                "ws",
                b"  <!DOCTYPE html>",
                serde_json::from_str::<u8>("x").unwrap_err()
            ),
            PsaError::NotTheApi { .. }
        ));
    }

    #[test]
    fn thread_limit_refusals_are_recognised_by_their_text() {
        assert!(is_thread_limit(br#"{"errors":["Thread Threshold Exceeded: thread threshold of 3 threads has been exceeded"]}"#));
        assert!(is_thread_limit(b"Itgenatr005"));
        assert!(!is_thread_limit(
            br#"{"errors":["IntegrationCode is invalid."]}"#
        ));
    }
}
