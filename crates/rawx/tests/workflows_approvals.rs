//! End-to-end: approval nodes of workflows, as AWX users meet them. An approval template made
//! by its node, the approval a workflow job waits on (pending, listed, visible to who may read
//! the workflow), approved or denied by who holds the workflow's or organization's
//! `approval_role` (AWX's 403 for others, 400 once answered), the success or failure path that
//! follows, a timeout, a cancel, and a restart of the server while an approval waits; the
//! notifications an approval and its workflow send (attached by the collection and the API).

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

#[test]
fn approvals_and_their_workflow_notify_the_attached_templates() {
    use rawx_testkit::fake_http::{reply, Fake};
    let s = Server::start_with(opts());
    let f = setup(&s);
    let hooks = Fake::start(|_| reply(200, json!({})));
    let nt = |name: &str, path: &str| {
        id(&s.admin(
            "POST",
            "/api/v2/notification_templates/",
            Some(
                json!({"name": name, "organization": f.org, "notification_type": "webhook",
                        "notification_configuration": {"url": format!("{}{path}", hooks.url),
                                                       "headers": {}}}),
            ),
            201,
        ))
    };
    nt("wf hook", "/wf");
    let org_hook = nt("org hook", "/org");
    let (wf, _) = gated(&s, &f, "release", 0);
    let (quick, _) = gated(&s, &f, "quick", 1);
    // The workflow's lists through the collection, the organization's approvals list through
    // the API.
    let org = s.admin(
        "GET",
        &format!("/api/v2/organizations/{}/", f.org),
        None,
        200,
    );
    let org_name = org["name"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut tasks_yaml = String::new();
    for name in ["release", "quick"] {
        tasks_yaml.push_str(&format!(
            "    - name: attach {name}
      awx.awx.workflow_job_template:
        name: {name}
        organization: {org_name}
        notification_templates_started: [wf hook]
        notification_templates_success: [wf hook]
        notification_templates_approvals: [wf hook]
"
        ));
    }
    let (out, tasks) = rawx_testkit::collection::play(&s, dir.path(), &tasks_yaml, &[]);
    rawx_testkit::collection::ok(&out, &tasks);
    let listed = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/notification_templates_approvals/"),
        None,
        200,
    );
    assert_eq!(listed["results"][0]["name"], "wf hook", "{listed}");
    s.admin(
        "POST",
        &format!(
            "/api/v2/organizations/{}/notification_templates_approvals/",
            f.org
        ),
        Some(json!({"id": org_hook})),
        204,
    );

    let bodies = |path: &str, n: usize| -> Vec<Value> {
        eventually(Duration::from_secs(60), || {
            let got: Vec<Value> = hooks
                .seen()
                .iter()
                .filter(|r| r.path() == path)
                .map(|r| r.json())
                .collect();
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{path}: {} of {n}: {got:?}", got.len()))
            }
        })
    };

    // Launched: the workflow's started; the approval needs review, at both templates.
    let wj = launch(&s, wf, json!({}));
    let approval = pending_approval(&s, wj);
    let url = format!("/#/jobs/workflow/{wj}");
    let org_seen = bodies("/org", 1);
    let review = org_seen[0]["body"].as_str().unwrap_or_default().to_string();
    assert!(
        review.starts_with(
            "The approval node \"release gate\" needs review. This node can be viewed at: "
        ) && review.ends_with(&url),
        "{org_seen:?}"
    );
    let wf_seen = bodies("/wf", 2);
    assert!(
        wf_seen.iter().any(|b| b["body"] == json!(review)),
        "{wf_seen:?}"
    );
    let started = wf_seen
        .iter()
        .find(|b| b["friendly_name"] == "Workflow Job")
        .unwrap_or_else(|| panic!("no started notification: {wf_seen:?}"));
    assert_eq!(started["status"], "running", "{started}");
    assert_eq!(started["id"], json!(wj));

    // Approved: the approval says so, and the workflow's success lists what its nodes ran.
    s.admin(
        "POST",
        &format!("/api/v2/workflow_approvals/{}/approve/", id(&approval)),
        None,
        204,
    );
    let finished = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(finished["status"], "successful", "{finished}");
    let wf_seen = bodies("/wf", 4);
    assert!(
        wf_seen.iter().any(|b| b["body"]
            .as_str()
            .is_some_and(|t| t.starts_with("The approval node \"release gate\" was approved. "))),
        "{wf_seen:?}"
    );
    let success = wf_seen
        .iter()
        .find(|b| b["friendly_name"] == "Workflow Job" && b["status"] == "successful")
        .unwrap_or_else(|| panic!("no success notification: {wf_seen:?}"));
    let summary = success["body"].as_str().unwrap();
    assert!(
        summary.starts_with("Workflow job summary:")
            && summary.contains("which finished with status successful."),
        "{success}"
    );
    assert!(summary.contains("spawns no job."), "{success}");
    assert_eq!(
        bodies("/org", 2)[1]["body"],
        wf_seen
            .iter()
            .find(|b| b["body"]
                .as_str()
                .is_some_and(|t| t.contains("was approved")))
            .unwrap()["body"]
    );

    // A timeout says it timed out.
    let wj = launch(&s, quick, json!({}));
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(done["status"], "successful", "{done}");
    let org_seen = bodies("/org", 4);
    assert!(
        org_seen.iter().any(|b| b["body"]
            .as_str()
            .is_some_and(|t| t.starts_with("The approval node \"quick gate\" has timed out. "))),
        "{org_seen:?}"
    );
    // Every delivery is recorded as sent.
    let sent = s.admin(
        "GET",
        &format!("/api/v2/notification_templates/{org_hook}/notifications/"),
        None,
        200,
    );
    assert_eq!(sent["count"], 4, "{sent}");
}
