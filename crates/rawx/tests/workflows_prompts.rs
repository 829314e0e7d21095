//! End-to-end: what a workflow template asks at launch and what its nodes' jobs receive, with
//! real playbooks. A survey on the workflow (required answers, a password kept sealed, answers
//! reaching the playbook), labels and `ask_labels_on_launch`, `set_stats` artifacts passed
//! to later nodes (also out of a nested workflow; hidden when marked `_ansible_no_log`), a
//! nested workflow taking its node's variables and prompts, and AWX's refusal of a workflow
//! that would run itself again.

mod wf;
use wf::*;

fn stdout(s: &Server, job: i64) -> String {
    let r = s.http(
        "GET",
        &format!("/api/v2/jobs/{job}/stdout/?format=txt"),
        Some(("admin", rawx_testkit::ADMIN_PW)),
        None,
    );
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

#[test]
fn a_workflow_survey_and_labels_are_asked_at_launch_and_reach_the_jobs() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let ok = jt(&s, &f, "ok", "ok.yml");
    let wf = wfjt(&s, &f, "surveyed");
    node(&s, wf, ok, json!({"identifier": "only"}));
    let spec = json!({"name": "Release", "description": "what to ship", "spec": [
        {"question_name": "Marker", "variable": "wf_marker", "type": "text",
         "required": true, "default": "", "min": 0, "max": 100},
        {"question_name": "Secret", "variable": "wf_secret", "type": "password",
         "required": false, "default": "", "min": 0, "max": 100}]});
    s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wf}/survey_spec/"),
        Some(spec),
        200,
    );
    let t = s.admin(
        "PATCH",
        &format!("/api/v2/workflow_job_templates/{wf}/"),
        Some(json!({"survey_enabled": true})),
        200,
    );
    assert_eq!(
        t["related"]["survey_spec"],
        format!("/api/v2/workflow_job_templates/{wf}/survey_spec/")
    );
    assert_eq!(t["summary_fields"]["survey"]["title"], "Release", "{t}");
    let shown = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/survey_spec/"),
        None,
        200,
    );
    assert_eq!(shown["spec"][0]["variable"], "wf_marker", "{shown}");

    let asks = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_templates/{wf}/launch/"),
        None,
        200,
    );
    assert_eq!(asks["survey_enabled"], true, "{asks}");
    assert_eq!(asks["variables_needed_to_start"], json!(["wf_marker"]));
    assert_eq!(asks["can_start_without_user_input"], false);
    let refused = s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wf}/launch/"),
        Some(json!({})),
        400,
    );
    assert!(refused["variables_needed_to_start"].is_array(), "{refused}");

    // A label on the template goes to its workflow jobs.
    let label = s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wf}/labels/"),
        Some(json!({"name": "nightly", "organization": f.org})),
        201,
    );
    let other = id(&s.admin(
        "POST",
        "/api/v2/labels/",
        Some(json!({"name": "hotfix", "organization": f.org})),
        201,
    ));

    let out = s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wf}/launch/"),
        Some(
            json!({"extra_vars": {"wf_marker": "surveyed", "wf_secret": "hunter2", "other": 1},
            "labels": [other]}),
        ),
        201,
    );
    // Not asked for: a variable outside the survey and labels come back ignored.
    assert_eq!(
        out["ignored_fields"]["extra_vars"],
        json!({"other": 1}),
        "{out}"
    );
    assert_eq!(out["ignored_fields"]["labels"], json!([other]), "{out}");
    let wj = out["workflow_job"].as_i64().unwrap();
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(done["status"], "successful", "{done}");
    assert!(
        !done["extra_vars"].as_str().unwrap().contains("hunter2"),
        "a password answer is never shown: {done}"
    );
    let labels = s.admin(
        "GET",
        &format!("/api/v2/workflow_jobs/{wj}/labels/"),
        None,
        200,
    );
    assert_eq!(names(&labels), ["nightly"], "{labels}");
    let nodes = job_nodes(&s, wj);
    let job = job_of(&s, &nodes["only"]);
    let vars = job["extra_vars"].as_str().unwrap();
    assert!(vars.contains("surveyed"), "{job}");
    assert!(
        vars.contains("$encrypted$") && !vars.contains("hunter2"),
        "{job}"
    );
    let text = stdout(&s, id(&job));
    assert!(
        text.contains("fine surveyed"),
        "the answer reaches the play:\n{text}"
    );

    // Asked for: the labels given replace the template's.
    s.admin(
        "PATCH",
        &format!("/api/v2/workflow_job_templates/{wf}/"),
        Some(json!({"ask_labels_on_launch": true})),
        200,
    );
    let out = s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wf}/launch/"),
        Some(json!({"extra_vars": {"wf_marker": "again"}, "labels": [other]})),
        201,
    );
    let wj = out["workflow_job"].as_i64().unwrap();
    let labels = s.admin(
        "GET",
        &format!("/api/v2/workflow_jobs/{wj}/labels/"),
        None,
        200,
    );
    assert_eq!(names(&labels), ["hotfix"], "{labels}");
    assert_eq!(label["name"], "nightly");
    wait_workflow(&s, wj, Duration::from_secs(240));
}

