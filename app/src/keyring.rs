//! The server's secret keys, from configuration (`BEACON_SECRET_KEYS`). Each key has an id so
//! keys can rotate: the first key signs and encrypts new data, every listed key still verifies
//! and decrypts what it produced earlier. A purpose-specific subkey is derived for each use, so
//! a token signature can never be confused with anything else the key protects.

use std::sync::Arc;

use aes_gcm::KeyInit as _;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::AppError;

/// What a derived key is for; part of the derivation input.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    AccessToken,
    TotpSecret,
    SsoClientSecret,
    AuditCheckpoint,
    AuditStreamSecret,
    AuditErasure,
    /// The links in notification mails that stop them without signing in.
    Unsubscribe,
    /// The signing secrets of outbound webhooks, sealed at rest.
    WebhookSecret,
    /// The secrets CI/CD providers sign or authenticate their webhooks with.
    CicdSecret,
    /// A company's sensitive fields (funding, revenue, valuation, notes).
    CompanyField,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::AccessToken => b"beacon access-token v1",
            Purpose::TotpSecret => b"beacon totp-secret v1",
            Purpose::SsoClientSecret => b"beacon sso-client-secret v1",
            Purpose::AuditCheckpoint => b"beacon audit-checkpoint v1",
            Purpose::AuditStreamSecret => b"beacon audit-stream-secret v1",
            Purpose::AuditErasure => b"beacon audit-erasure v1",
            Purpose::Unsubscribe => b"beacon unsubscribe v1",
            Purpose::WebhookSecret => b"beacon webhook-secret v1",
            Purpose::CicdSecret => b"beacon cicd-secret v1",
            Purpose::CompanyField => b"beacon company-field v1",
        }
    }
}

/// A fresh secret shown once to whoever set something up: `prefix` and 32 random bytes in hex.
pub fn new_secret(prefix: &str) -> String {
    let mut raw = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut raw);
    format!("{prefix}{}", crate::audit::chain::hex(&raw))
}

#[derive(Clone)]
pub struct Keyring {
    keys: Arc<Vec<(String, [u8; 32])>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Keyring").field("ids", &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>()).finish()
    }
}

impl Keyring {
    /// Parses `id:base64,id:base64,…`; each key must be exactly 32 random bytes.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let mut keys = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| AppError::invalid("BEACON_SECRET_KEYS: each key is `id:base64`"))?;
            if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(AppError::invalid(format!("BEACON_SECRET_KEYS: `{id}` is not a valid key id")));
            }
            let bytes = STANDARD.decode(encoded).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| {
                AppError::invalid(format!("BEACON_SECRET_KEYS: key `{id}` must be 32 bytes in base64"))
            })?;
            if keys.iter().any(|(existing, _)| existing == id) {
                return Err(AppError::invalid(format!("BEACON_SECRET_KEYS: key id `{id}` is listed twice")));
            }
            keys.push((id.to_owned(), bytes));
        }
        if keys.is_empty() {
            return Err(AppError::invalid("BEACON_SECRET_KEYS: at least one key is required"));
        }
        Ok(Self { keys: Arc::new(keys) })
    }

    /// The id and derived key that protect new data.
    pub fn current(&self, purpose: Purpose) -> (&str, [u8; 32]) {
        let (id, key) = &self.keys[0];
        (id, derive(key, purpose))
    }

    /// The derived key with this id, if it is still configured.
    pub fn get(&self, id: &str, purpose: Purpose) -> Option<[u8; 32]> {
        self.keys.iter().find(|(known, _)| known == id).map(|(_, key)| derive(key, purpose))
    }
}

/// Data encrypted with AES-256-GCM under a configured key: the key id, then nonce ‖ ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

const NONCE_LEN: usize = 12;

