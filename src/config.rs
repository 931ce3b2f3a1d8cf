//! Settings: built-in defaults, then an optional `sync365.toml`, then `SYNC365_*` environment
//! variables. Validated once at start; every message names the variable to fix.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The raw settings as read, before validation. Field names are the variable names without
/// the `SYNC365_` prefix, lowercased.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub bind: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub cookie_secure: bool,
    pub connectwise_client_id: String,
    pub connectwise_region_urls: String,
    pub autotask_integration_code: String,
    pub autotask_zone_lookup_url: String,
    pub autotask_zone_url_template: String,
    pub outbound_allow_private: bool,
    pub extra_ca_file: Option<PathBuf>,
    pub support_can_test: bool,
    pub worker_enabled: bool,
    pub worker_lease_secs: u64,
    pub worker_max_run_secs: u64,
    pub log: String,
    pub trusted_proxies: String,
}

/// The vendor placeholders: a real deployment sets its own identifiers.
pub const PLACEHOLDER_CLIENT_ID: &str = "sync365-placeholder-client-id";
pub const PLACEHOLDER_INTEGRATION_CODE: &str = "SYNC365PLACEHOLDERCODE";

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://sync365.db?mode=rwc".into(),
            data_dir: PathBuf::from("."),
            cookie_secure: false,
            connectwise_client_id: PLACEHOLDER_CLIENT_ID.into(),
            connectwise_region_urls: "na=https://api-na.myconnectwise.net,eu=https://api-eu.myconnectwise.net,aus=https://api-aus.myconnectwise.net,au=https://api-au.myconnectwise.net".into(),
            autotask_integration_code: PLACEHOLDER_INTEGRATION_CODE.into(),
            autotask_zone_lookup_url: "https://webservices.autotask.net/atservicesrest/".into(),
            autotask_zone_url_template: "https://{zone}.autotask.net/atservicesrest/".into(),
            outbound_allow_private: false,
            extra_ca_file: None,
            support_can_test: false,
            worker_enabled: true,
            worker_lease_secs: 30,
            worker_max_run_secs: 4 * 3600,
            log: "info".into(),
            trusted_proxies: String::new(),
        }
    }
}

/// Validated settings the app runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub cookie_secure: bool,
    pub connectwise_client_id: String,
    /// Cloud key (`na`, `eu`, `aus`, ...) to API base URL.
    pub connectwise_region_urls: BTreeMap<String, url::Url>,
    pub autotask_integration_code: String,
    pub autotask_zone_lookup_url: url::Url,
    pub autotask_zone_url_template: String,
    pub outbound_allow_private: bool,
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Whether support staff may re-run a tenant's connection test.
    pub support_can_test: bool,
    /// Whether this instance runs retrieval runs (off in some tests).
    pub worker_enabled: bool,
    /// How long a claimed run stays claimed without a heartbeat (a crashed instance's run is
    /// taken over after this).
    pub worker_lease_secs: u64,
    /// The longest one retrieval run may take before it is stopped and marked failed.
    pub worker_max_run_secs: u64,
    pub log: String,
    /// Reverse proxies whose `X-Forwarded-For` names the real client (for sign-in throttling).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// A setting that could not be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Read(String),
    #[error("{var}: {message}")]
    Invalid { var: &'static str, message: String },
}

impl Settings {
    /// Reads defaults, `sync365.toml` in the working directory (if any) and the environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_figment(
            Figment::from(Serialized::defaults(RawSettings::default()))
                .merge(Toml::file("sync365.toml"))
                .merge(Env::prefixed("SYNC365_").ignore(&["TEST_DATABASE_URL"])),
        )
    }

    /// Validates settings from any figment (tests build their own).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let raw: RawSettings = figment
            .extract()
            .map_err(|e| ConfigError::Read(read_error(&e)))?;
        raw.validate()
    }
}

/// Figment's error, reworded to name the environment variable.
fn read_error(e: &figment::Error) -> String {
    if let figment::error::Kind::UnknownField(field, _) = &e.kind {
        return format!(
            "unknown setting `{field}` (in sync365.toml, or SYNC365_{}); see the README's configuration table",
            field.to_uppercase()
        );
    }
    let key = e.path.join(".");
    if key.is_empty() {
        return format!("settings could not be read: {e}");
    }
    format!("SYNC365_{}: {}", key.to_uppercase(), e.kind)
}

