//! Turning a stored connection back into credentials: the secret is opened only here, for the
//! one call that needs it.

use secrecy::SecretString;

use crate::domain::autotask::Zone;
use crate::domain::connectwise::{CompanyId, Site};
use crate::psa::connector::PsaCredentials;
use crate::psa::{autotask, connectwise};
use crate::secrets::Sealer;
use crate::store::entity::psa_connection;

pub const CONNECTWISE: &str = "connectwise";
pub const AUTOTASK: &str = "autotask";

/// How a stored connection could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error("the stored secret could not be opened: {0}")]
    Sealed(#[from] crate::secrets::SealError),
    #[error("the stored connection is not valid any more: {0}")]
    Invalid(String),
}

impl StoredError {
    /// What the user sees: what went wrong and how to fix it.
    pub fn user_message(&self) -> String {
        match self {
            StoredError::Sealed(_) => "The stored secret could not be opened (was the data \
                directory's sealing.key replaced?). Edit the connection and enter the secret again."
                .into(),
            StoredError::Invalid(why) => format!(
                "The stored settings are not valid any more ({why}). Edit the connection and save it again."
            ),
        }
    }
}

/// The host column for a ConnectWise site: the cloud key or the self-hosted URL.
pub fn site_to_host(site: &Site) -> String {
    match site {
        Site::Cloud(key) => key.clone(),
        Site::SelfHosted(url) => url.as_str().trim_end_matches('/').to_string(),
    }
}

fn host_to_site(host: &str) -> Result<Site, StoredError> {
    let parsed = if host.contains("://") {
        Site::parse("self_hosted", host)
    } else {
        Site::parse(host, "")
    };
    parsed.map_err(|e| StoredError::Invalid(e.to_string()))
}

/// Credentials of a stored connection, the secret opened with the sealer.
pub fn credentials_of(
    conn: &psa_connection::Model,
    sealer: &Sealer,
) -> Result<PsaCredentials, StoredError> {
    let secret: SecretString = sealer.open(conn.tenant_id, conn.id, &conn.sealed_secret)?;
    let invalid = |e: crate::domain::FieldError| StoredError::Invalid(e.to_string());
    match conn.psa_type.as_str() {
        CONNECTWISE => Ok(PsaCredentials::ConnectWise(connectwise::Credentials {
            company_id: CompanyId::parse(&conn.account).map_err(invalid)?,
            site: host_to_site(&conn.host)?,
            public_key: SecretString::from(conn.public_key.clone().unwrap_or_default()),
            private_key: secret,
        })),
        AUTOTASK => Ok(PsaCredentials::Autotask(autotask::Credentials {
            zone: Zone::parse(&conn.host).map_err(invalid)?,
            username: conn.account.clone(),
            secret,
        })),
        other => Err(StoredError::Invalid(format!("unknown PSA type {other}"))),
    }
}
