//! End-to-end: `/api/v2/metrics/` read by the real Prometheus text parser (the venv's
//! `prometheus_client`), counting what happened.

use rawx_testkit::lab::wait_final;
use rawx_testkit::ops::*;
use rawx_testkit::Server;
use serde_json::json;

#[test]
fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let s = Server::start_with(opts(&[]));
    let lab = ops_lab(&s);
    let ok = template(&s, &lab, "ok", "play.yml", json!({"pause_s": 0}));
    let bad = template(&s, &lab, "bad", "fail.yml", json!({}));
    let mut events = 0;
    for (jt, want) in [(ok, "successful"), (ok, "successful"), (bad, "failed")] {
        let id = launch(&s, jt);
        assert_eq!(wait_final(&s, id)["status"], want);
        events += s.admin("GET", &format!("/api/v2/jobs/{id}/job_events/"), None, 200)["count"]
            .as_i64()
            .unwrap();
    }
    assert!(events > 10, "only {events} events");

    let m = metrics(&s);
    assert_eq!(
        m.value("awx_status_total", &[("status", "successful")]),
        2.0
    );
    assert_eq!(m.value("awx_status_total", &[("status", "failed")]), 1.0);
    assert_eq!(m.value("awx_status_total", &[("status", "pending")]), 0.0);
    assert_eq!(m.value("awx_running_jobs_total", &[]), 0.0);
    assert_eq!(m.value("awx_job_templates_total", &[]), 2.0);
    assert_eq!(m.value("awx_organizations_total", &[]), 1.0);
    assert_eq!(m.value("awx_hosts_total", &[("type", "all")]), 1.0);
    assert_eq!(
        m.value("awx_instance_status_total", &[("status", "successful")]),
        2.0
    );
    assert_eq!(
        m.value(
            "awx_instance_launch_type_total",
            &[("launch_type", "manual")]
        ),
        3.0
    );
    assert!(m.value("awx_instance_capacity", &[]) > 0.0);
    assert_eq!(
        m.value("awx_instance_consumed_capacity", &[]),
        0.0,
        "nothing runs, nothing is consumed"
    );
    // AWX's ingest counter: every event the ingester stored, on this node.
    assert_eq!(
        m.value("callback_receiver_events_insert_db", &[]),
        events as f64
    );
    assert_eq!(
        m.value(
            "rawx_component_state",
            &[("component", "web"), ("state", "running")]
        ),
        1.0
    );

    // `awx metrics` asks for AWX's JSON form: the same figures by name.
    let cli = s.awx_json(&["metrics"]);
    let ingested = cli["callback_receiver_events_insert_db"]["samples"][0]["value"].clone();
    assert_eq!(ingested, json!(events as f64), "{cli}");
    assert_eq!(cli["awx_status_total"]["type"], "gauge", "{cli}");

    // Admins and auditors only, as AWX.
    let anon = s.http("GET", "/api/v2/metrics/", None, None);
    assert_eq!(anon.status, 401, "{anon:?}");
    s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "joe", "password": "joe-pw"})),
        201,
    );
    let joe = s.http("GET", "/api/v2/metrics/", Some(("joe", "joe-pw")), None);
    assert_eq!(joe.status, 403, "{joe:?}");

    // The dashboard counts what the caller sees.
    let d = s.admin("GET", "/api/v2/dashboard/", None, 200);
    assert_eq!(d["job_templates"]["total"], 2, "{d}");
    assert_eq!(d["hosts"]["total"], 1, "{d}");
    assert_eq!(d["inventories"]["total"], 1, "{d}");
    let dj = s.http("GET", "/api/v2/dashboard/", Some(("joe", "joe-pw")), None);
    assert_eq!(dj.status, 200, "{dj:?}");
    assert_eq!(dj.json()["job_templates"]["total"], 0, "{}", dj.body);
}
