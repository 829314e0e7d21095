//! Execution environments written by AWX's own clients against a real `rawx serve`: the
//! `awx.awx.execution_environment` module (create, unchanged second run, check mode, update,
//! a missing dependency, absent), the `awx` CLI (`awx execution_environments create`), and a
//! job that runs with one: the job records the environment it resolved to (its template's,
//! or the one prompted at launch) while it runs in the node's own Python environment.

use rawx_testkit::collection::{ok, play};
use rawx_testkit::{Opts, Server};
use serde_json::Value;

fn present(desc: &str, pull: &str) -> String {
    format!(
        r#"    - name: organization
      awx.awx.organization: {{name: EEOrg}}
    - name: registry
      awx.awx.credential:
        name: Quay
        organization: EEOrg
        credential_type: Container Registry
        inputs: {{host: quay.io, username: bot, password: s3cret}}
    - name: ee
      awx.awx.execution_environment:
        name: Custom EE
        image: quay.io/acme/custom-ee:1.0
        organization: EEOrg
        credential: Quay
        pull: {pull}
        description: "{desc}"
"#
    )
}

fn one(srv: &Server, path: &str) -> Value {
    let list = srv.admin("GET", path, None, 200);
    assert_eq!(list["count"], 1, "{path}: {list}");
    list["results"][0].clone()
}

