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

impl AsyncRead for ResultsReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Some(wait) = this.waiting.as_mut() {
                match wait.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => this.waiting = None,
                }
            }
            if this.file.is_none() {
                if let Err(e) = this.open() {
                    return Poll::Ready(Err(e));
                }
            }
            if let Some(f) = this.file.as_mut() {
                // A plain read, straight into the caller's buffer: the file was just written,
                // so this is a page-cache copy of microseconds. tokio's file would send each
                // read through its blocking pool and copy it once more, which for a 100 MiB
                // result cost a thread hop per read and most of the reader's CPU.
                let n = match f.read(buf.initialize_unfilled()) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                };
                buf.advance(n);
                if n > 0 || buf.remaining() == 0 {
                    this.offset += n as u64;
                    this.quiet_polls = 0;
                    return Poll::Ready(Ok(()));
                }
            }
            if this.draining {
                return Poll::Ready(Ok(()));
            }
            this.changes.borrow_and_update();
            this.grown.borrow_and_update();
            if this.unit.results_complete(this.offset) {
                // The command is done writing; one more read catches its last bytes.
                this.draining = true;
                if this.file.is_none() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            let mut changes = this.changes.clone();
            let mut grown = this.grown.clone();
            let delay = POLL_MIN
                .saturating_mul(1 << this.quiet_polls.min(5))
                .min(POLL_MAX);
            this.quiet_polls = this.quiet_polls.saturating_add(1);
            this.waiting = Some(Box::pin(async move {
                tokio::select! {
                    _ = changes.changed() => {}
                    _ = grown.changed() => {}
                    _ = tokio::time::sleep(delay) => {}
                }
            }));
        }
    }
}
