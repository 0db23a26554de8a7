//! The server's host key against known_hosts, through [`super::known_hosts`]: the verdict, the policy's
//! decision, learning a new key, and the messages (what changed and how to fix it) that module writes.

use super::known_hosts::{self, HostKeyPolicy, KnownHosts, Learn, Offered};
use russh::keys::PublicKey;
use std::path::PathBuf;

pub(crate) type Policy = HostKeyPolicy;

/// Accepts the key or says why not. `host` is the inventory name (for messages); known_hosts is keyed by
/// the address ply connects to, as OpenSSH keys it by the host name it was given. New keys (accept-new)
/// are recorded in the first of `files`.
pub(crate) fn verify(
    host: &str,
    address: &str,
    port: u16,
    key: &PublicKey,
    policy: HostKeyPolicy,
    files: &[PathBuf],
) -> Result<(), String> {
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
        Learn::Nothing => Ok(()),
        Learn::Warn(warning) => {
            tracing::warn!("{host}: {warning}");
            Ok(())
        }
        Learn::Append => {
            let Some(file) = files.first() else {
                return Ok(());
            };
            known_hosts::learn(file, address, port, key_type, key_base64).map_err(|e| {
                format!(
                    "cannot record the new host key of {} in {}: {e}",
                    offered.lookup_name(),
                    file.display()
                )
            })?;
            tracing::info!(
                "{host}: permanently added '{}' ({key_type}) to the list of known hosts ({})",
                offered.lookup_name(),
                file.display()
            );
            Ok(())
        }
    }
}
