//! Zone discovery (zoneInformation) and the mapping between zones and API roots through the
//! configured URL template.

use reqwest::StatusCode;
use tracing::Instrument;
use url::Url;

use super::api::{VERSION, host_label, messages};
use crate::domain::autotask::Zone;
use crate::psa::PsaError;
use crate::psa::error::RedirectAt;
use crate::psa::http::{RetryPolicy, fetch_with_retry};

const PLACEHOLDER: &str = "{zone}";

const AUTOTASK_DOMAIN: &str = "autotask.net";

/// Discovery answers are small; a large one is not Autotask.
const MAX_BODY: usize = 64 * 1024;

/// Autotask's answer for a username it does not know (sent as a 500).
const UNKNOWN_USER: &str = "could not be determined";

/// Where zones are looked up, and how a zone becomes an API root.
#[derive(Debug, Clone)]
pub struct ZoneUrls {
    lookup: Url,
    template: String,
}

/// What zone discovery said about a username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    Zone(Zone),
    UnknownUser,
}

impl ZoneUrls {
    /// Checks the template holds `{zone}` once and yields a URL for a sample zone.
    pub fn new(lookup: Url, template: &str) -> Result<Self, PsaError> {
        let misconfigured = |detail: &str| PsaError::Misconfigured {
            setting: "SYNC365_AUTOTASK_ZONE_URL_TEMPLATE".into(),
            problem: detail.into(),
        };
        if template.matches(PLACEHOLDER).count() != 1 {
            return Err(misconfigured("must contain {zone} exactly once"));
        }
        let urls = Self {
            lookup: with_slash(lookup),
            template: template.to_string(),
        };
        let sample = Zone::parse("webservices1")
            .ok()
            .flatten()
            .ok_or_else(|| misconfigured("sample zone"))?;
        urls.root(&sample)
            .map_err(|_| misconfigured("does not give a valid URL"))?;
        Ok(urls)
    }

    /// The zone's API root, e.g. `https://webservices5.autotask.net/atservicesrest/`.
    pub fn root(&self, zone: &Zone) -> Result<Url, PsaError> {
        let url = Url::parse(&self.template.replace(PLACEHOLDER, zone.name()));
        url.map(with_slash).map_err(|e| PsaError::Misconfigured {
            setting: "SYNC365_AUTOTASK_ZONE_URL_TEMPLATE".into(),
            problem: e.to_string(),
        })
    }

    /// The zone a URL from zoneInformation names: the `{zone}` part when the URL matches the
    /// template, else the first label of its host name (real Autotask URLs).
    pub fn zone_in(&self, url: &str) -> Option<Zone> {
        self.zone_by_template(url).or_else(|| from_host(url))
    }

    fn zone_by_template(&self, url: &str) -> Option<Zone> {
        let template = self.template.to_ascii_lowercase();
        let url = url.to_ascii_lowercase();
        let (prefix, suffix) = template.split_once(PLACEHOLDER)?;
        let rest = url.strip_prefix(prefix)?;
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        let expected = suffix.trim_end_matches('/');
        if !after.starts_with(expected) {
            return None;
        }
        Zone::parse(token).ok().flatten()
    }

    fn lookup_url(&self, username: &str) -> Result<Url, PsaError> {
        let mut url = self
            .lookup
            .join(&format!("{VERSION}zoneInformation"))
            .map_err(|e| PsaError::Misconfigured {
                setting: "SYNC365_AUTOTASK_ZONE_LOOKUP_URL".into(),
                problem: e.to_string(),
            })?;
        url.query_pairs_mut().append_pair("user", username);
        Ok(url)
    }
}

fn is_unknown_user(body: &[u8]) -> bool {
    messages(body).to_ascii_lowercase().contains(UNKNOWN_USER)
}

/// Real Autotask URLs name the zone in the first label; only Autotask's own hosts count.
fn from_host(url: &str) -> Option<Zone> {
    let url = Url::parse(url).ok()?;
    let Some(url::Host::Domain(host)) = url.host() else {
        return None;
    };
    let (label, domain) = host.split_once('.')?;
    if !domain.eq_ignore_ascii_case(AUTOTASK_DOMAIN) {
        return None;
    }
    Zone::parse(label).ok().flatten()
}

fn with_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// Asks Autotask which zone the API user lives in. Anonymous, and exempt from thread limits.
pub async fn discover(
    client: &reqwest::Client,
    urls: &ZoneUrls,
    username: &str,
    retry: &RetryPolicy,
) -> Result<Discovered, PsaError> {
    let url = urls.lookup_url(username)?;
    let host = host_label(&url);
    let span =
        tracing::info_span!("autotask.zone_lookup", host = %host, status = tracing::field::Empty);
    let is_final = |_: StatusCode, body: &[u8]| is_unknown_user(body);
    let answer = fetch_with_retry(|| client.get(url.clone()), &host, retry, MAX_BODY, is_final)
        .instrument(span.clone())
        .await
        .map_err(|e| e.redirect_at(RedirectAt::AutotaskZoneLookup))?;
    span.record("status", answer.status.as_u16());
    read_discovery(urls, &host, answer.status, &answer.body)
}

