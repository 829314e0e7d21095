//! The role matrix: every role of every kind of object, granted to a fresh user (directly, then
//! through a team), × every action on every object of the organization, through the API as
//! that user, checked against AWX 24.6.1's answers.
//!
//! The expected answers come from tables written from AWX's source, not from rawx's model:
//! `rawx_testkit::awx_roles::AWX_PARENTS` is each role's `ImplicitRoleField(parent_role=…)`
//! (for the objects of `common::world`), and `ACTIONS` what `awx/main/access.py` asks for each
//! action (`filtered_queryset`, `can_change`, `JobTemplateAccess.can_start`, `can_cancel`, …).
//! A grant of role G lets a user do an action when a role the action accepts has G among its
//! ancestors.

mod common;

use axum::http::StatusCode;
use common::{world, Api, AD_HOC_ID, WORKFLOW_ID, WORKFLOW_JOB_ID};
use rawx_testkit::awx_roles::{allows, held_by, AWX_PARENTS};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The object each prefix names, as `(API resource, id)`.
const OBJECTS: &[(&str, &str, i64)] = &[
    ("org", "organizations", 1),
    ("team", "teams", 1),
    ("project", "projects", 1),
    ("inventory", "inventories", 1),
    ("jt", "job_templates", 2),
    ("credential", "credentials", 1),
    ("ig", "instance_groups", 1),
    ("wfjt", "workflow_job_templates", WORKFLOW_ID),
];

#[derive(Clone, Copy, Debug)]
enum Act {
    /// GET the detail: 200, or 403 (AWX answers 403, not 404, for an object that exists).
    Read,
    /// PATCH its description: 200 or 403; and `user_capabilities.edit` when readable.
    Change,
    /// POST `launch/`: 201 or 403; and `user_capabilities.start` when readable.
    Launch,
    /// The object is in its list.
    Listed,
    /// POST `relaunch/` of a job the admin launched: 201 or 403 with AWX's message; and
    /// `user_capabilities.start` of the job when readable.
    Relaunch,
    /// POST `cancel/` of a fresh pending job of this kind the admin launched: 202 or 403.
    Cancel(Fresh),
    /// The user launches (POST the path) and cancels what they launched: AWX lets a launcher
    /// cancel their own job whatever else they hold. Allowed = the launch is; the cancel then
    /// must answer 202.
    LaunchThenCancel,
}

/// The kinds of job a cancel check makes a fresh pending one of.
#[derive(Clone, Copy, Debug)]
enum Fresh {
    Job,
    AdHoc,
    ProjectUpdate,
    InventoryUpdate,
    WorkflowJob,
}

/// AWX's 403 for an action `access.py` refuses without a message of its own.
const NO_PERMISSION: &str = "You do not have permission to perform this action.";

