//! Where a job may run: AWX's instance groups. The task manager asks `Placement` once per
//! pass whether this node's execution instance may take a pending job.

use crate::Shared;
use rawx_model::resources::JobKind;
use rawx_model::Row;

/// What one scheduling pass knows of instance groups (loaded once per pass).
pub(crate) struct Placement {}

impl Placement {
    /// Loads what the pass needs for the execution instance `instance` (its hostname).
    pub(crate) async fn load(_shared: &Shared, _instance: &str) -> Self {
        Placement {}
    }

    /// `None` when `job` may run on this pass's instance; otherwise why not, in words for the
    /// job's `job_explanation`.
    pub(crate) async fn refuses(
        &mut self,
        _shared: &Shared,
        _kind: &JobKind,
        _job: &Row,
    ) -> Option<String> {
        None
    }
}
