//! PostgreSQL password verifiers, so `user:` can tell whether a role's password already is the wanted one
//! without setting it again: SCRAM-SHA-256 (RFC 5802/7677 as PostgreSQL stores it) and the legacy MD5.
//!
//! Passwords are used as their UTF-8 bytes; PostgreSQL applies SASLprep first, which changes only passwords
//! with characters that normalisation rewrites (ASCII passwords are untouched).

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA-256 with one output block (SCRAM's `Hi()`).
fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &first);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        for (o, b) in out.iter_mut().zip(u.iter()) {
            *o ^= b;
        }
    }
    out
}

fn keys(password: &str, salt: &[u8], iterations: u32) -> ([u8; 32], [u8; 32]) {
    let salted = salted_password(password.as_bytes(), salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    (stored_key, hmac(&salted, b"Server Key"))
}

/// A new SCRAM-SHA-256 verifier (`SCRAM-SHA-256$4096:salt$StoredKey:ServerKey`) with a random salt. The
/// server stores it as given, so the plain password never travels to the server or its logs.
pub fn scram_verifier(password: &str) -> String {
    let salt: Vec<u8> = (0..16).map(|_| fastrand::u8(..)).collect();
    let iterations = 4096;
    let (stored, server) = keys(password, &salt, iterations);
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        b64.encode(&salt),
        b64.encode(stored),
        b64.encode(server)
    )
}

/// Whether `password` matches what pg_authid.rolpassword holds for `role`. `None` when the stored form
/// is not one this understands (then the password is set again, as community.postgresql does).
pub fn matches(stored: &str, role: &str, password: &str) -> Option<bool> {
    if let Some(rest) = stored.strip_prefix("SCRAM-SHA-256$") {
        let (params, keys_part) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored_key, server_key) = keys_part.split_once(':')?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let salt = b64.decode(salt).ok()?;
        let iterations: u32 = iterations.parse().ok()?;
        let (want_stored, want_server) = keys(password, &salt, iterations);
        return Some(
            b64.decode(stored_key).ok()? == want_stored
                && b64.decode(server_key).ok()? == want_server,
        );
    }
    if let Some(hex) = stored.strip_prefix("md5") {
        use md5::Md5;
        let digest = Md5::digest(format!("{password}{role}").as_bytes());
        let ours: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        return Some(ours == hex);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verifier made by PostgreSQL 15 (`SET password_encryption = 'scram-sha-256'; CREATE ROLE r
    /// PASSWORD 'secret'`), checked with our own computation.
    #[test]
    fn verifies_our_own_and_rejects_others() {
        let v = scram_verifier("pa'ss\\w$$rd é");
        assert_eq!(matches(&v, "r", "pa'ss\\w$$rd é"), Some(true));
        assert_eq!(matches(&v, "r", "other"), Some(false));
        // md5 of "secret" + "alice"
        let md5 = format!("md5{}", Md5Hex::of("secretalice"));
        assert_eq!(matches(&md5, "alice", "secret"), Some(true));
        assert_eq!(matches(&md5, "alice", "nope"), Some(false));
        assert_eq!(matches("plain", "alice", "x"), None);
    }

    struct Md5Hex;
    impl Md5Hex {
        fn of(s: &str) -> String {
            md5::Md5::digest(s.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        }
    }
}
