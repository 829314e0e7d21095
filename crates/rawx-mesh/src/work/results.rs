//! Following a unit's stdout from an offset, as `work results` does: everything already
//! written, then whatever the command writes next, until the unit is complete and all of it
//! has been read.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::os::fd::OwnedFd;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::watch;

use super::Unit;

/// While the command runs, stdout growth is only seen by polling; completion wakes readers
/// through the change channel at once. The poll backs off while the output is quiet, so many
/// idle followers (long jobs) cost little, and tightens again when output flows.
const POLL_MIN: Duration = Duration::from_millis(1);
const POLL_MAX: Duration = Duration::from_millis(50);

/// An [`AsyncRead`] of a unit's stdout that ends (reads 0) once the unit is complete —
/// Succeeded, Failed, Canceled or released — and everything it wrote has been returned.
pub struct ResultsReader {
    unit: Arc<Unit>,
    offset: u64,
    file: Option<File>,
    changes: watch::Receiver<u64>,
    /// The unit's own output notices (a remote unit's copy growing).
    grown: watch::Receiver<u64>,
    /// Set once the unit was seen complete; the next empty read then ends the stream.
    draining: bool,
    waiting: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    quiet_polls: u32,
}

impl ResultsReader {
    pub(super) fn new(unit: Arc<Unit>, offset: u64, changes: watch::Receiver<u64>) -> Self {
        ResultsReader {
            grown: unit.grown.subscribe(),
            unit,
            offset,
            file: None,
            changes,
            draining: false,
            waiting: None,
            quiet_polls: 0,
        }
    }

    pub fn unit_id(&self) -> &str {
        &self.unit.id
    }

    /// The offset of the next byte this reader returns.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next bytes into `buf`, waiting for more while the unit runs; 0 at the end.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        AsyncReadExt::read(self, buf).await
    }

    /// Copies the rest of the results into `out`, returning the byte count.
    pub async fn copy_to<W: tokio::io::AsyncWrite + Unpin + ?Sized>(
        &mut self,
        out: &mut W,
    ) -> io::Result<u64> {
        use tokio::io::AsyncWriteExt;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0;
        loop {
            let n = self.read(&mut buf).await?;
            if n == 0 {
                out.flush().await?;
                return Ok(total);
            }
            out.write_all(&buf[..n]).await?;
            total += n as u64;
        }
    }

    fn open(&mut self) -> io::Result<bool> {
        match File::open(self.unit.dir.join("stdout")) {
            Ok(mut f) => {
                f.seek(SeekFrom::Start(self.offset))?;
                self.file = Some(f);
                Ok(true)
            }
            // Not started yet, or failed before it ever ran.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// One step of moving bytes out of the stdout file: how many it moved (0 at the file's
/// current end), or `Pending` when the destination cannot take more yet.
type Transfer<'a> = dyn FnMut(&mut File, &mut Context<'_>) -> Poll<io::Result<usize>> + 'a;

impl ResultsReader {
    /// Moves the next bytes with `op`, waiting for more while the unit runs: `Ok(n > 0)`
    /// bytes moved, `Ok(0)` at the end of the results.
    fn poll_transfer(
        &mut self,
        cx: &mut Context<'_>,
        op: &mut Transfer<'_>,
    ) -> Poll<io::Result<usize>> {
        loop {
            if let Some(wait) = self.waiting.as_mut() {
                match wait.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => self.waiting = None,
                }
            }
            if self.file.is_none() {
                if let Err(e) = self.open() {
                    return Poll::Ready(Err(e));
                }
            }
            if let Some(f) = self.file.as_mut() {
                let n = match op(f, cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                };
                if n > 0 {
                    self.offset += n as u64;
                    self.quiet_polls = 0;
                    return Poll::Ready(Ok(n));
                }
            }
            if self.draining {
                return Poll::Ready(Ok(0));
            }
            self.changes.borrow_and_update();
            self.grown.borrow_and_update();
            if self.unit.results_complete(self.offset) {
                // The command is done writing; one more read catches its last bytes.
                self.draining = true;
                if self.file.is_none() {
                    return Poll::Ready(Ok(0));
                }
                continue;
            }
            let mut changes = self.changes.clone();
            let mut grown = self.grown.clone();
            let delay = POLL_MIN
                .saturating_mul(1 << self.quiet_polls.min(5))
                .min(POLL_MAX);
            self.quiet_polls = self.quiet_polls.saturating_add(1);
            self.waiting = Some(Box::pin(async move {
                tokio::select! {
                    _ = changes.changed() => {}
                    _ = grown.changed() => {}
                    _ = tokio::time::sleep(delay) => {}
                }
            }));
        }
    }

    /// The next bytes as an owned buffer of at most `max` bytes (empty at the end of the
    /// results), read from the file straight into fresh memory, not zeroed first: what a QUIC
    /// stream takes without copying it (`SendStream::write_chunk`).
    pub async fn next_chunk(&mut self, max: usize) -> io::Result<bytes::Bytes> {
        let mut buf = Vec::with_capacity(max);
        {
            let mut op = |f: &mut File, _: &mut Context<'_>| {
                buf.clear();
                let read = rustix::io::read(&*f, rustix::buffer::spare_capacity(&mut buf));
                Poll::Ready(read.map_err(io::Error::from))
            };
            std::future::poll_fn(|cx| self.poll_transfer(cx, &mut op)).await?;
        }
        Ok(bytes::Bytes::from(buf))
    }

    /// Sends the rest of the results into a stream socket with `sendfile(2)`, returning the
    /// byte count: the kernel moves the page cache's pages into the socket (a Unix socket
    /// takes them without a copy), where reading and writing them would copy every byte twice
    /// and cost two syscalls per buffer. What `work results` at a node does with a result
    /// stream the size of a job's output.
    pub async fn send_to_socket(&mut self, out: &AsyncFd<OwnedFd>) -> io::Result<u64> {
        let mut total = 0;
        loop {
            let mut op = |f: &mut File, cx: &mut Context<'_>| loop {
                let mut ready = match out.poll_write_ready(cx) {
                    Poll::Ready(r) => r?,
                    Poll::Pending => return Poll::Pending,
                };
                match ready.try_io(|fd| Ok(rustix::fs::sendfile(fd, &*f, None, SENDFILE_CHUNK)?)) {
                    Ok(r) => return Poll::Ready(r),
                    // The socket is full: wait until the reader has made room.
                    Err(_would_block) => continue,
                }
            };
            let n = std::future::poll_fn(|cx| self.poll_transfer(cx, &mut op)).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    }
}

/// At most this much per `sendfile` call, so one call never holds a worker thread long.
const SENDFILE_CHUNK: usize = 4 << 20;

impl AsyncRead for ResultsReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // A plain read, straight into the caller's buffer: the file was just written, so
        // this is a page-cache copy of microseconds. tokio's file would send each read
        // through its blocking pool and copy it once more, which for a 100 MiB result cost a
        // thread hop per read and most of the reader's CPU.
        let mut op =
            |f: &mut File, _: &mut Context<'_>| Poll::Ready(f.read(buf.initialize_unfilled()));
        let n = match self.get_mut().poll_transfer(cx, &mut op) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r?,
        };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}
