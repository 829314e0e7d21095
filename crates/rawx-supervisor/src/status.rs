use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where a component is in its life, as an operator would ask about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentState {
    /// Not yet started, or being (re)started right now.
    Starting,
    /// Its task is running.
    Running,
    /// It failed and is waiting out its backoff before the next restart.
    Backoff,
    /// It stopped: shutdown, finished its work, or aborted after the grace period.
    Stopped,
    /// It failed for good (policy Never, or crash-loop limit): the supervisor is giving up.
    Failed,
}

impl ComponentState {
    /// Lower-case label, stable for metrics and health output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Backoff => "backoff",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for ComponentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One component's state at the moment of [`StatusHandle::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComponentStatus {
    pub name: &'static str,
    pub state: ComponentState,
    /// How many times it was restarted after a failure (the first start is not counted).
    pub restarts: u32,
    /// The latest failure, error chain on one line (`a: b: c`), or a panic's message.
    pub last_error: Option<String>,
}

/// Read side of the supervisor's bookkeeping, for health checks and metrics.
#[derive(Debug, Clone, Default)]
pub struct StatusHandle {
    inner: Arc<Mutex<Vec<ComponentStatus>>>,
}

impl StatusHandle {
    /// Every component, in the order they were added.
    pub fn snapshot(&self) -> Vec<ComponentStatus> {
        self.lock().clone()
    }

    /// One component by name (the first, if names repeat).
    pub fn get(&self, name: &str) -> Option<ComponentStatus> {
        self.lock().iter().find(|s| s.name == name).cloned()
    }

    pub(crate) fn register(&self, name: &'static str) -> usize {
        let mut all = self.lock();
        all.push(ComponentStatus {
            name,
            state: ComponentState::Starting,
            restarts: 0,
            last_error: None,
        });
        all.len() - 1
    }

    pub(crate) fn update(&self, index: usize, f: impl FnOnce(&mut ComponentStatus)) {
        if let Some(status) = self.lock().get_mut(index) {
            f(status);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<ComponentStatus>> {
        // The lock is never held across an await or user code, so poisoning can only come
        // from a bug in this crate; the data is still a plain snapshot, so keep serving it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
