//! End-to-end: approval nodes of workflows, as AWX users meet them. An approval template made
//! by its node, the approval a workflow job waits on (pending, listed, visible to who may read
//! the workflow), approved or denied by who holds the workflow's or organization's
//! `approval_role` (AWX's 403 for others, 400 once answered), the success or failure path that
//! follows, a timeout, a cancel, and a restart of the server while an approval waits.

mod wf;
use wf::*;

/// `root` is an approval; its success path runs `ok`, its failure path runs `ok` too.
fn gated(s: &Server, f: &Fixture, name: &str, timeout: i64) -> (i64, i64) {
    let ok = jt(s, f, &format!("{name} ok"), "ok.yml");
    let wf = wfjt(s, f, name);
    let gate = bare_node(s, wf, "gate");
    let template = approval(s, gate, &format!("{name} gate"), timeout);
    let yes = node(
        s,
        wf,
        ok,
        json!({"identifier": "approved", "extra_data": {"wf_marker": "approved"}}),
    );
    let no = node(s, wf, ok, json!({"identifier": "denied"}));
    link(s, gate, "success_nodes", yes);
    link(s, gate, "failure_nodes", no);
    (wf, template)
}

fn grant(s: &Server, user: i64, role: &Value) {
    s.admin(
        "POST",
        &format!("/api/v2/users/{user}/roles/"),
        Some(json!({"id": role["id"]})),
        204,
    );
}

#[test]
fn an_approval_waits_for_an_approver_and_its_answer_picks_the_path() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let (wf, template) = gated(&s, &f, "release", 0);

    // The node shows its approval template as AWX does; the template has no list to POST to.
    let nodes = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/workflow_nodes/?identifier=gate"),
        None,
        200,
    );
    let gate = &nodes["results"][0];
    assert_eq!(
        gate["summary_fields"]["unified_job_template"]["unified_job_type"], "workflow_approval",
        "{gate}"
    );
    assert_eq!(
        gate["related"]["unified_job_template"],
        format!("/api/v2/workflow_approval_templates/{template}/")
    );
    let t = s.admin(
        "GET",
        &format!("/api/v2/workflow_approval_templates/{template}/"),
        None,
        200,
    );
    assert_eq!(t["name"], "release gate");
    assert_eq!(t["timeout"], 0);
    s.admin(
        "POST",
        "/api/v2/workflow_approval_templates/",
        Some(json!({"name": "loose"})),
        405,
    );

    let wj = launch(&s, wf, json!({}));
    let a = pending_approval(&s, wj);
    let aid = id(&a);
    assert_eq!(a["name"], "release gate");
    assert_eq!(a["can_approve_or_deny"], true, "{a}");
    assert_eq!(a["summary_fields"]["source_workflow_job"]["id"], wj, "{a}");
    assert!(a["approval_expiration"].is_null(), "no timeout: {a}");
    // It is a unified job (listed with the others) and its workflow is still running.
    let listed = s.admin("GET", &format!("/api/v2/unified_jobs/?id={aid}"), None, 200);
    assert_eq!(
        listed["results"][0]["type"], "workflow_approval",
        "{listed}"
    );
    let tl = s.admin(
        "GET",
        &format!("/api/v2/unified_job_templates/?id={template}"),
        None,
        200,
    );
    assert_eq!(
        tl["results"][0]["type"], "workflow_approval_template",
        "{tl}"
    );
    let pending = s.admin(
        "GET",
        "/api/v2/workflow_approvals/?status=pending",
        None,
        200,
    );
    assert_eq!(pending["count"], 1, "{pending}");
    let wjob = s.admin("GET", &format!("/api/v2/workflow_jobs/{wj}/"), None, 200);
    assert_eq!(wjob["status"], "running");
    // The collection finds the approval by its name across the node's job.
    let by_name = s.admin(
        "GET",
        &format!("/api/v2/workflow_jobs/{wj}/workflow_nodes/?job__name=release+gate"),
        None,
        200,
    );
    assert_eq!(by_name["count"], 1, "{by_name}");
    assert_eq!(
        by_name["results"][0]["related"]["job"],
        format!("/api/v2/workflow_approvals/{aid}/")
    );

    // A user who may only read the workflow sees the approval but may not answer it.
    let user = id(&s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "approver", "password": "pw-approver-1"})),
        201,
    ));
    let wft = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/"),
        None,
        200,
    );
    grant(
        &s,
        user,
        &wft["summary_fields"]["object_roles"]["read_role"],
    );
    let auth = Some(("approver", "pw-approver-1"));
    let seen = s.http(
        "GET",
        &format!("/api/v2/workflow_approvals/{aid}/"),
        auth,
        None,
    );
    assert_eq!(seen.status, 200, "{seen:?}");
    assert_eq!(seen.json()["can_approve_or_deny"], false);
    let refused = s.http(
        "POST",
        &format!("/api/v2/workflow_approvals/{aid}/approve/"),
        auth,
        None,
    );
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(
        refused.json(),
        json!({"detail": "User does not have permission to approve or deny this workflow."})
    );
    // The organization's approval role lets them (AWX's `organization.approval_role`).
    let org = s.admin(
        "GET",
        &format!("/api/v2/organizations/{}/", f.org),
        None,
        200,
    );
    grant(
        &s,
        user,
        &org["summary_fields"]["object_roles"]["approval_role"],
    );
    let done = s.http(
        "POST",
        &format!("/api/v2/workflow_approvals/{aid}/approve/"),
        auth,
        None,
    );
    assert_eq!(done.status, 204, "{done:?}");
    let again = s.admin(
        "POST",
        &format!("/api/v2/workflow_approvals/{aid}/deny/"),
        None,
        400,
    );
    assert_eq!(
        again,
        json!({"error": "This workflow step has already been approved or denied."})
    );

    let finished = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(finished["status"], "successful", "{finished}");
    let nodes = job_nodes(&s, wj);
    assert_eq!(job_of(&s, &nodes["approved"])["status"], "successful");
    assert_eq!(nodes["denied"]["do_not_run"], true, "{}", nodes["denied"]);
    let a = s.admin(
        "GET",
        &format!("/api/v2/workflow_approvals/{aid}/"),
        None,
        200,
    );
    assert_eq!(a["status"], "successful", "{a}");
    assert_eq!(
        a["summary_fields"]["approved_or_denied_by"]["username"],
        "approver"
    );
    assert_eq!(a["can_approve_or_deny"], false);
    assert_eq!(a["timed_out"], false);

    // Denied: the failure path runs, and handles the failure.
    let wj = launch(&s, wf, json!({}));
    let aid = id(&pending_approval(&s, wj));
    s.admin(
        "POST",
        &format!("/api/v2/workflow_approvals/{aid}/deny/"),
        None,
        204,
    );
    let finished = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(finished["status"], "successful", "{finished}");
    let nodes = job_nodes(&s, wj);
    assert_eq!(job_of(&s, &nodes["denied"])["status"], "successful");
    assert_eq!(nodes["approved"]["do_not_run"], true);
    let a = s.admin(
        "GET",
        &format!("/api/v2/workflow_approvals/{aid}/"),
        None,
        200,
    );
    assert_eq!(a["status"], "failed", "{a}");
    assert_eq!(
        a["summary_fields"]["approved_or_denied_by"]["username"],
        "admin"
    );
}

