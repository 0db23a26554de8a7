//! `hash`, `checksum`, `md5`, `sha1` and `password_hash` (crypt formats).

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use sha2::Digest;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter(
        "hash",
        |data: Value, hashtype: Option<String>| -> Result<String, Error> {
            hash(
                &super::python_str(&data),
                hashtype.as_deref().unwrap_or("sha1"),
            )
        },
    );
    env.add_filter("checksum", |data: Value| {
        hash(&super::python_str(&data), "sha1")
    });
    env.add_filter("sha1", |data: Value| {
        hash(&super::python_str(&data), "sha1")
    });
    env.add_filter("md5", |data: Value| hash(&super::python_str(&data), "md5"));
    env.add_filter("password_hash", password_hash);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn hash(data: &str, hashtype: &str) -> Result<String, Error> {
    let bytes = data.as_bytes();
    Ok(match hashtype {
        "sha1" => hex(&sha1::Sha1::digest(bytes)),
        "md5" => hex(&md5::Md5::digest(bytes)),
        "sha224" => hex(&sha2::Sha224::digest(bytes)),
        "sha256" => hex(&sha2::Sha256::digest(bytes)),
        "sha384" => hex(&sha2::Sha384::digest(bytes)),
        "sha512" => hex(&sha2::Sha512::digest(bytes)),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "unsupported hash type '{other}' (supported: md5, sha1, sha224, sha256, sha384, sha512)"
                ),
            ));
        }
    })
}

const CRYPT_ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `password_hash(hashtype='sha512', salt=None, rounds=None)`: SHA-crypt in the `$6$salt$hash`
/// (or `$5$`) format. Ansible leaves out `rounds=` when it is the implicit 5000.
fn password_hash(
    password: String,
    hashtype: Option<String>,
    salt: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let hashtype = match hashtype {
        Some(h) => h,
        None => kwargs
            .get::<Option<String>>("hashtype")?
            .unwrap_or_else(|| "sha512".into()),
    };
    let salt = match salt {
        Some(s) => Some(s),
        None => kwargs.get::<Option<String>>("salt")?,
    };
    let rounds = kwargs.get::<Option<u32>>("rounds")?;
    let salt_size = kwargs.get::<Option<usize>>("salt_size")?;
    kwargs.assert_all_used()?;
    let (ident, sha512) = match hashtype.as_str() {
        "sha512" | "sha512_crypt" => ("6", true),
        "sha256" | "sha256_crypt" => ("5", false),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "password_hash: unsupported hash type '{other}' (supported: sha512, sha256)"
                ),
            ));
        }
    };
    let salt = salt.unwrap_or_else(|| random_salt(salt_size.unwrap_or(16)));
    if let Some(bad) = salt
        .chars()
        .find(|c| !CRYPT_ALPHABET.contains(&(*c as u8)) || !c.is_ascii())
    {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("password_hash: invalid character '{bad}' in salt (allowed: ./0-9A-Za-z)"),
        ));
    }
    // SHA-crypt uses at most 16 salt characters.
    let salt: String = salt.chars().take(16).collect();
    let rounds_value = rounds.unwrap_or(5000);
    let params = sha_crypt::Params::new(rounds_value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("password_hash: invalid rounds: {e}"),
        )
    })?;
    let encoded = if sha512 {
        let digest = sha_crypt::sha512_crypt(password.as_bytes(), salt.as_bytes(), params);
        encode_sha512(&digest)
    } else {
        let digest = sha_crypt::sha256_crypt(password.as_bytes(), salt.as_bytes(), params);
        encode_sha256(&digest)
    };
    let rounds_field = if rounds_value == 5000 {
        String::new()
    } else {
        format!("rounds={rounds_value}$")
    };
    Ok(format!("${ident}${rounds_field}{salt}${encoded}"))
}

fn random_salt(len: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(out.len());
        let mut bits = hasher.finish();
        for _ in 0..10 {
            if out.len() == len {
                break;
            }
            out.push(CRYPT_ALPHABET[(bits & 0x3f) as usize] as char);
            bits >>= 6;
        }
    }
    out
}

/// Appends the crypt base64 encoding of a 24-bit group, least significant 6 bits first.
fn b64_from_24bit(b2: u8, b1: u8, b0: u8, n: usize, out: &mut String) {
    let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
    for _ in 0..n {
        out.push(CRYPT_ALPHABET[(w & 0x3f) as usize] as char);
        w >>= 6;
    }
}

/// The byte order SHA-crypt's specification prescribes for the final encoding.
fn encode_sha512(d: &[u8; 64]) -> String {
    let mut out = String::with_capacity(86);
    for i in 0..21 {
        let (a, b, c) = (i, (i + 21) % 63, (i + 42) % 63);
        let (a, b, c) = match i % 3 {
            0 => (a, b, c),
            1 => (b, c, a),
            _ => (c, a, b),
        };
        b64_from_24bit(d[a], d[b], d[c], 4, &mut out);
    }
    b64_from_24bit(0, 0, d[63], 2, &mut out);
    out
}

fn encode_sha256(d: &[u8; 32]) -> String {
    let mut out = String::with_capacity(43);
    for i in 0..10 {
        let (a, b, c) = (i, (i + 10) % 30, (i + 20) % 30);
        let (a, b, c) = match i % 3 {
            0 => (a, b, c),
            1 => (c, a, b),
            _ => (b, c, a),
        };
        b64_from_24bit(d[a], d[b], d[c], 4, &mut out);
    }
    b64_from_24bit(0, d[31], d[30], 3, &mut out);
    out
}
