//! Server-side sessions for actix-session. The cookie carries a random key; the database keeps
//! only its SHA-256, so a copy of the database cannot be replayed as cookies. Keeping sessions
//! here lets every instance share them and lets the app end all sessions of a user.

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

fn user_of(state: &SessionState) -> Option<i64> {
    state.get(USER_ID_KEY).and_then(|v| v.parse().ok())
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        let found = row::Entity::find_by_id(hash_key(key.as_ref()))
            .one(&self.db)
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        let Some(found) = found.filter(|r| r.expires_at > chrono::Utc::now()) else {
            return Ok(None);
        };
        serde_json::from_str(&found.state)
            .map(Some)
            .map_err(|e| LoadError::Deserialization(e.into()))
    }

    async fn save(&self, state: SessionState, ttl: &Duration) -> Result<SessionKey, SaveError> {
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
            .map_err(|e| SaveError::Other(e.into()))?;
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
            Err(e) => Err(UpdateError::Other(e.into())),
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
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        row::Entity::delete_by_id(hash_key(key.as_ref()))
            .exec(&self.db)
            .await?;
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
