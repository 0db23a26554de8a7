//! SIGINT and SIGTERM. The first stops the run cleanly: no new task or loop item starts, the commands
//! running on hosts are stopped (their futures are dropped, which signals the remote process group and
//! closes the channel, and the write scripts' traps remove their temp files), the recap is printed with
//! the interruption named, and ply exits 99 as ansible-playbook does. A second signal ends ply at once,
//! after a short grace for those remote clean-ups.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a second signal waits for the clean-ups already under way.
const SECOND_SIGNAL_GRACE: Duration = Duration::from_millis(500);

#[derive(Default)]
pub struct Interrupt {
    count: AtomicU8,
    signal: Mutex<Option<&'static str>>,
    notify: Notify,
}

impl Interrupt {
    pub fn new() -> Arc<Interrupt> {
        Arc::new(Interrupt::default())
    }

    /// Records a signal; returns how many have arrived.
    pub fn raise(&self, signal: &'static str) -> u8 {
        self.signal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(signal);
        let count = self.count.fetch_add(1, Ordering::SeqCst).saturating_add(1);
        self.notify.notify_waiters();
        count
    }

    pub fn is_raised(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }

    /// The first signal's name (`SIGINT`, `SIGTERM`).
    pub fn signal(&self) -> Option<&'static str> {
        *self.signal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves once a signal has arrived (at once if one already has).
    pub async fn raised(&self) {
        let notified = self.notify.notified();
        if self.is_raised() {
            return;
        }
        notified.await;
    }

    /// Listens for SIGINT and SIGTERM on the current runtime.
    pub fn install(self: &Arc<Self>) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        for (kind, name) in [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
        ] {
            let mut stream = signal(kind)?;
            let interrupt = self.clone();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    if interrupt.raise(name) == 1 {
                        eprintln!(
                            "\n[WARNING]: {name} received: stopping the running tasks, no new task starts \
                             (send it again to stop at once)"
                        );
                    } else {
                        eprintln!("\n[ERROR]: {name} received again: stopping at once");
                        tokio::time::sleep(SECOND_SIGNAL_GRACE).await;
                        std::process::exit(99);
                    }
                }
            });
        }
        Ok(())
    }
}
