//! The server's host key against known_hosts, through [`super::known_hosts`]: the verdict, the policy's
//! decision, learning a new key, and messages that say what happened and how to fix it.

use super::known_hosts::{self, HostKeyPolicy, KnownHosts};
use russh::keys::PublicKey;
use std::path::PathBuf;

pub(crate) type Policy = HostKeyPolicy;

/// Accepts the key or says why not. `host` is the inventory name (for messages); known_hosts is keyed by
/// the address ply connects to, as OpenSSH keys it by the host name it was given.
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
    let known = KnownHosts::load(files);
    let verdict = known.check(address, port, key_type, key_base64);
    match known_hosts::decide(policy, &verdict) {
        known_hosts::Decision::Accept => Ok(()),
        known_hosts::Decision::Warn(warning) => {
            tracing::warn!("{host}: {warning}");
            Ok(())
        }
        known_hosts::Decision::Learn => {
            let Some(file) = files.first() else {
                return Ok(());
            };
            // A key that cannot be remembered is still the one accept-new accepts for this connection.
            if let Err(e) = known_hosts::learn(file, address, port, key_type, key_base64) {
                tracing::warn!("{host}: cannot add its host key to {}: {e}", file.display());
            } else {
                tracing::info!(
                    "{host}: added its {key_type} host key to {}",
                    file.display()
                );
            }
            Ok(())
        }
        known_hosts::Decision::Refuse(message) => Err(format!("{host}: {message}")),
    }
}