/// `(action, path, roles any of which allows it)`, per `access.py`; `a+b` is a pair of roles
/// that allow it together.
const ACTIONS: &[(Act, &str, &[&str])] = &[
    (Act::Read, "/api/v2/organizations/1/", &["org.read_role"]),
    (Act::Listed, "/api/v2/organizations/", &["org.read_role"]),
    (Act::Change, "/api/v2/organizations/1/", &["org.admin_role"]),
    // `TeamAccess.filtered_queryset`: organization members, or the team's read role.
    (
        Act::Read,
        "/api/v2/teams/1/",
        &["org.member_role", "team.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/teams/",
        &["org.member_role", "team.read_role"],
    ),
    (Act::Change, "/api/v2/teams/1/", &["team.admin_role"]),
    (Act::Read, "/api/v2/projects/1/", &["project.read_role"]),
    (Act::Listed, "/api/v2/projects/", &["project.read_role"]),
    (Act::Change, "/api/v2/projects/1/", &["project.admin_role"]),
    (
        Act::Read,
        "/api/v2/inventories/1/",
        &["inventory.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/inventories/",
        &["inventory.read_role"],
    ),
    (
        Act::Change,
        "/api/v2/inventories/1/",
        &["inventory.admin_role"],
    ),
    // `HostAccess`: the inventory's read and admin roles.
    (Act::Read, "/api/v2/hosts/1/", &["inventory.read_role"]),
    (Act::Listed, "/api/v2/hosts/", &["inventory.read_role"]),
    (Act::Change, "/api/v2/hosts/1/", &["inventory.admin_role"]),
    (Act::Read, "/api/v2/job_templates/2/", &["jt.read_role"]),
    (
        Act::Listed,
        "/api/v2/job_templates/?id=2",
        &["jt.read_role"],
    ),
    (Act::Change, "/api/v2/job_templates/2/", &["jt.admin_role"]),
    // `JobTemplateAccess.can_start`: execute, without any role on the inventory or credential.
    (
        Act::Launch,
        "/api/v2/job_templates/2/launch/",
        &["jt.execute_role"],
    ),
    // `JobAccess.filtered_queryset`: the template's readers, the organization's admins and
    // auditors.
    (
        Act::Read,
        "/api/v2/jobs/1/",
        &["jt.read_role", "org.admin_role", "org.auditor_role"],
    ),
    (
        Act::Read,
        "/api/v2/credentials/1/",
        &["credential.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/credentials/",
        &["credential.read_role"],
    ),
    (
        Act::Change,
        "/api/v2/credentials/1/",
        &["credential.admin_role"],
    ),
    // `ExecutionEnvironmentAccess`: the organization's readers read it, its execution
    // environment admins change it.
    (
        Act::Read,
        "/api/v2/execution_environments/3/",
        &["org.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/execution_environments/?id=3",
        &["org.read_role"],
    ),
    (
        Act::Change,
        "/api/v2/execution_environments/3/",
        &["org.execution_environment_admin_role"],
    ),
    // The unified lists: each kind's own rule (`UnifiedJobTemplateAccess`,
    // `UnifiedJobAccess.filtered_queryset`).
    (
        Act::Listed,
        "/api/v2/unified_job_templates/?id=2",
        &["jt.read_role"],
    ),
    (
        Act::Listed,
        "/api/v2/unified_jobs/?id=1",
        &["jt.read_role", "org.admin_role", "org.auditor_role"],
    ),
    // `JobAccess.can_start` (relaunch): the template's execute role, for a job someone else
    // launched with no prompts; nothing on its inventory or credentials.
    (
        Act::Relaunch,
        "/api/v2/jobs/1/relaunch/",
        &["jt.execute_role"],
    ),
    // `AdHocCommandAccess.can_start` = `can_add` of the same command: the inventory's ad hoc
    // role and the credential's use role.
    (
        Act::Relaunch,
        "/api/v2/ad_hoc_commands/2/relaunch/",
        &["inventory.adhoc_role+credential.use_role"],
    ),
    // `WorkflowJobAccess.filtered_queryset`: the readers of its template.
    (Act::Read, "/api/v2/workflow_jobs/5/", &["wfjt.read_role"]),
    (
        Act::Listed,
        "/api/v2/workflow_jobs/?id=5",
        &["wfjt.read_role"],
    ),
    // `WorkflowJobAccess.can_start`: the workflow's execute role.
    (
        Act::Relaunch,
        "/api/v2/workflow_jobs/5/relaunch/",
        &["wfjt.execute_role"],
    ),
    // `JobAccess.can_cancel`: its launcher, the template's admins.
    (Act::Cancel(Fresh::Job), "/api/v2/jobs/", &["jt.admin_role"]),
    // `AdHocCommandAccess.can_cancel`: its launcher, the inventory's admins.
    (
        Act::Cancel(Fresh::AdHoc),
        "/api/v2/ad_hoc_commands/",
        &["inventory.admin_role"],
    ),
    // `ProjectUpdateAccess.can_cancel`: its launcher, the project's admins (not its
    // updaters).
    (
        Act::Cancel(Fresh::ProjectUpdate),
        "/api/v2/project_updates/",
        &["project.admin_role"],
    ),
    // `InventoryUpdateAccess.can_cancel`: its launcher, the inventory's admins.
    (
        Act::Cancel(Fresh::InventoryUpdate),
        "/api/v2/inventory_updates/",
        &["inventory.admin_role"],
    ),
    // `WorkflowJobAccess.can_cancel`: its launcher, `can_delete` (the organization's workflow
    // admins), the workflow's admins.
    (
        Act::Cancel(Fresh::WorkflowJob),
        "/api/v2/workflow_jobs/",
        &["wfjt.admin_role"],
    ),
    // A launcher cancels their own: an executor who is no admin of the template.
    (
        Act::LaunchThenCancel,
        "/api/v2/job_templates/2/launch/",
        &["jt.execute_role"],
    ),
    (
        Act::LaunchThenCancel,
        "/api/v2/workflow_job_templates/3/launch/",
        &["wfjt.execute_role"],
    ),
    (Act::Read, "/api/v2/instance_groups/1/", &["ig.read_role"]),
    (
        Act::Change,
        "/api/v2/instance_groups/1/",
        &["ig.admin_role"],
    ),
];

/// The role definition AWX 24.6.1 lists for an old role (DAB RBAC): its managed twin
/// (`setup_managed_role_definitions` in awx/main/migrations/_dab_rbac.py) or the "… Compat"
/// definition `get_role_definition` makes (awx/main/models/rbac.py), which
/// `get_role_from_object_role` maps back to the old role by its name.
fn dab_name(role: &str) -> String {
    let (prefix, field) = role.split_once('.').unwrap();
    let class = match prefix {
        "org" => "Organization",
        "team" => "Team",
        "project" => "Project",
        "inventory" => "Inventory",
        "jt" => "JobTemplate",
        "credential" => "Credential",
        "wfjt" => "WorkflowJobTemplate",
        _ => "InstanceGroup",
    };
    let children = [
        ("project_admin_role", "Project"),
        ("inventory_admin_role", "Inventory"),
        ("credential_admin_role", "Credential"),
        ("workflow_admin_role", "WorkflowJobTemplate"),
        ("notification_admin_role", "NotificationTemplate"),
        ("job_template_admin_role", "JobTemplate"),
        ("execution_environment_admin_role", "ExecutionEnvironment"),
    ];
    if let Some((_, c)) = children.iter().find(|(f, _)| *f == field) {
        return format!("Organization {c} Admin");
    }
    match (prefix, field) {
        ("org", "auditor_role") => "Organization Audit".into(),
        ("org", "execute_role") => "Organization Execute Compat".into(),
        ("org", "approval_role") => "Organization Approval Compat".into(),
        (_, "approval_role") => format!("{class} Approve"),
        (_, "read_role") => format!("{class} Read Compat"),
        (_, "admin_role") => format!("{class} Admin"),
        (_, "member_role") => format!("{class} Member"),
        (_, "execute_role") => format!("{class} Execute"),
        (_, "use_role") => format!("{class} Use"),
        (_, "update_role") => format!("{class} Update"),
        (_, "adhoc_role") => format!("{class} Adhoc"),
        _ => panic!("no definition for {role}"),
    }
}

/// The id of the role definition named `name`.
async fn definition_id(api: &Api, name: &str) -> i64 {
    let r = api
        .admin(
            "GET",
            &format!(
                "/api/v2/role_definitions/?name={}",
                name.replace(' ', "%20")
            ),
            None,
        )
        .await;
    r.body["results"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no role definition {name}: {}", r.text))
}

/// The role id of `role` ("jt.execute_role") from the object's `summary_fields.object_roles`.
async fn role_id(api: &Api, role: &str) -> i64 {
    let (prefix, field) = role.split_once('.').unwrap();
    let (_, key, id) = OBJECTS.iter().find(|(p, _, _)| *p == prefix).unwrap();
    let r = api
        .admin("GET", &format!("/api/v2/{key}/{id}/"), None)
        .await;
    r.body["summary_fields"]["object_roles"][field]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} {id} has no {field}: {}", r.text))
}

/// Runs every action as `user` and returns the mismatches with what AWX answers.
async fn check_all(api: &Api, user: &str, grant: &str, how: &str) -> (usize, Vec<String>) {
    let auth = Some((user, "pw"));
    let mut wrong = Vec::new();
    let mut n = 0;
    for (act, path, any_of) in ACTIONS {
        n += 1;
        let allowed = allows(grant, any_of);
        let (status, extra) = match act {
            Act::Read => {
                let r = api.call("GET", path, auth, None).await;
                let want = if allowed { 200 } else { 403 };
                (r.status.as_u16() == want, format!("GET -> {}", r.status))
            }
            Act::Listed => {
                // The world's object is 1 unless the path names it (`?id=`).
                let url = if path.contains('?') {
                    path.to_string()
                } else {
                    format!("{path}?id=1")
                };
                let r = api.call("GET", &url, auth, None).await;
                let listed = r.body["count"] == json!(1);
                (listed == allowed, format!("listed {listed}"))
            }
            Act::Change => {
                let r = api
                    .call("PATCH", path, auth, Some(json!({"description": "d"})))
                    .await;
                let want = if allowed { 200 } else { 403 };
                let caps = api.call("GET", path, auth, None).await;
                let cap = &caps.body["summary_fields"]["user_capabilities"];
                let cap_ok = caps.status != StatusCode::OK
                    || (cap["edit"] == json!(allowed) && cap["delete"] == json!(allowed));
                (
                    r.status.as_u16() == want && cap_ok,
                    format!("PATCH -> {} {}; caps {cap}", r.status, r.text),
                )
            }
            Act::Launch => {
                let r = api.call("POST", path, auth, Some(json!({}))).await;
                let want = if allowed { 201 } else { 403 };
                let jt = api
                    .call("GET", "/api/v2/job_templates/2/", auth, None)
                    .await;
                let cap = &jt.body["summary_fields"]["user_capabilities"]["start"];
                let cap_ok = jt.status != StatusCode::OK || cap == &json!(allowed);
                (
                    r.status.as_u16() == want && cap_ok,
                    format!("launch -> {} {}; start {cap}", r.status, r.text),
                )
            }
            Act::Relaunch => {
                let r = api.call("POST", path, auth, Some(json!({}))).await;
                let ok = if allowed {
                    r.status == StatusCode::CREATED
                } else {
                    r.status == StatusCode::FORBIDDEN && r.body["detail"] == NO_PERMISSION
                };
                let job = path.trim_end_matches("relaunch/");
                let seen = api.call("GET", job, auth, None).await;
                let cap = &seen.body["summary_fields"]["user_capabilities"]["start"];
                let cap_ok = seen.status != StatusCode::OK || cap == &json!(allowed);
                (
                    ok && cap_ok,
                    format!("relaunch -> {} {}; start {cap}", r.status, r.text),
                )
            }
            Act::Cancel(kind) => {
                let id = fresh(api, *kind).await;
                let r = api
                    .call("POST", &format!("{path}{id}/cancel/"), auth, None)
                    .await;
                let ok = if allowed {
                    r.status == StatusCode::ACCEPTED
                } else {
                    r.status == StatusCode::FORBIDDEN && r.body["detail"] == NO_PERMISSION
                };
                (ok, format!("cancel {path}{id} -> {} {}", r.status, r.text))
            }
            Act::LaunchThenCancel => {
                let r = api.call("POST", path, auth, Some(json!({}))).await;
                if !allowed {
                    (
                        r.status == StatusCode::FORBIDDEN,
                        format!("launch -> {} {}", r.status, r.text),
                    )
                } else if r.status != StatusCode::CREATED {
                    (false, format!("launch -> {} {}", r.status, r.text))
                } else {
                    let id = r.body["id"].as_i64().unwrap_or_default();
                    let jobs = if path.contains("workflow") {
                        "workflow_jobs"
                    } else {
                        "jobs"
                    };
                    let c = api
                        .call("POST", &format!("/api/v2/{jobs}/{id}/cancel/"), auth, None)
                        .await;
                    (
                        c.status == StatusCode::ACCEPTED,
                        format!("own {jobs} {id} cancel -> {} {}", c.status, c.text),
                    )
                }
            }
        };
        if !status {
            wrong.push(format!(
                "{grant} ({how}): {act:?} {path}: AWX {}, rawx {extra}",
                if allowed { "allows" } else { "refuses" }
            ));
        }
    }
    (n, wrong)
}

/// A fresh pending job of `kind`, made by the admin (no task role runs here, so it stays
/// cancelable); project and inventory updates are stored as the task role would make them
/// (the world's project is manual, its source's update still pending).
async fn fresh(api: &Api, kind: Fresh) -> i64 {
    let made = |path: &'static str, body: Value| async move {
        let r = api.admin("POST", path, Some(body)).await;
        assert!(r.status.is_success(), "{path}: {}", r.text);
        r.body["id"].as_i64().unwrap()
    };
    let admin = api.admin("GET", "/api/v2/me/", None).await.body["results"][0]["id"].clone();
    let stored = |res: &'static rawx_model::Resource, fields: Value| {
        let admin = admin.clone();
        async move {
            let mut row = rawx_model::Row::new();
            for (k, v) in fields.as_object().unwrap() {
                row.insert(k.clone(), v.clone());
            }
            row.insert("status".into(), json!("pending"));
            row.insert("launch_type".into(), json!("manual"));
            row.insert("launched_by_user".into(), admin);
            api.store.insert(res, &row).await.unwrap()
        }
    };
    match kind {
        Fresh::Job => made("/api/v2/job_templates/2/launch/", json!({})).await,
        Fresh::AdHoc => {
            made(
                "/api/v2/ad_hoc_commands/",
                json!({"inventory": 1, "credential": 1, "module_name": "ping"}),
            )
            .await
        }
        Fresh::WorkflowJob => made("/api/v2/workflow_job_templates/3/launch/", json!({})).await,
        Fresh::ProjectUpdate => {
            stored(
                &rawx_model::resources::PROJECT_UPDATES,
                json!({"name": "demo", "project": 1, "unified_job_template": 1,
                    "organization": 1, "job_type": "check"}),
            )
            .await
        }
        Fresh::InventoryUpdate => {
            stored(
                &rawx_model::resources::INVENTORY_UPDATES,
                json!({"name": "Lab - cloud", "inventory_source": common::SOURCE_ID,
                    "unified_job_template": common::SOURCE_ID, "inventory": 1,
                    "organization": 1, "source": "ec2"}),
            )
            .await
        }
    }
}

#[tokio::test]
async fn every_role_allows_what_awx_allows_and_nothing_more() {
    let api = Api::new().await;
    world(&api).await;
    let jt = api.admin("GET", "/api/v2/job_templates/2/", None).await;
    assert_eq!(
        jt.body["organization"], 1,
        "the template is the organization's"
    );
    // The table's paths name the world's ad hoc command and workflow job.
    assert_eq!((AD_HOC_ID, WORKFLOW_JOB_ID), (2, 5));

    let mut checks = 0;
    let mut wrong = Vec::new();
    let grants: Vec<&str> = AWX_PARENTS.iter().map(|(r, _)| *r).collect();
    for (i, grant) in grants.iter().enumerate() {
        // Directly to a user.
        let name = format!("u{i}");
        let uid = api.user(&name, "pw").await;
        let rid = role_id(&api, grant).await;
        let r = api
            .admin(
                "POST",
                &format!("/api/v2/users/{uid}/roles/"),
                Some(json!({"id": rid})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::NO_CONTENT,
            "grant {grant}: {}",
            r.text
        );
        let (n, w) = check_all(&api, &name, grant, "user").await;
        checks += n;
        wrong.extend(w);

        // The same role through AWX 24's role definitions: an assignment of the old role's
        // definition on the object.
        let dname = format!("d{i}");
        let duid = api.user(&dname, "pw").await;
        let def = definition_id(&api, &dab_name(grant)).await;
        let (prefix, _) = grant.split_once('.').unwrap();
        let (_, _, oid) = OBJECTS.iter().find(|(p, _, _)| *p == prefix).unwrap();
        let r = api
            .admin(
                "POST",
                "/api/v2/role_user_assignments/",
                Some(json!({"role_definition": def, "user": duid, "object_id": oid})),
            )
            .await;
        // AWX's `Credential.validate_role_assignment`: through a definition, a credential's
        // roles go only to its organization's admins.
        if prefix == "credential" {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
            assert_eq!(
                r.body["detail"],
                "You cannot grant credential access to a User not in the credentials' organization"
            );
        } else {
            assert_eq!(
                r.status,
                StatusCode::CREATED,
                "assign {}: {}",
                dab_name(grant),
                r.text
            );
            let (n, w) = check_all(&api, &dname, grant, "role definition").await;
            checks += n;
            wrong.extend(w);
        }

        // Through a team of their own (AWX refuses organization membership roles and the
        // team's own roles to a team).
        if matches!(*grant, "org.member_role" | "org.admin_role") || grant.starts_with("team.") {
            continue;
        }
        let tname = format!("t{i}");
        let team = api
            .make("/api/v2/teams/", json!({"name": tname, "organization": 1}))
            .await;
        let mname = format!("m{i}");
        let member = api.user(&mname, "pw").await;
        let r = api
            .admin(
                "POST",
                &format!("/api/v2/teams/{team}/users/"),
                Some(json!({"id": member})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = api
            .admin(
                "POST",
                &format!("/api/v2/teams/{team}/roles/"),
                Some(json!({"id": rid})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::NO_CONTENT,
            "team grant {grant}: {}",
            r.text
        );
        let (n, w) = check_all(&api, &mname, grant, "team").await;
        checks += n;
        wrong.extend(w);
    }
    eprintln!(
        "role matrix: {} grants × {} actions, {checks} checks",
        grants.len(),
        ACTIONS.len()
    );
    assert!(checks > 1000, "the matrix looks truncated: {checks}");
    assert!(
        wrong.is_empty(),
        "{} of {checks} answers differ from AWX's:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Revoking takes the rights away again, for a user and for a team's members.
#[tokio::test]
async fn a_revoke_takes_the_rights_away() {
    let api = Api::new().await;
    world(&api).await;
    let op = api.user("op", "pw").await;
    let exec = role_id(&api, "jt.execute_role").await;
    let grant = |on: bool| json!({"id": exec, "disassociate": !on});
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/roles/{exec}/users/"),
            Some(json!({"id": op})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let users = api
        .admin("GET", &format!("/api/v2/roles/{exec}/users/"), None)
        .await;
    assert_eq!(users.body["count"], 1, "{}", users.text);
    let mine = api
        .call("GET", "/api/v2/job_templates/", Some(("op", "pw")), None)
        .await;
    assert_eq!(mine.body["count"], 1);
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(grant(false)),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let mine = api
        .call("GET", "/api/v2/job_templates/", Some(("op", "pw")), None)
        .await;
    assert_eq!(mine.body["count"], 0, "{}", mine.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(("op", "pw")),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Through team 1: granted, the member launches; revoked, they do not.
    let r = api
        .admin("POST", "/api/v2/teams/1/users/", Some(json!({"id": op})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/roles/{exec}/teams/"),
            Some(json!({"id": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let teams = api
        .admin("GET", &format!("/api/v2/roles/{exec}/teams/"), None)
        .await;
    assert_eq!(teams.body["count"], 1, "{}", teams.text);
    let granted = api.admin("GET", "/api/v2/teams/1/roles/", None).await;
    assert_eq!(granted.body["results"][0]["id"], exec, "{}", granted.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(("op", "pw")),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let access = api
        .admin("GET", "/api/v2/job_templates/2/access_list/", None)
        .await;
    let names: Vec<&str> = access.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert!(
        names.contains(&"op") && names.contains(&"admin"),
        "{names:?}"
    );
    let r = api
        .admin("POST", "/api/v2/teams/1/roles/", Some(grant(false)))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            Some(("op", "pw")),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// What may not be granted, with AWX's answers: a non-admin may not grant; a team may not
/// hold organization membership nor system roles.
#[tokio::test]
async fn grants_are_refused_as_awx_refuses_them() {
    let api = Api::new().await;
    world(&api).await;
    let op = api.user("op", "pw").await;
    let other = api.user("other", "pw").await;
    let read = role_id(&api, "jt.read_role").await;
    let admin = role_id(&api, "jt.admin_role").await;
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(json!({"id": read})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // A reader may not grant.
    let r = api
        .call(
            "POST",
            &format!("/api/v2/users/{other}/roles/"),
            Some(("op", "pw")),
            Some(json!({"id": read})),
        )
        .await;
    assert!(
        matches!(r.status.as_u16(), 400 | 403),
        "{}: {}",
        r.status,
        r.text
    );
    // The template's admin may, to a user they can see (`RoleAccess.can_attach` reads the
    // user first): both are members of the organization.
    for u in [op, other] {
        let r = api
            .admin(
                "POST",
                "/api/v2/organizations/1/users/",
                Some(json!({"id": u})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(json!({"id": admin})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .call(
            "POST",
            &format!("/api/v2/roles/{read}/users/"),
            Some(("op", "pw")),
            Some(json!({"id": other})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let member = role_id(&api, "org.member_role").await;
    let r = api
        .admin(
            "POST",
            "/api/v2/teams/1/roles/",
            Some(json!({"id": member})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["msg"],
        "You cannot assign an Organization participation role as a child role for a Team."
    );
    let roles = api.admin("GET", "/api/v2/roles/?page_size=200", None).await;
    let sysadmin = roles.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "System Administrator")
        .expect("the system administrator role is listed")["id"]
        .clone();
    let r = api
        .admin(
            "POST",
            "/api/v2/teams/1/roles/",
            Some(json!({"id": sysadmin})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["msg"],
        "You cannot grant system-level permissions to a team."
    );
}

/// An executor without rights on the inventory launches; prompting for another inventory
/// needs its use role (`JobLaunchConfigAccess.can_add`), else 403.
#[tokio::test]
async fn prompts_need_use_of_what_is_prompted() {
    let api = Api::new().await;
    world(&api).await;
    let r = api
        .admin(
            "PATCH",
            "/api/v2/job_templates/2/",
            Some(json!({"ask_inventory_on_launch": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let inv2 = api
        .make(
            "/api/v2/inventories/",
            json!({"name": "Other", "organization": 1}),
        )
        .await;
    let op = api.user("op", "pw").await;
    let exec = role_id(&api, "jt.execute_role").await;
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(json!({"id": exec})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let me = Some(("op", "pw"));
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            me,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            me,
            Some(json!({"inventory": inv2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let inv2_use = api
        .admin("GET", &format!("/api/v2/inventories/{inv2}/"), None)
        .await
        .body["summary_fields"]["object_roles"]["use_role"]["id"]
        .clone();
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{op}/roles/"),
            Some(json!({"id": inv2_use})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = api
        .call(
            "POST",
            "/api/v2/job_templates/2/launch/",
            me,
            Some(json!({"inventory": inv2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["inventory"], inv2);
}

/// Organization membership through the old sub-lists is a member role grant, seen both ways.
#[tokio::test]
async fn organization_users_are_member_role_grants() {
    let api = Api::new().await;
    world(&api).await;
    let bob = api.user("bob", "pw").await;
    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/users/",
            Some(json!({"id": bob})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let member = role_id(&api, "org.member_role").await;
    let holders = api
        .admin("GET", &format!("/api/v2/roles/{member}/users/"), None)
        .await;
    assert_eq!(
        holders.body["results"][0]["username"], "bob",
        "{}",
        holders.text
    );
    let roles = api
        .admin("GET", &format!("/api/v2/users/{bob}/roles/"), None)
        .await;
    assert_eq!(roles.body["results"][0]["id"], member, "{}", roles.text);
    assert_eq!(roles.body["results"][0]["name"], "Member");
    assert_eq!(
        roles.body["results"][0]["summary_fields"]["resource_name"],
        "Ops"
    );
    let orgs = api
        .admin("GET", &format!("/api/v2/users/{bob}/organizations/"), None)
        .await;
    assert_eq!(orgs.body["count"], 1);
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/roles/{member}/users/"),
            Some(json!({"id": bob, "disassociate": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let users = api
        .admin("GET", "/api/v2/organizations/1/users/", None)
        .await;
    assert_eq!(users.body["count"], 0, "{}", users.text);
}

#[test]
fn the_table_of_awx_answers_is_what_awx_declares() {
    // Spot checks of the hand-copied table against AWX's comments in access.py.
    assert!(held_by("org.admin_role").contains("jt.execute_role"));
    assert!(held_by("org.execute_role").contains("jt.execute_role"));
    assert!(!held_by("org.member_role").contains("jt.read_role"));
    assert!(held_by("org.auditor_role").contains("inventory.read_role"));
    assert!(!held_by("org.auditor_role").contains("inventory.admin_role"));
    assert!(!held_by("jt.execute_role").contains("inventory.use_role"));
    let _ = Value::Null;
}

/// `/job_templates/N/access_list/` and `/organizations/N/access_list/` entries as AWX 24.6.1's
/// `ResourceAccessListElementSerializer` makes them (DAB RBAC on), worked by hand from its
/// source: a direct grant is `direct_access` with the roles its permissions name on the
/// object; a team's grant is `direct_access` with the team; an organization admin's role is
/// `indirect_access` on the template (its permissions ending in `jobtemplate` — also the
/// workflow's, approve among them) and `direct_access` on the organization (its `add_`
/// permissions naming the child admin roles, not execute); a superuser is AWX's "System
/// Administrator" entry with every role of the template. AWX builds `descendant_roles` from a
/// set: compared as sets.
#[tokio::test]
async fn access_list_entries_say_how_as_awx_does() {
    let api = Api::new().await;
    world(&api).await;
    let exec = role_id(&api, "jt.execute_role").await;
    let d = api.user("direct", "pw").await;
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/users/{d}/roles/"),
            Some(json!({"id": exec})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let m = api.user("member", "pw").await;
    let r = api
        .admin("POST", "/api/v2/teams/1/users/", Some(json!({"id": m})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .admin("POST", "/api/v2/teams/1/roles/", Some(json!({"id": exec})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let oa = api.user("orgadmin", "pw").await;
    let r = api
        .admin(
            "POST",
            "/api/v2/organizations/1/admins/",
            Some(json!({"id": oa})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let org_admin = role_id(&api, "org.admin_role").await;

    let set = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not a list: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let names = |xs: &[&str]| -> BTreeSet<String> { xs.iter().map(|s| s.to_string()).collect() };
    let entries = |path: &'static str| {
        let api = &api;
        async move {
            let r = api.admin("GET", path, None).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let by_user: BTreeMap<String, Value> = r.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| {
                    (
                        u["username"].as_str().unwrap().to_string(),
                        u["summary_fields"].clone(),
                    )
                })
                .collect();
            by_user
        }
    };

    let jt = entries("/api/v2/job_templates/2/access_list/").await;
    // A direct grant.
    let s = &jt["direct"];
    assert_eq!(s["indirect_access"], json!([]), "{s}");
    let e = &s["direct_access"][0];
    assert_eq!(s["direct_access"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(e["role"]["id"], exec);
    assert_eq!(e["role"]["name"], "Execute");
    assert_eq!(e["role"]["resource_name"], "hello");
    assert_eq!(e["role"]["resource_type"], "job_template");
    assert_eq!(
        e["role"]["related"],
        json!({"job_template": "/api/v2/job_templates/2/"})
    );
    assert_eq!(
        set(&e["descendant_roles"]),
        names(&["execute_role", "read_role"])
    );
    // Through a team: direct, with the team.
    let s = &jt["member"];
    assert_eq!(s["indirect_access"], json!([]), "{s}");
    assert_eq!(s["direct_access"].as_array().unwrap().len(), 1, "{s}");
    let e = &s["direct_access"][0];
    assert_eq!(e["role"]["id"], exec, "{e}");
    assert_eq!(e["role"]["team_id"], 1);
    assert_eq!(e["role"]["team_name"], "ops");
    assert_eq!(e["role"]["team_organization_name"], "Ops");
    assert_eq!(e["role"]["resource_name"], "hello");
    assert_eq!(
        set(&e["descendant_roles"]),
        names(&["execute_role", "read_role"])
    );
    // The organization's admin: indirect on the template.
    let s = &jt["orgadmin"];
    assert_eq!(s["direct_access"], json!([]), "{s}");
    assert_eq!(s["indirect_access"].as_array().unwrap().len(), 1, "{s}");
    let e = &s["indirect_access"][0];
    assert_eq!(e["role"]["id"], org_admin);
    assert_eq!(e["role"]["name"], "Admin");
    assert_eq!(e["role"]["resource_type"], "organization");
    assert_eq!(e["role"]["resource_name"], "Ops");
    assert_eq!(
        set(&e["descendant_roles"]),
        names(&["admin_role", "approval_role", "execute_role", "read_role"])
    );
    // The superuser.
    let s = &jt["admin"];
    let sys = s["indirect_access"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["role"]["name"] == "System Administrator");
    assert_eq!(
        sys,
        Some(&json!({"role": {"id": null, "name": "System Administrator",
            "description": "Can manage all aspects of the system",
            "user_capabilities": {"unattach": false}},
            "descendant_roles": ["admin_role", "execute_role", "read_role"]})),
        "{s}"
    );

    // The organization admin on the organization's own list: direct.
    let org = entries("/api/v2/organizations/1/access_list/").await;
    let s = &org["orgadmin"];
    assert_eq!(s["indirect_access"], json!([]), "{s}");
    let e = &s["direct_access"][0];
    assert_eq!(e["role"]["id"], org_admin, "{s}");
    assert_eq!(
        set(&e["descendant_roles"]),
        names(&[
            "admin_role",
            "auditor_role",
            "credential_admin_role",
            "execution_environment_admin_role",
            "inventory_admin_role",
            "member_role",
            "notification_admin_role",
            "project_admin_role",
            "read_role",
            "workflow_admin_role",
        ])
    );
    // The team member holds nothing on the organization but through the team's member role:
    // not listed.
    assert!(!org.contains_key("direct"), "{:?}", org.keys());
}
