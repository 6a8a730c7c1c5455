//! Password hashing with argon2id at OWASP/ASVS parameters (m = 46 MiB, t = 1, p = 1).

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::distr::{Alphanumeric, SampleString};

use crate::error::AppError;

const MEMORY_KIB: u32 = 46 * 1024;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, 1, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashing costs ~50 ms of CPU: run it off the async workers.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        hasher().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(AppError::internal)
    })
    .await
    .map_err(AppError::internal)?
}

/// Verifies against a stored hash; with no hash (unknown account) it verifies against a dummy
/// so both cases take the same time and reveal nothing.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hasher().hash_password(b"dummy password for timing").expect("hashing a constant").to_string());
    let known = stored.is_some();
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY.clone());
        let ok = PasswordHash::new(&stored)
            .map(|parsed| hasher().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        ok && known
    })
    .await
    .unwrap_or(false)
}

/// A random password handed out once (new accounts); 20 alphanumerics ≈ 119 bits.
pub fn one_time() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 20)
}
