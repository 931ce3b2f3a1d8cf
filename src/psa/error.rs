//! PSA failures classified by meaning. The user-facing message of every class is written here,
//! in `PsaError::user_message`, and nowhere else.

use thiserror::Error;

/// Which form field a failure points at, so the message can sit beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    CompanyId,
    Site,
    PublicKey,
    PrivateKey,
    Zone,
    Username,
    Secret,
    /// No single field: shown above the form.
    Form,
}

/// A classified PSA failure. Variants carry only what the message needs; never a secret.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PsaError {
    /// The host name did not resolve.
    #[error("DNS lookup failed for {host}")]
    Dns { host: String },
    /// The TCP connection was refused or reset.
    #[error("connection to {host} failed")]
    Unreachable { host: String },
    /// The request timed out.
    #[error("request to {host} timed out")]
    Timeout { host: String },
    /// TLS failed; `problem` names it (expired, unknown issuer, incomplete chain, wrong host).
    #[error("TLS with {host} failed: {problem}")]
    Tls { host: String, problem: String },
    /// The host is not one the portal may call (private address, not allowed scheme).
    #[error("host {host} is not allowed: {reason}")]
    HostNotAllowed { host: String, reason: String },
    /// The host answered with a web page or something else that is not the PSA's API.
    #[error("{host} did not answer as the PSA API")]
    NotTheApi { host: String },
    /// ConnectWise: companyinfo answered null at this host.
    #[error("company {company_id} not found at {host}")]
    CompanyNotFound {
        company_id: String,
        host: String,
        /// Another cloud where the company was found, if any.
        found_at: Option<String>,
    },
    /// The API keys, username or secret were refused.
    #[error("credentials refused by {host}")]
    CredentialsRefused { host: String },
    /// Our vendor id (ConnectWise clientId, Autotask ApiIntegrationCode) was refused.
    #[error("vendor identifier refused by {host}")]
    VendorIdRefused { host: String },
    /// Autotask: the user is unknown to zone discovery.
    #[error("Autotask user {username} unknown")]
    UserUnknown { username: String },
    /// Autotask: the user lives in another zone than the one typed.
    #[error("Autotask user lives in {detected}, not {typed}")]
    WrongZone {
        typed: String,
        detected: String,
        detected_name: Option<String>,
    },
    /// A permission is missing for something the portal needs.
    #[error("permission missing: {item}")]
    PermissionMissing { item: String, fix: String },
    /// Throttled and the retry budget ran out.
    #[error("throttled by {host}")]
    Throttled { host: String },
    /// Autotask: stopping keeps the MSP's shared hourly budget above the reserve.
    #[error("hourly budget reserve reached ({used} of {limit})")]
    BudgetReserve { used: u64, limit: u64 },
    /// The PSA answered 5xx, a truncated body or unreadable JSON after retries.
    #[error("upstream {host} failed: {detail}")]
    Upstream { host: String, detail: String },
    /// The host answered with a redirect, which is never followed: it could carry credentials
    /// elsewhere or lead past the private-address guard. `target` is where it pointed.
    #[error("{host} redirected to {target}")]
    Redirected {
        host: String,
        target: String,
        at: RedirectAt,
    },
    /// A link in a response pointed at a host other than the configured one.
    #[error("refused to follow a link to {host}")]
    ForeignLink { host: String },
    /// This organisation ran more connection tests in a short time than the portal allows.
    #[error("too many connection tests")]
    TooManyTests,
    /// More records of one kind than any MSP's PSA holds: the source is broken or hostile.
    #[error("more than {limit} {what}")]
    TooMany { what: &'static str, limit: u64 },
    /// The PSA refused a request for a reason not covered above; its own code and message are
    /// kept because support needs them (e.g. an API version it no longer serves).
    #[error("{host} answered {status} {code}: {message}")]
    Rejected {
        host: String,
        status: u16,
        code: String,
        message: String,
    },
    /// The PSA answered "not found" for an API path even after re-reading its version.
    #[error("{host} has no {path}")]
    ResourceNotFound { host: String, path: String },
    /// A server setting of the portal is unusable; `setting` names the variable.
    #[error("setting {setting} is invalid: {problem}")]
    Misconfigured { setting: String, problem: String },
    /// Writing retrieved records failed on our side (database).
    #[error("storing retrieved records failed: {0}")]
    Store(String),
    /// Autotask refused the API user when signing in; `reason` is what could be told apart.
    #[error("Autotask at {host} refused the API user ({reason:?})")]
    AutotaskRefused {
        host: String,
        reason: AutotaskRefusal,
    },
}

