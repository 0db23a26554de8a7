//! The server's host key against known_hosts, through [`super::known_hosts`]: the verdict, the policy's
//! decision, learning a new key, and the messages (what changed and how to fix it) that module writes.

use super::known_hosts::{self, HostKeyPolicy, KnownHosts, Learn, Offered};
use russh::keys::PublicKey;
use std::path::PathBuf;

pub(crate) type Policy = HostKeyPolicy;

/// Accepts the key or says why not. `host` is the inventory name (for messages); known_hosts is keyed by
/// the address ply connects to, as OpenSSH keys it by the host name it was given. New keys (accept-new)
/// are recorded in the first of `files`. `Ok(Some(notice))` is for the user: OpenSSH's loud warning for a
/// changed key let through because checking is off, or its "Permanently added" for a learned one.
pub(crate) fn verify(
    host: &str,
    address: &str,
    port: u16,
    key: &PublicKey,
    policy: HostKeyPolicy,
    files: &[PathBuf],
) -> Result<Option<String>, String> {
    let openssh = key
        .to_openssh()
        .map_err(|e| format!("cannot encode the host key of {host}: {e}"))?;
    let mut parts = openssh.split_whitespace();
    let (Some(key_type), Some(key_base64)) = (parts.next(), parts.next()) else {
        return Err(format!("cannot encode the host key of {host}"));
    };
    let known = KnownHosts::load(files).map_err(|e| e.to_string())?;
    for note in known.notes() {
        tracing::debug!("{host}: known_hosts: {note}");
    }
    let offered = Offered {
        host: address,
        port,
        key_type,
        key_base64,
    };
    let verdict = known.check(address, port, key_type, key_base64);
    match known_hosts::decide(policy, &verdict, &offered).map_err(|e| e.to_string())? {
        Learn::Nothing => Ok(None),
        Learn::Warn(warning) => Ok(Some(format!(
            "{host}:\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
             @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
             @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
             IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
             Someone could be eavesdropping on you right now (man-in-the-middle attack)!\n\
             It is also possible that a host key has just been changed.\n{warning}"
        ))),
        Learn::Append => {
            let Some(file) = files.first() else {
                return Ok(None);
            };
            known_hosts::learn(file, address, port, key_type, key_base64).map_err(|e| {
                format!(
                    "cannot record the new host key of {} in {}: {e}",
                    offered.lookup_name(),
                    file.display()
                )
            })?;
            Ok(Some(format!(
                "{host}: Permanently added '{}' ({}) to the list of known hosts ({}).",
                offered.lookup_name(),
                known_hosts::key_family_name(key_type),
                file.display()
            )))
        }
    }
}