#[test]
fn the_collection_and_the_cli_write_execution_environments_and_jobs_record_theirs() {
    let srv = Server::start_with(Opts {
        env: rawx_testkit::lab::runner_env(),
        ..Opts::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let changes = |c: &[bool]| -> Vec<(String, bool)> {
        ["organization", "registry", "ee"]
            .iter()
            .zip(c)
            .map(|(n, c)| (n.to_string(), *c))
            .collect()
    };

    // Create, then the same again: nothing to change. (The registry credential's password is
    // a secret, which the collection always sends again.)
    let (out, tasks) = play(&srv, dir, &present("one", "always"), &[]);
    assert_eq!(ok(&out, &tasks), changes(&[true, true, true]));
    let (out, tasks) = play(&srv, dir, &present("one", "always"), &[]);
    assert_eq!(ok(&out, &tasks)[2], ("ee".to_string(), false));
    let ee = one(&srv, "/api/v2/execution_environments/?name=Custom+EE");
    assert_eq!(ee["image"], "quay.io/acme/custom-ee:1.0");
    assert_eq!(ee["pull"], "always");
    assert_eq!(ee["summary_fields"]["organization"]["name"], "EEOrg");
    assert_eq!(ee["summary_fields"]["credential"]["name"], "Quay");

    // Check mode reports the change and makes none; then the update.
    let (out, tasks) = play(&srv, dir, &present("two", "never"), &["--check"]);
    assert_eq!(ok(&out, &tasks)[2], ("ee".to_string(), true));
    let ee = one(&srv, "/api/v2/execution_environments/?name=Custom+EE");
    assert_eq!(ee["description"], "one");
    let (out, tasks) = play(&srv, dir, &present("two", "never"), &[]);
    assert_eq!(ok(&out, &tasks)[2], ("ee".to_string(), true));
    let ee = one(&srv, "/api/v2/execution_environments/?name=Custom+EE");
    assert_eq!(ee["description"], "two");
    assert_eq!(ee["pull"], "never");

    // A missing dependency names the lookup that found nothing.
    let (out, tasks) = play(
        &srv,
        dir,
        "    - name: ee\n      awx.awx.execution_environment: {name: Other, image: quay.io/x/y, organization: Nope}\n",
        &[],
    );
    assert_ne!(out.code, 0, "{out}");
    let msg = tasks[0].result["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("returned 0 items, expected 1") && msg.contains("organizations"),
        "{msg}"
    );
    // An image that is none is refused with AWX's message.
    let (out, tasks) = play(
        &srv,
        dir,
        "    - name: ee\n      awx.awx.execution_environment: {name: Bad, image: 'Not An Image'}\n",
        &[],
    );
    assert_ne!(out.code, 0, "{out}");
    assert!(
        tasks[0].result.to_string().contains("is not valid"),
        "{}",
        tasks[0].result
    );

    // The awx CLI: create (the flags come from OPTIONS), list, modify.
    let made = srv.awx_json(&[
        "execution_environments",
        "create",
        "--name",
        "CLI EE",
        "--image",
        "registry.example.com/team/ee:2",
        "--organization",
        "EEOrg",
        "--pull",
        "missing",
    ]);
    assert_eq!(made["image"], "registry.example.com/team/ee:2", "{made}");
    assert_eq!(made["organization"], ee["organization"]);
    let cli_ee = made["id"].as_i64().unwrap();
    let listed = srv.awx_json(&["execution_environments", "list", "--name", "CLI EE"]);
    assert_eq!(listed["count"], 1, "{listed}");
    let changed = srv.awx_json(&[
        "execution_environments",
        "modify",
        &cli_ee.to_string(),
        "--description",
        "from the CLI",
    ]);
    assert_eq!(changed["description"], "from the CLI", "{changed}");

    // A job of a template naming one records it; a prompt at launch replaces it.
    let (out, tasks) = play(
        &srv,
        dir,
        r#"    - name: inventory
      awx.awx.inventory: {name: EEInv, organization: EEOrg}
    - name: host
      awx.awx.host:
        name: localhost
        inventory: EEInv
        variables:
          ansible_connection: local
          ansible_python_interpreter: !unsafe '{{ ansible_playbook_python }}'
    - name: project
      awx.awx.project: {name: EEProj, organization: EEOrg, scm_type: manual, local_path: demo}
    - name: job_template
      awx.awx.job_template:
        name: EEJT
        project: EEProj
        inventory: EEInv
        playbook: hello.yml
        execution_environment: Custom EE
        ask_execution_environment_on_launch: true
    - name: launch
      awx.awx.job_launch: {job_template: EEJT, wait: true, timeout: 300}
      register: first
    - name: launch with another
      awx.awx.job_launch: {job_template: EEJT, execution_environment: CLI EE, wait: true, timeout: 300}
      register: second
"#,
        &[],
    );
    let done = ok(&out, &tasks);
    assert_eq!(done.len(), 6, "{done:?}");
    let job = |t: &rawx_testkit::collection::Task| {
        let id = t.result["id"].as_i64().unwrap();
        srv.admin("GET", &format!("/api/v2/jobs/{id}/"), None, 200)
    };
    let first = job(&tasks[4]);
    assert_eq!(first["status"], "successful", "{first}");
    assert_eq!(first["execution_environment"], ee["id"]);
    assert_eq!(
        first["summary_fields"]["execution_environment"]["image"],
        "quay.io/acme/custom-ee:1.0"
    );
    let second = job(&tasks[5]);
    assert_eq!(second["status"], "successful", "{second}");
    assert_eq!(second["execution_environment"], cli_ee);
    // The template lists under the environment it names.
    let ujts = srv.admin(
        "GET",
        &format!(
            "/api/v2/execution_environments/{}/unified_job_templates/",
            ee["id"]
        ),
        None,
        200,
    );
    assert_eq!(rawx_testkit::names(&ujts), ["EEJT"]);

    // Delete, then again: nothing left to delete.
    let absent =
        "    - name: ee\n      awx.awx.execution_environment: {name: Custom EE, state: absent}\n";
    let (out, tasks) = play(&srv, dir, absent, &[]);
    assert_eq!(ok(&out, &tasks), [("ee".to_string(), true)]);
    let (out, tasks) = play(&srv, dir, absent, &[]);
    assert_eq!(ok(&out, &tasks), [("ee".to_string(), false)]);
    let jt = one(&srv, "/api/v2/job_templates/?name=EEJT");
    assert_eq!(jt["execution_environment"], Value::Null);
}
