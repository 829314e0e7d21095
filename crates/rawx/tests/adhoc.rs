//! End-to-end: ad hoc commands made with the unmodified `awx` CLI and AWX's endpoints
//! (`/ad_hoc_commands/`, `/inventories/N/…`, `/hosts/N/…`, `/groups/N/…`), run by the real
//! `ansible-runner worker` on the node exactly as jobs are, and read back as a user reads
//! them: status, stdout, events, cancel, relaunch, AWX's validation and permissions.

use rawx_testkit::lab::*;
use rawx_testkit::plays::whoami;
use rawx_testkit::{eventually, ADMIN_PW};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const RES: &str = "ad_hoc_commands";

fn machine(lab: &Lab) -> i64 {
    lab.credential("Local", "Machine", json!({"username": whoami()}))
}

fn events(lab: &Lab, id: i64) -> Vec<Value> {
    lab.all(&format!(
        "/api/v2/ad_hoc_commands/{id}/events/?order_by=counter&page_size=200"
    ))
}

fn hosts_in(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["event"] == "runner_on_ok")
        .map(|e| e["host_name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn run_with_the_cli_read_events_and_stdout_relaunch() {
    let lab = Lab::start();
    let s = &lab.s;
    let inv = lab.inventory("Two", &[("alpha", local_vars()), ("beta", local_vars())]);
    let cred = machine(&lab);

    // awxkit's `create --monitor` cannot poll an ad hoc command (it loses its interval), so the
    // CLI creates and the test follows it as `awx ad_hoc_commands get` would.
    let made = s.awx_json(&[
        "ad_hoc_commands",
        "create",
        "--inventory",
        &inv.to_string(),
        "--credential",
        &cred.to_string(),
        "--module_name",
        "shell",
        "--module_args",
        "echo adhoc-marker-$((6*7)) {{ inventory_hostname }}",
        "--limit",
        "beta",
    ]);
    let id = made["id"].as_i64().expect("id");
    assert_eq!(made["type"], "ad_hoc_command", "{made}");
    assert_eq!(made["name"], "shell", "AWX names it after the module");
    let cmd = lab.wait_on(RES, id, Duration::from_secs(120));
    assert_eq!(cmd["status"], "successful", "{cmd}");
    assert_eq!(cmd["failed"], false);
    assert_eq!(cmd["limit"], "beta");
    assert_eq!(cmd["launched_by"]["name"], "admin", "{cmd}");
    for link in [
        "stdout",
        "cancel",
        "relaunch",
        "events",
        "inventory",
        "credential",
    ] {
        assert!(
            cmd["related"][link].is_string(),
            "related.{link} missing: {cmd}"
        );
    }
    let args = job_args(&cmd);
    assert!(
        args.windows(2).any(|w| w[0] == "-m" && w[1] == "shell"),
        "{args:?}"
    );
    assert_eq!(
        args.iter().filter(|a| *a == "beta").count(),
        1,
        "the limit is ansible's host pattern: {args:?}"
    );

    // The module ran on beta only, through the shell (the arithmetic expanded), with host vars.
    let out = lab.stdout_on(RES, id);
    assert!(out.contains("adhoc-marker-42 beta"), "{out}");
    assert!(!out.contains("alpha"), "the limit was ignored:\n{out}");
    let cli_out = s.awx(&["ad_hoc_commands", "stdout", &id.to_string()]);
    assert!(cli_out.stdout.contains("adhoc-marker-42"), "{cli_out}");

    let evs = events(&lab, id);
    let counters: Vec<i64> = evs.iter().map(|e| e["counter"].as_i64().unwrap()).collect();
    assert_eq!(
        counters,
        (1..=evs.len() as i64).collect::<Vec<_>>(),
        "counters are contiguous from 1"
    );
    assert_eq!(hosts_in(&evs), BTreeSet::from(["beta".to_string()]));
    let ok = evs.iter().find(|e| e["event"] == "runner_on_ok").unwrap();
    assert_eq!(ok["ad_hoc_command"], id, "{ok}");
    assert!(ok["host"].is_i64(), "the event links the host: {ok}");
    let detail = s.admin(
        "GET",
        &format!("/api/v2/ad_hoc_command_events/{}/", ok["id"]),
        None,
        200,
    );
    assert_eq!(detail["event"], "runner_on_ok");
    assert_eq!(detail["type"], "ad_hoc_command_event");

    // Relaunch: the same command again, as a new one.
    let again = s.admin(
        "POST",
        &format!("/api/v2/ad_hoc_commands/{id}/relaunch/"),
        Some(json!({})),
        201,
    );
    let id2 = again["ad_hoc_command"].as_i64().expect("new id");
    assert_ne!(id2, id);
    let cmd2 = lab.wait_on(RES, id2, Duration::from_secs(120));
    assert_eq!(cmd2["status"], "successful", "{cmd2}");
    assert_eq!(cmd2["module_args"], cmd["module_args"]);
    assert!(lab.stdout_on(RES, id2).contains("adhoc-marker-42 beta"));

    // Listed where AWX lists them.
    let listed = s.awx_json(&["ad_hoc_commands", "list"]);
    assert_eq!(listed["count"], 2, "{listed}");
    let on_inv = s.admin(
        "GET",
        &format!("/api/v2/inventories/{inv}/ad_hoc_commands/"),
        None,
        200,
    );
    assert_eq!(on_inv["count"], 2, "{on_inv}");
    // Changing one is not a thing: it ran as it was asked.
    let patch = s.http(
        "PATCH",
        &format!("/api/v2/ad_hoc_commands/{id}/"),
        Some(("admin", ADMIN_PW)),
        Some(&json!({"limit": "alpha"})),
    );
    assert_eq!(patch.status, 405, "{patch:?}");
}

#[test]
fn on_a_host_a_group_and_an_inventory() {
    let lab = Lab::start();
    let s = &lab.s;
    let inv = lab.inventory(
        "Three",
        &[
            ("h1", local_vars()),
            ("h2", local_vars()),
            ("h3", local_vars()),
        ],
    );
    let cred = machine(&lab);
    let hosts = s.admin(
        "GET",
        &format!("/api/v2/inventories/{inv}/hosts/?order_by=name"),
        None,
        200,
    );
    let h2 = hosts["results"][1]["id"].as_i64().unwrap();
    let group = s.admin(
        "POST",
        &format!("/api/v2/inventories/{inv}/groups/"),
        Some(json!({"name": "pair"})),
        201,
    );
    let gid = group["id"].as_i64().unwrap();
    for h in [0, 2] {
        s.admin(
            "POST",
            &format!("/api/v2/groups/{gid}/hosts/"),
            Some(json!({"id": hosts["results"][h]["id"]})),
            204,
        );
    }
    let body = json!({"credential": cred, "module_name": "ping", "limit": "h1"});
    // The host's and the group's own name is the pattern, whatever the body says.
    let on_host = s.admin(
        "POST",
        &format!("/api/v2/hosts/{h2}/ad_hoc_commands/"),
        Some(body.clone()),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let on_group = s.admin(
        "POST",
        &format!("/api/v2/groups/{gid}/ad_hoc_commands/"),
        Some(body.clone()),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let on_inv = s.admin(
        "POST",
        &format!("/api/v2/inventories/{inv}/ad_hoc_commands/"),
        Some(json!({"credential": cred, "module_name": "ping"})),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    for (id, want) in [
        (on_host, vec!["h2"]),
        (on_group, vec!["h1", "h3"]),
        (on_inv, vec!["h1", "h2", "h3"]),
    ] {
        let cmd = lab.wait_on(RES, id, Duration::from_secs(120));
        assert_eq!(cmd["status"], "successful", "{cmd}");
        let got = hosts_in(&events(&lab, id));
        let want: BTreeSet<String> = want.into_iter().map(String::from).collect();
        assert_eq!(got, want, "command {id} ({})", cmd["limit"]);
        assert!(lab.stdout_on(RES, id).contains("SUCCESS"), "ping output");
    }
    let listed = s.admin(
        "GET",
        &format!("/api/v2/hosts/{h2}/ad_hoc_commands/"),
        None,
        200,
    );
    assert_eq!(listed["count"], 1, "{listed}");
    assert_eq!(listed["results"][0]["id"], on_host);
}

#[test]
fn awx_validation_and_permissions() {
    let lab = Lab::start();
    let s = &lab.s;
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let cred = machine(&lab);
    let vault = lab.credential("Vault", "Vault", json!({"vault_password": "v"}));
    let post = |body: Value| {
        s.http(
            "POST",
            "/api/v2/ad_hoc_commands/",
            Some(("admin", ADMIN_PW)),
            Some(&body),
        )
    };
    let cases = [
        (
            json!({"inventory": inv, "credential": cred, "module_name": "command"}),
            json!({"module_args": ["No argument passed to command module."]}),
        ),
        (
            json!({"inventory": inv, "credential": vault, "module_name": "ping"}),
            json!({"credential": ["You must provide a machine / SSH credential."]}),
        ),
        (
            json!({"inventory": inv, "credential": cred, "module_name": "ping",
                   "extra_vars": {"ansible_user": "x", "fine": 1}}),
            json!({"extra_vars": ["ansible_user are prohibited from use in ad hoc commands."]}),
        ),
        (
            json!({"credential": cred, "module_name": "ping"}),
            json!({"inventory": ["This field is required."]}),
        ),
    ];
    for (body, want) in cases {
        let r = post(body.clone());
        assert_eq!(r.status, 400, "{body} → {r:?}");
        assert_eq!(r.json(), want, "{body}");
    }
    let bad_module = post(json!({"inventory": inv, "credential": cred, "module_name": "raw"}));
    assert_eq!(bad_module.status, 400, "{bad_module:?}");
    assert!(
        bad_module.json()["module_name"][0]
            .as_str()
            .unwrap_or_default()
            .contains("not a valid choice"),
        "{bad_module:?}"
    );
    assert_eq!(
        s.admin("GET", "/api/v2/ad_hoc_commands/", None, 200)["count"],
        0,
        "nothing was made by a refused request"
    );

    // Someone of another organization neither sees the inventory's commands nor runs one on it.
    let ok = post(json!({"inventory": inv, "credential": cred, "module_name": "ping"}));
    assert_eq!(ok.status, 201, "{ok:?}");
    let id = ok.json()["id"].as_i64().unwrap();
    s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "eve", "password": "eve-pw-1"})),
        201,
    );
    let as_eve = |method: &str, path: &str, body: Option<&Value>| {
        s.http(method, path, Some(("eve", "eve-pw-1")), body)
    };
    let list = as_eve("GET", "/api/v2/ad_hoc_commands/", None);
    assert_eq!(list.json()["count"], 0, "{list:?}");
    let get = as_eve("GET", &format!("/api/v2/ad_hoc_commands/{id}/"), None);
    assert_eq!(get.status, 403, "{get:?}");
    let run = as_eve(
        "POST",
        "/api/v2/ad_hoc_commands/",
        Some(&json!({"inventory": inv, "credential": cred, "module_name": "ping"})),
    );
    assert!(
        matches!(run.status, 400 | 403),
        "eve ran a command on an inventory she cannot see: {run:?}"
    );
    let cancel = as_eve(
        "POST",
        &format!("/api/v2/ad_hoc_commands/{id}/cancel/"),
        None,
    );
    assert_eq!(cancel.status, 403, "{cancel:?}");
    let stdout = as_eve(
        "GET",
        &format!("/api/v2/ad_hoc_commands/{id}/stdout/"),
        None,
    );
    assert_eq!(stdout.status, 403, "{stdout:?}");
    let cmd = lab.wait_on(RES, id, Duration::from_secs(120));
    assert_eq!(cmd["status"], "successful", "{cmd}");
}

