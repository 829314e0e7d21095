//! Locks on this node's checkouts, by directory: one `git` at a time in a checkout (an update
//! and a job's own sync may meet on one task node), and one job at a time deciding whether its
//! node must sync. In-process: each task node has its own projects directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

type Locks = Mutex<HashMap<PathBuf, Arc<AsyncMutex<()>>>>;

static CHECKOUT: LazyLock<Locks> = LazyLock::new(Default::default);
static SYNC: LazyLock<Locks> = LazyLock::new(Default::default);

async fn lock(locks: &Locks, dir: &Path) -> OwnedMutexGuard<()> {
    let m = locks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(dir.to_path_buf())
        .or_default()
        .clone();
    m.lock_owned().await
}

/// Held while git works in the checkout `dir` (`scm::run`).
pub(crate) async fn checkout(dir: &Path) -> OwnedMutexGuard<()> {
    lock(&CHECKOUT, dir).await
}

/// Held while a job decides whether its node must sync `dir`, and syncs: a second job of the
/// same project waits, then finds the revision there.
pub(crate) async fn sync(dir: &Path) -> OwnedMutexGuard<()> {
    lock(&SYNC, dir).await
}
