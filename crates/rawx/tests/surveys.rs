//! End-to-end: a job template's survey. The spec is written and read at `survey_spec/` with
//! AWX's checks, a launch validates the answers as AWX does (400 `variables_needed_to_start`),
//! the real playbook sees the answers and the survey's defaults, and a password answer is in
//! the clear only inside the run: `$encrypted$` in the job, masked in its output and events,
//! absent from the server's logs. The awx CLI launches with answers too.

use rawx_testkit::lab::*;
use rawx_testkit::plays::*;
use serde_json::{json, Value};

const PLAY: &str = "\
- name: Survey play
  hosts: all
  gather_facts: false
  tasks:
    - name: show answers
      debug:
        msg: \"n={{ n }} color={{ color }} picks={{ picks | default(['unset']) | join('+') }} note={{ note }} ratio={{ ratio }}\"
    - name: check the password
      debug:
        msg: \"pw_ok={{ pw == 'Sup3r-s3cret-answer' }} pw_len={{ pw | length }} pw={{ pw }}\"
";

const PASSWORD: &str = "Sup3r-s3cret-answer";
const DEFAULT_PASSWORD: &str = "Dflt-pass-w0rd";

fn spec() -> Value {
    json!({"name": "Deploy survey", "description": "what to deploy", "spec": [
        {"question_name": "How many", "variable": "n", "type": "integer", "required": true,
         "min": 1, "max": 10},
        {"question_name": "Color", "variable": "color", "type": "multiplechoice",
         "required": true, "choices": "red\ngreen\nblue"},
        {"question_name": "Picks", "variable": "picks", "type": "multiselect",
         "required": false, "choices": ["a", "b", "c"], "default": "a\nb"},
        {"question_name": "Note", "variable": "note", "type": "text", "required": false,
         "min": 2, "max": 8, "default": "dflt"},
        {"question_name": "Ratio", "variable": "ratio", "type": "float", "required": false,
         "default": 0.5},
        {"question_name": "Password", "variable": "pw", "type": "password", "required": true,
         "default": DEFAULT_PASSWORD},
    ]})
}

