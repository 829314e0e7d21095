//! Instance groups: a job runs only on an instance of its preferred groups (template, then
//! inventory, then organization, then `default`), falls back along that list unless
//! `prevent_instance_group_fallback`, and a group's `max_concurrent_jobs` holds.

mod rig;

use rig::*;
use serde_json::json;

/// Two task nodes, each its own instance; a group holding only `node-b`.
async fn two_nodes(rig: &Rig) -> (TaskNode, TaskNode, i64) {
    let held = || Script::hold_before(good_run(), "playbook_on_stats");
    let a = rig
        .task_node(
            "node-a",
            FakeNode::with_script("node-a", held()),
            NodeOpts::default(),
        )
        .await;
    let b = rig
        .task_node(
            "node-b",
            FakeNode::with_script("node-b", held()),
            NodeOpts::default(),
        )
        .await;
    for n in ["node-a", "node-b"] {
        rig.set_instance(n, json!({"capacity": 100})).await;
    }
    let only_b = rig
        .make("/api/v2/instance_groups/", json!({"name": "only-b"}))
        .await;
    let b_id = rig.instance("node-b").await.unwrap()["id"]
        .as_i64()
        .unwrap();
    rig.associate(
        &format!("/api/v2/instance_groups/{only_b}/instances/"),
        b_id,
    )
    .await;
    (a, b, only_b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_templates_group_steers_its_jobs_to_the_groups_instance() {
    let rig = Rig::new().await;
    let (a, b, only_b) = two_nodes(&rig).await;
    let inv = rig.inventory("inv", 1).await;
    let jt = rig
        .template("steered", inv, json!({"allow_simultaneous": true}))
        .await;
    rig.associate(
        &format!("/api/v2/job_templates/{jt}/instance_groups/"),
        only_b,
    )
    .await;
    let jobs = [
        rig.launch(jt).await,
        rig.launch(jt).await,
        rig.launch(jt).await,
    ];
    for id in jobs {
        let j = rig.wait_status(id, "running").await;
        assert_eq!(j["execution_node"], "node-b", "{j}");
        assert_eq!(j["instance_group"], only_b, "{j}");
    }
    assert!(a.node.job_units().is_empty(), "node-a ran a job of only-b");
    assert_eq!(b.node.running().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_without_instances_falls_back_to_the_inventorys_group() {
    let rig = Rig::new().await;
    let (a, _b, only_b) = two_nodes(&rig).await;
    let empty = rig
        .make("/api/v2/instance_groups/", json!({"name": "nobody"}))
        .await;
    let inv = rig.inventory("inv", 1).await;
    rig.associate(
        &format!("/api/v2/inventories/{inv}/instance_groups/"),
        only_b,
    )
    .await;
    let jt = rig.template("falls-back", inv, json!({})).await;
    rig.associate(
        &format!("/api/v2/job_templates/{jt}/instance_groups/"),
        empty,
    )
    .await;
    let id = rig.launch(jt).await;
    let j = rig.wait_status(id, "running").await;
    assert_eq!(j["execution_node"], "node-b", "{j}");
    assert_eq!(j["instance_group"], only_b, "{j}");
    assert!(a.node.job_units().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prevent_instance_group_fallback_makes_the_job_wait_saying_why() {
    let rig = Rig::new().await;
    let (a, b, only_b) = two_nodes(&rig).await;
    let empty = rig
        .make("/api/v2/instance_groups/", json!({"name": "nobody"}))
        .await;
    let inv = rig.inventory("inv", 1).await;
    rig.associate(
        &format!("/api/v2/inventories/{inv}/instance_groups/"),
        only_b,
    )
    .await;
    let jt = rig
        .template(
            "no-fallback",
            inv,
            json!({"prevent_instance_group_fallback": true}),
        )
        .await;
    rig.associate(
        &format!("/api/v2/job_templates/{jt}/instance_groups/"),
        empty,
    )
    .await;
    let id = rig.launch(jt).await;
    let j = eventually(LIMIT, || async {
        let j = rig.job(id).await;
        if j["job_explanation"] == "" {
            Err(j)
        } else {
            Ok(j)
        }
    })
    .await;
    assert_eq!(j["status"], "pending");
    assert_eq!(
        j["job_explanation"],
        "This job is not ready to start because there is not enough available capacity: no instance of its instance groups can run it: nobody (no instances)."
    );
    assert!(a.node.job_units().is_empty() && b.node.job_units().is_empty());
}

/// With no group anywhere a job runs in `default`; an inventory's empty group makes it wait;
/// a template that prevents the fallback skips its inventory's groups and runs in `default`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_groups_of_its_own_a_job_runs_in_default() {
    let rig = Rig::new().await;
    let (_a, _b, _only_b) = two_nodes(&rig).await;
    let default = rig
        .call("GET", "/api/v2/instance_groups/default/", None)
        .await
        .1["id"]
        .as_i64()
        .unwrap();
    let inv = rig.inventory("inv", 1).await;
    let plain = rig.template("plain", inv, json!({})).await;
    let id = rig.launch(plain).await;
    let j = rig.wait_status(id, "running").await;
    assert_eq!(j["instance_group"], default, "{j}");

    let empty = rig
        .make("/api/v2/instance_groups/", json!({"name": "nobody"}))
        .await;
    let inv2 = rig.inventory("inv2", 1).await;
    rig.associate(
        &format!("/api/v2/inventories/{inv2}/instance_groups/"),
        empty,
    )
    .await;
    let waits = rig.template("waits", inv2, json!({})).await;
    let id = rig.launch(waits).await;
    let j = eventually(LIMIT, || async {
        let j = rig.job(id).await;
        if j["job_explanation"] == "" {
            Err(j)
        } else {
            Ok(j)
        }
    })
    .await;
    assert_eq!(j["status"], "pending", "{j}");
    assert!(
        j["job_explanation"]
            .as_str()
            .unwrap()
            .contains("nobody (no instances)"),
        "{j}"
    );

    let pinned = rig
        .template(
            "pinned",
            inv2,
            json!({"prevent_instance_group_fallback": true}),
        )
        .await;
    let id = rig.launch(pinned).await;
    let j = rig.wait_status(id, "running").await;
    assert_eq!(j["instance_group"], default, "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_runs_no_more_jobs_than_its_max_concurrent_jobs() {
    let rig = Rig::new().await;
    let (_a, b, only_b) = two_nodes(&rig).await;
    let (status, v) = rig
        .call(
            "PATCH",
            &format!("/api/v2/instance_groups/{only_b}/"),
            Some(json!({"max_concurrent_jobs": 1})),
        )
        .await;
    assert!(status.is_success(), "{v}");
    let inv = rig.inventory("inv", 1).await;
    let jt = rig
        .template("limited", inv, json!({"allow_simultaneous": true}))
        .await;
    rig.associate(
        &format!("/api/v2/job_templates/{jt}/instance_groups/"),
        only_b,
    )
    .await;
    let first = rig.launch(jt).await;
    let second = rig.launch(jt).await;
    rig.wait_status(first, "running").await;
    let j = eventually(LIMIT, || async {
        let j = rig.job(second).await;
        if j["job_explanation"] == "" {
            Err(j)
        } else {
            Ok(j)
        }
    })
    .await;
    assert_eq!(j["status"], "pending", "{j}");
    assert!(
        j["job_explanation"]
            .as_str()
            .unwrap()
            .contains("instance group only-b runs 1 of its max_concurrent_jobs (1)"),
        "{j}"
    );
    b.node.finish(&b.node.running()[0].id);
    assert_eq!(rig.wait_final(first).await["status"], "successful");
    let j = rig.wait_status(second, "running").await;
    assert_eq!(j["execution_node"], "node-b");
}
