//! The ConnectWise Manage connector: verifies the details an MSP typed (company, site, keys),
//! produces the permission checklist, and retrieves customers, agreements, additions and
//! catalog products.
//!
//! Build one per Test or retrieval run:
//! `ConnectWise::new(Credentials { .. }, &ServerSettings::default().with_region_urls(..)?, &policy)`.

mod api;
mod checks;
mod permissions;
mod retrieve;
mod settings;
mod wire;

use std::sync::RwLock;
use std::sync::atomic::AtomicBool;

use base64::Engine;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use self::api::{Api, DEFAULT_CODEBASE, host_label};
pub use self::settings::{Cloud, REGION_URLS_VAR, ServerSettings, parse_region_urls};
use self::wire::CompanyInfo;
use super::http::{self, OutboundPolicy};
use super::{CheckStatus, PermissionCheck, PsaError, RecordSink, Verification};
use crate::domain::connectwise::{CompanyId, Site};

/// What the MSP typed, already parsed.
pub struct Credentials {
    pub company_id: CompanyId,
    pub site: Site,
    pub public_key: SecretString,
    pub private_key: SecretString,
}

/// A connection to one MSP's ConnectWise.
pub struct ConnectWise {
    api: Api,
    page_concurrency: usize,
}

impl ConnectWise {
    /// Checks the site against the outbound policy and prepares the headers; sends nothing.
    pub fn new(
        creds: Credentials,
        server: &ServerSettings,
        policy: &OutboundPolicy,
    ) -> Result<Self, PsaError> {
        let base = site_base(&creds.site, server)?;
        http::check_url(&base, policy)?;
        let host = host_label(&base);
        let api = Api {
            client: http::build_client(policy)?,
            other_clouds: server
                .clouds
                .iter()
                .filter(|c| host_label(&c.base) != host)
                .cloned()
                .collect(),
            auth: basic_auth(&creds)?,
            client_id: header_value("SYNC365_CONNECTWISE_CLIENT_ID", &server.client_id)?,
            accept: accept_header(&server.accept_version)?,
            company_id: creds.company_id,
            retry: policy.retry,
            plain_accept: AtomicBool::new(false),
            codebase: RwLock::new(DEFAULT_CODEBASE.to_string()),
            refreshing: tokio::sync::Mutex::new(()),
            base,
            host,
        };
        Ok(Self {
            api,
            page_concurrency: server.page_concurrency.max(1),
        })
    }

    /// `host[:port]` this connection talks to.
    pub fn host(&self) -> &str {
        &self.api.host
    }

    /// Company lookup, then the keys, then the permission checklist. Errors are the failures
    /// that make the checklist meaningless (unknown company, host or keys refused).
    pub async fn verify(&self) -> Result<Verification, PsaError> {
        let info = self.api.resolve().await?;
        let version = self.authenticate().await?;
        let mut checks = vec![self.keys_row()];
        checks.extend(checks::run(&self.api).await);
        Ok(Verification {
            detected: describe(&info, version.as_deref(), &self.api.codebase()),
            api_root: self.api.api_root(),
            checks,
            threshold: None,
        })
    }

    /// Streams every record into `sink`; an error leaves what the sink already stored to the
    /// caller (a failed run must not replace the last good one).
    pub async fn retrieve(&self, sink: &mut dyn RecordSink) -> Result<(), PsaError> {
        self.api.resolve().await?;
        retrieve::run(&self.api, self.page_concurrency, sink).await
    }

    /// `system/info` with the keys: its version, or `None` when the keys were accepted but the
    /// role may not read it (which permission it needs is undocumented).
    async fn authenticate(&self) -> Result<Option<String>, PsaError> {
        match self
            .api
            .get_json::<wire::SystemInfo>("system/info", &Vec::new())
            .await
        {
            Ok(info) => Ok(info.version),
            Err(PsaError::PermissionMissing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn keys_row(&self) -> PermissionCheck {
        PermissionCheck {
            item: "API keys".into(),
            status: CheckStatus::Pass,
            detail: format!(
                "{} accepted the keys for company {}.",
                self.api.host, self.api.company_id
            ),
            fix: String::new(),
        }
    }
}

fn site_base(site: &Site, server: &ServerSettings) -> Result<url::Url, PsaError> {
    match site {
        Site::SelfHosted(url) => Ok(url.clone()),
        Site::Cloud(key) => {
            server
                .cloud(key)
                .map(|c| c.base.clone())
                .ok_or_else(|| PsaError::Misconfigured {
                    setting: REGION_URLS_VAR.into(),
                    problem: format!("no ConnectWise cloud is configured for region {key}"),
                })
        }
    }
}

/// `Basic base64(company+public:private)`, the one place the keys are read.
fn basic_auth(creds: &Credentials) -> Result<HeaderValue, PsaError> {
    let user = format!("{}+{}", creds.company_id, creds.public_key.expose_secret());
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{user}:{}", creds.private_key.expose_secret()));
    let mut value = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
        PsaError::CredentialsRefused {
            host: "(local)".into(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn accept_header(version: &str) -> Result<HeaderValue, PsaError> {
    let text = match version.trim() {
        "" => "application/json".to_string(),
        v => format!("application/vnd.connectwise.com+json; version={v}"),
    };
    header_value("ConnectWise API version", &text)
}

fn header_value(setting: &str, value: &str) -> Result<HeaderValue, PsaError> {
    HeaderValue::from_str(value.trim()).map_err(|_| PsaError::Misconfigured {
        setting: setting.into(),
        problem: "not a valid HTTP header value".into(),
    })
}

/// "v2025.1.10333 (codebase v2025_1/, cloud)".
fn describe(info: &CompanyInfo, system_version: Option<&str>, codebase: &str) -> String {
    let version = system_version
        .or(info.version_code.as_deref())
        .or(info.version_number.as_deref())
        .unwrap_or("unknown version");
    let place = match info.is_cloud {
        Some(true) => ", cloud",
        Some(false) => ", self-hosted",
        None => "",
    };
    format!("ConnectWise {version} (codebase {codebase}{place})")
}