#[test]
fn survey_answers_reach_the_playbook_and_passwords_stay_secret() {
    let lab = Lab::start();
    let s = &lab.s;
    let p = lab.project("survey", &[("survey.yml", PLAY)]);
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let jt = lab.jt(
        "surveyed",
        p,
        inv,
        "survey.yml",
        json!({"survey_enabled": true}),
    );
    let spec_url = format!("/api/v2/job_templates/{jt}/survey_spec/");

    // No spec yet: an empty object, and the launch asks nothing.
    assert_eq!(s.admin("GET", &spec_url, None, 200), json!({}));
    let detail = s.admin("GET", &format!("/api/v2/job_templates/{jt}/"), None, 200);
    assert_eq!(detail["related"]["survey_spec"], json!(spec_url));
    assert!(detail.get("survey_spec").is_none(), "{detail}");

    // AWX's spec checks, as `{"error": …}`.
    let bad = |body: Value, msg: &str| {
        let r = s.admin("POST", &spec_url, Some(body), 400);
        assert_eq!(r, json!({"error": msg}));
    };
    bad(
        json!({"name": "x", "description": ""}),
        "Field 'spec' is missing from survey spec.",
    );
    bad(
        json!({"name": "x", "description": "", "spec": []}),
        "'spec' doesn't contain any items.",
    );
    bad(
        json!({"name": "x", "description": "", "spec": [
            {"question_name": "q", "variable": "v", "type": "text", "required": true},
            {"question_name": "q", "variable": "v", "type": "text", "required": true}]}),
        "'variable' 'v' duplicated in survey question 1.",
    );
    bad(
        json!({"name": "x", "description": "", "spec": [
            {"question_name": "q", "variable": "v", "type": "integer", "required": true, "default": "ten"}]}),
        "Default value ten in survey question 0 expected to be integer.",
    );
    s.admin("POST", &spec_url, Some(spec()), 200);
    let shown = s.admin("GET", &spec_url, None, 200);
    assert_eq!(shown["spec"][5]["default"], json!("$encrypted$"), "{shown}");
    assert_eq!(shown["spec"][1]["choices"], json!("red\ngreen\nblue"));
    // Posting back what was shown keeps the stored password default.
    s.admin("POST", &spec_url, Some(shown.clone()), 200);
    assert_eq!(s.admin("GET", &spec_url, None, 200), shown);
    let detail = s.admin("GET", &format!("/api/v2/job_templates/{jt}/"), None, 200);
    assert_eq!(
        detail["summary_fields"]["survey"],
        json!({"title": "Deploy survey", "description": "what to deploy"})
    );

    let launch_url = format!("/api/v2/job_templates/{jt}/launch/");
    let info = s.admin("GET", &launch_url, None, 200);
    assert_eq!(info["survey_enabled"], json!(true));
    assert_eq!(
        info["variables_needed_to_start"],
        json!(["n", "color", "pw"])
    );
    assert_eq!(info["can_start_without_user_input"], json!(false));

    // Bad answers: AWX's 400, every message, nothing launched.
    let jobs_before = s.admin("GET", "/api/v2/jobs/", None, 200)["count"].clone();
    let refused = |vars: Value| {
        s.admin("POST", &launch_url, Some(json!({"extra_vars": vars})), 400)
            ["variables_needed_to_start"]
            .clone()
    };
    assert_eq!(
        refused(json!({})),
        json!([
            "'n' value missing",
            "'color' value missing",
            "'pw' value missing"
        ])
    );
    assert_eq!(
        refused(
            json!({"n": 11, "color": "pink", "picks": ["a", "z"], "note": "far-too-long",
                       "ratio": "half", "pw": "x"})
        ),
        json!([
            "'n' value 11 is too large (must be no more than 10).",
            "Value pink for 'color' expected to be one of ['red', 'green', 'blue'].",
            "Value z for 'picks' expected to be one of ['a', 'b', 'c'].",
            "'note' value far-too-long is too large (must be no more than 8).",
            "Value half for 'ratio' expected to be a numeric type.",
        ])
    );
    assert_eq!(
        refused(json!({"n": "3", "color": "red", "pw": "x", "note": "a"})),
        json!([
            "Value 3 for 'n' expected to be an integer.",
            "'note' value a is too small (length is 1 must be at least 2)."
        ])
    );
    assert_eq!(
        s.admin("GET", "/api/v2/jobs/", None, 200)["count"],
        jobs_before
    );

    // A good launch: answers and defaults reach the playbook, the template does not ask for
    // variables yet survey answers are taken; anything else is ignored.
    let answer = lab.launch_with(
        jt,
        json!({"extra_vars": {"n": 3, "color": "green", "pw": PASSWORD, "other": 1,
                             "picks": ["a", "c"]}}),
    );
    assert_eq!(
        answer["ignored_fields"],
        json!({"extra_vars": {"other": 1}}),
        "{answer}"
    );
    let id = answer["job"].as_i64().unwrap();
    let job = lab.wait(id);
    assert_eq!(job["status"], json!("successful"), "{}", lab.stdout(id));
    let out = lab.stdout(id);
    assert!(
        out.contains("n=3 color=green picks=a+c note=dflt ratio=0.5"),
        "{out}"
    );
    assert!(out.contains("pw_ok=True pw_len=19"), "{out}");
    // The play prints it: the stored output shows the mask.
    assert!(out.contains("pw=**********"), "{out}");
    let vars: Value = serde_json::from_str(job["extra_vars"].as_str().unwrap()).unwrap();
    assert_eq!(vars["pw"], json!("$encrypted$"), "{vars}");
    assert_eq!(vars["n"], json!(3));
    assert!(vars.get("other").is_none());

    // The password default applies when the answer is `$encrypted$` (what a client shows).
    let id2 = lab.launch_with(
        jt,
        json!({"extra_vars": {"n": 1, "color": "red", "pw": "$encrypted$"}}),
    )["job"]
        .as_i64()
        .unwrap();
    let job2 = lab.wait(id2);
    assert_eq!(job2["status"], json!("successful"));
    let out2 = lab.stdout(id2);
    assert!(out2.contains("pw_ok=False pw_len=14"), "{out2}");

    // Through the awx CLI: a launch with answers.
    let cli = s.awx_json(&[
        "job_templates",
        "launch",
        "surveyed",
        "--extra_vars",
        &json!({"n": 7, "color": "blue", "pw": PASSWORD, "note": "cli"}).to_string(),
    ]);
    let id3 = cli["id"].as_i64().unwrap();
    assert_eq!(lab.wait(id3)["status"], json!("successful"));
    let out3 = lab.stdout(id3);
    // AWX applies no multiselect default given as text (its own check of the default wants
    // a list), so an unanswered multiselect stays undefined.
    assert!(
        out3.contains("n=7 color=blue picks=unset note=cli"),
        "{out3}"
    );

    // The secrets: never in the job, its events, its output, nor the server's logs.
    let secrets = [
        ("survey password".to_string(), PASSWORD.to_string()),
        (
            "survey default password".to_string(),
            DEFAULT_PASSWORD.to_string(),
        ),
    ];
    for jid in [id, id2, id3] {
        let job = lab.job(jid);
        assert_clean("the job", job.to_string().as_bytes(), &secrets);
        let events = Value::Array(lab.events(jid)).to_string();
        assert_clean("the events", events.as_bytes(), &secrets);
        assert_clean("the stdout", lab.stdout(jid).as_bytes(), &secrets);
    }
    assert_clean("the spec", shown.to_string().as_bytes(), &secrets);
    assert_clean("the server's logs", s.logs().as_bytes(), &secrets);

    // DELETE empties the spec; the launch asks nothing again.
    s.admin("DELETE", &spec_url, None, 200);
    assert_eq!(s.admin("GET", &spec_url, None, 200), json!({}));
    let info = s.admin("GET", &launch_url, None, 200);
    assert_eq!(info["survey_enabled"], json!(false));
    assert_eq!(info["variables_needed_to_start"], json!([]));
}
