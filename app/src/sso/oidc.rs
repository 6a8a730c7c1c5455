//! OpenID Connect, relying-party side: the provider's discovery document and keys, PKCE, and
//! ID token verification (signature from the provider's JWKS, RS256/ES256 only; `iss`, `aud`,
//! `azp`, `exp`, `iat`, `nonce`). Pure functions over fetched documents, so every refusal can
//! be tested with tokens forged in the test.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Seconds of clock difference tolerated on `exp` and `iat`.
const CLOCK_SKEW: i64 = 60;

/// The parts of `/.well-known/openid-configuration` the flow uses.
#[derive(Clone, Debug, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: Option<String>,
    #[serde(rename = "use")]
    pub usage: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

/// The claims of a verified ID token that sign-in uses.
#[derive(Clone, Debug, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
    pub name: Option<String>,
    aud: Audience,
    azp: Option<String>,
    exp: i64,
    iat: Option<i64>,
    nonce: Option<String>,
    /// Everything else the provider sent (groups, roles, …) for role mapping.
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

impl IdClaims {
    /// The string values of a claim that is a string or an array of strings.
    pub fn values(&self, claim: &str) -> Vec<String> {
        match self.other.get(claim) {
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            Some(serde_json::Value::Array(many)) => many.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    }

    /// `email_verified` is a boolean, but some providers send the string "true".
    pub fn email_is_verified(&self) -> bool {
        matches!(&self.email_verified, Some(serde_json::Value::Bool(true)))
            || matches!(&self.email_verified, Some(serde_json::Value::String(s)) if s == "true")
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, client_id: &str) -> bool {
        match self {
            Audience::One(aud) => aud == client_id,
            Audience::Many(all) => all.iter().any(|a| a == client_id),
        }
    }

    fn is_single(&self) -> bool {
        matches!(self, Audience::One(_)) || matches!(self, Audience::Many(all) if all.len() == 1)
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// Why an ID token was refused; the reason goes to the audit log, never to the browser.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("signing algorithm `{0}` is not accepted (RS256 or ES256 only)")]
    Algorithm(String),
    #[error("no key in the provider's JWKS matches")]
    UnknownKey,
    #[error("signature does not verify")]
    Signature,
    #[error("issuer `{0}` is not the provider's")]
    Issuer(String),
    #[error("audience does not name this client")]
    Audience,
    #[error("expired")]
    Expired,
    #[error("issued in the future")]
    IssuedInFuture,
    #[error("nonce does not match the sign-in that was started")]
    Nonce,
}

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

pub fn verify_id_token(token: &str, keys: &JwkSet, expected: &Expected, now: i64) -> Result<IdClaims, Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed("not three parts"));
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| Refusal::Malformed("not base64url"));
    let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| Refusal::Malformed("header"))?;
    let signed = &token.as_bytes()[..token.len() - signature.len() - 1];
    let signature = decode(signature)?;
    verify_signature(&header, keys, signed, &signature)?;

    let claims: IdClaims = serde_json::from_slice(&decode(payload)?).map_err(|_| Refusal::Malformed("claims"))?;
    if claims.iss != expected.issuer {
        return Err(Refusal::Issuer(claims.iss));
    }
    // With several audiences, the authorized party must be us (OIDC Core §3.1.3.7).
    let azp_ok = claims.azp.as_deref().is_none_or(|azp| azp == expected.client_id);
    if !claims.aud.contains(expected.client_id) || (!claims.aud.is_single() && claims.azp.is_none()) || !azp_ok {
        return Err(Refusal::Audience);
    }
    if claims.exp + CLOCK_SKEW < now {
        return Err(Refusal::Expired);
    }
    if claims.iat.is_some_and(|iat| iat - CLOCK_SKEW > now) {
        return Err(Refusal::IssuedInFuture);
    }
    let nonce_ok = claims
        .nonce
        .as_deref()
        .is_some_and(|n| bool::from(subtle::ConstantTimeEq::ct_eq(n.as_bytes(), expected.nonce.as_bytes())));
    if !nonce_ok {
        return Err(Refusal::Nonce);
    }
    Ok(claims)
}

fn verify_signature(header: &Header, keys: &JwkSet, signed: &[u8], signature: &[u8]) -> Result<(), Refusal> {
    let kty = match header.alg.as_str() {
        "RS256" => "RSA",
        "ES256" => "EC",
        other => return Err(Refusal::Algorithm(other.to_owned())),
    };
    let candidates = keys.keys.iter().filter(|k| {
        k.kty == kty && k.usage.as_deref().is_none_or(|u| u == "sig") && (header.kid.is_none() || k.kid == header.kid)
    });
    let mut any = false;
    for key in candidates {
        any = true;
        let decode = |field: &Option<String>| field.as_deref().and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
        let verified = match kty {
            "RSA" => match (decode(&key.n), decode(&key.e)) {
                (Some(n), Some(e)) => RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, signature)
                    .is_ok(),
                _ => false,
            },
            _ => match (key.crv.as_deref(), decode(&key.x), decode(&key.y)) {
                (Some("P-256"), Some(x), Some(y)) => {
                    let point = [&[0x04][..], &x, &y].concat();
                    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(signed, signature).is_ok()
                }
                _ => false,
            },
        };
        if verified {
            return Ok(());
        }
    }
    Err(if any { Refusal::Signature } else { Refusal::UnknownKey })
}

/// A PKCE verifier (RFC 7636): 43 unreserved characters, 256 bits.
pub fn pkce_verifier() -> String {
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A random value for `state` and `nonce`.
pub fn random_token() -> String {
    pkce_verifier()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(pkce_verifier().len(), 43);
    }
}
