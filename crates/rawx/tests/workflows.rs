//! End-to-end: workflow templates, their nodes and edges, and workflow jobs run by the task
//! role's workflow engine, with real playbooks through the real `ansible-runner worker` on
//! local hosts. What a user checks: which nodes ran, which were marked not to run, each job's
//! status, the workflow's final status and explanation, cancel, a restart mid-workflow, and
//! the real `awx` CLI's `launch --monitor`.

mod wf;
use wf::*;

#[test]
fn failure_and_always_paths_run_and_the_success_path_does_not() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let ok = jt(&s, &f, "ok", "ok.yml");
    let bad = jt(&s, &f, "bad", "fail.yml");
    let wf = wfjt(&s, &f, "branches");
    let root = node(&s, wf, bad, json!({"identifier": "root"}));
    let on_ok = node(&s, wf, ok, json!({"identifier": "on-success"}));
    let on_fail = node(
        &s,
        wf,
        ok,
        json!({"identifier": "on-failure", "extra_data": {"wf_marker": "from-node"}}),
    );
    let always = node(&s, wf, ok, json!({"identifier": "always"}));
    link(&s, root, "success_nodes", on_ok);
    link(&s, root, "failure_nodes", on_fail);
    link(&s, root, "always_nodes", always);

    // AWX's refusals of edges: a node to itself, the same pair by another kind, a cycle.
    let bad_edge = |from: i64, kind: &str, to: i64, msg: &str| {
        let r = s.admin(
            "POST",
            &format!("/api/v2/workflow_job_template_nodes/{from}/{kind}/"),
            Some(json!({"id": to})),
            400,
        );
        assert_eq!(r, json!({"Error": msg}));
    };
    bad_edge(root, "success_nodes", root, "Cycle detected.");
    bad_edge(root, "always_nodes", on_ok, "Relationship not allowed.");
    bad_edge(always, "success_nodes", root, "Cycle detected.");
    let shown = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_template_nodes/{root}/"),
        None,
        200,
    );
    assert_eq!(shown["success_nodes"], json!([on_ok]), "{shown}");
    assert_eq!(shown["failure_nodes"], json!([on_fail]));
    assert_eq!(
        shown["summary_fields"]["unified_job_template"]["name"],
        "bad"
    );

    let wj = launch(&s, wf, json!({}));
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(
        done["status"], "successful",
        "a failure with a failure path: {done}"
    );
    let nodes = job_nodes(&s, wj);
    assert_eq!(job_of(&s, &nodes["root"])["status"], "failed");
    assert_eq!(
        nodes["on-success"]["do_not_run"], true,
        "{}",
        nodes["on-success"]
    );
    assert!(nodes["on-success"]["job"].is_null());
    let handled = job_of(&s, &nodes["on-failure"]);
    assert_eq!(handled["status"], "successful");
    assert_eq!(handled["launch_type"], "workflow");
    assert_eq!(handled["summary_fields"]["source_workflow_job"]["id"], wj);
    assert!(
        handled["extra_vars"]
            .as_str()
            .unwrap()
            .contains("from-node"),
        "the node's extra_data reaches the job: {handled}"
    );
    assert_eq!(job_of(&s, &nodes["always"])["status"], "successful");

    // The workflow job is a unified job like the others.
    let listed = s.admin("GET", &format!("/api/v2/unified_jobs/?id={wj}"), None, 200);
    assert_eq!(listed["results"][0]["type"], "workflow_job", "{listed}");
    let spawned = s.admin(
        "GET",
        &format!("/api/v2/unified_jobs/?unified_job_node__workflow_job={wj}"),
        None,
        200,
    );
    assert_eq!(spawned["count"], 3, "{spawned}");
    let t = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/"),
        None,
        200,
    );
    assert_eq!(t["status"], "successful");

    // A failure with no failure or always path fails the workflow, saying why.
    let wf2 = wfjt(&s, &f, "unhandled");
    let first = node(&s, wf2, ok, json!({"identifier": "first"}));
    let second = node(&s, wf2, bad, json!({"identifier": "second"}));
    link(&s, first, "success_nodes", second);
    let wj2 = launch(&s, wf2, json!({}));
    let done = wait_workflow(&s, wj2, Duration::from_secs(240));
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(
        done["job_explanation"],
        "No error handling paths found, marking workflow as failed"
    );
    let nodes = job_nodes(&s, wj2);
    assert_eq!(job_of(&s, &nodes["first"])["status"], "successful");
    assert_eq!(job_of(&s, &nodes["second"])["status"], "failed");
}