impl RawSettings {
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let extra_ca_pem = self.extra_ca_file.as_ref().map(read_ca).transpose()?;
        Ok(Settings {
            bind: self
                .bind
                .parse()
                .map_err(|_| invalid("SYNC365_BIND", "expected host:port, e.g. 127.0.0.1:8080"))?,
            database_url: check_database_url(&self.database_url)?,
            connectwise_region_urls: parse_region_urls(&self.connectwise_region_urls)?,
            autotask_zone_lookup_url: parse_url(
                "SYNC365_AUTOTASK_ZONE_LOOKUP_URL",
                &self.autotask_zone_lookup_url,
            )?,
            autotask_zone_url_template: check_template(&self.autotask_zone_url_template)?,
            connectwise_client_id: non_empty(
                "SYNC365_CONNECTWISE_CLIENT_ID",
                self.connectwise_client_id,
            )?,
            autotask_integration_code: non_empty(
                "SYNC365_AUTOTASK_INTEGRATION_CODE",
                self.autotask_integration_code,
            )?,
            data_dir: self.data_dir,
            cookie_secure: self.cookie_secure,
            outbound_allow_private: self.outbound_allow_private,
            extra_ca_pem,
            support_can_test: self.support_can_test,
            worker_enabled: self.worker_enabled,
            worker_lease_secs: match self.worker_lease_secs {
                3..=3600 => self.worker_lease_secs,
                _ => {
                    return Err(invalid(
                        "SYNC365_WORKER_LEASE_SECS",
                        "must be between 3 and 3600 seconds",
                    ));
                }
            },
            worker_max_run_secs: match self.worker_max_run_secs {
                1..=86_400 => self.worker_max_run_secs,
                _ => {
                    let message = "must be between 1 and 86400 seconds";
                    return Err(invalid("SYNC365_WORKER_MAX_RUN_SECS", message));
                }
            },
            log: check_log_filter(self.log)?,
            trusted_proxies: parse_proxies(&self.trusted_proxies)?,
        })
    }
}

fn check_log_filter(value: String) -> Result<String, ConfigError> {
    let hint = "use trace, debug, info, warn, error or off, or a filter like info,sync365=debug";
    tracing_subscriber::EnvFilter::try_new(&value)
        .map_err(|e| invalid("SYNC365_LOG", format!("not a log filter ({e}); {hint}")))?;
    // A bare word that is not a level parses as "everything from a module of that name", which
    // silences every other line (the setup token among them): refuse it.
    let levels = ["trace", "debug", "info", "warn", "error", "off"];
    let stray = value.split(',').map(str::trim).find(|d| {
        !d.is_empty() && !d.contains('=') && !levels.contains(&d.to_lowercase().as_str())
    });
    match stray {
        Some(word) => Err(invalid(
            "SYNC365_LOG",
            format!("{word:?} is not a log level; {hint}"),
        )),
        None => Ok(value),
    }
}

fn parse_proxies(list: &str) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            // Compared with client addresses in canonical form (mapped IPv6 as IPv4).
            s.parse::<std::net::IpAddr>()
                .map(|ip| ip.to_canonical())
                .map_err(|_| {
                    let message =
                        format!("{s:?} is not an IP address; list addresses, e.g. 127.0.0.1,::1");
                    invalid("SYNC365_TRUSTED_PROXIES", message)
                })
        })
        .collect()
}

fn invalid(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        message: message.into(),
    }
}

fn non_empty(var: &'static str, value: String) -> Result<String, ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid(var, "must not be empty"));
    }
    Ok(value.trim().to_string())
}

fn check_database_url(url: &str) -> Result<String, ConfigError> {
    let ok = ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|p| url.starts_with(p));
    if !ok {
        return Err(invalid(
            "SYNC365_DATABASE_URL",
            "expected sqlite://FILE?mode=rwc or postgres://USER@HOST/DB",
        ));
    }
    Ok(url.to_string())
}

fn parse_url(var: &'static str, value: &str) -> Result<url::Url, ConfigError> {
    let url =
        url::Url::parse(value.trim()).map_err(|e| invalid(var, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            var,
            "must start with https:// (or http:// for a local sandbox)",
        ));
    }
    Ok(url)
}

