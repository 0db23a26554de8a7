//! One command on one session channel: open, exec, feed stdin, drain stdout/stderr to the end, and close
//! the channel on every path.
//!
//! russh's `Channel` does not close itself when dropped, and a channel nobody reads can stall the whole
//! connection (each channel's buffer backs up into the TCP stream), so every channel here lives in a
//! [`ChannelGuard`] that closes and drains it in the background if the command is abandoned (timeout,
//! error, or the caller dropping the future).

use super::super::shell_ops::{BecomeEvent, BecomeScanner, Escalation};
use super::super::{ConnectionError, Secret};
use super::session::Session;
use bytes::Bytes;
use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// How much of a streamed stdin is read per SSH data message batch. The channel window (the server's,
/// ~2 MiB for OpenSSH) bounds what is in flight, so memory stays at a few MiB whatever the file size.
const STREAM_CHUNK: usize = 256 * 1024;

/// How long an abandoned channel may take to confirm its close before ply stops waiting for it.
const ABANDON_DRAIN: Duration = Duration::from_secs(10);

/// How long a refused channel open is retried (see [`Session::open_session`]).
const OPEN_RETRY_LIMIT: Duration = Duration::from_secs(5);

/// What goes to the command's stdin.
pub(crate) enum Stdin<'a> {
    None,
    Bytes(&'a [u8]),
    Stream(&'a mut (dyn AsyncRead + Send + Unpin)),
}

/// One command to run on a channel.
pub(crate) struct Exec<'a> {
    /// The command line, as the remote login shell will read it.
    pub command: String,
    pub stdin: Stdin<'a>,
    /// The become wrapper's markers, when the command is escalated.
    pub escalation: Option<Escalation>,
    /// The become password, sent only after the become program's prompt.
    pub password: Option<Secret>,
    pub timeout: Option<Duration>,
}

/// What a finished command left.
#[derive(Debug)]
pub(crate) struct Finished {
    pub rc: i32,
    pub stdout: Vec<u8>,
    /// The command's own stderr (what the become program printed before it is in `become_message`).
    pub stderr: Vec<u8>,
    /// Some when escalation never reached the command: the become program's reason.
    pub become_failure: Option<String>,
    /// Bytes of stdin actually handed to the channel.
    pub stdin_sent: u64,
}

/// Why a streamed stdin could not be sent.
#[derive(Debug)]
pub(crate) enum ExecError {
    Connection(ConnectionError),
    /// Reading the local source failed: the command got no EOF, so it must not commit anything.
    Source(std::io::Error),
}

impl From<ConnectionError> for ExecError {
    fn from(e: ConnectionError) -> Self {
        ExecError::Connection(e)
    }
}

/// Owns a channel until it is drained; closes it in the background when dropped early.
struct ChannelGuard {
    read: Option<ChannelReadHalf>,
    write: Arc<ChannelWriteHalf<Msg>>,
    permit: Option<OwnedSemaphorePermit>,
    finished: bool,
}

impl ChannelGuard {
    fn read(&mut self) -> &mut ChannelReadHalf {
        self.read.as_mut().expect("read half is present until drop")
    }
}

impl Drop for ChannelGuard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (Some(mut read), Some(permit)) = (self.read.take(), self.permit.take()) else {
            return;
        };
        let write = self.write.clone();
        // Keep the session slot (permit) until the server confirms the close, so that ply never has more
        // channels open than MaxSessions allows.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let cleanup = Cleanup::start();
            runtime.spawn(async move {
                let _cleanup = cleanup;
                // An abandoned command (a task timeout, an interrupted run) must not run on: without a
                // terminal it would only notice the close when it next reads or writes.
                let _ = write.signal(Sig::TERM).await;
                let _ = write.eof().await;
                let _ = write.close().await;
                let _ = tokio::time::timeout(ABANDON_DRAIN, async {
                    while read.wait().await.is_some() {}
                })
                .await;
                drop(permit);
            });
        }
    }
}

