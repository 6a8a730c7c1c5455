//! Signing as Standard Webhooks defines it (standardwebhooks.com), so receivers verify with
//! any of its libraries: the secret is `whsec_` and the base64 of 32 random bytes; each
//! request carries `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature:
//! v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A fresh secret, as shown once to the admin.
pub fn new_secret() -> String {
    let mut raw = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut raw);
    format!("{PREFIX}{}", STANDARD.encode(raw))
}

/// The HMAC key a secret stands for.
pub fn key(secret: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(secret.strip_prefix(PREFIX).unwrap_or(secret)).map_err(|e| format!("a malformed secret: {e}"))
}

/// The `webhook-signature` header of `body` sent as message `id` at `timestamp`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's test vectors.
    #[test]
    fn matches_the_specification_example() {
        let key = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_fresh_and_decode_to_32_bytes() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert_eq!(key(&a).unwrap().len(), 32);
        assert!(key("whsec_not base64!").is_err());
    }
}