#[test]
fn a_converging_node_runs_only_when_every_parent_reached_it() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let ok = jt(&s, &f, "ok", "ok.yml");
    let bad = jt(&s, &f, "bad", "fail.yml");
    // Both parents succeed: the join runs.
    let wf = wfjt(&s, &f, "join");
    let a = node(&s, wf, ok, json!({"identifier": "a"}));
    let b = node(&s, wf, ok, json!({"identifier": "b"}));
    let j = node(
        &s,
        wf,
        ok,
        json!({"identifier": "join", "all_parents_must_converge": true}),
    );
    link(&s, a, "success_nodes", j);
    link(&s, b, "success_nodes", j);
    let wj = launch(&s, wf, json!({}));
    assert_eq!(
        wait_workflow(&s, wj, Duration::from_secs(240))["status"],
        "successful"
    );
    let nodes = job_nodes(&s, wj);
    let (ja, jb, jj) = (
        job_of(&s, &nodes["a"]),
        job_of(&s, &nodes["b"]),
        job_of(&s, &nodes["join"]),
    );
    assert!(
        jj["started"].as_str() >= ja["finished"].as_str()
            && jj["started"].as_str() >= jb["finished"].as_str(),
        "the join starts after both parents: {ja} {jb} {jj}"
    );

    // One parent fails: the join is marked not to run, and the failure fails the workflow.
    let wf = wfjt(&s, &f, "broken join");
    let a = node(&s, wf, ok, json!({"identifier": "a"}));
    let b = node(&s, wf, bad, json!({"identifier": "b"}));
    let j = node(
        &s,
        wf,
        ok,
        json!({"identifier": "join", "all_parents_must_converge": true}),
    );
    link(&s, a, "success_nodes", j);
    link(&s, b, "success_nodes", j);
    let wj = launch(&s, wf, json!({}));
    assert_eq!(
        wait_workflow(&s, wj, Duration::from_secs(240))["status"],
        "failed"
    );
    let nodes = job_nodes(&s, wj);
    assert_eq!(nodes["join"]["do_not_run"], true, "{}", nodes["join"]);
    assert!(nodes["join"]["job"].is_null());
}

#[test]
fn cancel_stops_the_running_job_and_nothing_after_it_runs() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let slow = jt(&s, &f, "slow", "slow.yml");
    let ok = jt(&s, &f, "ok", "ok.yml");
    let wf = wfjt(&s, &f, "to cancel");
    let first = node(
        &s,
        wf,
        slow,
        json!({"identifier": "slow", "extra_data": {"pause_s": 60}}),
    );
    let next = node(&s, wf, ok, json!({"identifier": "next"}));
    link(&s, first, "always_nodes", next);
    let wj = launch(&s, wf, json!({}));
    let running = eventually(Duration::from_secs(120), || {
        let n = job_nodes(&s, wj);
        match n["slow"]["job"].as_i64() {
            Some(j) => {
                let job = s.admin("GET", &format!("/api/v2/jobs/{j}/"), None, 200);
                if job["status"] == "running" {
                    Ok(j)
                } else {
                    Err(format!("job {j} not running yet: {}", job["status"]))
                }
            }
            None => Err("no job yet".to_string()),
        }
    });
    let can = s.admin(
        "GET",
        &format!("/api/v2/workflow_jobs/{wj}/cancel/"),
        None,
        200,
    );
    assert_eq!(can["can_cancel"], true);
    s.admin(
        "POST",
        &format!("/api/v2/workflow_jobs/{wj}/cancel/"),
        None,
        202,
    );
    let done = wait_workflow(&s, wj, Duration::from_secs(120));
    assert_eq!(done["status"], "canceled", "{done}");
    let job = s.admin("GET", &format!("/api/v2/jobs/{running}/"), None, 200);
    assert_eq!(job["status"], "canceled", "{job}");
    let nodes = job_nodes(&s, wj);
    assert!(nodes["next"]["job"].is_null(), "{}", nodes["next"]);
    assert_eq!(nodes["next"]["do_not_run"], true);
}

#[test]
fn a_workflow_resumes_after_the_server_is_killed() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let slow = jt(&s, &f, "slow", "slow.yml");
    let ok = jt(&s, &f, "ok", "ok.yml");
    let wf = wfjt(&s, &f, "survivor");
    let first = node(
        &s,
        wf,
        slow,
        json!({"identifier": "slow", "extra_data": {"pause_s": 6}}),
    );
    let next = node(&s, wf, ok, json!({"identifier": "next"}));
    link(&s, first, "success_nodes", next);
    let wj = launch(&s, wf, json!({}));
    eventually(Duration::from_secs(120), || {
        let n = job_nodes(&s, wj);
        match n["slow"]["job"].as_i64() {
            Some(j)
                if s.admin("GET", &format!("/api/v2/jobs/{j}/"), None, 200)["status"]
                    == "running" =>
            {
                Ok(())
            }
            _ => Err("slow job not running yet".to_string()),
        }
    });
    let o = s.opts();
    let dir = s.kill9();
    let s = Server::start_in(dir, o);
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(done["status"], "successful", "{done}");
    let nodes = job_nodes(&s, wj);
    assert_eq!(job_of(&s, &nodes["slow"])["status"], "successful");
    assert_eq!(job_of(&s, &nodes["next"])["status"], "successful");
}