/// Abandoned commands whose channel is still being stopped and closed (see [`ChannelGuard`]'s drop).
static CLEANUPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts one clean-up in [`CLEANUPS`] while it lives (local commands' clean-ups count too).
pub struct Cleanup;

impl Cleanup {
    pub fn start() -> Cleanup {
        CLEANUPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Cleanup
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        CLEANUPS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Waits (at most `limit`) until every abandoned command has been signalled and its channel closed, so
/// that a run ending right after an interruption still stops what it started on the hosts.
pub async fn wait_for_cleanups(limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while CLEANUPS.load(std::sync::atomic::Ordering::SeqCst) > 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The signal number behind an SSH signal name, for `128 + n` exit codes as `sh` reports them.
fn signal_number(sig: &Sig) -> i32 {
    match sig {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(name) => match name.as_str() {
            "BUS" => 7,
            "USR2" => 12,
            "STKFLT" => 16,
            "CHLD" => 17,
            "CONT" => 18,
            "STOP" => 19,
            "TSTP" => 20,
            "TTIN" => 21,
            "TTOU" => 22,
            "URG" => 23,
            "XCPU" => 24,
            "XFSZ" => 25,
            "VTALRM" => 26,
            "PROF" => 27,
            "WINCH" => 28,
            "IO" => 29,
            "PWR" => 30,
            "SYS" => 31,
            _ => 0,
        },
    }
}

/// What the reader saw by the time the server closed the channel.
#[derive(Default)]
struct Drained {
    rc: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    refused: bool,
    scanner: Option<BecomeScanner>,
}

async fn drain(
    read: &mut ChannelReadHalf,
    mut scanner: Option<BecomeScanner>,
    events: Option<mpsc::UnboundedSender<BecomeEvent>>,
) -> Drained {
    let mut out = Drained::default();
    // Not stopping at ExitStatus: data and EOF may still follow it; the channel is done at `None`.
    while let Some(msg) = read.wait().await {
        match msg {
            ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => match scanner.as_mut() {
                Some(s) => {
                    let (found, rest) = s.feed(&data);
                    if let Some(tx) = &events {
                        for ev in found {
                            let _ = tx.send(ev);
                        }
                    }
                    out.stderr.extend_from_slice(&rest);
                }
                None => out.stderr.extend_from_slice(&data),
            },
            ChannelMsg::ExitStatus { exit_status } => out.rc = Some(exit_status as i32),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                out.rc = Some(128 + signal_number(&signal_name))
            }
            ChannelMsg::Failure => out.refused = true,
            _ => {}
        }
    }
    out.scanner = scanner;
    out
}

/// Writes stdin: under escalation the password first, and only once the become program asks (sudo reads
/// nothing when it needs no password, and the password must never reach the command); then the request's
/// stdin once the command runs; then EOF. A second prompt means the password was wrong: EOF makes sudo
/// give up instead of waiting.
async fn feed(
    write: &ChannelWriteHalf<Msg>,
    stdin: Stdin<'_>,
    password: Option<Secret>,
    events: Option<mpsc::UnboundedReceiver<BecomeEvent>>,
    sent: &mut u64,
) -> Result<(), ExecError> {
    let send_failed = |e: russh::Error| {
        ExecError::Connection(ConnectionError::Other(format!("sending stdin: {e}")))
    };
    if let Some(mut events) = events {
        let mut password = password;
        loop {
            match events.recv().await {
                Some(BecomeEvent::Prompt) => match password.take() {
                    Some(secret) => {
                        let mut line = secret.expose().as_bytes().to_vec();
                        line.push(b'\n');
                        write.data_bytes(line).await.map_err(send_failed)?;
                    }
                    None => {
                        let _ = write.eof().await;
                        return Ok(());
                    }
                },
                Some(BecomeEvent::Success) => break,
                None => return Ok(()),
            }
        }
    }
    match stdin {
        Stdin::None => {}
        Stdin::Bytes(data) => {
            // A command that does not read its stdin closes it: that is its business, not an error.
            if write.data_bytes(Bytes::copy_from_slice(data)).await.is_ok() {
                *sent += data.len() as u64;
            }
        }
        Stdin::Stream(source) => {
            let mut buf = vec![0u8; STREAM_CHUNK];
            loop {
                let n = source.read(&mut buf).await.map_err(ExecError::Source)?;
                if n == 0 {
                    break;
                }
                // data_bytes waits for window space, so at most a window's worth is ever in flight.
                write
                    .data_bytes(Bytes::copy_from_slice(&buf[..n]))
                    .await
                    .map_err(send_failed)?;
                *sent += n as u64;
            }
        }
    }
    let _ = write.eof().await;
    Ok(())
}

impl Session {
    /// Opens a session channel. sshd frees a session slot only once it has processed the close of the
    /// previous channel and reaped its process, which can lag behind the close ply saw, so a refusal while
    /// ply is under [`super::session::MAX_CHANNELS`] is retried for a few seconds.
    async fn open_session(&self) -> Result<russh::Channel<Msg>, ConnectionError> {
        let mut delay = Duration::from_millis(10);
        let mut waited = Duration::ZERO;
        loop {
            match self.handle().channel_open_session().await {
                Ok(channel) => return Ok(channel),
                Err(russh::Error::ChannelOpenFailure(why)) if waited < OPEN_RETRY_LIMIT => {
                    self.check_alive()?;
                    tracing::debug!("session channel refused ({why:?}); retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    delay = (delay * 2).min(Duration::from_millis(200));
                }
                Err(e) => return Err(self.channel_error("opening a session channel", e)),
            }
        }
    }

    /// Runs one command on a new channel of this connection.
    pub(crate) async fn exec(&self, exec: Exec<'_>) -> Result<Finished, ExecError> {
        self.check_alive()?;
        let permit = self.channel_slot().await?;
        let channel = self.open_session().await?;
        let (read, write) = channel.split();
        let mut guard = ChannelGuard {
            read: Some(read),
            write: Arc::new(write),
            permit: Some(permit),
            finished: false,
        };
        let write = guard.write.clone();
        write
            .exec(true, exec.command.as_bytes())
            .await
            .map_err(|e| self.channel_error("starting the command", e))?;

        let scanner = exec.escalation.as_ref().map(BecomeScanner::new);
        let (events_tx, events_rx) = match scanner {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let mut sent = 0u64;
        let work = async {
            let reader = drain(guard.read(), scanner, events_tx);
            let writer = feed(&write, exec.stdin, exec.password, events_rx, &mut sent);
            tokio::pin!(reader, writer);
            let mut writer_done = false;
            loop {
                tokio::select! {
                    drained = &mut reader => break Ok::<Drained, ExecError>(drained),
                    fed = &mut writer, if !writer_done => {
                        writer_done = true;
                        // A failed source aborts the command before EOF, so it never sees a short
                        // stream as complete.
                        fed?;
                    }
                }
            }
        };
        let drained = match exec.timeout {
            None => work.await,
            Some(limit) => match tokio::time::timeout(limit, work).await {
                Ok(result) => result,
                Err(_) => {
                    // Without a terminal the remote command only hears about the close if it reads or
                    // writes, so ask sshd to signal it too (OpenSSH ≥ 7.9 honours this).
                    let _ = write.signal(Sig::TERM).await;
                    return Err(ExecError::Connection(ConnectionError::Timeout(limit)));
                }
            },
        };
        let drained = match drained {
            Ok(drained) => drained,
            // A write that failed under the command (stdin of a copy, say) is usually the connection
            // dying: say so as Unreachable rather than as a failed write.
            Err(ExecError::Connection(other)) => {
                self.settle_closed().await;
                self.check_alive()?;
                return Err(ExecError::Connection(other));
            }
            Err(source) => return Err(source),
        };
        guard.finished = true;
        drop(guard);

        if drained.refused {
            return Err(ExecError::Connection(ConnectionError::Other(
                "the server refused to run the command".to_string(),
            )));
        }
        let Some(rc) = drained.rc else {
            // No exit status: either the connection died under the command or the server closed the
            // channel on its own (OpenSSH ChannelTimeout); neither is success.
            self.settle_closed().await;
            self.check_alive()?;
            return Err(ExecError::Connection(ConnectionError::Other(
                "the server closed the channel without an exit status".to_string(),
            )));
        };
        let become_failure = match &drained.scanner {
            Some(s) if !s.succeeded() => Some(s.message()),
            _ => None,
        };
        Ok(Finished {
            rc,
            stdout: drained.stdout,
            stderr: drained.stderr,
            become_failure,
            stdin_sent: sent,
        })
    }
}
