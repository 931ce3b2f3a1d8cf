//! One entry point over both vendors: the portal's PSA settings built once from the app
//! settings, and a connector built from credentials (typed in a form or opened from storage).

use secrecy::SecretString;

use super::http::OutboundPolicy;
use super::{PsaError, RecordSink, Verification, autotask, connectwise};
use crate::config::Settings;

/// The portal-wide PSA settings: vendor ids, hosts, outbound policy.
#[derive(Debug, Clone)]
pub struct PsaServers {
    pub connectwise: connectwise::ServerSettings,
    pub autotask: autotask::ServerSettings,
    pub policy: OutboundPolicy,
}

/// Readable names of the cloud keys the form offers.
const CLOUD_LABELS: &[(&str, &str)] = &[
    ("na", "North America"),
    ("eu", "Europe"),
    ("aus", "Australia"),
    ("au", "Australia (au)"),
];

impl PsaServers {
    pub fn from_settings(s: &Settings) -> Result<Self, PsaError> {
        let clouds = s
            .connectwise_region_urls
            .iter()
            .map(|(key, base)| connectwise::Cloud {
                key: key.clone(),
                label: CLOUD_LABELS
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or(key.to_uppercase(), |(_, l)| (*l).to_string()),
                base: base.clone(),
            })
            .collect();
        let cw = connectwise::ServerSettings {
            client_id: s.connectwise_client_id.clone(),
            clouds,
            ..connectwise::ServerSettings::default()
        };
        let at = autotask::ServerSettings::new(
            SecretString::from(s.autotask_integration_code.clone()),
            s.autotask_zone_lookup_url.as_str(),
            &s.autotask_zone_url_template,
        )?;
        let policy = OutboundPolicy {
            allow_private: s.outbound_allow_private,
            extra_ca_pem: s.extra_ca_pem.clone(),
            ..OutboundPolicy::default()
        };
        Ok(Self {
            connectwise: cw,
            autotask: at,
            policy,
        })
    }
}

/// What a user gave for one PSA.
pub enum PsaCredentials {
    ConnectWise(connectwise::Credentials),
    Autotask(autotask::Credentials),
}

/// A ready connector for either vendor.
pub enum Connector {
    ConnectWise(Box<connectwise::ConnectWise>),
    Autotask(Box<autotask::Autotask>),
}

impl Connector {
    /// Builds a connector; sends nothing yet.
    pub fn new(creds: PsaCredentials, servers: &PsaServers) -> Result<Self, PsaError> {
        Ok(match creds {
            PsaCredentials::ConnectWise(c) => Connector::ConnectWise(Box::new(
                connectwise::ConnectWise::new(c, &servers.connectwise, &servers.policy)?,
            )),
            PsaCredentials::Autotask(c) => Connector::Autotask(Box::new(autotask::Autotask::new(
                c,
                &servers.autotask,
                &servers.policy,
            )?)),
        })
    }

    pub async fn verify(&self) -> Result<Verification, PsaError> {
        match self {
            Connector::ConnectWise(c) => c.verify().await,
            Connector::Autotask(a) => a.verify().await,
        }
    }

    pub async fn retrieve(&self, sink: &mut dyn RecordSink) -> Result<(), PsaError> {
        match self {
            Connector::ConnectWise(c) => c.retrieve(sink).await,
            Connector::Autotask(a) => a.retrieve(sink).await,
        }
    }
}
