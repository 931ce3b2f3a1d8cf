//! One ConnectWise connection: the headers it sends, the codebase it learned from companyinfo,
//! and every answer turned into JSON or a classified `PsaError`.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::permissions;
use super::settings::Cloud;
use super::wire::CompanyInfo;
use crate::domain::connectwise::CompanyId;
use crate::psa::PsaError;
use crate::psa::http::{self, RetryPolicy};

/// The codebase every server routes, used until companyinfo names the tenant's own.
pub const DEFAULT_CODEBASE: &str = "v4_6_release/";

/// A page of 1000 records is a few megabytes; anything far larger is not a ConnectWise page.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

const PLAIN_JSON: &str = "application/json";

/// A query string as (name, value) pairs; values are URL-encoded when sent.
pub type Query = Vec<(&'static str, String)>;

/// Headers and addresses of one connection; never printed (the Authorization value is secret).
pub struct Api {
    pub(super) client: reqwest::Client,
    /// Scheme, host and port, path `/`.
    pub(super) base: url::Url,
    /// `host[:port]`, for messages and logs.
    pub(super) host: String,
    pub(super) company_id: CompanyId,
    pub(super) auth: HeaderValue,
    pub(super) client_id: HeaderValue,
    pub(super) accept: HeaderValue,
    pub(super) retry: RetryPolicy,
    /// Other clouds to ask when the company is unknown here.
    pub(super) other_clouds: Vec<Cloud>,
    /// Set once a server refuses the pinned version (BR-05); plain JSON is sent from then on.
    pub(super) plain_accept: AtomicBool,
    pub(super) codebase: RwLock<String>,
    /// Serialises codebase refreshes, so concurrent 404s re-read companyinfo once.
    pub(super) refreshing: tokio::sync::Mutex<()>,
}

/// What came back, read in full.
struct Answer {
    status: StatusCode,
    html: bool,
    body: Bytes,
}

/// `host[:port]` of a URL, the way messages name a server.
pub fn host_label(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

impl Api {
    pub fn codebase(&self) -> String {
        self.codebase
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn set_codebase(&self, value: String) {
        match self.codebase.write() {
            Ok(mut c) => *c = value,
            Err(p) => *p.into_inner() = value,
        }
    }

    /// The API root, without credentials: `https://host/v2025_1/apis/3.0/`.
    pub fn api_root(&self) -> String {
        format!("{}{}apis/3.0/", self.base, self.codebase())
    }

    /// Reads companyinfo here and adopts its codebase; an unknown company is looked up on the
    /// other clouds so the message can say where it lives.
    pub async fn resolve(&self) -> Result<CompanyInfo, PsaError> {
        match self.company_info(&self.base).await? {
            Some(info) => {
                self.set_codebase(clean_codebase(info.codebase.as_deref()));
                Ok(info)
            }
            None => Err(PsaError::CompanyNotFound {
                company_id: self.company_id.to_string(),
                host: self.host.clone(),
                found_at: self.find_elsewhere().await,
            }),
        }
    }

    /// companyinfo at `base`: `None` when the server does not know the company (it answers
    /// `null`, 404, or an object without a codebase). No credentials are sent: it needs none.
    async fn company_info(&self, base: &url::Url) -> Result<Option<CompanyInfo>, PsaError> {
        let url = companyinfo_url(base, &self.company_id)?;
        let host = host_label(base);
        let build = || {
            self.client
                .get(url.clone())
                .header(ACCEPT, PLAIN_JSON)
                .header("clientId", self.client_id.clone())
        };
        let answer = self.exchange(&build, &host, url.path()).await?;
        if answer.html {
            return Err(PsaError::NotTheApi { host });
        }
        match answer.status {
            s if s.is_success() => Ok(parse_company_info(&answer.body)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(refusal(&answer, &host, "login/companyinfo")),
        }
    }

    // Limitation: only other configured clouds are asked; a self-hosted company is never looked
    // up elsewhere, and which of api-au / api-aus serves a tenant is not derived from SiteUrl.
    /// Asks the other clouds, at once and without credentials, whether they know the company.
    async fn find_elsewhere(&self) -> Option<String> {
        let asks = self.other_clouds.iter().map(|cloud| async move {
            match self.company_info(&cloud.base).await {
                Ok(Some(_)) => Some(format!("{} ({})", cloud.label, host_label(&cloud.base))),
                _ => None,
            }
        });
        futures::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .next()
    }

    /// GET an API path and read its JSON, retrying a body that arrives cut off or unreadable.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
    ) -> Result<T, PsaError> {
        let mut attempt = 1;
        loop {
            let body = self.get(path, query).await?;
            match serde_json::from_slice(&body) {
                Ok(value) => return Ok(value),
                Err(e) if attempt >= self.retry.max_attempts => {
                    return Err(PsaError::Upstream {
                        host: self.host.clone(),
                        detail: format!("unreadable JSON from {path}: {e}"),
                    });
                }
                Err(_) => tokio::time::sleep(self.retry.backoff(attempt)).await,
            }
            attempt += 1;
        }
    }

    /// GET an API path: a 404 re-reads the codebase once (BR-03) and a refused API version
    /// switches to plain JSON once (BR-05) before the answer is classified.
    async fn get(&self, path: &str, query: &Query) -> Result<Bytes, PsaError> {
        let mut refreshed = false;
        loop {
            let codebase = self.codebase();
            let plain = self.plain_accept.load(Ordering::Relaxed);
            let answer = self.api_call(&codebase, path, query, plain).await?;
            if answer.status.is_success() && !answer.html {
                return Ok(answer.body);
            }
            if answer.status == StatusCode::NOT_FOUND && !refreshed && !answer.html {
                refreshed = true;
                if self.refresh_codebase(&codebase).await? {
                    continue;
                }
            }
            if !plain && is_version_refusal(&answer) {
                tracing::warn!(host = %self.host, "server refused the pinned API version; using plain JSON");
                self.plain_accept.store(true, Ordering::Relaxed);
                continue;
            }
            return Err(refusal(&answer, &self.host, path));
        }
    }

    async fn api_call(
        &self,
        codebase: &str,
        path: &str,
        query: &Query,
        plain: bool,
    ) -> Result<Answer, PsaError> {
        let url = self.api_url(codebase, path)?;
        let accept = if plain {
            HeaderValue::from_static(PLAIN_JSON)
        } else {
            self.accept.clone()
        };
        let build = || {
            self.client
                .get(url.clone())
                .query(query)
                .header(AUTHORIZATION, self.auth.clone())
                .header("clientId", self.client_id.clone())
                .header(ACCEPT, accept.clone())
        };
        self.exchange(&build, &self.host, url.path()).await
    }

    // Limitation: `Link` headers are ignored (pages are numbered by the connector), so this guard
    // is what raises ForeignLink; a future forward-only pager must pass its links through here.
    /// Builds the URL of an API path and refuses any that would leave the configured origin.
    fn api_url(&self, codebase: &str, path: &str) -> Result<url::Url, PsaError> {
        let text = format!("{}{codebase}apis/3.0/{path}", self.base);
        let url = url::Url::parse(&text).map_err(|e| PsaError::Upstream {
            host: self.host.clone(),
            detail: format!("bad API path {path}: {e}"),
        })?;
        if url.origin() != self.base.origin() {
            return Err(PsaError::ForeignLink {
                host: host_label(&url),
            });
        }
        Ok(url)
    }

    /// Re-reads companyinfo after a 404; true when the codebase changed (so a retry may work).
    async fn refresh_codebase(&self, used: &str) -> Result<bool, PsaError> {
        let _guard = self.refreshing.lock().await;
        if self.codebase() != used {
            return Ok(true);
        }
        let info = self.resolve().await?;
        let fresh = clean_codebase(info.codebase.as_deref());
        if fresh != used {
            tracing::info!(host = %self.host, codebase = %fresh, "ConnectWise codebase changed");
        }
        Ok(fresh != used)
    }

    // Limitation: cut bodies are retried around send_with_retry, so the worst case is
    // max_attempts squared requests for one page.
    /// Sends with retries and reads the whole body; a body cut off mid-way is asked for again.
    async fn exchange<F>(&self, build: &F, host: &str, path: &str) -> Result<Answer, PsaError>
    where
        F: Fn() -> reqwest::RequestBuilder,
    {
        let span = tracing::info_span!(
            "connectwise_call",
            host,
            path,
            status = tracing::field::Empty
        );
        let mut attempt = 1;
        loop {
            let outcome = self
                .exchange_once(build, host)
                .instrument(span.clone())
                .await;
            match outcome {
                Err(PsaError::Upstream { .. }) if attempt < self.retry.max_attempts => {
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    attempt += 1;
                }
                Ok(answer) => {
                    span.record("status", answer.status.as_u16());
                    return Ok(answer);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn exchange_once<F>(&self, build: &F, host: &str) -> Result<Answer, PsaError>
    where
        F: Fn() -> reqwest::RequestBuilder,
    {
        let resp = http::send_with_retry(build, host, &self.retry).await?;
        let status = resp.status();
        let html = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
        let body = read_capped(resp, host).await?;
        let html = html || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
        Ok(Answer { status, html, body })
    }
}

/// Reads a body up to the cap; a cut-off body becomes `Upstream`, which is retried.
async fn read_capped(mut resp: reqwest::Response, host: &str) -> Result<Bytes, PsaError> {
    let mut body = bytes::BytesMut::new();
    loop {
        let chunk = resp.chunk().await.map_err(|e| PsaError::Upstream {
            host: host.to_string(),
            detail: format!("the answer was cut off: {e}"),
        })?;
        let Some(chunk) = chunk else {
            return Ok(body.freeze());
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(PsaError::Upstream {
                host: host.to_string(),
                detail: "answer too large".into(),
            });
        }
        body.extend_from_slice(&chunk);
    }
}

fn companyinfo_url(base: &url::Url, company: &CompanyId) -> Result<url::Url, PsaError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| PsaError::HostNotAllowed {
            host: host_label(base),
            reason: "not a web address".into(),
        })?
        .clear()
        .extend(["login", "companyinfo", company.as_str()]);
    Ok(url)
}

fn parse_company_info(body: &[u8]) -> Option<CompanyInfo> {
    let info: Option<CompanyInfo> = serde_json::from_slice(body).ok().flatten();
    info.filter(|i| i.codebase.as_deref().is_some_and(|c| !c.trim().is_empty()))
}

/// The codebase goes into every path, so only a plain `vNNNN_N/`-like segment is taken from the
/// server; anything else falls back to the routed default.
pub fn clean_codebase(raw: Option<&str>) -> String {
    let value = raw.unwrap_or_default().trim().trim_matches('/');
    let plain = value.len() <= 40
        && value.starts_with('v')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{value}/")
    } else {
        DEFAULT_CODEBASE.to_string()
    }
}

/// The server's own `code` and `message` (`error` on 429s), or the start of a plain-text body.
fn error_text(body: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Body {
        code: Option<String>,
        error: Option<String>,
        message: Option<String>,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body) {
        return (
            b.code.or(b.error).unwrap_or_default(),
            b.message.unwrap_or_default(),
        );
    }
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    (String::new(), text.trim().to_string())
}

fn is_version_refusal(answer: &Answer) -> bool {
    let (code, message) = error_text(&answer.body);
    let text = format!("{code} {message}").to_ascii_lowercase();
    matches!(answer.status.as_u16(), 400 | 406)
        && text.contains("version")
        && !text.contains("clientid")
}

/// Classifies an answer that is not the JSON asked for.
fn refusal(answer: &Answer, host: &str, path: &str) -> PsaError {
    let host = host.to_string();
    let (code, message) = error_text(&answer.body);
    let text = format!("{code} {message}").to_ascii_lowercase();
    if answer.html || text.contains("ssl is required") {
        return PsaError::NotTheApi { host };
    }
    match answer.status.as_u16() {
        400 | 401 | 403 if text.contains("clientid") => PsaError::VendorIdRefused { host },
        401 => PsaError::CredentialsRefused { host },
        403 => permissions::missing_for_path(path),
        404 => PsaError::ResourceNotFound {
            host,
            path: path.to_string(),
        },
        429 => PsaError::Throttled { host },
        s if s >= 500 => PsaError::Upstream {
            host,
            detail: format!("{s} {code}: {message}"),
        },
        s => PsaError::Rejected {
            host,
            status: s,
            code,
            message,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_codebase_keeps_one_trailing_slash_and_odd_ones_fall_back() {
        assert_eq!(clean_codebase(Some("v2025_1/")), "v2025_1/");
        assert_eq!(clean_codebase(Some("v4_6_release")), "v4_6_release/");
        assert_eq!(clean_codebase(Some("../evil/")), DEFAULT_CODEBASE);
        assert_eq!(clean_codebase(Some("v1/../../x")), DEFAULT_CODEBASE);
        assert_eq!(clean_codebase(None), DEFAULT_CODEBASE);
    }

    #[test]
    fn a_null_companyinfo_or_one_without_codebase_means_unknown_company() {
        assert!(parse_company_info(b"null").is_none());
        assert!(parse_company_info(br#"{"CompanyName":"x"}"#).is_none());
        assert!(parse_company_info(br#"{"Codebase":"v2025_1/"}"#).is_some());
    }

    #[test]
    fn error_text_reads_json_codes_and_plain_text() {
        assert_eq!(
            error_text(br#"{"code":"Security","message":"No"}"#),
            ("Security".into(), "No".into())
        );
        assert_eq!(
            error_text(br#"{"error":"ConnectWiseAPI","message":"slow"}"#).0,
            "ConnectWiseAPI"
        );
        assert_eq!(
            error_text(b"Cannot route.\n"),
            (String::new(), "Cannot route.".into())
        );
    }
}
