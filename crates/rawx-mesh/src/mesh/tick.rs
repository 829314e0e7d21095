//! Receptor's `tickrunner`: run a task every `period`, or sooner on request. Requests that
//! arrive close together run the task once.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Tick(mpsc::UnboundedSender<Duration>);

impl Tick {
    /// Runs `f` at `period`; a request runs it after the delay given, `ZERO` meaning
    /// `default_delay` (as Go's `runChan <- 0`).
    pub fn spawn<F>(
        period: Duration,
        default_delay: Duration,
        stop: CancellationToken,
        mut f: F,
    ) -> Tick
    where
        F: FnMut() + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Duration>();
        tokio::spawn(async move {
            let mut next = Instant::now() + period;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep_until(next) => {
                        next = Instant::now() + period;
                        f();
                    }
                    req = rx.recv() => {
                        let Some(req) = req else { return };
                        let delay = if req.is_zero() { default_delay } else { req };
                        next = next.min(Instant::now() + delay);
                    }
                }
            }
        });
        Tick(tx)
    }

    pub fn request(&self, delay: Duration) {
        let _ = self.0.send(delay);
    }
}