fn names(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn artifacts_pass_to_later_nodes_and_a_workflow_may_not_run_itself() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let stats = jt(&s, &f, "stats", "stats.yml");
    let ok = jt(&s, &f, "ok", "ok.yml");

    // `set_stats` of one node's job are extra vars of the next.
    let inner = wfjt(&s, &f, "passing");
    let first = node(&s, inner, stats, json!({"identifier": "stats"}));
    let second = node(&s, inner, ok, json!({"identifier": "reader"}));
    link(&s, first, "success_nodes", second);
    let wj = launch(&s, inner, json!({}));
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(done["status"], "successful", "{done}");
    let nodes = job_nodes(&s, wj);
    let made = job_of(&s, &nodes["stats"]);
    assert_eq!(
        made["artifacts"],
        json!({"passed_on": "from-stats"}),
        "{made}"
    );
    let reader = job_of(&s, &nodes["reader"]);
    assert!(
        reader["extra_vars"]
            .as_str()
            .unwrap()
            .contains("from-stats"),
        "{reader}"
    );

    // Out of a nested workflow: its jobs' artifacts are its own.
    let outer = wfjt(&s, &f, "wrapping");
    let nested = node(&s, outer, inner, json!({"identifier": "nested"}));
    let after = node(&s, outer, ok, json!({"identifier": "after"}));
    link(&s, nested, "success_nodes", after);
    let wj = launch(&s, outer, json!({}));
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(done["status"], "successful", "{done}");
    let nodes = job_nodes(&s, wj);
    let after = job_of(&s, &nodes["after"]);
    assert!(
        after["extra_vars"].as_str().unwrap().contains("from-stats"),
        "{after}"
    );

    // A runs B, B runs A: the second A is refused (AWX's recursion check).
    let a = wfjt(&s, &f, "loop a");
    let b = wfjt(&s, &f, "loop b");
    node(&s, a, b, json!({"identifier": "to-b"}));
    node(&s, b, a, json!({"identifier": "to-a"}));
    let wj = launch(&s, a, json!({}));
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(done["status"], "failed", "{done}");
    let b_job = job_nodes(&s, wj)["to-b"]["job"].as_i64().unwrap();
    let b_done = s.admin("GET", &format!("/api/v2/workflow_jobs/{b_job}/"), None, 200);
    assert_eq!(b_done["status"], "failed", "{b_done}");
    let again = job_nodes(&s, b_job)["to-a"]["job"].as_i64().unwrap();
    let again = s.admin("GET", &format!("/api/v2/workflow_jobs/{again}/"), None, 200);
    assert_eq!(again["status"], "failed", "{again}");
    assert_eq!(
        again["job_explanation"],
        format!(
            "Workflow Job spawned from workflow could not start because it would result in \
             recursion (spawn order, most recent first: <loop a-{a}>, <loop b-{b}>, <loop a-{a}>)"
        )
    );
}

#[test]
fn a_nested_workflow_takes_its_node_prompts_and_secret_artifacts_stay_hidden() {
    let s = Server::start_with(opts());
    let f = setup(&s);
    let ok = jt(&s, &f, "ok", "ok.yml");
    let secret = jt(&s, &f, "secret stats", "secret_stats.yml");
    let check = jt(&s, &f, "check secret", "check_secret.yml");

    // A node's own variables and prompts reach the workflow it nests, where that workflow
    // asks for them (AWX's `get_job_kwargs` for a workflow template).
    let inner = id(&s.admin(
        "POST",
        "/api/v2/workflow_job_templates/",
        Some(json!({"name": "inner", "organization": f.org,
                    "ask_variables_on_launch": true, "ask_limit_on_launch": true})),
        201,
    ));
    node(&s, inner, ok, json!({"identifier": "inner-ok"}));
    let outer = wfjt(&s, &f, "outer");
    node(
        &s,
        outer,
        inner,
        json!({"identifier": "nested", "extra_data": {"wf_marker": "from-the-node"},
               "limit": "localhost"}),
    );
    let wj = launch(&s, outer, json!({}));
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(done["status"], "successful", "{done}");
    let nested = job_nodes(&s, wj)["nested"]["job"].as_i64().unwrap();
    let nested = s.admin(
        "GET",
        &format!("/api/v2/workflow_jobs/{nested}/"),
        None,
        200,
    );
    assert!(
        nested["extra_vars"]
            .as_str()
            .unwrap()
            .contains("from-the-node"),
        "{nested}"
    );
    assert_eq!(nested["limit"], "localhost", "{nested}");
    let inner_job = job_of(
        &s,
        &job_nodes(&s, nested["id"].as_i64().unwrap())["inner-ok"],
    );
    assert!(
        stdout(&s, inner_job["id"].as_i64().unwrap()).contains("fine from-the-node"),
        "{inner_job}"
    );

    // `set_stats` with `_ansible_no_log`: the artifacts are hidden on the job that made them;
    // the next node's job gets the value (its playbook asserts it) but shows `$encrypted$`
    // and never prints it.
    let wf = wfjt(&s, &f, "secret passing");
    let first = node(&s, wf, secret, json!({"identifier": "makes"}));
    let second = node(&s, wf, check, json!({"identifier": "checks"}));
    link(&s, first, "success_nodes", second);
    let wj = launch(&s, wf, json!({}));
    let done = wait_workflow(&s, wj, Duration::from_secs(240));
    assert_eq!(done["status"], "successful", "{done}");
    let nodes = job_nodes(&s, wj);
    let made = job_of(&s, &nodes["makes"]);
    assert_eq!(
        made["artifacts"],
        json!("$hidden due to Ansible no_log flag$"),
        "{made}"
    );
    let checked = job_of(&s, &nodes["checks"]);
    assert_eq!(checked["status"], "successful", "{checked}");
    let vars: Value = serde_json::from_str(checked["extra_vars"].as_str().unwrap()).unwrap();
    assert_eq!(vars["wf_marker"], "$encrypted$", "{checked}");
    let out = stdout(&s, checked["id"].as_i64().unwrap());
    assert!(out.contains("got "), "{out}");
    assert!(!out.contains("s3cr3t-from-stats"), "{out}");
}