fn read_discovery(
    urls: &ZoneUrls,
    host: &str,
    status: StatusCode,
    body: &[u8],
) -> Result<Discovered, PsaError> {
    if is_unknown_user(body) {
        return Ok(Discovered::UnknownUser);
    }
    if status == StatusCode::NOT_FOUND {
        return Err(PsaError::NotTheApi { host: host.into() });
    }
    let upstream = |detail: &str| PsaError::Upstream {
        host: host.into(),
        detail: detail.into(),
    };
    if !status.is_success() {
        return Err(upstream(&format!("zone lookup answered {status}")));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        if body.trim_ascii_start().starts_with(b"<") {
            PsaError::NotTheApi { host: host.into() }
        } else {
            upstream("unreadable zone lookup")
        }
    })?;
    let named = value
        .get("url")
        .or_else(|| value.get("Url"))
        .and_then(|u| u.as_str());
    let zone = named
        .and_then(|u| urls.zone_in(u))
        .ok_or_else(|| upstream("zone lookup named no recognisable zone"))?;
    Ok(Discovered::Zone(zone))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn urls(template: &str) -> ZoneUrls {
        let lookup = Url::parse("https://webservices.autotask.net/atservicesrest").unwrap();
        ZoneUrls::new(lookup, template).unwrap()
    }

    fn name(z: Option<Zone>) -> Option<String> {
        z.map(|z| z.name().to_string())
    }

    #[test]
    fn the_production_template_maps_zones_both_ways() {
        let u = urls("https://{zone}.autotask.net/atservicesrest/");
        let zone = Zone::parse("ww14").unwrap().unwrap();
        assert_eq!(
            u.root(&zone).unwrap().as_str(),
            "https://webservices14.autotask.net/atservicesrest/"
        );
        assert_eq!(
            name(u.zone_in("https://webservices14.autotask.net/ATServicesRest/")),
            Some("webservices14".into())
        );
        assert_eq!(
            name(u.zone_in("https://prde.autotask.net/ATServicesRest/")),
            Some("prde".into())
        );
    }

    #[test]
    fn a_local_template_is_matched_by_its_zone_part_not_the_first_host_label() {
        let u = urls("http://127.0.0.1:4010/{zone}/atservicesrest/");
        assert_eq!(
            name(u.zone_in("http://127.0.0.1:4010/webservices5/ATServicesRest/")),
            Some("webservices5".into())
        );
        assert_eq!(
            name(u.zone_in("https://webservices5.autotask.net/ATServicesRest/")),
            Some("webservices5".into())
        );
        assert_eq!(u.zone_in("http://127.0.0.1:4010/other/path/"), None);
    }

    #[test]
    fn a_template_without_exactly_one_zone_is_a_configuration_error() {
        let lookup = Url::parse("https://webservices.autotask.net/atservicesrest/").unwrap();
        for bad in [
            "https://webservices.autotask.net/",
            "https://{zone}.{zone}.net/",
            "{zone}",
        ] {
            assert!(
                matches!(
                    ZoneUrls::new(lookup.clone(), bad),
                    Err(PsaError::Misconfigured { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_lookup_url_pins_v1_and_encodes_the_username() {
        let u = urls("https://{zone}.autotask.net/atservicesrest/");
        let url = u.lookup_url("k3x9@NORTHWIND.EXAMPLE").unwrap();
        assert_eq!(
            url.as_str(),
            "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation?user=k3x9%40NORTHWIND.EXAMPLE"
        );
    }

    #[test]
    fn discovery_answers_are_read_by_meaning() {
        let u = urls("https://{zone}.autotask.net/atservicesrest/");
        let ok = br#"{"zoneName":"AE02","url":"https://webservices14.autotask.net/ATServicesRest/","webUrl":"https://ww14.autotask.net/","ci":1}"#;
        assert_eq!(
            read_discovery(&u, "h", StatusCode::OK, ok).unwrap(),
            Discovered::Zone(Zone::parse("14").unwrap().unwrap())
        );
        let unknown = br#"{"errors":["Zone information could not be determined"]}"#;
        assert_eq!(
            read_discovery(&u, "h", StatusCode::INTERNAL_SERVER_ERROR, unknown).unwrap(),
            Discovered::UnknownUser
        );
        assert!(matches!(
            read_discovery(&u, "h", StatusCode::NOT_FOUND, b""),
            Err(PsaError::NotTheApi { .. })
        ));
        assert!(matches!(
            read_discovery(&u, "h", StatusCode::OK, b"<html>"),
            Err(PsaError::NotTheApi { .. })
        ));
        let odd = br#"{"url":"https://evil.example/"}"#;
        assert!(matches!(
            read_discovery(&u, "h", StatusCode::OK, odd),
            Err(PsaError::Upstream { .. })
        ));
    }
}
