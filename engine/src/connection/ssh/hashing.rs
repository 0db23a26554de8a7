//! A reader that hashes what passes through it, so a streamed upload can be checked on the target
//! (`sha1sum` of the temp file against what ply sent) before it replaces anything.

use sha1::{Digest, Sha1};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

pub(crate) struct Sha1Reader<'a> {
    inner: &'a mut (dyn AsyncRead + Send + Unpin),
    hasher: Sha1,
}

impl<'a> Sha1Reader<'a> {
    pub(crate) fn new(inner: &'a mut (dyn AsyncRead + Send + Unpin)) -> Self {
        Sha1Reader {
            inner,
            hasher: Sha1::new(),
        }
    }

    /// The SHA-1 of everything read so far, as lowercase hex.
    pub(crate) fn hex(&self) -> String {
        self.hasher
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl AsyncRead for Sha1Reader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut *this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            this.hasher.update(&buf.filled()[before..]);
        }
        polled
    }
}
