//! End-to-end: what the controller shows of the mesh it runs jobs over (controller → ctl →
//! hop → exec2, three `rawx receptor` processes on loopback): `/api/v2/instances/` with the
//! hop and the execution node, their `peers` and `receptor_addresses`, the sub-lists, and
//! `/api/v2/mesh_visualizer/`, as AWX 24.6.1 shapes them.

mod receptor_node;

use rawx_testkit::clients::receptorctl;
use rawx_testkit::{eventually, DataDir};
use receptor_node::*;
use serde_json::Value;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn instances_show_the_hop_and_the_execution_node_with_their_peers_and_addresses() {
    let (p_ctl, p_hop) = (free_port(), free_port());
    let ctl = Receptor::start(
        &node(
            "ctl",
            &format!("- tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {p_ctl}\n"),
        ),
        DataDir::new(),
        ready,
    );
    let hop = Receptor::start(
        &node(
            "hop",
            &format!(
                "- tcp-peer:\n    address: 127.0.0.1:{p_ctl}\n\
                 - tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {p_hop}\n"
            ),
        ),
        DataDir::new(),
        ready,
    );
    let _exec = Receptor::start(
        &node(
            "exec2",
            &format!(
                "- tcp-peer:\n    address: 127.0.0.1:{p_hop}\n{}",
                work_command(false)
            ),
        ),
        DataDir::new(),
        ready,
    );
    eventually(Duration::from_secs(60), || {
        let out = receptorctl(&ctl.socket(), &["status", "--json"]);
        let ads = out.json()["Advertisements"].clone();
        let all = ["ctl", "hop", "exec2"].iter().all(|n| {
            ads.as_array()
                .is_some_and(|a| a.iter().any(|ad| ad["NodeID"] == *n))
        });
        all.then_some(())
            .ok_or(format!("not every node advertised yet: {out}"))
    });
    let lab = lab_on(
        &ctl.socket().display().to_string(),
        &[("RAWX_RECEPTOR_WORK_NODE", "exec2")],
    );
    let s = &lab.s;
    checked_instance(&lab, "exec2");
    let by_host = |list: &Value, h: &str| -> Value {
        list["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["hostname"] == h)
            .cloned()
            .unwrap_or_else(|| panic!("no instance {h} in {list}"))
    };
    let list = eventually(Duration::from_secs(30), || {
        let list = s.admin("GET", "/api/v2/instances/", None, 200);
        let hop = list["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["hostname"] == "hop")
            .cloned();
        match hop {
            Some(h) if h["peers"].as_array().is_some_and(|p| !p.is_empty()) => Ok(list),
            _ => Err(format!("the hop is not listed with its peer yet: {list}")),
        }
    });
    let me = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["node_type"] == "control")
        .cloned()
        .unwrap_or_else(|| panic!("no control instance: {list}"));
    let (hop_i, exec_i) = (by_host(&list, "hop"), by_host(&list, "exec2"));
    assert_eq!(hop_i["node_type"], "hop", "{hop_i}");
    assert_eq!(hop_i["node_state"], "ready", "{hop_i}");
    assert_eq!(exec_i["node_type"], "execution", "{exec_i}");
    assert_eq!(hop_i["listener_port"], p_hop, "{hop_i}");
    assert_eq!(hop_i["protocol"], "tcp", "{hop_i}");
    assert_eq!(me["listener_port"], p_ctl, "{me}");
    assert_eq!(exec_i["listener_port"], Value::Null, "{exec_i}");

    // Receptor addresses: the hop's and the control node's listeners.
    let addrs = s.admin("GET", "/api/v2/receptor_addresses/", None, 200);
    assert_eq!(addrs["count"], 2, "{addrs}");
    let hop_addrs = s.admin(
        "GET",
        &format!("/api/v2/instances/{}/receptor_addresses/", hop_i["id"]),
        None,
        200,
    );
    let a = &hop_addrs["results"][0];
    assert_eq!(hop_addrs["count"], 1, "{hop_addrs}");
    assert_eq!(a["address"], "127.0.0.1", "{a}");
    assert_eq!(a["port"], p_hop, "{a}");
    assert_eq!(a["protocol"], "tcp", "{a}");
    assert_eq!(a["canonical"], true, "{a}");
    assert_eq!(a["instance"], hop_i["id"], "{a}");
    assert_eq!(a["full_address"], format!("127.0.0.1:{p_hop}"), "{a}");
    let ctl_addr = &s.admin(
        "GET",
        &format!("/api/v2/instances/{}/receptor_addresses/", me["id"]),
        None,
        200,
    )["results"][0];

    // Peers: exec2 dials the hop, the hop dials ctl (this controller's node).
    assert_eq!(exec_i["peers"], serde_json::json!([a["id"]]), "{exec_i}");
    assert_eq!(
        hop_i["peers"],
        serde_json::json!([ctl_addr["id"]]),
        "{hop_i}"
    );
    assert_eq!(
        hop_i["reverse_peers"],
        serde_json::json!([exec_i["id"]]),
        "{hop_i}"
    );
    assert_eq!(
        me["reverse_peers"],
        serde_json::json!([hop_i["id"]]),
        "{me}"
    );
    let peers = s.admin(
        "GET",
        &format!("/api/v2/instances/{}/peers/", exec_i["id"]),
        None,
        200,
    );
    assert_eq!(peers["count"], 1, "{peers}");
    assert_eq!(
        peers["results"][0]["full_address"], a["full_address"],
        "{peers}"
    );
    // A node the controller learned from the mesh is not managed by it: AWX offers its
    // install bundle; the execution node the controller was configured with is managed.
    assert!(
        hop_i["related"]["install_bundle"].is_string()
            && hop_i["related"]["receptor_addresses"].is_string()
            && hop_i["related"]["peers"].is_string(),
        "{hop_i}"
    );
    assert_eq!(hop_i["managed"], false, "{hop_i}");
    assert!(
        exec_i["related"].get("install_bundle").is_none(),
        "{exec_i}"
    );

    // The mesh visualizer: every node, every link with its state.
    let mesh = s.admin("GET", "/api/v2/mesh_visualizer/", None, 200);
    let nodes = mesh["nodes"].as_array().unwrap();
    for (h, t) in [("hop", "hop"), ("exec2", "execution")] {
        assert!(
            nodes
                .iter()
                .any(|n| n["hostname"] == h && n["node_type"] == t && n["node_state"].is_string()),
            "{mesh}"
        );
    }
    let links: Vec<(String, String, String)> = mesh["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["source"].as_str().unwrap().to_string(),
                l["target"].as_str().unwrap().to_string(),
                l["link_state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let me_host = me["hostname"].as_str().unwrap().to_string();
    assert!(
        links.contains(&("exec2".into(), "hop".into(), "established".into())),
        "{mesh}"
    );
    assert!(
        links.contains(&("hop".into(), me_host, "established".into())),
        "{mesh}"
    );
    assert_eq!(links.len(), 2, "{mesh}");

    // The hop goes away: it is shown unavailable.
    drop(hop);
    let hop_state = |want: &str| {
        eventually(Duration::from_secs(30), || {
            let h = s.admin(
                "GET",
                &format!("/api/v2/instances/{}/", hop_i["id"]),
                None,
                200,
            );
            (h["node_state"] == want)
                .then_some(())
                .ok_or(format!("the hop shows {} (want {want})", h["node_state"]))
        })
    };
    hop_state("unavailable");

    // Its install bundle: AWX's layout, a rawx config with its listener and its peer, a
    // playbook of builtin modules only, and an install script.
    let work = DataDir::new();
    let tgz = work.path().join("hop.tar.gz");
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-u",
            &format!("admin:{}", rawx_testkit::ADMIN_PW),
            "-o",
        ])
        .arg(&tgz)
        .arg(format!(
            "{}/api/v2/instances/{}/install_bundle/",
            s.url, hop_i["id"]
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let listed = std::process::Command::new("tar")
        .arg("tzf")
        .arg(&tgz)
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "hop_install_bundle/group_vars/all.yml",
            "hop_install_bundle/install.sh",
            "hop_install_bundle/install_receptor.yml",
            "hop_install_bundle/inventory.yml",
            "hop_install_bundle/receptor/rawx-receptor.service",
            "hop_install_bundle/receptor/receptor.conf",
        ]
    );
    let unpacked = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(work.path())
        .status()
        .unwrap();
    assert!(unpacked.success());
    let b = work.path().join("hop_install_bundle");
    let conf = std::fs::read_to_string(b.join("receptor/receptor.conf")).unwrap();
    assert!(
        conf.contains("id: hop")
            && conf.contains(&format!("- tcp-listener:\n    port: {p_hop}"))
            && conf.contains(&format!("- tcp-peer:\n    address: 127.0.0.1:{p_ctl}"))
            && !conf.contains("work-command"),
        "{conf}"
    );
    let inventory = std::fs::read_to_string(b.join("inventory.yml")).unwrap();
    assert!(inventory.contains("ansible_host: hop"), "{inventory}");
    let playbook = std::fs::read_to_string(b.join("install_receptor.yml")).unwrap();
    assert!(!playbook.contains("ansible.receptor"), "{playbook}");
    let syntax = std::process::Command::new(rawx_testkit::venv().join("bin/ansible-playbook"))
        .args([
            "--syntax-check",
            "-i",
            "inventory.yml",
            "install_receptor.yml",
        ])
        .current_dir(&b)
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{syntax:?}");

    // Its install step on this host brings the hop back: the controller sees it ready.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(b.join("install.sh"))
        .env("RAWX_BINARY", env!("CARGO_BIN_EXE_rawx"))
        .env("PREFIX", work.path().join("root"))
        .env("START", "foreground")
        .env("RAWX_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let mut installed = rawx_testkit::procs::spawn_group(&mut cmd).unwrap();
    hop_state("ready");
    rawx_testkit::procs::kill_group(installed.id());
    let _ = installed.wait();
    rawx_testkit::procs::release_group(installed.id());
}