/// Which address redirected, which decides what the user can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectAt {
    /// The address the user entered (ConnectWise URL) or one derived from it.
    Address,
    /// The API of an Autotask zone.
    AutotaskZone,
    /// Autotask's zone lookup, asked when the zone is left empty.
    AutotaskZoneLookup,
}

/// Why Autotask refused a sign-in. Its 401 answers are usually empty, so most refusals are
/// `Secret` or `ZoneUnconfirmed`; the others appear when Autotask says more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutotaskRefusal {
    /// The zone was confirmed by discovery, so the secret (or the user's setup) is wrong.
    Secret,
    /// Discovery could not confirm the zone, so the zone may be wrong as well.
    ZoneUnconfirmed,
    /// Our ApiIntegrationCode was refused: the user's Integration Vendor is not this portal.
    IntegrationCode,
    /// The API user's password (secret) has expired.
    SecretExpired,
    /// The API user is locked or inactive.
    UserInactive,
    /// The user's security level is not an API-only level.
    NotApiOnly,
}

impl PsaError {
    /// The same failure, with a redirect put down to `at` (what the user can fix depends on
    /// which address redirected).
    pub fn redirect_at(self, at: RedirectAt) -> Self {
        match self {
            Self::Redirected { host, target, .. } => Self::Redirected { host, target, at },
            other => other,
        }
    }

    /// The form field the message belongs beside.
    pub fn field(&self) -> Field {
        match self {
            Self::CompanyNotFound { .. } => Field::CompanyId,
            Self::Dns { .. }
            | Self::Unreachable { .. }
            | Self::Timeout { .. }
            | Self::Tls { .. }
            | Self::HostNotAllowed { .. }
            | Self::NotTheApi { .. } => Field::Site,
            Self::CredentialsRefused { .. } => Field::PrivateKey,
            Self::UserUnknown { .. } => Field::Username,
            Self::WrongZone { .. } => Field::Zone,
            Self::Redirected { at, .. } => at.field(),
            Self::AutotaskRefused { reason, .. } => reason.field(),
            _ => Field::Form,
        }
    }

    /// What the user reads: what happened, and what to fix where.
    pub fn user_message(&self) -> String {
        match self {
            Self::Dns { host } => format!(
                "The name {host} could not be found (DNS). Check the address for typing mistakes."
            ),
            Self::Unreachable { host } => format!(
                "Could not connect to {host}. Check the address and that the server accepts connections from the internet."
            ),
            Self::Timeout { host } => format!(
                "{host} did not answer in time. Try again; if it keeps happening, check the server is up."
            ),
            Self::Tls { host, problem } => format!(
                "The secure connection to {host} failed: {problem}. Fix the server's certificate, or ask your administrator to trust your private certificate authority."
            ),
            Self::HostNotAllowed { host, reason } => {
                format!("The portal will not connect to {host}: {reason}.")
            }
            Self::NotTheApi { host } => format!(
                "{host} answered with a web page, not the PSA's API. Use the API address (for ConnectWise cloud, the host starting with api-)."
            ),
            Self::CompanyNotFound {
                company_id,
                host,
                found_at: None,
            } => format!(
                "Company ID {company_id} was not found at {host}. Use the company ID you type when signing in to ConnectWise."
            ),
            Self::CompanyNotFound {
                company_id,
                host,
                found_at: Some(other),
            } => format!(
                "Company ID {company_id} was not found at {host}, but it exists at {other}. Choose that ConnectWise URL instead."
            ),
            Self::CredentialsRefused { host } => format!(
                "{host} refused the keys. Check the public and private key (in ConnectWise: System > Members > API Members, the member's API Keys tab), the company ID, and that the API member is active."
            ),
            Self::VendorIdRefused { host } => format!(
                "{host} refused this portal's integration identifier. This is not something you can fix: contact our support."
            ),
            Self::UserUnknown { username } => format!(
                "Autotask does not know the API user {username}. Check the username (it looks like name@yourcompany.com) and that it is an API-only user."
            ),
            Self::WrongZone {
                typed,
                detected,
                detected_name,
            } => {
                let name = detected_name
                    .as_deref()
                    .map(|n| format!(", {n}"))
                    .unwrap_or_default();
                format!(
                    "Your API user lives in {detected}{name}, not {typed}. Use {detected} as the webservices zone (or leave the zone empty to detect it)."
                )
            }
            Self::PermissionMissing { item, fix } => {
                format!("The API user lacks a permission it needs: {item}. {fix}")
            }
            Self::Throttled { host } => format!(
                "{host} is limiting how fast the portal may call it. Try again in a few minutes."
            ),
            Self::BudgetReserve { used, limit } => format!(
                "Paused to keep your Autotask hourly request budget for your other tools ({used} of {limit} used). Retrieval resumes on the next run."
            ),
            Self::Upstream { host, .. } => format!(
                "{host} failed while answering. Try again later; if it keeps happening, contact the PSA vendor."
            ),
            Self::TooManyTests => "Your organisation has run many connection tests in the last \
                few minutes. Wait five minutes, then try again."
                .into(),
            Self::TooMany { what, limit } => format!(
                "The PSA sent more than {limit} {what}, far beyond any real account, so the \
                 retrieval stopped. Check that the connection points at your own PSA."
            ),
            Self::Redirected { host, target, at } => format!(
                "{host} answered with a redirect to {target}. The portal does not follow redirects, so nothing was sent there. {}",
                at.fix(target)
            ),
            Self::ForeignLink { host } => format!(
                "The PSA pointed the portal at another host ({host}); the portal does not send your credentials there."
            ),
            Self::Rejected {
                host,
                status,
                code,
                message,
            } => format!(
                "{host} refused the request ({status} {code}: {message}). If this keeps happening, contact our support with this message."
            ),
            Self::ResourceNotFound { host, path } => format!(
                "{host} answered \"not found\" for {path}. On ConnectWise cloud this can also mean the keys belong to another company: check the company ID and keys."
            ),
            Self::Misconfigured { setting, problem } => {
                format!("The portal is misconfigured ({setting}: {problem}). Contact our support.")
            }
            Self::Store(_) => {
                "The retrieved records could not be stored. Try again; our team has been told."
                    .into()
            }
            Self::AutotaskRefused { host, reason } => reason.message(host),
        }
    }
}

