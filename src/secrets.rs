//! Sealing PSA secrets at rest: XChaCha20-Poly1305 with the key from the data directory, the
//! tenant and connection bound in as associated data, so a sealed value copied to another row
//! does not open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};

/// Seals and opens secrets with the app's sealing key.
#[derive(Clone)]
pub struct Sealer {
    key: SecretSlice<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the sealing key is not 32 bytes")]
    Key,
    #[error("the sealed secret could not be opened (wrong key, tenant or connection, or damaged)")]
    Open,
}

const VERSION: &str = "v1";

impl Sealer {
    pub fn new(key: SecretSlice<u8>) -> Result<Self, SealError> {
        if key.expose_secret().len() != 32 {
            return Err(SealError::Key);
        }
        Ok(Self { key })
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, SealError> {
        XChaCha20Poly1305::new_from_slice(self.key.expose_secret()).map_err(|_| SealError::Key)
    }

    /// `v1:` then base64 of a random 24-byte nonce followed by the ciphertext.
    pub fn seal(
        &self,
        tenant_id: i64,
        connection_id: i64,
        secret: &SecretString,
    ) -> Result<String, SealError> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(tenant_id, connection_id);
        let payload = Payload {
            msg: secret.expose_secret().as_bytes(),
            aad: &aad,
        };
        let sealed = self
            .cipher()?
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| SealError::Key)?;
        Ok(format!(
            "{VERSION}:{}",
            B64.encode([nonce.as_slice(), &sealed].concat())
        ))
    }

    pub fn open(
        &self,
        tenant_id: i64,
        connection_id: i64,
        sealed: &str,
    ) -> Result<SecretString, SealError> {
        let body = sealed.strip_prefix("v1:").ok_or(SealError::Open)?;
        let bytes = B64.decode(body).map_err(|_| SealError::Open)?;
        if bytes.len() < 24 {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let aad = associated_data(tenant_id, connection_id);
        let plain = self
            .cipher()?
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| SealError::Open)
    }
}

fn associated_data(tenant_id: i64, connection_id: i64) -> Vec<u8> {
    format!("sync365/psa-secret/tenant={tenant_id}/connection={connection_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(vec![7u8; 32].into()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_for_its_own_tenant_and_connection_only() {
        let s = sealer();
        let sealed = s
            .seal(1, 10, &SecretString::from("private-key-123"))
            .unwrap();
        assert!(!sealed.contains("private-key-123"));
        assert_eq!(
            s.open(1, 10, &sealed).unwrap().expose_secret(),
            "private-key-123"
        );
        assert!(s.open(2, 10, &sealed).is_err(), "another tenant");
        assert!(s.open(1, 11, &sealed).is_err(), "another connection");
    }

    #[test]
    fn sealing_twice_gives_different_text() {
        let s = sealer();
        let a = s.seal(1, 1, &SecretString::from("x")).unwrap();
        let b = s.seal(1, 1, &SecretString::from("x")).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn another_key_cannot_open_it() {
        let sealed = sealer().seal(1, 1, &SecretString::from("x")).unwrap();
        let other = Sealer::new(vec![8u8; 32].into()).unwrap();
        assert!(other.open(1, 1, &sealed).is_err());
    }
}
