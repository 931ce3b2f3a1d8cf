//! Server-side ConnectWise settings: the vendor clientId, the cloud hosts, the pinned API
//! version and the page concurrency. None of these are typed by the MSP.

use crate::psa::PsaError;

/// The variable that overrides cloud hosts, named in its parse errors.
pub const REGION_URLS_VAR: &str = "SYNC365_CONNECTWISE_REGION_URLS";

/// One ConnectWise cloud: its region key, a label for messages, and its API root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cloud {
    /// `na`, `eu`, `aus`, `au`, ...
    pub key: String,
    /// "North America", ...
    pub label: String,
    /// Scheme, host and port of the API host (path `/`).
    pub base: url::Url,
}

/// Everything the connector needs from the portal's configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The vendor's clientId GUID (`SYNC365_CONNECTWISE_CLIENT_ID`).
    pub client_id: String,
    pub clouds: Vec<Cloud>,
    /// The model version pinned in `Accept` (≥ 2019.4 gives `parentAgreement` and
    /// `agreementStatus`); the connector falls back to plain JSON if a server refuses it.
    pub accept_version: String,
    /// Pages (or agreements' additions) fetched at once on one connection.
    pub page_concurrency: usize,
}

const DEFAULT_CLOUDS: [(&str, &str, &str); 4] = [
    ("na", "North America", "https://api-na.myconnectwise.net/"),
    ("eu", "Europe", "https://api-eu.myconnectwise.net/"),
    ("aus", "Australia", "https://api-aus.myconnectwise.net/"),
    ("au", "Australia (au)", "https://api-au.myconnectwise.net/"),
];

impl Default for ServerSettings {
    fn default() -> Self {
        let clouds = DEFAULT_CLOUDS
            .iter()
            .filter_map(|(key, label, url)| {
                let base = url::Url::parse(url).ok()?;
                Some(Cloud {
                    key: (*key).into(),
                    label: (*label).into(),
                    base,
                })
            })
            .collect();
        Self {
            client_id: "00000000-0000-0000-0000-000000000000".into(),
            clouds,
            // Limitation: 2025.1 is pinned without a contract test against a live server (BR-05);
            // a refusal falls back to plain JSON for the rest of the connection.
            accept_version: "2025.1".into(),
            page_concurrency: 4,
        }
    }
}

impl ServerSettings {
    /// Applies a `na=URL,eu=URL,aus=URL` override: known keys get a new host, unknown keys
    /// add a cloud. An empty string changes nothing.
    pub fn with_region_urls(mut self, spec: &str) -> Result<Self, PsaError> {
        for (key, base) in parse_region_urls(spec)? {
            match self.clouds.iter_mut().find(|c| c.key == key) {
                Some(cloud) => cloud.base = base,
                None => self.clouds.push(Cloud {
                    label: key.to_uppercase(),
                    key,
                    base,
                }),
            }
        }
        Ok(self)
    }

    /// The cloud with this region key.
    pub fn cloud(&self, key: &str) -> Option<&Cloud> {
        self.clouds.iter().find(|c| c.key == key)
    }
}

/// Parses `na=URL,eu=URL,...` into region keys and API roots.
pub fn parse_region_urls(spec: &str) -> Result<Vec<(String, url::Url)>, PsaError> {
    spec.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(parse_region_entry)
        .collect()
}

fn parse_region_entry(part: &str) -> Result<(String, url::Url), PsaError> {
    let (key, value) = part
        .split_once('=')
        .ok_or_else(|| misconfigured(format!("`{part}` is not of the form key=URL")))?;
    let key = key.trim().to_ascii_lowercase();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(misconfigured(format!(
            "`{key}` is not a region key like na, eu or aus"
        )));
    }
    let mut base = url::Url::parse(value.trim())
        .map_err(|e| misconfigured(format!("the URL for {key} is invalid: {e}")))?;
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        return Err(misconfigured(format!(
            "the URL for {key} must be http(s)://host[:port]"
        )));
    }
    base.set_path("/");
    Ok((key, base))
}

fn misconfigured(problem: String) -> PsaError {
    PsaError::Misconfigured {
        setting: REGION_URLS_VAR.into(),
        problem,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_name_the_four_real_cloud_hosts() {
        let s = ServerSettings::default();
        let hosts: Vec<_> = s.clouds.iter().filter_map(|c| c.base.host_str()).collect();
        assert_eq!(
            hosts,
            [
                "api-na.myconnectwise.net",
                "api-eu.myconnectwise.net",
                "api-aus.myconnectwise.net",
                "api-au.myconnectwise.net"
            ]
        );
    }

    #[test]
    fn a_region_override_replaces_known_hosts_and_adds_new_ones() {
        let s = ServerSettings::default()
            .with_region_urls(" na=http://127.0.0.1:9001 , za=https://api-za.myconnectwise.net/x")
            .unwrap();
        assert_eq!(
            s.cloud("na").unwrap().base.as_str(),
            "http://127.0.0.1:9001/"
        );
        assert_eq!(
            s.cloud("za").unwrap().base.as_str(),
            "https://api-za.myconnectwise.net/"
        );
        assert_eq!(
            s.cloud("eu").unwrap().base.host_str(),
            Some("api-eu.myconnectwise.net")
        );
    }

    #[test]
    fn an_empty_override_changes_nothing() {
        let s = ServerSettings::default().with_region_urls("  ").unwrap();
        assert_eq!(s.clouds, ServerSettings::default().clouds);
    }

    #[test]
    fn a_malformed_override_names_the_variable() {
        for spec in [
            "na",
            "na=notaurl",
            "=http://x",
            "na=ftp://x",
            "n a=http://x",
        ] {
            let err = ServerSettings::default()
                .with_region_urls(spec)
                .unwrap_err();
            assert!(
                err.user_message().contains(REGION_URLS_VAR),
                "{spec}: {err}"
            );
        }
    }
}
