//! Approval nodes of workflows (AWX 24.6.1's `WorkflowApprovalTemplate` and
//! `WorkflowApproval`, `awx/main/models/workflow.py`): a kind of template a workflow node
//! runs (made by `…/workflow_job_template_nodes/N/create_approval_template/`), and the kind of
//! unified job it spawns, which stays `pending` until someone approves it (`successful`),
//! denies it (`failed`), or its `timeout` passes (`failed`, `timed_out`).

use super::jobs::{unified_job_fields, JobKind, JOB_STATUS, LAUNCH_TYPES};
use super::{fk, DESCRIPTION, NAME, TEMPLATE_STATUS, WORKFLOW_JOB_NODES};
use crate::schema::{Default as D, Field, Kind, Resource, Scope, Sub, SubList};

const INT: Kind = Kind::Int {
    min: None,
    max: None,
};
const fn ro(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field::new(name, label, kind).read_only()
}
const fn ro_text(name: &'static str, label: &'static str) -> Field {
    ro(name, label, Kind::Text).default(D::Str(""))
}
const fn ro_bool(name: &'static str, label: &'static str) -> Field {
    ro(name, label, Kind::Bool).default(D::Bool(false))
}
const TIMEOUT_HELP: &str =
    "The amount of time (in seconds) before the approval node expires and fails.";

pub static WORKFLOW_APPROVAL_TEMPLATES: Resource = Resource {
    key: "workflow_approval_templates",
    type_name: "workflow_approval_template",
    verbose: "Workflow Approval Template",
    fields: &[
        NAME,
        DESCRIPTION,
        ro("last_job_run", "Last job run", Kind::DateTime).nullable(),
        ro_bool("last_job_failed", "Last job failed"),
        ro("next_job_run", "Next job run", Kind::DateTime).nullable(),
        ro("status", "Status", Kind::Choice(TEMPLATE_STATUS)).default(D::Str("never updated")),
        Field::new("timeout", "Timeout", INT)
            .help(TIMEOUT_HELP)
            .default(D::Int(0)),
        // The workflow whose node made it (AWX reaches it through the node); who may read
        // the workflow may read it, who may change the workflow may change it.
        fk("workflow_job_template", "", "workflow_job_templates")
            .internal()
            .nullable(),
        fk("organization", "", "organizations")
            .internal()
            .nullable(),
    ],
    name_field: None,
    unique: &[],
    scope: Scope::Via(&["workflow_job_template"]),
    subs: &[Sub {
        name: "approvals",
        list: SubList::Children {
            resource: "workflow_approvals",
            fk: "workflow_approval_template",
        },
    }],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &[],
    read_only_api: false,
};

pub static WORKFLOW_APPROVALS: Resource = Resource {
    key: "workflow_approvals",
    type_name: "workflow_approval",
    verbose: "Workflow Approval",
    fields: unified_job_fields!(
        [
            NAME,
            DESCRIPTION,
            ro("unified_job_template", "unified job template", INT).nullable(),
        ],
        [
            ro_bool("timed_out", "Timed out")
                .help("Shows when an approval node (with a timeout assigned to it) has timed out."),
            fk(
                "workflow_approval_template",
                "Workflow approval template",
                "workflow_approval_templates"
            )
            .internal()
            .nullable(),
            Field::new("timeout", "", INT).internal().default(D::Int(0)),
            // `created` + `timeout` (AWX's `expires`), null when it never expires.
            Field::new("expires", "", Kind::DateTime)
                .internal()
                .nullable(),
            fk("approved_or_denied_by", "", "users")
                .internal()
                .nullable(),
            // Its workflow job's template (AWX: `unified_job_node.workflow_job
            // .unified_job_template`), whose read role lets one see it and whose
            // `approval_role` lets one approve it.
            fk("workflow_job_template", "", "workflow_job_templates")
                .internal()
                .nullable(),
            fk("organization", "", "organizations")
                .internal()
                .nullable(),
        ]
    ),
    name_field: None,
    unique: &[],
    scope: Scope::Via(&["workflow_job_template"]),
    subs: &[],
    order: "-id",
    search_fields: &["name", "description"],
    named_url_parents: &[],
    read_only_api: true,
};

/// Approvals are a kind of unified job with no events and no work unit: the workflow engine
/// makes them, a user or their timeout ends them. Not in [`super::JOB_KINDS`]: the task
/// manager never runs one (AWX's `get_tasks` excludes them).
pub static WORKFLOW_APPROVAL_KIND: JobKind = JobKind {
    resource: &WORKFLOW_APPROVALS,
    // Nothing reads events of an approval; the kind needs a table, and its nodes' is one.
    events: &WORKFLOW_JOB_NODES,
    event_parent: "job",
    events_group: "workflow_approval_events",
};