impl Keyring {
    /// Encrypts with the current key. `context` (for example the owning user's id) is
    /// authenticated but not stored: a ciphertext copied to another row does not open.
    pub fn seal(&self, purpose: Purpose, plaintext: &[u8], context: &[u8]) -> Result<Sealed, AppError> {
        use aes_gcm::aead::{Aead, Payload};
        let (key_id, key) = self.current(purpose);
        let mut nonce = [0u8; NONCE_LEN];
        rand::Rng::fill(&mut rand::rng(), &mut nonce);
        let cipher = aes_gcm::Aes256Gcm::new(&key.into());
        let ciphertext = cipher
            .encrypt(&nonce.into(), Payload { msg: plaintext, aad: context })
            .map_err(|_| AppError::internal("encryption failed"))?;
        Ok(Sealed { key_id: key_id.to_owned(), bytes: [nonce.as_slice(), &ciphertext].concat() })
    }

    /// Decrypts with the key the data names; fails if that key is no longer configured or the
    /// data or context was altered.
    pub fn open(&self, purpose: Purpose, sealed: &Sealed, context: &[u8]) -> Result<Vec<u8>, AppError> {
        use aes_gcm::aead::{Aead, Payload};
        let key = self.get(&sealed.key_id, purpose).ok_or_else(|| {
            AppError::internal(format!("secret key `{}` is no longer in BEACON_SECRET_KEYS", sealed.key_id))
        })?;
        if sealed.bytes.len() <= NONCE_LEN {
            return Err(AppError::internal("sealed data too short"));
        }
        let (nonce, ciphertext) = sealed.bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at the nonce length");
        aes_gcm::Aes256Gcm::new(&key.into())
            .decrypt(&nonce.into(), Payload { msg: ciphertext, aad: context })
            .map_err(|_| AppError::internal(format!("sealed data does not open with key `{}`", sealed.key_id)))
    }
}

fn derive(key: &[u8; 32], purpose: Purpose) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(purpose.label());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn keys_parse_with_ids_and_the_first_is_current() {
        let ring = Keyring::parse(&format!("k2:{KEY_A}, k1:{KEY_A}")).unwrap();
        assert_eq!(ring.current(Purpose::AccessToken).0, "k2");
        assert!(ring.get("k1", Purpose::AccessToken).is_some());
        assert!(ring.get("k3", Purpose::AccessToken).is_none());
        assert!(!format!("{ring:?}").contains(KEY_A));
    }

    #[test]
    fn sealed_data_opens_only_unchanged_with_its_key_and_context() {
        const KEY_B: &str = "HxwdHhsZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAAA=";
        let old = Keyring::parse(&format!("k1:{KEY_A}")).unwrap();
        let sealed = old.seal(Purpose::TotpSecret, b"twenty byte secret!!", b"user-1").unwrap();
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.bytes.windows(6).any(|w| w == b"secret"), "ciphertext, not plaintext");
        assert_ne!(sealed, old.seal(Purpose::TotpSecret, b"twenty byte secret!!", b"user-1").unwrap(), "fresh nonce");

        // After rotation the old key still opens what it sealed; new data uses the new key.
        let rotated = Keyring::parse(&format!("k2:{KEY_B},k1:{KEY_A}")).unwrap();
        assert_eq!(rotated.open(Purpose::TotpSecret, &sealed, b"user-1").unwrap(), b"twenty byte secret!!");
        assert_eq!(rotated.seal(Purpose::TotpSecret, b"x", b"user-1").unwrap().key_id, "k2");

        assert!(rotated.open(Purpose::TotpSecret, &sealed, b"user-2").is_err(), "bound to its row");
        assert!(rotated.open(Purpose::AccessToken, &sealed, b"user-1").is_err(), "bound to its purpose");
        let mut tampered = sealed.clone();
        *tampered.bytes.last_mut().unwrap() ^= 1;
        assert!(rotated.open(Purpose::TotpSecret, &tampered, b"user-1").is_err());
        let retired = Keyring::parse(&format!("k2:{KEY_B}")).unwrap();
        assert!(retired.open(Purpose::TotpSecret, &sealed, b"user-1").is_err(), "retired keys open nothing");
    }

    #[test]
    fn malformed_key_lists_are_refused() {
        for bad in ["", "k1", "k1:short", &format!("k1:{KEY_A},k1:{KEY_A}"), &format!("bad id:{KEY_A}")] {
            assert!(Keyring::parse(bad).is_err(), "{bad}");
        }
    }
}
