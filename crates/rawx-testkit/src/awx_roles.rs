//! AWX 24.6.1's role graph for one organization and one object of each kind in it, written
//! from AWX's source, not from rawx's model: each role's `ImplicitRoleField(parent_role=…)`
//! (awx/main/models/{organization,projects,inventory,jobs,credential,ha,workflow}.py). The
//! suites that check who may do what (the API's role matrix, the websocket's groups) take
//! their expected answers from it: a grant of role G lets a user do what a role with G among
//! its ancestors allows.

use std::collections::{BTreeMap, BTreeSet};

/// `(role, its implicit parents)` of one organization (`org`) and one object of each kind in it
/// (`team`, `project`, `inventory`, `credential`, `jt`, `wfjt`) and an instance group (`ig`).
pub const AWX_PARENTS: &[(&str, &[&str])] = &[
    ("org.admin_role", &[]),
    ("org.execute_role", &["org.admin_role"]),
    ("org.project_admin_role", &["org.admin_role"]),
    ("org.inventory_admin_role", &["org.admin_role"]),
    ("org.credential_admin_role", &["org.admin_role"]),
    ("org.workflow_admin_role", &["org.admin_role"]),
    ("org.notification_admin_role", &["org.admin_role"]),
    ("org.job_template_admin_role", &["org.admin_role"]),
    ("org.execution_environment_admin_role", &["org.admin_role"]),
    ("org.auditor_role", &[]),
    ("org.member_role", &["org.admin_role"]),
    (
        "org.read_role",
        &[
            "org.member_role",
            "org.auditor_role",
            "org.execute_role",
            "org.project_admin_role",
            "org.inventory_admin_role",
            "org.workflow_admin_role",
            "org.notification_admin_role",
            "org.credential_admin_role",
            "org.job_template_admin_role",
            "org.approval_role",
            "org.execution_environment_admin_role",
        ],
    ),
    ("org.approval_role", &["org.admin_role"]),
    ("team.admin_role", &["org.admin_role"]),
    ("team.member_role", &["team.admin_role"]),
    ("team.read_role", &["org.auditor_role", "team.member_role"]),
    ("project.admin_role", &["org.project_admin_role"]),
    ("project.use_role", &["project.admin_role"]),
    ("project.update_role", &["project.admin_role"]),
    (
        "project.read_role",
        &[
            "org.auditor_role",
            "project.use_role",
            "project.update_role",
        ],
    ),
    ("inventory.admin_role", &["org.inventory_admin_role"]),
    ("inventory.update_role", &["inventory.admin_role"]),
    ("inventory.adhoc_role", &["inventory.admin_role"]),
    ("inventory.use_role", &["inventory.adhoc_role"]),
    (
        "inventory.read_role",
        &[
            "org.auditor_role",
            "inventory.update_role",
            "inventory.use_role",
            "inventory.admin_role",
        ],
    ),
    ("jt.admin_role", &["org.job_template_admin_role"]),
    ("jt.execute_role", &["jt.admin_role", "org.execute_role"]),
    (
        "jt.read_role",
        &["org.auditor_role", "jt.execute_role", "jt.admin_role"],
    ),
    ("credential.admin_role", &["org.credential_admin_role"]),
    ("credential.use_role", &["credential.admin_role"]),
    (
        "credential.read_role",
        &[
            "org.auditor_role",
            "credential.use_role",
            "credential.admin_role",
        ],
    ),
    // awx/main/models/workflow.py.
    ("wfjt.admin_role", &["org.workflow_admin_role"]),
    (
        "wfjt.execute_role",
        &["wfjt.admin_role", "org.execute_role"],
    ),
    (
        "wfjt.read_role",
        &[
            "org.auditor_role",
            "wfjt.execute_role",
            "wfjt.admin_role",
            "wfjt.approval_role",
        ],
    ),
    (
        "wfjt.approval_role",
        &["org.approval_role", "wfjt.admin_role"],
    ),
    ("ig.admin_role", &[]),
    ("ig.use_role", &["ig.admin_role"]),
    ("ig.read_role", &["ig.use_role", "ig.admin_role"]),
];

/// Every role held by whoever holds `grant`: the roles with `grant` among their ancestors.
pub fn held_by(grant: &str) -> BTreeSet<String> {
    let parents: BTreeMap<&str, &[&str]> = AWX_PARENTS.iter().copied().collect();
    fn reaches(r: &str, grant: &str, parents: &BTreeMap<&str, &[&str]>) -> bool {
        r == grant
            || parents
                .get(r)
                .is_some_and(|ps| ps.iter().any(|p| reaches(p, grant, parents)))
    }
    parents
        .keys()
        .filter(|r| reaches(r, grant, &parents))
        .map(|r| r.to_string())
        .collect()
}

/// Whether a holder of `grant` may do what any of `any_of` allows (`a+b`: both together).
pub fn allows(grant: &str, any_of: &[&str]) -> bool {
    let held = held_by(grant);
    any_of
        .iter()
        .any(|r| r.split('+').all(|r| held.contains(r)))
}