#[test]
fn the_awx_cli_launches_a_workflow_and_monitors_it() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let ok = jt(&s, &f, "ok", "ok.yml");
    let wf = wfjt(&s, &f, "cli workflow");
    let a = node(&s, wf, ok, json!({"identifier": "a"}));
    let b = node(&s, wf, ok, json!({"identifier": "b"}));
    link(&s, a, "success_nodes", b);
    let out = s.awx(&[
        "workflow_job_templates",
        "launch",
        "cli workflow",
        "--monitor",
        "-f",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let wjs = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/workflow_jobs/"),
        None,
        200,
    );
    assert_eq!(wjs["count"], 1, "{wjs}");
    assert_eq!(
        wjs["results"][0]["status"],
        "successful",
        "{}\n{}",
        wjs,
        out.all()
    );
}

#[test]
fn bulk_job_launch_runs_each_job_as_a_node_of_one_workflow_job() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let ok = jt(&s, &f, "ok", "ok.yml");
    let bad = jt(&s, &f, "bad", "fail.yml");
    let out = s.admin(
        "POST",
        "/api/v2/bulk/job_launch/",
        Some(json!({"name": "nightly", "jobs": [
            {"unified_job_template": ok, "identifier": "good", "extra_data": {"wf_marker": "bulk"}},
            {"unified_job_template": bad, "identifier": "bad"}]})),
        201,
    );
    assert_eq!(out["type"], "workflow_job", "{out}");
    let wj = id(&out);
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    // The nodes are independent roots; the failed one has no handler.
    assert_eq!(done["status"], "failed", "{done}");
    let nodes = job_nodes(&s, wj);
    assert_eq!(job_of(&s, &nodes["good"])["status"], "successful");
    assert_eq!(job_of(&s, &nodes["bad"])["status"], "failed");

    // AWX's refusals: an empty list, twice the same identifier, a template that is not there.
    let refused = |body: Value| s.admin("POST", "/api/v2/bulk/job_launch/", Some(body), 400);
    assert_eq!(
        refused(json!({"jobs": []})),
        json!({"jobs": ["This list may not be empty."]})
    );
    assert_eq!(
        refused(
            json!({"jobs": [{"unified_job_template": ok, "identifier": "x"},
            {"unified_job_template": ok, "identifier": "x"}]})
        ),
        json!({"non_field_errors": ["Identifier x not unique"]})
    );
    assert_eq!(
        refused(json!({"jobs": [{"unified_job_template": 99999}]})),
        json!({"non_field_errors": ["Unified Job Templates {99999} not found or you don't have permissions to access it"]})
    );
}

#[test]
fn the_collection_builds_and_launches_workflows() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let ok = jt(&s, &f, "ok", "ok.yml");
    let org = s.admin(
        "GET",
        &format!("/api/v2/organizations/{}/", f.org),
        None,
        200,
    );
    let org = org["name"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (out, tasks) = rawx_testkit::collection::play(
        &s,
        dir.path(),
        &format!(
            "    - awx.awx.workflow_job_template:
        name: built
        organization: {org}
        workflow_nodes:
          - identifier: one
            unified_job_template: {{name: ok, type: job_template}}
            related:
              success_nodes: [{{identifier: two}}]
          - identifier: two
            unified_job_template: {{name: ok, type: job_template}}
    - awx.awx.workflow_job_template_node:
        identifier: three
        workflow_job_template: built
        organization: {org}
        unified_job_template: ok
    - awx.awx.workflow_launch:
        name: built
        organization: {org}
        wait: true
        timeout: 240
      register: launched
    - awx.awx.workflow_node_wait:
        workflow_job_id: \"{{{{ launched.id }}}}\"
        name: ok
        timeout: 60
    - awx.awx.bulk_job_launch:
        name: bulk through the collection
        jobs:
          - unified_job_template: {ok}
        wait: true
"
        ),
        &[],
    );
    assert_eq!(
        out.code,
        0,
        "{}\n--- server\n{}",
        out.all(),
        tail(&s.logs(), 4000)
    );
    rawx_testkit::collection::ok(&out, &tasks);
    // `workflow_node_wait` found the node by its job's name and waited for that job.
    let waited = &tasks[3].result["job_data"];
    assert_eq!(waited["name"], "ok", "{waited}");
    assert_eq!(waited["status"], "successful", "{waited}");
    let wf = s.admin(
        "GET",
        "/api/v2/workflow_job_templates/?name=built",
        None,
        200,
    );
    let wf = id(&wf["results"][0]);
    let nodes = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/workflow_nodes/"),
        None,
        200,
    );
    assert_eq!(nodes["count"], 3, "{nodes}");
    let one = nodes["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["identifier"] == "one")
        .unwrap()
        .clone();
    assert_eq!(one["success_nodes"].as_array().unwrap().len(), 1, "{one}");
    let wjs = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/workflow_jobs/"),
        None,
        200,
    );
    assert_eq!(wjs["results"][0]["status"], "successful", "{wjs}");
    let wj = id(&wjs["results"][0]);
    let nodes = job_nodes(&s, wj);
    for n in ["one", "two", "three"] {
        assert_eq!(job_of(&s, &nodes[n])["status"], "successful", "{n}");
    }
    let bulk = s.admin(
        "GET",
        "/api/v2/workflow_jobs/?name=bulk+through+the+collection",
        None,
        200,
    );
    assert_eq!(bulk["results"][0]["status"], "successful", "{bulk}");
}
