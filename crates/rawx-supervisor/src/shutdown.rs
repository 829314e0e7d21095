use std::sync::Arc;

use tokio::sync::watch;

/// What a component waits on to know it should stop. Cheap to clone; every clone sees the
/// same signal.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// True once shutdown was requested. Also true if every [`ShutdownHandle`] is gone: nobody
    /// could ever ask again, and a component waiting forever on a dead channel is a hang.
    pub fn is_shutdown(&self) -> bool {
        *self.rx.borrow() || self.rx.has_changed().is_err()
    }

    /// Returns once shutdown is requested (immediately if it already was). Cancel-safe, so it
    /// can sit in a `tokio::select!` next to the component's real work.
    pub async fn wait(&mut self) {
        // An Err means every sender is gone; see `is_shutdown` for why that counts as shutdown.
        let _ = self.rx.wait_for(|stop| *stop).await;
    }

    /// The raw `watch` receiver, for libraries that take one (e.g. a graceful-shutdown future).
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }
}

/// The trigger side: [`trigger`](Self::trigger) asks every component to stop.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    // Arc rather than relying on `watch::Sender: Clone`, which older tokio 1.x lacks.
    tx: Arc<watch::Sender<bool>>,
}

impl ShutdownHandle {
    /// A fresh, untriggered signal. The supervisor makes its own; this is for running or
    /// testing a component on its own.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(false);
        Self { tx: Arc::new(tx) }
    }

    /// Requests shutdown. Idempotent.
    pub fn trigger(&self) {
        // send_replace, not send: it succeeds even when no receiver exists yet.
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// A [`Shutdown`] that fires when this handle (or any clone) is triggered.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            rx: self.tx.subscribe(),
        }
    }
}

impl Default for ShutdownHandle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_returns_after_trigger_and_clones_agree() {
        let handle = ShutdownHandle::new();
        let mut a = handle.subscribe();
        let b = a.clone();
        assert!(!a.is_shutdown());
        handle.clone().trigger();
        a.wait().await;
        assert!(a.is_shutdown() && b.is_shutdown() && handle.is_triggered());
    }

    #[tokio::test]
    async fn dropped_handle_counts_as_shutdown() {
        let handle = ShutdownHandle::new();
        let mut s = handle.subscribe();
        drop(handle);
        assert!(s.is_shutdown());
        s.wait().await;
    }
}
