//! The Autotask PSA connector: finds and verifies the API user's zone, signs in, produces the
//! permission checklist and budget usage, and retrieves customers, contracts, contract
//! services with their current units, services and products.

mod api;
mod checks;
mod limits;
mod model;
mod query;
mod retrieve;
mod zone;

use std::sync::Arc;

use secrecy::SecretString;
use url::Url;

use self::api::{Api, ApiParts, AuthHeaders};
use self::zone::{Discovered, ZoneUrls, discover};
use crate::domain::autotask::Zone;
use crate::psa::error::AutotaskRefusal;
use crate::psa::http::{OutboundPolicy, RetryPolicy, build_client, check_url};
use crate::psa::{PsaError, RecordSink, Verification};

pub use self::limits::VENDOR_THREAD_LIMIT;
pub use self::query::{PAGE_SIZE, page_size};

/// The vendor's zone discovery service (`SYNC365_AUTOTASK_ZONE_LOOKUP_URL`).
pub const DEFAULT_ZONE_LOOKUP_URL: &str = "https://webservices.autotask.net/atservicesrest/";
/// Where a zone's API lives (`SYNC365_AUTOTASK_ZONE_URL_TEMPLATE`).
pub const DEFAULT_ZONE_URL_TEMPLATE: &str = "https://{zone}.autotask.net/atservicesrest/";

/// The portal's own Autotask settings: the same for every tenant.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Our vendor API tracking identifier, sent as `ApiIntegrationCode`.
    pub integration_code: SecretString,
    pub zone_lookup_url: Url,
    /// Contains `{zone}` once, e.g. `https://{zone}.autotask.net/atservicesrest/`.
    pub zone_url_template: String,
    /// Share of the MSP's hourly request budget left untouched for its other tools (0..0.95).
    pub hourly_reserve: f64,
    /// Requests in flight per entity; clamped to 1..=3 (Autotask's thread limit).
    pub entity_concurrency: usize,
    /// Ask ThresholdInformation again after this many of our requests.
    pub budget_check_every: u64,
}

impl ServerSettings {
    /// Settings with the documented defaults for everything but the three configured values.
    pub fn new(
        integration_code: SecretString,
        zone_lookup_url: &str,
        zone_url_template: &str,
    ) -> Result<Self, PsaError> {
        let zone_lookup_url = Url::parse(zone_lookup_url).map_err(|e| PsaError::Misconfigured {
            setting: "SYNC365_AUTOTASK_ZONE_LOOKUP_URL".into(),
            problem: e.to_string(),
        })?;
        ZoneUrls::new(zone_lookup_url.clone(), zone_url_template)?;
        Ok(Self {
            integration_code,
            zone_lookup_url,
            zone_url_template: zone_url_template.to_string(),
            hourly_reserve: 0.25,
            // Two, not three: a scheduled run and a user's "Sync now" in the same tenant share
            // our one integration code and so one thread limit (BR-26).
            entity_concurrency: 2,
            budget_check_every: 50,
        })
    }
}

/// What the user typed: zone (empty means detect), API username and secret.
pub struct Credentials {
    pub zone: Option<Zone>,
    pub username: String,
    pub secret: SecretString,
}

/// One Autotask connection, built per test or retrieval run.
pub struct Autotask {
    client: reqwest::Client,
    headers: AuthHeaders,
    urls: ZoneUrls,
    zone: Option<Zone>,
    username: String,
    policy: OutboundPolicy,
    retry: RetryPolicy,
    concurrency: usize,
    reserve: f64,
    check_every: u64,
}

/// How sure we are of the zone used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirmed {
    /// Discovery named it.
    Yes,
    /// Discovery did not know the username; the typed zone is tried anyway (BR-17).
    UserUnknown,
    /// Discovery failed (unreachable); the typed zone is tried anyway.
    No,
}

impl Autotask {
    pub fn new(
        creds: Credentials,
        server: &ServerSettings,
        policy: &OutboundPolicy,
    ) -> Result<Self, PsaError> {
        check_url(&server.zone_lookup_url, policy)?;
        let username = creds.username.trim().to_string();
        Ok(Self {
            client: build_client(policy)?,
            headers: AuthHeaders::new(&server.integration_code, &username, &creds.secret)?,
            urls: ZoneUrls::new(server.zone_lookup_url.clone(), &server.zone_url_template)?,
            zone: creds.zone,
            username,
            policy: policy.clone(),
            retry: policy.retry,
            concurrency: server.entity_concurrency,
            reserve: server.hourly_reserve,
            check_every: server.budget_check_every,
        })
    }

