//! What the API's suites share beyond the kit's in-process API (`rawx_testkit::api`): the
//! `world` they all start from.

#![allow(dead_code)]

use axum::http::StatusCode;
pub use rawx_testkit::api::Api;
use serde_json::json;

/// The world's ad hoc command: after its job (one id space for every kind of job).
pub const AD_HOC_ID: i64 = 2;
/// The world's job template: after its project (projects, templates and inventory sources
/// share one id space, AWX's unified job templates).
pub const JT_ID: i64 = 2;
/// The world's workflow template: after its job template.
pub const WORKFLOW_ID: i64 = 3;

/// The world's inventory source: after the project and the job and workflow templates; its
/// update after the job and the ad hoc command.
pub const SOURCE_ID: i64 = 4;
pub const UPDATE_ID: i64 = 3;
/// The world's project update: after the inventory update (one id space for every kind).
pub const PROJECT_UPDATE_ID: i64 = 4;
/// The world's workflow job: after the project update (one id space for every kind).
pub const WORKFLOW_JOB_ID: i64 = 5;

/// The world's execution environment of organization 1.
pub const ORG_EE_ID: i64 = 3;
/// The world's approval template (after the inventory source) and its approval (after the
/// workflow job).
pub const APPROVAL_TEMPLATE_ID: i64 = 5;
pub const APPROVAL_ID: i64 = 6;

/// `path` of `rawx_api::routes()` (which puts `1` for every id) aimed at the world's object:
/// its ad hoc command and workflow template are not 1.
#[allow(dead_code)]
pub fn in_world(path: String) -> String {
    path.replace(
        "/api/v2/job_templates/1/",
        &format!("/api/v2/job_templates/{JT_ID}/"),
    )
    .replace(
        "/api/v2/ad_hoc_commands/1/",
        &format!("/api/v2/ad_hoc_commands/{AD_HOC_ID}/"),
    )
    .replace(
        "/api/v2/workflow_job_templates/1/",
        &format!("/api/v2/workflow_job_templates/{WORKFLOW_ID}/"),
    )
    .replace(
        "/api/v2/inventory_sources/1/",
        &format!("/api/v2/inventory_sources/{SOURCE_ID}/"),
    )
    .replace(
        "/api/v2/inventory_updates/1/",
        &format!("/api/v2/inventory_updates/{UPDATE_ID}/"),
    )
    .replace(
        "/api/v2/project_updates/1/",
        &format!("/api/v2/project_updates/{PROJECT_UPDATE_ID}/"),
    )
    .replace(
        "/api/v2/workflow_jobs/1/",
        &format!("/api/v2/workflow_jobs/{WORKFLOW_JOB_ID}/"),
    )
    .replace(
        "/api/v2/workflow_approval_templates/1/",
        &format!("/api/v2/workflow_approval_templates/{APPROVAL_TEMPLATE_ID}/"),
    )
    .replace(
        "/api/v2/workflow_approvals/1/",
        &format!("/api/v2/workflow_approvals/{APPROVAL_ID}/"),
    )
}

