//! CSRF protection: a random token per session, written into every form as `csrf_token` and
//! checked on every POST before the handler runs.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use rand::distr::{Alphanumeric, SampleString};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::error::AppError;

const SESSION_KEY: &str = "csrf";

/// The session's token, created on first use. Pages put it in a hidden field.
pub fn token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session
        .get::<String>(SESSION_KEY)
        .map_err(|e| AppError::Internal(e.into()))?
    {
        return Ok(t);
    }
    let fresh = Alphanumeric.sample_string(&mut rand::rng(), 43);
    session
        .insert(SESSION_KEY, &fresh)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(fresh)
}

/// A form body whose CSRF token matched the session's. A missing or wrong token is a 403 and the
/// handler never runs.
pub struct CheckedForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CheckedForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let session = req.get_session();
        Box::pin(async move {
            let body = body
                .await
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            check(&session, &body)?;
            let form = serde_urlencoded::from_bytes::<T>(&body)
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            Ok(CheckedForm(form))
        })
    }
}

/// The token is checked before the form is parsed, so a forged POST is a 403 whatever else it
/// holds.
fn check(session: &Session, body: &[u8]) -> Result<(), AppError> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let given = fields
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let expected = session
        .get::<String>(SESSION_KEY)
        .ok()
        .flatten()
        .unwrap_or_default();
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err(AppError::Csrf);
    }
    Ok(())
}

/// A POST with no fields but the token (sign-out, sync, delete...).
#[derive(serde::Deserialize)]
pub struct TokenOnly {}
