//! Notification templates (where and how to tell someone a job started, succeeded or failed)
//! and the notifications sent through them (AWX's `NotificationTemplate`, `Notification`).
//! Which templates a job uses is declared by the relations below: one per kind of object and
//! event, each served as the object's `notification_templates_<event>/` sub-list.

use super::{fk, DESCRIPTION, NAME};
use crate::schema::{Default as D, Field, Kind, Relation, Resource, Scope, Sub, SubList};

/// AWX's `NOTIFICATION_TYPE_CHOICES` (sorted by value, as AWX sorts them).
pub static NOTIFICATION_TYPES: &[(&str, &str)] = &[
    ("awssns", "AWS SNS"),
    ("email", "Email"),
    ("grafana", "Grafana"),
    ("irc", "IRC"),
    ("mattermost", "Mattermost"),
    ("pagerduty", "Pagerduty"),
    ("rocketchat", "Rocket.Chat"),
    ("slack", "Slack"),
    ("twilio", "Twilio"),
    ("webhook", "Webhook"),
];

pub static NOTIFICATION_TEMPLATES: Resource = Resource {
    key: "notification_templates",
    type_name: "notification_template",
    verbose: "Notification Template",
    fields: &[
        NAME,
        DESCRIPTION,
        fk("organization", "Organization", "organizations").required(),
        Field::new(
            "notification_type",
            "Notification type",
            Kind::Choice(NOTIFICATION_TYPES),
        )
        .required(),
        // Per type (`rawx_domain::notify::PARAMETERS`); password parameters sealed at rest.
        Field::new(
            "notification_configuration",
            "Notification configuration",
            Kind::Json,
        )
        .default(D::EmptyObject),
        Field::new("messages", "Messages", Kind::Json)
            .help("Optional custom messages for notification template.")
            .nullable(),
    ],
    name_field: Some("name"),
    unique: &[&["organization", "name"]],
    scope: Scope::Via(&["organization"]),
    subs: &[Sub {
        name: "notifications",
        list: SubList::Children {
            resource: "notifications",
            fk: "notification_template",
        },
    }],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["organization"],
    read_only_api: false,
};

/// One message sent (or tried) through a template: written by the task role only.
pub static NOTIFICATIONS: Resource = Resource {
    key: "notifications",
    type_name: "notification",
    verbose: "Notification",
    fields: &[
        fk(
            "notification_template",
            "Notification template",
            "notification_templates",
        )
        .read_only(),
        Field::new(
            "status",
            "Status",
            Kind::Choice(&[
                ("pending", "Pending"),
                ("successful", "Successful"),
                ("failed", "Failed"),
            ]),
        )
        .read_only()
        .default(D::Str("pending")),
        Field::new("error", "Error", Kind::Text)
            .read_only()
            .default(D::Str("")),
        Field::new(
            "notifications_sent",
            "Notifications sent",
            Kind::Int {
                min: None,
                max: None,
            },
        )
        .read_only()
        .default(D::Int(0)),
        Field::new(
            "notification_type",
            "Notification type",
            Kind::Choice(NOTIFICATION_TYPES),
        )
        .read_only(),
        Field::new("recipients", "Recipients", Kind::Text)
            .read_only()
            .default(D::Str("")),
        Field::new("subject", "Subject", Kind::Text)
            .read_only()
            .default(D::Str("")),
        Field::new("body", "Body", Kind::Json)
            .read_only()
            .default(D::EmptyObject),
        // Who may see it: its template's organization.
        fk("organization", "", "organizations")
            .internal()
            .nullable(),
        // Set by the task role that took it to send (compare-and-set), so one node sends it.
        Field::new("claimed", "", Kind::Bool)
            .internal()
            .default(D::Bool(false)),
    ],
    name_field: None,
    unique: &[],
    scope: Scope::Via(&["organization"]),
    subs: &[],
    order: "id",
    search_fields: &[],
    named_url_parents: &[],
    read_only_api: true,
};

/// The events a template is attached for, and the sub-list each is served as.
pub const EVENTS: &[(&str, &str)] = &[
    ("started", "notification_templates_started"),
    ("success", "notification_templates_success"),
    ("error", "notification_templates_error"),
];

macro_rules! attachments {
    ($($name:ident: $table:literal, $left:literal, $col:literal;)*) => {
        $(pub static $name: Relation = Relation {
            table: $table,
            left: ($left, $col),
            right: ("notification_templates", "notificationtemplate_id"),
        };)*
    };
}

attachments! {
    JT_NT_STARTED: "job_template_nt_started", "job_templates", "job_template_id";
    JT_NT_SUCCESS: "job_template_nt_success", "job_templates", "job_template_id";
    JT_NT_ERROR: "job_template_nt_error", "job_templates", "job_template_id";
    PROJECT_NT_STARTED: "project_nt_started", "projects", "project_id";
    PROJECT_NT_SUCCESS: "project_nt_success", "projects", "project_id";
    PROJECT_NT_ERROR: "project_nt_error", "projects", "project_id";
    INVSRC_NT_STARTED: "inventory_source_nt_started", "inventory_sources", "inventory_source_id";
    INVSRC_NT_SUCCESS: "inventory_source_nt_success", "inventory_sources", "inventory_source_id";
    INVSRC_NT_ERROR: "inventory_source_nt_error", "inventory_sources", "inventory_source_id";
    ORG_NT_STARTED: "organization_nt_started", "organizations", "organization_id";
    ORG_NT_SUCCESS: "organization_nt_success", "organizations", "organization_id";
    ORG_NT_ERROR: "organization_nt_error", "organizations", "organization_id";
    ORG_NT_APPROVALS: "organization_nt_approvals", "organizations", "organization_id";
    WFJT_NT_STARTED: "workflow_job_template_nt_started", "workflow_job_templates", "workflow_job_template_id";
    WFJT_NT_SUCCESS: "workflow_job_template_nt_success", "workflow_job_templates", "workflow_job_template_id";
    WFJT_NT_ERROR: "workflow_job_template_nt_error", "workflow_job_templates", "workflow_job_template_id";
    WFJT_NT_APPROVALS: "workflow_job_template_nt_approvals", "workflow_job_templates", "workflow_job_template_id";
}
