//! rawx's domain layer: what a job controller does, apart from how it is asked. Used by the web
//! role (`rawx-api`) and the task role (`rawx-control`) alike.
//!
//! - `launch`: a template (and prompts) to a pending job, relaunch, cancel requests;
//! - `schedules`: the claim of due schedules and the computed fields of a rule;
//! - `status`: the job status type; `messages`: typed bus messages (JSON only at the edge);
//! - `capacity`: what running jobs consume, computed once;
//! - `settings`: AWX's settings rawx acts on, their one default each, typed reads;
//! - `access`: whether an actor may see an object (the store's half of a permission check);
//! - `ee`: which execution environment a job runs in, and what an image may be;
//! - `credentials`: AWX's managed credential types as data, injection, custom types' checks;
//! - `stdout`: a job's output assembled from its stored events;
//! - `inventory_import`: `ansible-inventory --list` JSON applied to an inventory (AWX's import);
//! - `notify`: notification types, their checks, which templates a job notifies, messages;
//! - `survey`: a template's survey spec, its validation, launch answers to extra vars;
//! - `projects`: project updates (made on create, SCM change, request, launch) and a project's
//!   status from them.
//!
//! Architecture invariant: no HTTP and no axum; it knows the store, the bus and the schema,
//! never a request. It runs nothing itself: the task role's components call it.

// `notify::context_stub` is one large `json!` literal (AWX's stub, kept in its shape).
#![recursion_limit = "256"]

pub mod access;
pub mod approvals;
pub mod capacity;
pub mod credentials;
mod dag;
pub mod ee;
mod error;
pub mod inventory_import;
pub mod inventory_updates;
pub mod launch;
pub mod messages;
pub mod notify;
pub mod project_files;
pub mod projects;
pub mod roles;
pub mod schedules;
pub mod settings;
pub mod status;
pub mod stdout;
pub mod survey;
pub mod workflows;

pub use error::{DomainError, DomainResult};
pub use status::JobStatus;