fn check_template(value: &str) -> Result<String, ConfigError> {
    const VAR: &str = "SYNC365_AUTOTASK_ZONE_URL_TEMPLATE";
    if !value.contains("{zone}") {
        return Err(invalid(
            VAR,
            "must contain {zone}, e.g. https://{zone}.autotask.net/atservicesrest/",
        ));
    }
    parse_url(VAR, &value.replace("{zone}", "webservices1"))?;
    Ok(value.trim().to_string())
}

/// `na=URL,eu=URL,aus=URL`: every entry a key and an http(s) URL.
pub fn parse_region_urls(value: &str) -> Result<BTreeMap<String, url::Url>, ConfigError> {
    const VAR: &str = "SYNC365_CONNECTWISE_REGION_URLS";
    let mut regions = BTreeMap::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (key, url) = entry.split_once('=').ok_or_else(|| {
            invalid(
                VAR,
                format!("`{entry}` is not KEY=URL, e.g. na=https://api-na.myconnectwise.net"),
            )
        })?;
        regions.insert(key.trim().to_lowercase(), parse_url(VAR, url)?);
    }
    if regions.is_empty() {
        return Err(invalid(VAR, "names no region"));
    }
    Ok(regions)
}

fn read_ca(path: &PathBuf) -> Result<Vec<u8>, ConfigError> {
    const VAR: &str = "SYNC365_EXTRA_CA_FILE";
    let pem = std::fs::read(path)
        .map_err(|e| invalid(VAR, format!("{} could not be read: {e}", path.display())))?;
    reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        invalid(
            VAR,
            format!("{} is not a PEM certificate bundle: {e}", path.display()),
        )
    })?;
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut f = Figment::from(Serialized::defaults(RawSettings::default()));
        for (k, v) in pairs {
            f = f.merge((*k, *v));
        }
        Settings::from_figment(f)
    }

    #[test]
    fn defaults_are_valid() {
        let s = with(&[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.connectwise_region_urls.len(), 4);
    }

    #[test]
    fn a_bad_bind_address_names_the_variable() {
        let err = with(&[("bind", "nonsense")]).unwrap_err().to_string();
        assert!(err.starts_with("SYNC365_BIND"), "{err}");
    }

    #[test]
    fn region_urls_can_be_overridden() {
        let s = with(&[(
            "connectwise_region_urls",
            "na=http://127.0.0.1:9000, eu=http://127.0.0.1:9001",
        )])
        .unwrap();
        assert_eq!(
            s.connectwise_region_urls["eu"].as_str(),
            "http://127.0.0.1:9001/"
        );
    }

    #[test]
    fn a_zone_template_without_placeholder_is_refused() {
        let err = with(&[("autotask_zone_url_template", "https://x.autotask.net/")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("SYNC365_AUTOTASK_ZONE_URL_TEMPLATE")
        );
    }

    #[test]
    fn an_unknown_key_is_named_as_typed() {
        let err = with(&[("bindd", "x")]).unwrap_err().to_string();
        assert!(err.contains("unknown setting `bindd`"), "{err}");
    }

    #[test]
    fn a_bad_log_filter_stops_the_start() {
        let err = with(&[("log", "[[[")]).unwrap_err().to_string();
        assert!(err.starts_with("SYNC365_LOG"), "{err}");
    }

    #[test]
    fn a_word_that_is_not_a_level_stops_the_start_instead_of_silencing_the_log() {
        let err = with(&[("log", "verbose")]).unwrap_err().to_string();
        assert!(err.contains("\"verbose\" is not a log level"), "{err}");
        for ok in ["DEBUG", "info,sync365=trace", "warn,actix_web=info"] {
            assert!(with(&[("log", ok)]).is_ok(), "{ok}");
        }
    }

    #[test]
    fn trusted_proxies_are_a_list_of_addresses() {
        let ok = with(&[("trusted_proxies", " 127.0.0.1, ::1, ::ffff:10.0.0.5 ")]).unwrap();
        assert_eq!(ok.trusted_proxies.len(), 3);
        assert_eq!(
            ok.trusted_proxies[2],
            "10.0.0.5".parse::<std::net::IpAddr>().unwrap()
        );
        let err = with(&[("trusted_proxies", "proxy.local")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("SYNC365_TRUSTED_PROXIES"), "{err}");
    }

    #[test]
    fn a_wrong_type_names_the_variable() {
        let err = with(&[("cookie_secure", "maybe")]).unwrap_err().to_string();
        assert!(err.contains("SYNC365_COOKIE_SECURE"), "{err}");
    }
}