#[test]
fn an_approval_times_out_is_canceled_with_its_workflow_and_survives_a_restart() {
    let s = Server::start_with(opts());
    let f = setup(&s);

    // Timeout: the approval fails by itself; with no failure path the workflow fails.
    let wf = wfjt(&s, &f, "expiring");
    let gate = bare_node(&s, wf, "gate");
    approval(&s, gate, "short gate", 2);
    let wj = launch(&s, wf, json!({}));
    let a = pending_approval(&s, wj);
    assert!(a["approval_expiration"].is_string(), "{a}");
    let aid = id(&a);
    let finished = wait_workflow(&s, wj, Duration::from_secs(60));
    assert_eq!(finished["status"], "failed", "{finished}");
    let a = s.admin(
        "GET",
        &format!("/api/v2/workflow_approvals/{aid}/"),
        None,
        200,
    );
    assert_eq!(a["status"], "failed", "{a}");
    assert_eq!(a["timed_out"], true);
    assert_eq!(
        a["job_explanation"],
        format!("The approval node short gate ({aid}) has expired after 2 seconds.")
    );

    // Cancel: the waiting approval ends canceled, then the workflow.
    let (wf, _) = gated(&s, &f, "canceled", 0);
    let wj = launch(&s, wf, json!({}));
    let aid = id(&pending_approval(&s, wj));
    s.admin(
        "POST",
        &format!("/api/v2/workflow_jobs/{wj}/cancel/"),
        None,
        202,
    );
    let finished = wait_workflow(&s, wj, Duration::from_secs(60));
    assert_eq!(finished["status"], "canceled", "{finished}");
    let a = s.admin(
        "GET",
        &format!("/api/v2/workflow_approvals/{aid}/"),
        None,
        200,
    );
    assert_eq!(a["status"], "canceled", "{a}");

    // Restart: the approval still waits after a crash, and its answer moves the workflow on.
    let (wf, _) = gated(&s, &f, "restarted", 0);
    let wj = launch(&s, wf, json!({}));
    let aid = id(&pending_approval(&s, wj));
    let o = s.opts();
    let dir = s.kill9();
    let s = Server::start_in(dir, o);
    let a = s.admin(
        "GET",
        &format!("/api/v2/workflow_approvals/{aid}/"),
        None,
        200,
    );
    assert_eq!(a["status"], "pending", "{a}");
    s.admin(
        "POST",
        &format!("/api/v2/workflow_approvals/{aid}/approve/"),
        None,
        204,
    );
    let finished = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(finished["status"], "successful", "{finished}");
    let nodes = job_nodes(&s, wj);
    assert_eq!(job_of(&s, &nodes["approved"])["status"], "successful");
}

