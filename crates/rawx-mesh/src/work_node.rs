//! [`WorkNode`]: "a node I submit work to", the one interface the controller drives. The
//! in-process [`Node`] implements it directly; [`crate::RemoteNode`] speaks Receptor's control
//! protocol to a separate node (`rawx receptor` or Receptor itself). Callers cannot tell
//! them apart, so local and remote execution are one code path.

use std::pin::Pin;

use tokio::io::AsyncRead;

use crate::mesh_view::MeshView;
use crate::node::{Node, SubmitRequest};
use crate::work::{BoxFuture, UnitStatus, WorkError};

/// A unit's stdout from an offset; ends (reads 0) once the unit is complete and all of it was
/// returned. Bytes come through as the unit writes them.
pub type ResultsStream = Pin<Box<dyn AsyncRead + Send>>;

/// The work operations a controller needs. Object safe: held as `Arc<dyn WorkNode>`.
pub trait WorkNode: Send + Sync {
    /// The node's ID (Receptor's `NodeID`).
    fn node_id(&self) -> &str;
    /// Creates a unit with `payload` as its stdin and starts it; returns the unit ID.
    fn submit<'a>(
        &'a self,
        req: &'a SubmitRequest,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<String, WorkError>>;
    fn status<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<UnitStatus, WorkError>>;
    /// Follows the unit's stdout from `offset` (so a restarted reader resumes where it was).
    fn results<'a>(
        &'a self,
        unit_id: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<ResultsStream, WorkError>>;
    fn cancel<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<(), WorkError>>;
    /// Cancels the unit if it runs, then deletes it.
    fn release<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<(), WorkError>>;
    /// The mesh as the node this controller talks to sees it (Receptor's `status`); `None`
    /// for a node that is part of no mesh.
    fn mesh_view(&self) -> BoxFuture<'_, Option<Result<MeshView, WorkError>>> {
        Box::pin(async { None })
    }
}

impl WorkNode for Node {
    fn node_id(&self) -> &str {
        self.id()
    }

    fn submit<'a>(
        &'a self,
        req: &'a SubmitRequest,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<String, WorkError>> {
        Box::pin(async move {
            let mut payload = payload;
            Node::submit(self, req, &mut payload).await
        })
    }

    fn status<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<UnitStatus, WorkError>> {
        Box::pin(async move { Node::status(self, unit_id) })
    }

    fn results<'a>(
        &'a self,
        unit_id: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<ResultsStream, WorkError>> {
        Box::pin(async move {
            let reader = Node::results(self, unit_id, offset)?;
            Ok(Box::pin(reader) as ResultsStream)
        })
    }

    fn cancel<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<(), WorkError>> {
        Box::pin(Node::cancel(self, unit_id))
    }

    fn release<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<(), WorkError>> {
        Box::pin(Node::release(self, unit_id))
    }

    fn mesh_view(&self) -> BoxFuture<'_, Option<Result<MeshView, WorkError>>> {
        Box::pin(async move {
            self.mesh()?;
            Some(MeshView::from_status(&self.status_report(None)).map_err(WorkError::Refused))
        })
    }
}
