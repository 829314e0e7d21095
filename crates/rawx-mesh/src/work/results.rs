//! Following a unit's stdout from an offset, as `work results` does: everything already
//! written, then whatever the command writes next, until the unit is complete and all of it
//! has been read.

use std::io::{self, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;

use super::Unit;

/// While the command runs, stdout growth is only seen by polling; completion wakes readers
/// through the change channel at once.
const POLL: Duration = Duration::from_millis(50);

pub struct ResultsReader {
    unit: Arc<Unit>,
    offset: u64,
    file: Option<File>,
    changes: watch::Receiver<u64>,
    /// Set once the unit was seen complete; the next empty read then ends the stream.
    draining: bool,
}

impl ResultsReader {
    pub(super) fn new(unit: Arc<Unit>, offset: u64, changes: watch::Receiver<u64>) -> Self {
        ResultsReader {
            unit,
            offset,
            file: None,
            changes,
            draining: false,
        }
    }

    pub fn unit_id(&self) -> &str {
        &self.unit.id
    }

    /// Reads the next bytes of stdout into `buf`, waiting for more while the unit runs.
    /// Returns 0 once the unit is complete (Succeeded, Failed, Canceled or released) and
    /// everything it wrote has been returned.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.file.is_none() {
                match File::open(self.unit.dir.join("stdout")).await {
                    Ok(mut f) => {
                        f.seek(SeekFrom::Start(self.offset)).await?;
                        self.file = Some(f);
                    }
                    // Not started yet, or failed before it ever ran.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        if self.unit.is_final() {
                            return Ok(0);
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            if let Some(f) = self.file.as_mut() {
                let n = f.read(buf).await?;
                if n > 0 {
                    self.offset += n as u64;
                    return Ok(n);
                }
            }
            if self.draining {
                return Ok(0);
            }
            self.changes.borrow_and_update();
            if self.unit.is_final() {
                // The command is done writing; one more read catches its last bytes.
                self.draining = true;
                continue;
            }
            tokio::select! {
                _ = self.changes.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
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
}