#[test]
fn the_collection_and_the_cli_build_and_answer_approvals() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    jt(&s, &f, "ok", "ok.yml");
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
            "    - name: build
      awx.awx.workflow_job_template:
        name: gated
        organization: {org}
        workflow_nodes:
          - identifier: gate
            unified_job_template:
              name: ship it
              description: a person decides
              type: workflow_approval
              timeout: 0
            related:
              success_nodes: [{{identifier: after}}]
          - identifier: after
            unified_job_template: {{name: ok, type: job_template}}
    - name: launch
      awx.awx.workflow_launch:
        name: gated
        organization: {org}
        wait: false
      register: launched
    - name: approve
      awx.awx.workflow_approval:
        workflow_job_id: \"{{{{ launched.id }}}}\"
        name: ship it
        action: approve
        timeout: 120
    - name: wait
      awx.awx.job_wait:
        job_id: \"{{{{ launched.id }}}}\"
        job_type: workflow_jobs
        timeout: 240
"
        ),
        &[],
    );
    let changed = rawx_testkit::collection::ok(&out, &tasks);
    assert!(
        changed.contains(&("approve".to_string(), true)),
        "{changed:?}\n{out}"
    );
    let wjs = s.admin("GET", "/api/v2/workflow_jobs/?name=gated", None, 200);
    assert_eq!(wjs["results"][0]["status"], "successful", "{wjs}");
    let wj = id(&wjs["results"][0]);
    let nodes = job_nodes(&s, wj);
    assert_eq!(job_of(&s, &nodes["after"])["status"], "successful");
    let t = s.admin(
        "GET",
        "/api/v2/workflow_job_templates/?name=gated",
        None,
        200,
    );
    let wf = id(&t["results"][0]);
    // Run again: the collection keeps the approval node's template (no second one).
    let (out, tasks) = rawx_testkit::collection::play(
        &s,
        dir.path(),
        &format!(
            "    - name: build again
      awx.awx.workflow_job_template:
        name: gated
        organization: {org}
        workflow_nodes:
          - identifier: gate
            unified_job_template:
              name: ship it
              description: a person decides
              type: workflow_approval
              timeout: 30
"
        ),
        &[],
    );
    rawx_testkit::collection::ok(&out, &tasks);
    let gate = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/workflow_nodes/?identifier=gate"),
        None,
        200,
    );
    let gate = &gate["results"][0];
    assert_eq!(
        gate["summary_fields"]["unified_job_template"]["name"], "ship it",
        "{gate}"
    );
    let templates = s.admin(
        "GET",
        "/api/v2/workflow_approval_templates/?name=ship+it",
        None,
        200,
    );
    assert_eq!(templates["count"], 1, "{templates}");
    assert_eq!(templates["results"][0]["timeout"], 30, "{templates}");

    // The awx CLI lists and shows approvals (awxkit 24.6.1 has no `approve` action: its
    // page object's `approve()` is what a script calls).
    let listed = s.awx_json(&["workflow_approvals", "list", "-f", "json"]);
    assert_eq!(listed["count"], 1, "{listed}");
    assert_eq!(listed["results"][0]["status"], "successful");
    let aid = listed["results"][0]["id"].as_i64().unwrap().to_string();
    let shown = s.awx_json(&["workflow_approvals", "get", &aid, "-f", "json"]);
    assert_eq!(shown["name"], "ship it", "{shown}");
    let approve = s.awx(&["workflow_approvals", "approve", &aid]);
    assert_ne!(
        approve.code, 0,
        "awxkit 24.6.1 offers no approve: {approve}"
    );
}
