//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP), the enrolment QR code, and
//! recovery codes. Pure functions: storage, replay bookkeeping and audit live in `mfa`.

use hmac::{Hmac, KeyInit, Mac};
use rand::distr::Uniform;
use rand::Rng;

/// Every authenticator app understands SHA-1, 6 digits, 30-second steps; nothing else is
/// portable, so that is what enrolment offers.
pub const DIGITS: u32 = 6;
pub const STEP_SECONDS: i64 = 30;
/// Codes from one step before or after now are accepted, for clock drift (ASVS 6.5.5).
const DRIFT_STEPS: i64 = 1;
pub const SECRET_BYTES: usize = 20;

/// RFC 4226 §5.3 dynamic truncation of an HMAC over the big-endian counter.
pub fn hotp<M: Mac + KeyInit>(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = <M as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = u32::from_be_bytes(digest[offset..offset + 4].try_into().expect("4 bytes")) & 0x7fff_ffff;
    word % 10u32.pow(digits)
}

/// The time step of a Unix time (RFC 6238 §4.2, T0 = 0).
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The code an authenticator shows at `step`.
pub fn code_at(secret: &[u8], step: i64) -> String {
    let code = hotp::<Hmac<sha1::Sha1>>(secret, step as u64, DIGITS);
    format!("{code:0width$}", width = DIGITS as usize)
}

/// The step whose code `input` is, if it is within the drift window of `now_step` and later
/// than `last_used_step` (a code is accepted once only, ASVS 6.5.1).
pub fn matching_step(secret: &[u8], input: &str, now_step: i64, last_used_step: Option<i64>) -> Option<i64> {
    let input: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if input.len() != DIGITS as usize || !input.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (now_step - DRIFT_STEPS..=now_step + DRIFT_STEPS)
        .filter(|step| last_used_step.is_none_or(|last| *step > last))
        .find(|step| {
            let expected = code_at(secret, *step);
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), input.as_bytes()).into()
        })
}

pub fn new_secret() -> [u8; SECRET_BYTES] {
    let mut secret = [0u8; SECRET_BYTES];
    rand::rng().fill(&mut secret);
    secret
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps expect secrets.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buffer = [0u8; 5];
        buffer[..chunk.len()].copy_from_slice(chunk);
        let bits = u64::from_be_bytes([0, 0, 0, buffer[0], buffer[1], buffer[2], buffer[3], buffer[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(BASE32[((bits >> (35 - i * 5)) & 0x1f) as usize] as char);
        }
    }
    out
}

/// The `otpauth://` URI that the QR code carries (Key Uri Format).
pub fn provisioning_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let encode = |s: &str| crate::escape::percent(s, b"@");
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        encode(issuer),
        encode(account),
        base32(secret),
        encode(issuer)
    )
}

/// The URI as a QR code in SVG, rendered on the server (no script, no third party).
pub fn qr_svg(uri: &str) -> Result<String, crate::error::AppError> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(crate::error::AppError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#0f172a"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

/// Ten single-use recovery codes: 24 characters from a 31-letter alphabet without look-alikes
/// (about 119 bits), so a plain SHA-256 may store them (ASVS 6.5.2); written in groups of six.
pub const RECOVERY_CODES: usize = 10;
const RECOVERY_ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";

pub fn new_recovery_codes() -> Vec<String> {
    let pick = Uniform::new(0, RECOVERY_ALPHABET.len()).expect("non-empty range");
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw: Vec<char> = (0..24).map(|_| RECOVERY_ALPHABET[rng.sample(pick)] as char).collect();
            raw.chunks(6).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// What is stored for a recovery code: SHA-256 of its letters, ignoring dashes, spaces and case.
pub fn recovery_code_hash(code: &str) -> Vec<u8> {
    use sha2::Digest;
    let normalized: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    sha2::Sha256::digest(normalized.as_bytes()).to_vec()
}

/// Whether the input looks like a recovery code rather than a 6-digit TOTP code.
pub fn is_recovery_code(input: &str) -> bool {
    input.chars().filter(char::is_ascii_alphanumeric).count() == 24
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B: the seeds are the ASCII digits "1234567890" repeated to 20, 32
    // and 64 bytes; 8-digit codes at the listed Unix times.
    const SHA1_SEED: &[u8] = b"12345678901234567890";
    const SHA256_SEED: &[u8] = b"12345678901234567890123456789012";
    const SHA512_SEED: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";
    const VECTORS: [(i64, u32, u32, u32); 6] = [
        (59, 94287082, 46119246, 90693936),
        (1111111109, 7081804, 68084774, 25091201),
        (1111111111, 14050471, 67062674, 99943326),
        (1234567890, 89005924, 91819424, 93441116),
        (2000000000, 69279037, 90698825, 38618901),
        (20000000000, 65353130, 77737706, 47863826),
    ];

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        for (time, sha1, sha256, sha512) in VECTORS {
            let step = step_at(time) as u64;
            assert_eq!(hotp::<Hmac<sha1::Sha1>>(SHA1_SEED, step, 8), sha1, "SHA-1 at {time}");
            assert_eq!(hotp::<Hmac<sha2::Sha256>>(SHA256_SEED, step, 8), sha256, "SHA-256 at {time}");
            assert_eq!(hotp::<Hmac<sha2::Sha512>>(SHA512_SEED, step, 8), sha512, "SHA-512 at {time}");
        }
        // The 6-digit code apps show is the same truncation modulo 10^6.
        assert_eq!(code_at(SHA1_SEED, step_at(59)), "287082");
    }

    #[test]
    fn a_code_is_accepted_within_one_step_and_never_twice() {
        let now = step_at(1_234_567_890);
        let code = code_at(SHA1_SEED, now);
        assert_eq!(matching_step(SHA1_SEED, &code, now, None), Some(now));
        assert_eq!(matching_step(SHA1_SEED, &format!("{} {}", &code[..3], &code[3..]), now, None), Some(now));
        assert_eq!(matching_step(SHA1_SEED, &code, now + 1, None), Some(now), "30 s of drift");
        assert_eq!(matching_step(SHA1_SEED, &code, now + 2, None), None, "too old");
        assert_eq!(matching_step(SHA1_SEED, &code, now, Some(now)), None, "replay of the used step");
        let earlier = code_at(SHA1_SEED, now - 1);
        assert_eq!(matching_step(SHA1_SEED, &earlier, now, Some(now)), None, "older than the last used");
        for junk in ["", "12345", "1234567", "abcdef"] {
            assert_eq!(matching_step(SHA1_SEED, junk, now, None), None, "{junk}");
        }
    }

    #[test]
    fn secrets_encode_in_base32_for_authenticator_apps() {
        // RFC 4648 §10 vectors.
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(SHA1_SEED), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let uri = provisioning_uri("Beacon (Acme)", "ada@example.com", SHA1_SEED);
        assert!(uri.starts_with("otpauth://totp/Beacon%20%28Acme%29:ada@example.com?secret=GEZDGNBV"), "{uri}");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && svg.contains("#0f172a"));
    }

    #[test]
    fn recovery_codes_are_long_distinct_and_hashed_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| c.len() == 24 + 3 && is_recovery_code(c)));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        let code = &codes[0];
        assert_eq!(recovery_code_hash(code), recovery_code_hash(&code.replace('-', " ").to_uppercase()));
        assert!(!is_recovery_code("123456"));
    }
}
