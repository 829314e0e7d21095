use std::time::Duration;

/// Why [`crate::Supervisor::run`] gave up. Returned inside the `anyhow::Error` so the binary
/// can `downcast_ref` it (say, to choose an exit code) while `{:#}` still prints the
/// component's own error chain.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// A [`crate::Restart::Never`] component failed: the process cannot do its job without it.
    #[error("component `{component}` failed and its restart policy is Never; stopping everything")]
    Fatal {
        component: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A component kept failing: restarting it further would only hide the problem.
    #[error(
        "component `{component}` failed {failures} times within {window:?}; giving up \
         (fix the cause in the last error, or let the service manager restart rawx)"
    )]
    CrashLoop {
        component: &'static str,
        failures: u32,
        window: Duration,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A second SIGINT/SIGTERM arrived while components were still stopping.
    #[error(
        "second shutdown signal while stopping; components were aborted without their grace period"
    )]
    Forced,
    /// The supervisor's own bookkeeping task died: a bug in this crate, not in a component.
    #[error("supervisor task for component `{component}` died: {reason}")]
    Internal {
        component: &'static str,
        reason: String,
    },
}

impl SupervisorError {
    /// The component the error is about, if any.
    pub fn component(&self) -> Option<&'static str> {
        match self {
            Self::Fatal { component, .. }
            | Self::CrashLoop { component, .. }
            | Self::Internal { component, .. } => Some(component),
            Self::Forced => None,
        }
    }
}
