//! What: projects (where playbooks live) and job templates (what to run, where, how).

use super::{fk, DESCRIPTION, JT_CREDENTIALS, JT_INSTANCE_GROUPS, JT_LABELS, NAME};
use crate::schema::{Default as D, Field, Kind, Resource, Scope, Sub, SubList};

pub const SCM_TYPES: &[(&str, &str)] = &[
    ("", "Manual"),
    ("git", "Git"),
    ("svn", "Subversion"),
    ("insights", "Red Hat Insights"),
    ("archive", "Remote Archive"),
];

pub const PROJECT_STATUS: &[(&str, &str)] = &[
    ("new", "New"),
    ("pending", "Pending"),
    ("waiting", "Waiting"),
    ("running", "Running"),
    ("successful", "Successful"),
    ("failed", "Failed"),
    ("error", "Error"),
    ("canceled", "Canceled"),
    ("never updated", "Never Updated"),
    ("ok", "OK"),
    ("missing", "Missing"),
];

pub const TEMPLATE_STATUS: &[(&str, &str)] = &[
    ("new", "New"),
    ("pending", "Pending"),
    ("waiting", "Waiting"),
    ("running", "Running"),
    ("successful", "Successful"),
    ("failed", "Failed"),
    ("error", "Error"),
    ("canceled", "Canceled"),
    ("never updated", "Never Updated"),
];

pub const VERBOSITY: &[(i64, &str)] = &[
    (0, "0 (Normal)"),
    (1, "1 (Verbose)"),
    (2, "2 (More Verbose)"),
    (3, "3 (Debug)"),
    (4, "4 (Connection Debug)"),
    (5, "5 (WinRM Debug)"),
];

const fn flag(name: &'static str, label: &'static str) -> Field {
    Field::new(name, label, Kind::Bool).default(D::Bool(false))
}
const fn text(name: &'static str, label: &'static str, max: u32) -> Field {
    Field::new(name, label, Kind::Str { max }).default(D::Str(""))
}
const fn ro_time(name: &'static str, label: &'static str) -> Field {
    Field::new(name, label, Kind::DateTime)
        .read_only()
        .nullable()
}

pub static PROJECTS: Resource = Resource {
    key: "projects",
    type_name: "project",
    verbose: "Project",
    fields: &[
        NAME,
        DESCRIPTION,
        text("local_path", "Local path", 1024)
            .help("Local path (relative to PROJECTS_ROOT) containing playbooks and related files for this project."),
        Field::new("scm_type", "Source Control Type", Kind::Choice(SCM_TYPES))
            .help("Specifies the source control system used to store the project.")
            .default(D::Str("")),
        text("scm_url", "Source Control URL", 1024)
            .help("The location where the project is stored."),
        text("scm_branch", "Source Control Branch", 256)
            .help("Specific branch, tag or commit to checkout."),
        text("scm_refspec", "Source Control Refspec", 1024)
            .help("For git projects, an additional refspec to fetch."),
        flag("scm_clean", "Scm clean")
            .help("Discard any local changes before syncing the project."),
        flag("scm_track_submodules", "Scm track submodules")
            .help("Track submodules latest commits on defined branch."),
        flag("scm_delete_on_update", "Scm delete on update")
            .help("Delete the project before syncing."),
        fk("credential", "Credential", "credentials").nullable(),
        Field::new("timeout", "Timeout", Kind::Int { min: Some(-2147483648), max: Some(2147483647) })
            .help("The amount of time (in seconds) to run before the task is canceled.")
            .default(D::Int(0)),
        text("scm_revision", "SCM Revision", 1024)
            .help("The last revision fetched by a project update")
            .read_only(),
        // What the last update found (AWX's `playbook_files` / `inventory_files`, which its
        // serializer does not show): every web node answers `playbooks/` and checks a
        // template's playbook from the store, with no checkout of its own. Null: not recorded.
        Field::new("playbook_files", "", Kind::Json).internal().nullable(),
        Field::new("inventory_files", "", Kind::Json).internal().nullable(),
        ro_time("last_job_run", "Last job run"),
        flag("last_job_failed", "Last job failed").read_only(),
        ro_time("next_job_run", "Next job run"),
        Field::new("status", "Status", Kind::Choice(PROJECT_STATUS))
            .read_only()
            .default(D::Str("ok")),
        fk("organization", "Organization", "organizations")
            .help("The organization used to determine access to this template.")
            .nullable(),
        flag("scm_update_on_launch", "Scm update on launch")
            .help("Update the project when a job is launched that uses the project."),
        Field::new("scm_update_cache_timeout", "Scm update cache timeout", Kind::Int { min: Some(0), max: Some(2147483647) })
            .help("The number of seconds after the last project update ran that a new project update will be launched as a job dependency.")
            .default(D::Int(0)),
        flag("allow_override", "Allow override")
            .help("Allow changing the SCM branch or revision in a job template that uses this project."),
        Field::new("custom_virtualenv", "Custom virtualenv", Kind::Str { max: 100 })
            .read_only()
            .nullable(),
        flag("last_update_failed", "Last update failed").read_only(),
        ro_time("last_updated", "Last updated"),
        fk("default_environment", "Default Execution Environment", "execution_environments")
            .help("The default execution environment for jobs run using this project.")
            .nullable(),
        fk("signature_validation_credential", "Signature validation credential", "credentials")
            .help("An optional credential used for validating files in the project against unexpected changes.")
            .nullable(),
        // The update running now and the last one that ended (AWX's `current_job`/`last_job`),
        // kept by the task role as its updates start and end.
        Field::new("current_job", "", Kind::Int { min: None, max: None }).internal().nullable(),
        Field::new("last_job", "", Kind::Int { min: None, max: None }).internal().nullable(),
    ],
    name_field: Some("name"),
    unique: &[&["name", "organization"]],
    scope: Scope::Via(&["organization"]),
    subs: &[
        super::ACTIVITY_SUB,
        Sub {
            name: "notification_templates_started",
            list: SubList::Linked { relation: &super::PROJECT_NT_STARTED, from_left: true },
        },
        Sub {
            name: "notification_templates_success",
            list: SubList::Linked { relation: &super::PROJECT_NT_SUCCESS, from_left: true },
        },
        Sub {
            name: "notification_templates_error",
            list: SubList::Linked { relation: &super::PROJECT_NT_ERROR, from_left: true },
        },
        Sub {
            name: "job_templates",
            list: SubList::Children { resource: "job_templates", fk: "project" },
        },
        Sub {
            name: "project_updates",
            list: SubList::Children { resource: "project_updates", fk: "project" },
        },
        // The inventory sources reading files from this project (AWX's related name).
        Sub {
            name: "scm_inventory_sources",
            list: SubList::Children { resource: "inventory_sources", fk: "source_project" },
        },
        Sub {
            name: "schedules",
            list: SubList::Children { resource: "schedules", fk: "unified_job_template" },
        },
    ],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["organization"],
    read_only_api: false,
};

