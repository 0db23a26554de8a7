//! One connection per host for the whole run, and one check-mode overlay per host, shared by its tasks.

use crate::connection::{CheckOverlay, Connection, ConnectionError, LocalConnection};
use crate::vars::VarMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Connections {
    open: Mutex<HashMap<String, Arc<dyn Connection>>>,
    overlays: Mutex<HashMap<String, Arc<dyn Connection>>>,
}

impl Connections {
    /// The connection to `host`, opened on first use; `vars` are the host's variables (ansible_connection, ...).
    pub fn get(&self, host: &str, vars: &VarMap) -> Result<Arc<dyn Connection>, ConnectionError> {
        if let Some(open) = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(host)
        {
            return Ok(open.clone());
        }
        let kind = vars
            .get("ansible_connection")
            .and_then(|v| v.as_str())
            .unwrap_or("ssh");
        let connection: Arc<dyn Connection> = match kind {
            "local" => Arc::new(LocalConnection::new(host)),
            other => {
                return Err(ConnectionError::Unreachable(format!(
                    "the '{other}' connection is not available in this build of ply; use ansible_connection=local"
                )))
            }
        };
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(host.to_string(), connection.clone());
        Ok(connection)
    }

    /// The host seen through its check-mode overlay: reads see earlier would-be writes, nothing is written.
    pub fn get_checked(
        &self,
        host: &str,
        vars: &VarMap,
    ) -> Result<Arc<dyn Connection>, ConnectionError> {
        if let Some(overlay) = self
            .overlays
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(host)
        {
            return Ok(overlay.clone());
        }
        let inner = self.get(host, vars)?;
        let overlay: Arc<dyn Connection> = Arc::new(CheckOverlay::new(inner));
        self.overlays
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(host.to_string(), overlay.clone());
        Ok(overlay)
    }
}
