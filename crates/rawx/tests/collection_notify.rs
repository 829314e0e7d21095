//! The real `awx.awx` collection (24.6.1) with surveys and notifications: its
//! `notification_template` module creates, reports no change on a second run, updates and
//! deletes; its `job_template` module sets `survey_spec`/`survey_enabled` and attaches
//! notification templates through `notification_templates_*`, and changes nothing on a
//! second run.

use rawx_testkit::collection::{ok, play};

/// The whole configuration and every event's messages: AWX stores the type's defaults and
/// `null` events, and the collection compares dictionaries key for key, so a second run is
/// unchanged only when the play names them all (as against AWX).
fn tasks(url: &str) -> String {
    format!(
        r#"    - name: hook
      awx.awx.notification_template:
        name: hook
        organization: Ops
        notification_type: webhook
        notification_configuration:
          url: "{url}"
          headers:
            X-Rawx: "yes"
          http_method: POST
          disable_ssl_verification: false
          username: ""
          password: ""
        messages:
          started: null
          error: null
          workflow_approval: null
          success:
            message: !unsafe "{{{{ job_friendly_name }}}} {{{{ job.id }}}} ok"
    - name: template
      awx.awx.job_template:
        name: surveyed
        organization: Ops
        project: Play
        inventory: Local
        playbook: hello.yml
        survey_enabled: true
        survey_spec:
          name: Deploy
          description: what to deploy
          spec:
            - question_name: How many
              variable: n
              type: integer
              required: true
              min: 1
              max: 5
            - question_name: Note
              variable: note
              type: text
              required: false
              default: hi
        notification_templates_started: [hook]
        notification_templates_success: [hook]
"#
    )
}

#[test]
fn surveys_and_notification_templates_through_the_collection() {
    let lab = rawx_testkit::lab::Lab::start();
    let srv = &lab.s;
    lab.project(
        "Play",
        &[(
            "hello.yml",
            "- hosts: all\n  gather_facts: false\n  tasks: []\n",
        )],
    );
    lab.inventory("Local", &[("localhost", rawx_testkit::lab::local_vars())]);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (out, t) = play(srv, dir, &tasks("http://127.0.0.1:9/one"), &[]);
    assert_eq!(
        ok(&out, &t),
        vec![("hook".into(), true), ("template".into(), true)]
    );
    let (out, t) = play(srv, dir, &tasks("http://127.0.0.1:9/one"), &[]);
    assert_eq!(
        ok(&out, &t),
        vec![("hook".into(), false), ("template".into(), false)],
        "a second run changes nothing"
    );
    let nt = srv.admin(
        "GET",
        "/api/v2/notification_templates/?name=hook",
        None,
        200,
    );
    let nt = &nt["results"][0];
    assert_eq!(
        nt["notification_configuration"]["url"],
        "http://127.0.0.1:9/one"
    );
    assert_eq!(
        nt["messages"]["success"]["message"],
        "{{ job_friendly_name }} {{ job.id }} ok"
    );
    let jt = srv.admin("GET", "/api/v2/job_templates/?name=surveyed", None, 200);
    let jt = &jt["results"][0];
    assert_eq!(jt["survey_enabled"], true);
    let spec = srv.admin(
        "GET",
        &format!("/api/v2/job_templates/{}/survey_spec/", jt["id"]),
        None,
        200,
    );
    assert_eq!(spec["spec"][0]["variable"], "n");
    for list in ["started", "success"] {
        let l = srv.admin(
            "GET",
            &format!(
                "/api/v2/job_templates/{}/notification_templates_{list}/",
                jt["id"]
            ),
            None,
            200,
        );
        assert_eq!(rawx_testkit::names(&l), ["hook"]);
    }
    // The survey asks: a launch without the required answer is refused with AWX's message.
    let r = srv.admin(
        "POST",
        &format!("/api/v2/job_templates/{}/launch/", jt["id"]),
        Some(serde_json::json!({})),
        400,
    );
    assert_eq!(
        r["variables_needed_to_start"],
        serde_json::json!(["'n' value missing"])
    );

    // Update, then absent.
    let (out, t) = play(srv, dir, &tasks("http://127.0.0.1:9/two"), &[]);
    assert_eq!(
        ok(&out, &t),
        vec![("hook".into(), true), ("template".into(), false)]
    );
    let nt = srv.admin(
        "GET",
        "/api/v2/notification_templates/?name=hook",
        None,
        200,
    );
    assert_eq!(
        nt["results"][0]["notification_configuration"]["url"],
        "http://127.0.0.1:9/two"
    );
    let absent = "    - name: gone\n      awx.awx.notification_template:\n        name: hook\n        organization: Ops\n        state: absent\n";
    let (out, t) = play(srv, dir, absent, &[]);
    assert_eq!(ok(&out, &t), vec![("gone".into(), true)]);
    let (out, t) = play(srv, dir, absent, &[]);
    assert_eq!(ok(&out, &t), vec![("gone".into(), false)]);
    let nt = srv.admin(
        "GET",
        "/api/v2/notification_templates/?name=hook",
        None,
        200,
    );
    assert_eq!(nt["count"], 0);
}