const fn ask(name: &'static str, label: &'static str) -> Field {
    Field::new(name, label, Kind::Bool).default(D::Bool(false))
}

pub static JOB_TEMPLATES: Resource = Resource {
    key: "job_templates",
    type_name: "job_template",
    verbose: "Job Template",
    fields: &[
        NAME,
        DESCRIPTION,
        Field::new("job_type", "Job type", Kind::Choice(&[("run", "Run"), ("check", "Check")]))
            .default(D::Str("run")),
        fk("inventory", "Inventory", "inventories").nullable(),
        fk("project", "Project", "projects").nullable(),
        text("playbook", "Playbook", 1024),
        text("scm_branch", "Scm branch", 1024)
            .help("Branch to use in job run. Project default used if blank. Only allowed if project allow_override field is set to true."),
        Field::new("forks", "Forks", Kind::Int { min: Some(0), max: Some(2147483647) }).default(D::Int(0)),
        Field::new("limit", "Limit", Kind::Text).default(D::Str("")),
        Field::new("verbosity", "Verbosity", Kind::IntChoice(VERBOSITY)).default(D::Int(0)),
        Field::new("extra_vars", "Extra vars", Kind::Vars).default(D::Str("")),
        text("job_tags", "Job tags", 1024),
        flag("force_handlers", "Force handlers"),
        text("skip_tags", "Skip tags", 1024),
        text("start_at_task", "Start at task", 1024),
        Field::new("timeout", "Timeout", Kind::Int { min: Some(-2147483648), max: Some(2147483647) })
            .help("The amount of time (in seconds) to run before the task is canceled.")
            .default(D::Int(0)),
        flag("use_fact_cache", "Use fact cache")
            .help("If enabled, the service will act as an Ansible Fact Cache Plugin; persisting facts at the end of a playbook run to the database and caching facts for use by Ansible."),
        fk("execution_environment", "Execution environment", "execution_environments")
            .help("The container image to be used for execution.")
            .nullable(),
        fk("organization", "Organization", "organizations")
            .help("The organization used to determine access to this template.")
            .read_only()
            .nullable(),
        ro_time("last_job_run", "Last job run"),
        flag("last_job_failed", "Last job failed").read_only(),
        ro_time("next_job_run", "Next job run"),
        Field::new("status", "Status", Kind::Choice(TEMPLATE_STATUS))
            .read_only()
            .default(D::Str("never updated")),
        text("host_config_key", "Host config key", 1024),
        ask("ask_scm_branch_on_launch", "Ask scm branch on launch"),
        ask("ask_diff_mode_on_launch", "Ask diff mode on launch"),
        ask("ask_variables_on_launch", "Ask variables on launch"),
        ask("ask_limit_on_launch", "Ask limit on launch"),
        ask("ask_tags_on_launch", "Ask tags on launch"),
        ask("ask_skip_tags_on_launch", "Ask skip tags on launch"),
        ask("ask_job_type_on_launch", "Ask job type on launch"),
        ask("ask_verbosity_on_launch", "Ask verbosity on launch"),
        ask("ask_inventory_on_launch", "Ask inventory on launch"),
        ask("ask_credential_on_launch", "Ask credential on launch"),
        ask("ask_execution_environment_on_launch", "Ask execution environment on launch"),
        ask("ask_labels_on_launch", "Ask labels on launch"),
        ask("ask_forks_on_launch", "Ask forks on launch"),
        ask("ask_job_slice_count_on_launch", "Ask job slice count on launch"),
        ask("ask_timeout_on_launch", "Ask timeout on launch"),
        ask("ask_instance_groups_on_launch", "Ask instance groups on launch"),
        flag("survey_enabled", "Survey enabled"),
        // Served at `survey_spec/`, never in the template's own representation (AWX's
        // `prevent_search`): it may hold sealed password defaults.
        Field::new("survey_spec", "", Kind::Json).internal().default(D::EmptyObject),
        flag("become_enabled", "Become enabled"),
        flag("diff_mode", "Diff mode")
            .help("If enabled, textual changes made to any templated files on the host are shown in the standard output"),
        flag("allow_simultaneous", "Allow simultaneous"),
        Field::new("job_slice_count", "Job slice count", Kind::Int { min: Some(0), max: Some(2147483647) })
            .help("The number of jobs to slice into at runtime. Will cause the Job Template to launch a workflow if value is greater than 1.")
            .default(D::Int(1)),
        Field::new(
            "webhook_service",
            "Webhook service",
            Kind::Choice(&[("", "---------"), ("github", "GitHub"), ("gitlab", "GitLab"), ("bitbucket_dc", "BitBucket DataCenter")]),
        )
        .help("Service that webhook requests will be accepted from")
        .default(D::Str("")),
        fk("webhook_credential", "Webhook credential", "credentials")
            .help("Personal Access Token for posting back the status to the service API")
            .nullable(),
        flag("prevent_instance_group_fallback", "Prevent instance group fallback"),
    ],
    name_field: Some("name"),
    unique: &[&["name", "organization"]],
    scope: Scope::Via(&["organization"]),
    subs: &[
        super::ACTIVITY_SUB,
        Sub {
            name: "notification_templates_started",
            list: SubList::Linked { relation: &super::JT_NT_STARTED, from_left: true },
        },
        Sub {
            name: "notification_templates_success",
            list: SubList::Linked { relation: &super::JT_NT_SUCCESS, from_left: true },
        },
        Sub {
            name: "notification_templates_error",
            list: SubList::Linked { relation: &super::JT_NT_ERROR, from_left: true },
        },
        Sub { name: "credentials", list: SubList::Linked { relation: &JT_CREDENTIALS, from_left: true } },
        Sub { name: "jobs", list: SubList::Children { resource: "jobs", fk: "job_template" } },
        Sub { name: "labels", list: SubList::Linked { relation: &JT_LABELS, from_left: true } },
        Sub {
            name: "instance_groups",
            list: SubList::Linked { relation: &JT_INSTANCE_GROUPS, from_left: true },
        },
        Sub {
            name: "schedules",
            list: SubList::Children { resource: "schedules", fk: "unified_job_template" },
        },
    ],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["organization"],
    read_only_api: false,
};

