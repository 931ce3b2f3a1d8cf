//! Server-side sessions for actix-session. The cookie carries a random key; the database keeps
//! only its SHA-256, so a copy of the database cannot be replayed as cookies. Keeping sessions
//! here lets every instance share them and lets the app end all sessions of a user.

use std::cell::Cell;
use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};
use sha2::{Digest, Sha256};

use super::entity::session as row;

type SessionState = HashMap<String, String>;

/// The session key under which the signed-in user's id is kept.
pub const USER_ID_KEY: &str = "user_id";

#[derive(Clone)]
pub struct DbSessionStore {
    db: DatabaseConnection,
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn expiry(ttl: &Duration) -> chrono::DateTime<chrono::Utc> {
    super::now() + chrono::Duration::seconds(ttl.whole_seconds())
}

tokio::task_local! {
    /// Set once the store could not reach the database during the current request.
    static UNREACHABLE: Cell<bool>;
}

/// Runs a request through the session middleware and says whether the store could not reach
/// the database on the way. Such a request was handed an empty session, and its caller
/// (`web::error::session_store_outage`) answers 503 instead; actix-session alone would turn a
/// store failure into a bare 500 that hides its cause.
pub async fn noting_outage<F: Future>(request: F) -> (F::Output, bool) {
    let run = async {
        let output = request.await;
        (output, UNREACHABLE.with(Cell::get))
    };
    UNREACHABLE.scope(Cell::new(false), run).await
}

/// Records an unreachable database for `noting_outage`; false outside it (nobody to tell).
fn note_outage(e: &DbErr) -> bool {
    super::is_unavailable(e) && UNREACHABLE.try_with(|flag| flag.set(true)).is_ok()
}

/// Whether the store found the database unreachable during the current request.
fn outage_noted() -> bool {
    UNREACHABLE.try_with(Cell::get).unwrap_or(false)
}

fn store_error(e: DbErr) -> anyhow::Error {
    note_outage(&e);
    e.into()
}

fn user_of(state: &SessionState) -> Option<i64> {
    state.get(USER_ID_KEY).and_then(|v| v.parse().ok())
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        let found = match row::Entity::find_by_id(hash_key(key.as_ref()))
            .one(&self.db)
            .await
        {
            Ok(found) => found,
            // An empty session rather than an error: the request answers 503 (see
            // `noting_outage`), and nothing is written back over the stored one.
            Err(e) if note_outage(&e) => return Ok(None),
            Err(e) => return Err(LoadError::Other(e.into())),
        };
        let Some(found) = found.filter(|r| r.expires_at > chrono::Utc::now()) else {
            return Ok(None);
        };
        serde_json::from_str(&found.state)
            .map(Some)
            .map_err(|e| LoadError::Deserialization(e.into()))
    }

    async fn save(&self, state: SessionState, ttl: &Duration) -> Result<SessionKey, SaveError> {
        if outage_noted() {
            // A new key would replace the cookie of a session that could not be read, and so
            // sign its user out because the database blinked.
            return Err(SaveError::Other(anyhow::anyhow!(
                "the session could not be read; not replacing it"
            )));
        }
        let key = Alphanumeric.sample_string(&mut rand::rng(), 64);
        let body = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let model = row::ActiveModel {
            key_hash: Set(hash_key(&key)),
            user_id: Set(user_of(&state)),
            state: Set(body),
            expires_at: Set(expiry(ttl)),
        };
        row::Entity::insert(model)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| SaveError::Other(store_error(e)))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        key: SessionKey,
        state: SessionState,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let body =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let model = row::ActiveModel {
            key_hash: Set(hash_key(key.as_ref())),
            user_id: Set(user_of(&state)),
            state: Set(body),
            expires_at: Set(expiry(ttl)),
        };
        match row::Entity::update(model).exec(&self.db).await {
            Ok(_) => Ok(key),
            // The session was ended meanwhile (sign-out, deactivation): start a new one, but
            // never carry the sign-in over into it.
            Err(DbErr::RecordNotUpdated) => {
                let mut anonymous = state;
                anonymous.remove(USER_ID_KEY);
                self.save(anonymous, ttl)
                    .await
                    .map_err(|e| UpdateError::Other(e.into()))
            }
            Err(e) => Err(UpdateError::Other(store_error(e))),
        }
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        let model = row::ActiveModel {
            key_hash: Set(hash_key(key.as_ref())),
            expires_at: Set(expiry(ttl)),
            ..Default::default()
        };
        match row::Entity::update(model).exec(&self.db).await {
            Ok(_) | Err(DbErr::RecordNotUpdated) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        row::Entity::delete_by_id(hash_key(key.as_ref()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// Ends every session of a user (deactivation, password change).
pub async fn delete_user_sessions(db: &impl ConnectionTrait, user_id: i64) -> Result<u64, DbErr> {
    let done = row::Entity::delete_many()
        .filter(row::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Removes expired sessions (called now and then by the worker).
pub async fn delete_expired(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let done = row::Entity::delete_many()
        .filter(row::Column::ExpiresAt.lt(chrono::Utc::now()))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
