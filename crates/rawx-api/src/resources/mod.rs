//! One module per resource family with rules of its own, each implementing `ResourceApi`
//! (`crate::resource`); every other resource of the schema is served as `Plain`. `unified.rs`
//! holds what every kind of job shares.
//!
//! Adding a resource: its schema in `rawx-model`, a module here for what differs, and a line in
//! `MODULES`.

mod activity_stream;
mod ad_hoc_commands;
mod approvals;
pub mod bulk;
mod constructed_inventories;
mod copy;
mod credential_input_sources;
mod credential_types;
mod credentials;
mod dab;
mod events;
mod execution_environments;
mod groups;
mod hosts;
mod install_bundle;
mod instances;
mod inventories;
mod inventory_sources;
mod inventory_views;
mod job_templates;
mod jobs;
mod notification_templates;
mod organizations;
mod project_updates;
mod projects;
pub mod receptor_addresses;
pub(crate) mod roles;
mod schedules;
pub(crate) mod surveys;
mod teams;
mod tokens;
pub mod unified;
mod users;
mod workflows;

use crate::resource::{Registry, ResourceApi};
use std::sync::OnceLock;

pub use instances::ping_groups;

static MODULES: &[&dyn ResourceApi] = &[
    &activity_stream::ActivityStream,
    &ad_hoc_commands::AdHocCommands,
    &approvals::WorkflowApprovalTemplates,
    &approvals::WorkflowApprovals,
    &credential_input_sources::CredentialInputSources,
    &credential_types::CredentialTypes,
    &credentials::Credentials,
    &dab::RoleDefinitions,
    &events::AdHocCommandEvents,
    &events::JobEvents,
    &events::ProjectUpdateEvents,
    &execution_environments::ExecutionEnvironments,
    &groups::Groups,
    &hosts::Hosts,
    &instances::InstanceGroups,
    &instances::Instances,
    &inventories::Inventories,
    &inventory_sources::InventorySources,
    &inventory_sources::InventoryUpdates,
    &inventory_sources::InventoryUpdateEvents,
    &job_templates::JobTemplates,
    &jobs::Jobs,
    &notification_templates::NotificationTemplates,
    &notification_templates::Notifications,
    &organizations::Organizations,
    &project_updates::ProjectUpdates,
    &projects::Projects,
    &receptor_addresses::ReceptorAddresses,
    &roles::Roles,
    &schedules::Schedules,
    &teams::Teams,
    &tokens::Tokens,
    &users::Users,
    &workflows::WorkflowJobTemplates,
    &workflows::WorkflowJobTemplateNodes,
    &workflows::WorkflowJobs,
    &workflows::WorkflowJobNodes,
];

/// Every resource's `ResourceApi`, built once.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::new(MODULES))
}