/// Org "Ops" (id 1) with one of everything, all with id 1 but the templates, the source and
/// the ad hoc command ([`AD_HOC_ID`], [`WORKFLOW_ID`]); returns nothing, ids are known.
pub async fn world(api: &Api) {
    assert_eq!(
        api.make("/api/v2/organizations/", json!({"name": "Ops"}))
            .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/inventories/",
            json!({"name": "Lab", "organization": 1})
        )
        .await,
        1
    );
    assert_eq!(
        api.make("/api/v2/hosts/", json!({"name": "web1", "inventory": 1}))
            .await,
        1
    );
    assert_eq!(
        api.make("/api/v2/groups/", json!({"name": "web", "inventory": 1}))
            .await,
        1
    );
    let r = api
        .admin("POST", "/api/v2/groups/1/hosts/", Some(json!({"id": 1})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        api.make(
            "/api/v2/credentials/",
            json!({"name": "key", "organization": 1, "credential_type": 1, "inputs": {"username": "u", "password": "s3cret"}})
        )
        .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/projects/",
            json!({"name": "demo", "organization": 1, "local_path": "demo"})
        )
        .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/labels/",
            json!({"name": "prod", "organization": 1})
        )
        .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/notification_templates/",
            json!({"name": "hook", "organization": 1, "notification_type": "webhook",
                   "notification_configuration": {"url": "http://127.0.0.1:9/", "headers": {}}})
        )
        .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/job_templates/",
            json!({"name": "hello", "project": 1, "inventory": 1, "playbook": "hello.yml"})
        )
        .await,
        JT_ID
    );
    let r = api
        .admin(
            "POST",
            "/api/v2/job_templates/2/credentials/",
            Some(json!({"id": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        api.make("/api/v2/teams/", json!({"name": "ops", "organization": 1}))
            .await,
        1
    );
    assert_eq!(
        api.make("/api/v2/tokens/", json!({"description": "admin's"}))
            .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/workflow_job_templates/",
            json!({"name": "flow", "organization": 1}),
        )
        .await,
        WORKFLOW_ID
    );
    assert_eq!(
        api.make(
            "/api/v2/job_templates/2/schedules/",
            json!({"name": "nightly",
                "rrule": "DTSTART;TZID=Europe/Paris:20300101T020000 RRULE:FREQ=DAILY;INTERVAL=1"})
        )
        .await,
        1
    );
    // A job, launched and left pending: no task role runs in these tests.
    assert_eq!(
        api.make("/api/v2/job_templates/2/launch/", json!({})).await,
        1
    );
    // What the event ingester would have stored for it.
    let mut ev = rawx_model::Row::new();
    for (k, v) in [
        ("job", json!(1)),
        ("event", json!("runner_on_ok")),
        ("counter", json!(1)),
        ("host", json!(1)),
        ("host_name", json!("web1")),
        ("stdout", json!("ok: [web1]")),
        ("start_line", json!(0)),
        ("end_line", json!(1)),
        ("event_data", json!("{}")),
        ("uuid", json!("u-1")),
    ] {
        ev.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::JOB_EVENTS, &ev)
        .await
        .unwrap();
    // An ad hoc command, pending, with one stored event. Its id follows the job's: every kind
    // of job takes its id from one sequence (AWX's unified jobs).
    assert_eq!(
        api.make(
            "/api/v2/ad_hoc_commands/",
            json!({"inventory": 1, "credential": 1, "module_name": "ping"})
        )
        .await,
        AD_HOC_ID
    );
    let mut aev = rawx_model::Row::new();
    for (k, v) in [
        ("ad_hoc_command", json!(AD_HOC_ID)),
        ("event", json!("runner_on_ok")),
        ("counter", json!(1)),
        ("host", json!(1)),
        ("host_name", json!("web1")),
        ("stdout", json!("web1 | SUCCESS")),
        ("start_line", json!(0)),
        ("end_line", json!(1)),
        ("event_data", json!("{}")),
        ("uuid", json!("a-1")),
    ] {
        aev.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::AD_HOC_COMMAND_EVENTS, &aev)
        .await
        .unwrap();
    // An inventory source and its update, pending, with one stored event.
    assert_eq!(
        api.make(
            "/api/v2/inventory_sources/",
            json!({"name": "cloud", "inventory": 1, "source": "ec2"})
        )
        .await,
        SOURCE_ID
    );
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/inventory_sources/{SOURCE_ID}/update/"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let mut iev = rawx_model::Row::new();
    for (k, v) in [
        ("inventory_update", json!(UPDATE_ID)),
        ("event", json!("verbose")),
        ("counter", json!(1)),
        ("stdout", json!("Loaded 0 groups, 0 hosts")),
        ("start_line", json!(0)),
        ("end_line", json!(1)),
        ("event_data", json!("{}")),
        ("uuid", json!("i-1")),
    ] {
        iev.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::INVENTORY_UPDATE_EVENTS, &iev)
        .await
        .unwrap();
    // A finished project update of the world's project, as the task role leaves one (the
    // world's project is manual, so nothing starts one).
    let mut pu = rawx_model::Row::new();
    for (k, v) in [
        ("name", json!("Ops project")),
        ("project", json!(1)),
        ("unified_job_template", json!(1)),
        ("organization", json!(1)),
        ("job_type", json!("check")),
        ("status", json!("successful")),
        ("launch_type", json!("manual")),
    ] {
        pu.insert(k.into(), v);
    }
    let pu_id = api
        .store
        .insert(&rawx_model::resources::PROJECT_UPDATES, &pu)
        .await
        .unwrap();
    assert_eq!(pu_id, PROJECT_UPDATE_ID);
    let mut pev = rawx_model::Row::new();
    for (k, v) in [
        ("project_update", json!(PROJECT_UPDATE_ID)),
        ("event", json!("verbose")),
        ("counter", json!(1)),
        ("stdout", json!("Updating project")),
        ("start_line", json!(0)),
        ("end_line", json!(1)),
        ("event_data", json!("{}")),
        ("uuid", json!("p-1")),
    ] {
        pev.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::PROJECT_UPDATE_EVENTS, &pev)
        .await
        .unwrap();
    // A lookup credential (id 2) filling the machine credential's password: input source 1.
    let r = api
        .admin(
            "GET",
            "/api/v2/credential_types/?namespace=hashivault_kv",
            None,
        )
        .await;
    let vault_type = r.body["results"][0]["id"].clone();
    assert_eq!(
        api.make(
            "/api/v2/credentials/",
            json!({"name": "vault", "organization": 1, "credential_type": vault_type,
                "inputs": {"url": "https://vault.example", "token": "hvs.world"}})
        )
        .await,
        2
    );
    assert_eq!(
        api.make(
            "/api/v2/credentials/1/input_sources/",
            json!({"source_credential": 2, "input_field_name": "password",
                "metadata": {"secret_path": "kv/db", "secret_key": "password"}})
        )
        .await,
        1
    );
    let mut hs = rawx_model::Row::new();
    for (k, v) in [
        ("job", json!(1)),
        ("host", json!(1)),
        ("host_name", json!("web1")),
        ("ok", json!(1)),
    ] {
        hs.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::JOB_HOST_SUMMARIES, &hs)
        .await
        .unwrap();
    // The node the task role would have registered (no task role runs in these tests).
    let mut node = rawx_model::Row::new();
    for (k, v) in [
        ("hostname", json!("node1")),
        ("node_type", json!("hybrid")),
        ("capacity_adjustment", json!("1.00")),
        ("cpu_capacity", json!(8)),
        ("mem_capacity", json!(20)),
        ("capacity", json!(20)),
        ("enabled", json!(true)),
        ("node_state", json!("ready")),
    ] {
        node.insert(k.into(), v);
    }
    let node = api
        .store
        .insert(&rawx_model::resources::INSTANCES, &node)
        .await
        .unwrap();
    // A hybrid node is in both of the installer's groups (the task role's policies say so).
    for group in 1..=2 {
        api.store
            .link(&rawx_model::resources::INSTANCE_GROUP_MEMBERS, group, node)
            .await
            .unwrap();
    }
    // Where its Receptor listens (the task role learns that from the mesh).
    let mut addr = rawx_model::Row::new();
    for (k, v) in [
        ("address", json!("node1")),
        ("port", json!(27199)),
        ("protocol", json!("tcp")),
        ("canonical", json!(true)),
        ("instance", json!(node)),
    ] {
        addr.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::RECEPTOR_ADDRESSES, &addr)
        .await
        .unwrap();
    // A notification of template 1, as the task role records one.
    let mut n = rawx_model::Row::new();
    for (k, v) in [
        ("notification_template", json!(1)),
        ("organization", json!(1)),
        ("notification_type", json!("webhook")),
        ("status", json!("successful")),
        ("recipients", json!("http://127.0.0.1:9/")),
        ("subject", json!("Job #1 'hello' successful")),
        ("body", json!("{}")),
    ] {
        n.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::NOTIFICATIONS, &n)
        .await
        .unwrap();
    // An execution environment of the organization (1 and 2 are the seeded global ones).
    assert_eq!(
        api.make(
            "/api/v2/execution_environments/",
            json!({"name": "lab ee", "image": "quay.io/ops/lab-ee:1", "organization": 1})
        )
        .await,
        ORG_EE_ID
    );
    // The workflow template's two nodes (1 runs the job template, then 2 on success), and a
    // workflow job launched and left pending (no task role runs), with its copies of them.
    for ident in ["first", "second"] {
        api.make(
            &format!("/api/v2/workflow_job_templates/{WORKFLOW_ID}/workflow_nodes/"),
            json!({"unified_job_template": JT_ID, "identifier": ident}),
        )
        .await;
    }
    let r = api
        .admin(
            "POST",
            "/api/v2/workflow_job_template_nodes/1/success_nodes/",
            Some(json!({"id": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = api
        .admin(
            "POST",
            &format!("/api/v2/workflow_job_templates/{WORKFLOW_ID}/launch/"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["workflow_job"], json!(WORKFLOW_JOB_ID));
    // A third node, an approval node, and the approval its workflow job would wait on.
    api.make(
        &format!("/api/v2/workflow_job_templates/{WORKFLOW_ID}/workflow_nodes/"),
        json!({"identifier": "gate"}),
    )
    .await;
    let r = api
        .admin(
            "POST",
            "/api/v2/workflow_job_template_nodes/3/create_approval_template/",
            Some(json!({"name": "gate", "timeout": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["id"], json!(APPROVAL_TEMPLATE_ID));
    let mut a = rawx_model::Row::new();
    for (k, v) in [
        ("name", json!("gate")),
        ("status", json!("pending")),
        ("launch_type", json!("workflow")),
        ("unified_job_template", json!(APPROVAL_TEMPLATE_ID)),
        ("workflow_approval_template", json!(APPROVAL_TEMPLATE_ID)),
        ("workflow_job_template", json!(WORKFLOW_ID)),
        ("organization", json!(1)),
    ] {
        a.insert(k.into(), v);
    }
    let made = api
        .store
        .insert(&rawx_model::resources::WORKFLOW_APPROVALS, &a)
        .await
        .unwrap();
    assert_eq!(made, APPROVAL_ID);
}
