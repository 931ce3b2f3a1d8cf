//! A tenant's saved PSA connection. The secret (ConnectWise private key, Autotask secret) is
//! sealed; nothing here is ever rendered without going through the page structs.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "psa_connections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// `connectwise` or `autotask`.
    pub psa_type: String,
    /// ConnectWise site (`na`, `eu`, `aus` or the self-hosted URL) or Autotask zone (empty: detect).
    pub host: String,
    /// ConnectWise company ID or Autotask username.
    pub account: String,
    /// ConnectWise public key (an identifier, not a secret; shown shortened).
    pub public_key: Option<String>,
    /// Base64 of nonce and ciphertext, bound to tenant and connection.
    pub sealed_secret: String,
    /// Detected ConnectWise version or Autotask zone.
    pub detected: Option<String>,
    pub api_root: Option<String>,
    pub last_test_at: Option<DateTimeUtc>,
    pub last_test_ok: Option<bool>,
    pub last_test_message: Option<String>,
    /// JSON list of `psa::PermissionCheck` from the last test.
    pub checklist: Option<String>,
    /// JSON `psa::ThresholdUsage` from the last test (Autotask).
    pub threshold: Option<String>,
    /// The run whose records are shown; records of other runs are staging or stale.
    pub live_run_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