/// Where the Autotask API user is edited, for messages that send the user there.
const AUTOTASK_API_USER: &str =
    "Admin > Account Settings & Users > Resources/Users, open the API user";

impl RedirectAt {
    fn field(self) -> Field {
        match self {
            Self::Address => Field::Site,
            Self::AutotaskZone | Self::AutotaskZoneLookup => Field::Zone,
        }
    }

    fn fix(self, target: &str) -> String {
        match self {
            Self::Address => format!(
                "Enter the address the API answers at itself: for ConnectWise cloud, the host starting with api-; for your own server, its final https address (if {target} is your server, enter that)."
            ),
            Self::AutotaskZone => {
                "Check the webservices zone, or leave it empty to detect it.".into()
            }
            Self::AutotaskZoneLookup => {
                "Enter your webservices zone instead of detecting it (webservices2 when your Autotask web address starts with ww2.).".into()
            }
        }
    }
}

impl AutotaskRefusal {
    fn field(self) -> Field {
        match self {
            Self::Secret | Self::SecretExpired => Field::Secret,
            Self::UserInactive | Self::NotApiOnly => Field::Username,
            Self::ZoneUnconfirmed | Self::IntegrationCode => Field::Form,
        }
    }

    fn message(self, host: &str) -> String {
        match self {
            Self::Secret => format!(
                "{host} refused the secret for this API user. Copy the secret again (in Autotask: {AUTOTASK_API_USER}, Generate Secret), and check that the user's security level is API User (API-only) and its Integration Vendor is Sync 365. If it worked before, the secret may have expired or the user been deactivated."
            ),
            Self::ZoneUnconfirmed => format!(
                "{host} refused the API user. Check the username and secret, and the zone (leave it empty to detect it)."
            ),
            Self::IntegrationCode => format!(
                "{host} refused this portal's integration code for your API user. In Autotask, {AUTOTASK_API_USER}, and on its Security tab choose Sync 365 as the Integration Vendor. If it already is, contact our support."
            ),
            Self::SecretExpired => format!(
                "{host} says the API user's secret has expired. In Autotask, {AUTOTASK_API_USER} and generate a new secret; use a security level based on API User (API-only), whose secrets do not expire."
            ),
            Self::UserInactive => format!(
                "{host} says the API user is locked or inactive. In Autotask, {AUTOTASK_API_USER} and make it active again."
            ),
            Self::NotApiOnly => format!(
                "{host} says this user is not an API user. In Autotask, {AUTOTASK_API_USER} and give it the security level API User (API-only) or a copy of it."
            ),
        }
    }
}
