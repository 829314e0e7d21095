//! A backend session as the core sees it: whole messages in, whole messages out, whatever
//! the link (a framed TCP or TLS stream, a websocket).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::wire::{Deframer, MTU};

/// How much queued traffic one write of a link carries at most.
const WRITE_BATCH: usize = 128 * 1024;

/// Appends one frame (Receptor's: a `u16` LE length, then the message) to `buf`.
fn push_frame(buf: &mut Vec<u8>, m: &[u8]) {
    // Go truncates the length to 16 bits; messages never exceed the MTU, so it fits.
    buf.extend_from_slice(&(m.len() as u16).to_le_bytes());
    buf.extend_from_slice(m);
}

pub struct Session {
    /// Messages from the peer; ends when the link does.
    pub rx: mpsc::Receiver<Vec<u8>>,
    /// Messages to the peer.
    pub tx: mpsc::Sender<Arc<Vec<u8>>>,
    /// Cancelling closes the link at once.
    pub cancel: CancellationToken,
    writer: JoinHandle<()>,
}

impl Session {
    pub(super) fn from_parts(
        rx: mpsc::Receiver<Vec<u8>>,
        tx: mpsc::Sender<Arc<Vec<u8>>>,
        cancel: CancellationToken,
        writer: JoinHandle<()>,
    ) -> Session {
        Session {
            rx,
            tx,
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
        let (in_tx, in_rx) = mpsc::channel::<Vec<u8>>(64);
        let (out_tx, mut out_rx) = mpsc::channel::<Arc<Vec<u8>>>(1024);
        let c = cancel.clone();
        tokio::spawn(async move {
            let mut d = Deframer::default();
            // Several full-size messages per read: one syscall for a burst.
            let mut buf = vec![0u8; 4 * (MTU + 2)];
            loop {
                while let Some(m) = d.next_message() {
                    if m.is_empty() {
                        continue;
                    }
                    tokio::select! {
                        r = in_tx.send(m) => if r.is_err() { return },
                        _ = c.cancelled() => return,
                    }
                }
                let n = tokio::select! {
                    n = r.read(&mut buf) => n,
                    _ = c.cancelled() => return,
                };
                match n {
                    Ok(0) | Err(_) => {
                        c.cancel();
                        return;
                    }
                    Ok(n) => d.push(&buf[..n]),
                }
            }
        });
        let c = cancel.clone();
        let writer = tokio::spawn(async move {
            let mut buf = Vec::with_capacity(WRITE_BATCH + MTU + 2);
            loop {
                let m = tokio::select! {
                    m = out_rx.recv() => m,
                    _ = c.cancelled() => break,
                };
                let Some(m) = m else { break };
                // What else is queued goes in the same write: one syscall for a burst of
                // QUIC packets rather than one each.
                buf.clear();
                push_frame(&mut buf, &m);
                while buf.len() < WRITE_BATCH {
                    match out_rx.try_recv() {
                        Ok(m) => push_frame(&mut buf, &m),
                        Err(_) => break,
                    }
                }
                if w.write_all(&buf).await.is_err() || w.flush().await.is_err() {
                    c.cancel();
                    break;
                }
            }
            let _ = w.shutdown().await;
        });
        Session {
            rx: in_rx,
            tx: out_tx,
            cancel,
            writer,
        }
    }
}