    /// The Test button: zone, sign-in, permission checklist and budget usage.
    pub async fn verify(&self) -> Result<Verification, PsaError> {
        let (zone, confirmed) = self.resolve_zone().await?;
        let api = self.api(&zone)?;
        let usage = api
            .threshold()
            .await
            .map_err(|e| self.explain(e, confirmed))?;
        let labels = model::Labels::fetch(&api).await?;
        let mut checks = vec![checks::login_row(&zone)];
        if confirmed != Confirmed::Yes {
            checks.push(checks::unconfirmed_zone_row(&zone));
        }
        checks.extend(checks::permission_rows(&api, &labels.customer_types).await?);
        checks.extend(checks::budget_row(usage, api.budget.reserve(usage.limit)));
        Ok(Verification {
            detected: zone.to_string(),
            api_root: api.root().to_string(),
            checks,
            threshold: Some(usage),
        })
    }

    /// Retrieves everything into the sink, page by page. With a saved zone, discovery is
    /// only asked when the zone refuses us (tenants get moved between zones).
    pub async fn retrieve(&self, sink: &mut dyn RecordSink) -> Result<(), PsaError> {
        let (zone, confirmed) = match &self.zone {
            Some(zone) => (zone.clone(), Confirmed::No),
            None => self.resolve_zone().await?,
        };
        let today = chrono::Utc::now().date_naive();
        let outcome = retrieve::run(self.api(&zone)?, sink, today).await;
        match outcome {
            Err(PsaError::AutotaskRefused {
                reason: AutotaskRefusal::Secret,
                ..
            }) if confirmed == Confirmed::No => Err(self.after_refusal(&zone).await),
            other => other,
        }
    }

    /// The zone to use: the typed one, checked against discovery, or the discovered one.
    async fn resolve_zone(&self) -> Result<(Zone, Confirmed), PsaError> {
        let found = discover(&self.client, &self.urls, &self.username, &self.retry).await;
        match (found, &self.zone) {
            (Ok(Discovered::Zone(detected)), Some(typed)) if detected != *typed => {
                Err(wrong_zone(typed, &detected))
            }
            (Ok(Discovered::Zone(detected)), _) => Ok((detected, Confirmed::Yes)),
            (Ok(Discovered::UnknownUser), Some(typed)) => {
                Ok((typed.clone(), Confirmed::UserUnknown))
            }
            (Ok(Discovered::UnknownUser), None) => Err(PsaError::UserUnknown {
                username: self.username.clone(),
            }),
            (Err(e), Some(typed)) => {
                tracing::warn!(error = %e, "Autotask zone lookup failed; trying the typed zone");
                Ok((typed.clone(), Confirmed::No))
            }
            (Err(e), None) => Err(e),
        }
    }

    /// A bare refusal means different things depending on how sure we are of the zone.
    fn explain(&self, e: PsaError, confirmed: Confirmed) -> PsaError {
        match (e, confirmed) {
            (
                PsaError::AutotaskRefused {
                    reason: AutotaskRefusal::Secret,
                    ..
                },
                Confirmed::UserUnknown,
            ) => PsaError::UserUnknown {
                username: self.username.clone(),
            },
            (
                PsaError::AutotaskRefused {
                    host,
                    reason: AutotaskRefusal::Secret,
                },
                Confirmed::No,
            ) => PsaError::AutotaskRefused {
                host,
                reason: AutotaskRefusal::ZoneUnconfirmed,
            },
            (e, _) => e,
        }
    }

    /// A saved zone refused us: if the tenant moved, say where; otherwise the secret is wrong.
    async fn after_refusal(&self, saved: &Zone) -> PsaError {
        match discover(&self.client, &self.urls, &self.username, &self.retry).await {
            Ok(Discovered::Zone(detected)) if detected != *saved => wrong_zone(saved, &detected),
            Ok(Discovered::UnknownUser) => PsaError::UserUnknown {
                username: self.username.clone(),
            },
            _ => PsaError::AutotaskRefused {
                host: self.host_of(saved),
                reason: AutotaskRefusal::Secret,
            },
        }
    }

    fn host_of(&self, zone: &Zone) -> String {
        self.urls
            .root(zone)
            .map(|u| api::host_label(&u))
            .unwrap_or_else(|_| zone.name().to_string())
    }

    /// The zone's API, after checking its root is one the policy allows.
    fn api(&self, zone: &Zone) -> Result<Arc<Api>, PsaError> {
        let root = self.urls.root(zone)?;
        check_url(&root, &self.policy)?;
        Ok(Api::new(ApiParts {
            client: self.client.clone(),
            headers: self.headers.clone(),
            root,
            retry: self.retry,
            concurrency: self.concurrency,
            budget: limits::Budget::new(self.reserve, self.check_every),
        }))
    }
}

fn wrong_zone(typed: &Zone, detected: &Zone) -> PsaError {
    PsaError::WrongZone {
        typed: typed.name().into(),
        detected: detected.name().into(),
        detected_name: detected.friendly_name().map(str::to_string),
    }
}
