//! The shapes of machine credentials: API keys (`bcn_<prefix>_<secret>`) and the short-lived
//! access tokens the OAuth token endpoint issues (JWT, HS256, RFC 9068 `at+jwt`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::keyring::{Keyring, Purpose};

const KEY_MARKER: &str = "bcn_";
pub const PREFIX_LEN: usize = 12;
/// 43 alphanumerics ≈ 256 bits from the OS CSPRNG (ASVS 11.5.1).
const SECRET_LEN: usize = 43;

/// A freshly generated secret: `shown` goes to the user once, only `lookup` and `hash` are kept.
pub struct IssuedSecret {
    pub shown: String,
    pub lookup: String,
    pub hash: [u8; 32],
}

/// A new API key.
pub fn new_api_key() -> IssuedSecret {
    let mut rng = rand::rng();
    let lookup = Alphanumeric.sample_string(&mut rng, PREFIX_LEN);
    let secret = Alphanumeric.sample_string(&mut rng, SECRET_LEN);
    IssuedSecret { shown: format!("{KEY_MARKER}{lookup}_{secret}"), hash: sha256(secret.as_bytes()), lookup }
}

/// A new OAuth client secret; the client id is the lookup.
pub fn new_client_secret() -> IssuedSecret {
    let mut rng = rand::rng();
    let lookup = format!("client-{}", Alphanumeric.sample_string(&mut rng, 16));
    let secret = Alphanumeric.sample_string(&mut rng, SECRET_LEN);
    IssuedSecret { hash: sha256(secret.as_bytes()), shown: secret, lookup }
}

/// Splits a presented API key into its lookup prefix and the hash of its secret.
pub fn parse_api_key(raw: &str) -> Option<(&str, [u8; 32])> {
    let rest = raw.strip_prefix(KEY_MARKER)?;
    let (lookup, secret) = rest.split_once('_')?;
    let well_formed = lookup.len() == PREFIX_LEN
        && secret.len() == SECRET_LEN
        && lookup.bytes().chain(secret.bytes()).all(|b| b.is_ascii_alphanumeric());
    well_formed.then(|| (lookup, sha256(secret.as_bytes())))
}

pub fn looks_like_api_key(raw: &str) -> bool {
    raw.starts_with(KEY_MARKER)
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Compares secret hashes without an early exit.
pub fn hashes_match(stored: &[u8], presented: &[u8; 32]) -> bool {
    stored.ct_eq(presented).into()
}

/// Claims of an access token. `aud` is the tenant slug, so a token is worthless on any other
/// tenant's host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub client_id: String,
}

pub const ISSUER: &str = "beacon";
const TOKEN_TYPE: &str = "at+jwt";

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// Why a presented token was refused (logged; the client only hears `invalid_token`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported algorithm or type")]
    Algorithm,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("issued for another issuer or audience")]
    Audience,
}

pub fn sign(claims: &AccessClaims, keys: &Keyring) -> String {
    let (kid, key) = keys.current(Purpose::AccessToken);
    let header = Header { alg: "HS256".into(), typ: TOKEN_TYPE.into(), kid: kid.to_owned() };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serialises")),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"))
    );
    let signature = mac(&key, signing_input.as_bytes()).finalize().into_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Verifies signature, algorithm, type, key id, issuer, audience and expiry (ASVS 9.1.x, 9.2.x).
pub fn verify(token: &str, keys: &Keyring, audience: &str, now: i64) -> Result<AccessClaims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Header = decode_json(header)?;
    // Only what we issue: no `none`, no asymmetric algorithms a confused verifier could misuse.
    if header.alg != "HS256" || header.typ != TOKEN_TYPE {
        return Err(TokenError::Algorithm);
    }
    let key = keys.get(&header.kid, Purpose::AccessToken).ok_or(TokenError::UnknownKey)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
    let signing_input = &token[..token.len() - token.rsplit('.').next().map_or(0, str::len) - 1];
    mac(&key, signing_input.as_bytes()).verify_slice(&signature).map_err(|_| TokenError::Signature)?;
    let claims: AccessClaims = decode_json(payload)?;
    if claims.iss != ISSUER || claims.aud != audience {
        return Err(TokenError::Audience);
    }
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn mac(key: &[u8; 32], input: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(input);
    mac
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(spec: &str) -> Keyring {
        Keyring::parse(spec).unwrap()
    }

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=";

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            aud: "acme".into(),
            sub: "client-x".into(),
            scope: "catalog:read".into(),
            iat: 0,
            exp,
            jti: "j".into(),
            client_id: "client-x".into(),
        }
    }

    #[test]
    fn api_keys_round_trip_and_reject_tampering() {
        let key = new_api_key();
        let (lookup, hash) = parse_api_key(&key.shown).unwrap();
        assert_eq!(lookup, key.lookup);
        assert!(hashes_match(&key.hash, &hash));
        let mut tampered = key.shown.clone();
        tampered.pop();
        tampered.push(if key.shown.ends_with('a') { 'b' } else { 'a' });
        let (_, other) = parse_api_key(&tampered).unwrap();
        assert!(!hashes_match(&key.hash, &other));
        for bad in ["", "bcn_", "bcn_short_secret", "xyz_123456789012_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] {
            assert!(parse_api_key(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tokens_verify_only_unchanged_in_time_and_for_their_tenant() {
        let keys = ring(K1);
        let token = sign(&claims(100), &keys);
        assert_eq!(verify(&token, &keys, "acme", 99).unwrap(), claims(100));
        assert_eq!(verify(&token, &keys, "acme", 100), Err(TokenError::Expired));
        assert_eq!(verify(&token, &keys, "globex", 99), Err(TokenError::Audience));
        assert_eq!(verify(&token, &ring(K2), "acme", 99), Err(TokenError::UnknownKey));

        // Same kid, different key material: the signature fails.
        let forged = sign(&claims(100), &ring(&K2.replace("k2", "k1")));
        assert_eq!(verify(&forged, &keys, "acme", 99), Err(TokenError::Signature));

        // A changed payload with the old signature fails.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut elevated = claims(100);
        elevated.scope = "catalog:write".into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&elevated).unwrap());
        assert_eq!(verify(&parts.join("."), &keys, "acme", 99), Err(TokenError::Signature));

        // `alg: none` is refused before any key is looked at.
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#);
        assert_eq!(verify(&format!("{none}.{}.", parts[1]), &keys, "acme", 99), Err(TokenError::Algorithm));
        assert_eq!(verify("a.b", &keys, "acme", 99), Err(TokenError::Malformed));
    }

    #[test]
    fn rotated_keys_still_verify_older_tokens() {
        let old = sign(&claims(100), &ring(K1));
        let rotated = ring(&format!("{K2},{K1}"));
        assert!(verify(&old, &rotated, "acme", 1).is_ok());
        assert!(sign(&claims(100), &rotated).split('.').next().is_some_and(|h| {
            String::from_utf8(URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap().contains("\"kid\":\"k2\"")
        }));
    }
}