/// Workflow templates: their nodes (`workflow_nodes/`) and the workflow jobs a launch makes,
/// run by the task role's workflow engine.
pub static WORKFLOW_JOB_TEMPLATES: Resource = Resource {
    key: "workflow_job_templates",
    type_name: "workflow_job_template",
    verbose: "Workflow Job Template",
    fields: &[
        NAME,
        DESCRIPTION,
        Field::new("extra_vars", "Extra vars", Kind::Vars).default(D::Str("")),
        fk("organization", "Organization", "organizations")
            .help("The organization used to determine access to this template.")
            .nullable(),
        flag("survey_enabled", "Survey enabled"),
        Field::new("survey_spec", "", Kind::Json)
            .internal()
            .default(D::EmptyObject),
        flag("allow_simultaneous", "Allow simultaneous"),
        ask("ask_variables_on_launch", "Ask variables on launch"),
        fk("inventory", "Inventory", "inventories")
            .help("Inventory applied as a prompt, assuming job template prompts for inventory")
            .nullable(),
        Field::new("limit", "Limit", Kind::Str { max: 1024 }).nullable(),
        Field::new("scm_branch", "Scm branch", Kind::Str { max: 1024 }).nullable(),
        ask("ask_inventory_on_launch", "Ask inventory on launch"),
        ask("ask_scm_branch_on_launch", "Ask scm branch on launch"),
        ask("ask_limit_on_launch", "Ask limit on launch"),
        ask("ask_labels_on_launch", "Ask labels on launch"),
        ask("ask_tags_on_launch", "Ask tags on launch"),
        ask("ask_skip_tags_on_launch", "Ask skip tags on launch"),
        Field::new("job_tags", "Job tags", Kind::Str { max: 1024 }).nullable(),
        Field::new("skip_tags", "Skip tags", Kind::Str { max: 1024 }).nullable(),
        ro_time("last_job_run", "Last job run"),
        flag("last_job_failed", "Last job failed").read_only(),
        ro_time("next_job_run", "Next job run"),
        Field::new("status", "Status", Kind::Choice(TEMPLATE_STATUS))
            .read_only()
            .default(D::Str("never updated")),
    ],
    name_field: Some("name"),
    unique: &[&["name", "organization"]],
    scope: Scope::Via(&["organization"]),
    subs: &[
        super::ACTIVITY_SUB,
        Sub {
            name: "workflow_nodes",
            list: SubList::Children {
                resource: "workflow_job_template_nodes",
                fk: "workflow_job_template",
            },
        },
        Sub {
            name: "workflow_jobs",
            list: SubList::Children {
                resource: "workflow_jobs",
                fk: "workflow_job_template",
            },
        },
        Sub {
            name: "schedules",
            list: SubList::Children {
                resource: "schedules",
                fk: "unified_job_template",
            },
        },
        Sub {
            name: "labels",
            list: SubList::Linked {
                relation: &super::WFJT_LABELS,
                from_left: true,
            },
        },
        Sub {
            name: "notification_templates_started",
            list: SubList::Linked {
                relation: &super::WFJT_NT_STARTED,
                from_left: true,
            },
        },
        Sub {
            name: "notification_templates_success",
            list: SubList::Linked {
                relation: &super::WFJT_NT_SUCCESS,
                from_left: true,
            },
        },
        Sub {
            name: "notification_templates_error",
            list: SubList::Linked {
                relation: &super::WFJT_NT_ERROR,
                from_left: true,
            },
        },
        Sub {
            name: "notification_templates_approvals",
            list: SubList::Linked {
                relation: &super::WFJT_NT_APPROVALS,
                from_left: true,
            },
        },
    ],
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &["organization"],
    read_only_api: false,
};