#[test]
fn cancel_a_running_command_leaves_no_process() {
    let lab = Lab::start();
    let s = &lab.s;
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let cred = machine(&lab);
    let marker = format!("sleep 3{}", std::process::id() % 1000 + 100);
    let made = s.awx_json(&[
        "ad_hoc_commands",
        "create",
        "--inventory",
        &inv.to_string(),
        "--credential",
        &cred.to_string(),
        "--module_name",
        "shell",
        "--module_args",
        &marker,
    ]);
    let id = made["id"].as_i64().unwrap();
    // Wait until the command itself runs.
    eventually(Duration::from_secs(60), || {
        processes_with(&marker).then_some(()).ok_or_else(|| {
            let c = s.admin("GET", &format!("/api/v2/ad_hoc_commands/{id}/"), None, 200);
            format!("the command never started: {c}")
        })
    });
    let path = format!("/api/v2/ad_hoc_commands/{id}/cancel/");
    assert_eq!(
        s.admin("GET", &path, None, 200),
        json!({"can_cancel": true})
    );
    let r = s.http("POST", &path, Some(("admin", ADMIN_PW)), None);
    assert_eq!(r.status, 202, "{r:?}");
    let cmd = lab.wait_on(RES, id, Duration::from_secs(20));
    assert_eq!(cmd["status"], "canceled", "{cmd}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !processes_with(&marker),
        "the canceled command's process still runs"
    );
}

/// Whether any process's command line contains `needle` (besides this test's own).
fn processes_with(needle: &str) -> bool {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.chars().all(|c| c.is_ascii_digit()) && n != me
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .any(|c| c.contains(needle) && !c.contains("ad_hoc_commands"))
}
