//! A backend session as the core sees it: whole messages in, whole messages out, whatever
//! the link (a framed TCP or TLS stream, a websocket).

use std::io::IoSlice;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::wire::{Deframer, MSG_DATA, MTU};

/// How much queued traffic one write of a link carries at most.
const WRITE_BATCH: usize = 256 * 1024;
/// Messages per vectored write: two slices each (length, message) within Linux's `IOV_MAX`.
const WRITE_MESSAGES: usize = 512;
/// Room made in the read buffer before each read: several full-size messages, so a burst
/// costs one syscall.
const READ_ROOM: usize = 8 * (MTU + 2);

/// Appends one frame (Receptor's: a `u16` LE length, then the message) to `buf`.
fn push_frame(buf: &mut Vec<u8>, m: &[u8]) {
    // Go truncates the length to 16 bits; messages never exceed the MTU, so it fits.
    buf.extend_from_slice(&(m.len() as u16).to_le_bytes());
    buf.extend_from_slice(m);
}

/// Where a link's reader hands data messages once the session is established: straight to
/// the mesh on the reader's own task. A stream's every QUIC packet is a data message, and a
/// hop through the session's task cost each of them a channel send and, as often as not, a
/// wake-up of another thread. Routing updates, advertisements and rejects still go through
/// the session's task (their order among data messages does not matter: datagrams).
pub(super) type DataPath = Arc<OnceLock<Box<dyn Fn(BytesMut) + Send + Sync>>>;

pub struct Session {
    /// Messages from the peer; ends when the link does.
    pub rx: mpsc::Receiver<BytesMut>,
    /// Set by the mesh once the peer is known; readers that honour it (a stream link's) pass
    /// data messages to it rather than through `rx`.
    pub(super) data_path: DataPath,
    /// Messages to the peer.
    pub tx: mpsc::Sender<Bytes>,
    /// Cancelling closes the link at once.
    pub cancel: CancellationToken,
    writer: JoinHandle<()>,
}

impl Session {
    pub(super) fn from_parts(
        rx: mpsc::Receiver<BytesMut>,
        tx: mpsc::Sender<Bytes>,
        cancel: CancellationToken,
        writer: JoinHandle<()>,
    ) -> Session {
        Session {
            rx,
            tx,
            data_path: DataPath::default(),
            cancel,
            writer,
        }
    }

    /// Closes the link after what is queued has been written (a reject, say), waiting a
    /// second at most.
    pub async fn close(self) {
        let Session {
            tx, cancel, writer, ..
        } = self;
        drop(tx);
        let abort = writer.abort_handle();
        if tokio::time::timeout(Duration::from_secs(1), writer)
            .await
            .is_err()
        {
            abort.abort();
        }
        cancel.cancel();
    }

    /// Wraps a byte stream (TCP, TLS) framed as Receptor frames it: `u16` LE length.
    pub fn from_stream<S>(stream: S) -> Session
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut r, mut w) = tokio::io::split(stream);
        let cancel = CancellationToken::new();
        let (in_tx, in_rx) = mpsc::channel::<BytesMut>(64);
        let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(1024);
        let c = cancel.clone();
        let data_path = DataPath::default();
        let fast = data_path.clone();
        tokio::spawn(async move {
            let mut d = Deframer::default();
            loop {
                while let Some(m) = d.next_message() {
                    if m.is_empty() {
                        continue;
                    }
                    if m[0] == MSG_DATA {
                        if let Some(deliver) = fast.get() {
                            deliver(m);
                            continue;
                        }
                    }
                    tokio::select! {
                        r = in_tx.send(m) => if r.is_err() { return },
                        _ = c.cancelled() => return,
                    }
                }
                let n = tokio::select! {
                    n = r.read_buf(d.buffer(READ_ROOM)) => n,
                    _ = c.cancelled() => return,
                };
                if !matches!(n, Ok(n) if n > 0) {
                    c.cancel();
                    return;
                }
            }
        });
        let c = cancel.clone();
        let writer = tokio::spawn(async move {
            // A TCP link takes a burst of queued messages in one `writev` of their own
            // buffers; a link that cannot gather (none of rawx's today) gets them copied
            // into one buffer instead.
            let vectored = w.is_write_vectored();
            let mut batch: Vec<Bytes> = Vec::with_capacity(WRITE_MESSAGES);
            let mut buf = Vec::new();
            loop {
                let m = tokio::select! {
                    m = out_rx.recv() => m,
                    _ = c.cancelled() => break,
                };
                let Some(m) = m else { break };
                // What else is queued goes in the same write: one syscall for a burst of
                // QUIC packets rather than one each.
                let mut size = m.len() + 2;
                batch.clear();
                batch.push(m);
                while size < WRITE_BATCH && batch.len() < WRITE_MESSAGES {
                    match out_rx.try_recv() {
                        Ok(m) => {
                            size += m.len() + 2;
                            batch.push(m);
                        }
                        Err(_) => break,
                    }
                }
                let written = if vectored {
                    write_frames(&mut w, &batch).await
                } else {
                    buf.clear();
                    for m in &batch {
                        push_frame(&mut buf, m);
                    }
                    w.write_all(&buf).await
                };
                if written.is_err() || w.flush().await.is_err() {
                    c.cancel();
                    break;
                }
            }
            let _ = w.shutdown().await;
        });
        Session {
            rx: in_rx,
            tx: out_tx,
            data_path,
            cancel,
            writer,
        }
    }
}

/// Writes `messages` framed, gathered from their own buffers (no copy into one).
async fn write_frames<W: AsyncWrite + Unpin>(w: &mut W, messages: &[Bytes]) -> std::io::Result<()> {
    // Go truncates the length to 16 bits; messages never exceed the MTU, so it fits.
    let heads: Vec<[u8; 2]> = messages
        .iter()
        .map(|m| (m.len() as u16).to_le_bytes())
        .collect();
    let mut slices: Vec<IoSlice<'_>> = heads
        .iter()
        .zip(messages)
        .flat_map(|(h, m)| [IoSlice::new(h), IoSlice::new(m)])
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let n = w.write_vectored(rest).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, n);
    }
    Ok(())
}