/// AWX's `UnifiedJobTemplate`: one row per template of every kind (job templates and workflow
/// templates today; projects and inventory sources when rawx runs them), whose id the kind's
/// row shares, so `/api/v2/unified_job_templates/` lists, filters and orders them in one query.
/// Written by the store with the kind's row, as [`super::UNIFIED_JOBS`] is.
pub static UNIFIED_JOB_TEMPLATES: Resource = Resource {
    key: "unified_job_templates",
    type_name: "unified_job_template",
    verbose: "Unified Job Template",
    fields: &[
        NAME,
        DESCRIPTION,
        Field::new(super::TYPE_COLUMN, "", Kind::Text)
            .internal()
            .default(D::Str("")),
        ro_time("last_job_run", "Last job run"),
        flag("last_job_failed", "Last job failed").read_only(),
        ro_time("next_job_run", "Next job run"),
        Field::new("status", "Status", Kind::Choice(TEMPLATE_STATUS))
            .read_only()
            .default(D::Str("never updated")),
        // Who may see it: the kind's organization (every kind's read rule). Filterable, as
        // AWX's `UnifiedJobTemplate.organization` is: the collection's `schedule` module looks
        // its template up with `?organization=`.
        fk("organization", "", "organizations")
            .internal()
            .filterable()
            .nullable(),
        // The kinds that name one (job templates, inventory sources): an execution
        // environment's `unified_job_templates/`.
        fk("execution_environment", "", "execution_environments")
            .internal()
            .nullable(),
    ],
    name_field: None,
    unique: &[],
    scope: Scope::Via(&["organization"]),
    subs: &[],
    // AWX's `UnifiedJobTemplate.Meta.ordering`.
    order: "name",
    search_fields: &["name", "description"],
    named_url_parents: &[],
    read_only_api: true,
};
