//! Remote work units across real `rawx-receptor` processes on loopback, driven by the real
//! `receptorctl`: `work submit --node c` at a runs at c, two hops away, and its output comes
//! back to a; cancel and release reach c; signed work is checked at c; a restarted a (and a
//! restarted hop) picks the unit up again and the output is still complete.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::mesh::*;
use common::{signing_key_file, DataDir};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(60);

/// The node configs of a ← b ← c (b dials a, c dials b); `a_extra` and `c_extra` are added.
struct Line {
    a: MeshNode,
    b: MeshNode,
    c: MeshNode,
    a_config: String,
    b_config: String,
}

fn node_config(root: &Path, id: &str, extra: &str) -> String {
    format!(
        "---\n- node:\n    id: {id}\n    datadir: {}\n- log-level: info\n\
         - control-service:\n    service: control\n    filename: {}\n\
         - work-command:\n    worktype: cat\n    command: cat\n{extra}",
        root.join(format!("{id}-data")).display(),
        root.join(format!("{id}.sock")).display()
    )
}

fn line_of_three(root: &DataDir, a_extra: &str, c_extra: &str) -> Line {
    let (pa, pb) = (free_port(), free_port());
    let a_config = node_config(root, "a", &format!("{}{a_extra}", listener(pa, "")));
    let b_config = node_config(root, "b", &format!("{}{}", peer(pa, ""), listener(pb, "")));
    let a = start_with_config(root, "a", &a_config);
    let b = start_with_config(root, "b", &b_config);
    let c = start_with_config(
        root,
        "c",
        &node_config(root, "c", &format!("{}{c_extra}", peer(pb, ""))),
    );
    // Until a to learn a route to c.
    eventually(LONG, || {
        (a.route("c").as_deref() == Some("b")).then_some(())
    });
    // Until c's control service advertised at a.
    eventually(LONG, || {
        let st = a.status();
        st["Advertisements"]
            .as_array()?
            .iter()
            .any(|ad| ad["NodeID"] == "c")
            .then_some(())
    });
    Line {
        a,
        b,
        c,
        a_config,
        b_config,
    }
}

/// `work submit` at `node`; returns the unit ID it printed.
fn submit(node: &MeshNode, args: &[&str]) -> String {
    let out = node.ctl_ok(&[&["work", "submit"], args].concat());
    out.lines()
        .find_map(|l| l.strip_prefix("Unit ID: "))
        .unwrap_or_else(|| panic!("no unit ID in {out}"))
        .trim()
        .to_string()
}

fn list(node: &MeshNode) -> Value {
    serde_json::from_str(&node.ctl_ok(&["work", "list"])).unwrap()
}

fn unit_status(node: &MeshNode, id: &str) -> Value {
    list(node)[id].clone()
}

fn results(node: &MeshNode, id: &str) -> Vec<u8> {
    let out = node.ctl(&["work", "results", id]);
    assert!(out.status.success(), "work results {id}: {out:?}");
    out.stdout
}

/// Kills the process whose PID a unit's command wrote, when the test ends however it ends.
struct KillPidFile(PathBuf);

impl Drop for KillPidFile {
    fn drop(&mut self) {
        if let Some(pid) = pid_in(&self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
}

fn pid_in(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            rest.chars().next()
        })
        .is_some_and(|state| state != 'Z')
}

#[test]
fn work_submitted_at_a_runs_at_c_two_hops_away() {
    let root = DataDir::new();
    let line = line_of_three(&root, "", "");
    let (a, c) = (&line.a, &line.c);
    // Half a megabyte of numbered lines: many QUIC packets each way.
    let payload: String = (0..40_000).map(|i| format!("line {i:08}\n")).collect();
    let payload_file = root.join("payload");
    std::fs::write(&payload_file, &payload).unwrap();

    let id = submit(
        a,
        &[
            "cat",
            "--node",
            "c",
            "--payload",
            payload_file.to_str().unwrap(),
        ],
    );
    let out = results(a, &id);
    assert_eq!(out.len(), payload.len());
    assert!(
        out == payload.as_bytes(),
        "the results at a differ from the payload"
    );

    // a lists its remote unit, mirroring c's; c lists the unit that ran there.
    // Until the unit at a to be Succeeded.
    let st = eventually(LONG, || {
        let st = unit_status(a, &id);
        (st["StateName"] == "Succeeded").then_some(st)
    });
    assert_eq!(st["WorkType"], "remote");
    assert_eq!(st["StdoutSize"], payload.len());
    assert_eq!(st["ExtraData"]["RemoteNode"], "c");
    assert_eq!(st["ExtraData"]["RemoteWorkType"], "cat");
    assert_eq!(st["ExtraData"]["RemoteStarted"], true);
    let remote_id = st["ExtraData"]["RemoteUnitID"]
        .as_str()
        .unwrap()
        .to_string();
    let at_c = unit_status(c, &remote_id);
    assert_eq!(at_c["WorkType"], "cat");
    assert_eq!(at_c["StateName"], "Succeeded");
    assert_eq!(at_c["StdoutSize"], payload.len());
    // Release at a releases at c.
    let out = a.ctl_ok(&["work", "release", &id]);
    assert!(out.contains("Released"), "{out}");
    // Until the unit gone at a and at c.
    eventually(LONG, || {
        (list(a).get(&id).is_none() && list(c).get(&remote_id).is_none()).then_some(())
    });

    // `--follow` streams the output back as the unit runs, then `--rm` releases both ends.
    let out = a.ctl_ok(&[
        "work",
        "submit",
        "cat",
        "--node",
        "c",
        "--payload-literal",
        "hello from a",
        "--follow",
        "--rm",
    ]);
    assert!(out.contains("hello from a"), "{out}");
    // Until --rm to release at a and at c.
    eventually(LONG, || {
        (list(a).as_object()?.is_empty() && list(c).as_object()?.is_empty()).then_some(())
    });
}

#[test]
fn cancel_at_a_stops_the_process_at_c() {
    let root = DataDir::new();
    let pid_file = root.join("sleeper.pid");
    let _guard = KillPidFile(pid_file.clone());
    let script = root.join("sleeper.sh");
    std::fs::write(
        &script,
        format!(
            "echo $$ > {}\necho started\nexec sleep 300\n",
            pid_file.display()
        ),
    )
    .unwrap();
    let c_extra = format!(
        "- work-command:\n    worktype: sleeper\n    command: sh\n    params: {}\n",
        script.display()
    );
    let line = line_of_three(&root, "", &c_extra);
    let (a, c) = (&line.a, &line.c);

    let id = submit(a, &["sleeper", "--node", "c", "--no-payload"]);
    // Until the unit to run at c, mirrored at a.
    let st = eventually(LONG, || {
        let st = unit_status(a, &id);
        (st["StateName"] == "Running" && st["StdoutSize"].as_u64()? > 0).then_some(st)
    });
    let remote_id = st["ExtraData"]["RemoteUnitID"]
        .as_str()
        .unwrap()
        .to_string();
    // Until the command's PID.
    let pid = eventually(LONG, || pid_in(&pid_file));
    assert!(alive(pid));

    let out = a.ctl_ok(&["work", "cancel", &id]);
    assert!(out.contains("ancel"), "{out}");
    // Until the process at c to be gone.
    eventually(LONG, || (!alive(pid)).then_some(()));
    // Until Canceled at c.
    eventually(LONG, || {
        (unit_status(c, &remote_id)["StateName"] == "Canceled").then_some(())
    });
    // Until Canceled mirrored at a.
    eventually(LONG, || {
        (unit_status(a, &id)["StateName"] == "Canceled").then_some(())
    });
    // The output up to the cancel is at a, and its results end.
    assert_eq!(results(a, &id), b"started\n");

    a.ctl_ok(&["work", "release", &id]);
    // Until released at a and at c.
    eventually(LONG, || {
        (list(a).get(&id).is_none() && list(c).get(&remote_id).is_none()).then_some(())
    });
}

#[test]
fn signed_work_is_verified_at_c() {
    let root = DataDir::new();
    let a_extra = format!(
        "- work-signing:\n    privatekey: {}\n",
        signing_key_file(&root, "RSA PRIVATE KEY").display()
    );
    let c_extra = format!(
        "- work-verification:\n    publickey: {}\n\
         - work-command:\n    worktype: signed\n    command: cat\n    verifysignature: true\n",
        signing_key_file(&root, "PUBLIC KEY").display()
    );
    let line = line_of_three(&root, &a_extra, &c_extra);
    let (a, c) = (&line.a, &line.c);

    // Unsigned: c refuses it, the submit at a fails with c's reason, c runs nothing.
    let out = a.ctl(&[
        "work",
        "submit",
        "signed",
        "--node",
        "c",
        "--payload-literal",
        "secret plan",
    ]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("requires a signature"), "{err}");
    let units = list(a);
    let (_, st) = units.as_object().unwrap().iter().next().unwrap();
    assert_eq!(st["StateName"], "Failed");
    assert!(
        st["Detail"]
            .as_str()
            .unwrap()
            .contains("requires a signature"),
        "{st}"
    );
    assert!(list(c).as_object().unwrap().is_empty());

    // Signed with a's key: runs at c, results come back signed.
    let id = submit(
        a,
        &[
            "signed",
            "--node",
            "c",
            "--signwork",
            "--payload-literal",
            "signed plan",
        ],
    );
    assert_eq!(results(a, &id), b"signed plan\n");
    let st = unit_status(a, &id);
    assert_eq!(st["ExtraData"]["SignWork"], true);
    let remote_id = st["ExtraData"]["RemoteUnitID"].as_str().unwrap();
    assert_eq!(unit_status(c, remote_id)["StateName"], "Succeeded");
}

#[test]
fn a_restarted_mid_run_and_a_restarted_hop_still_give_all_the_output() {
    let root = DataDir::new();
    let script = root.join("slow.sh");
    // About 30 s of output, one numbered line every quarter second.
    std::fs::write(
        &script,
        "i=0\nwhile [ $i -lt 120 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.25; done\n",
    )
    .unwrap();
    let c_extra = format!(
        "- work-command:\n    worktype: slow\n    command: sh\n    params: {}\n",
        script.display()
    );
    let mut line = line_of_three(&root, "", &c_extra);

    let id = submit(&line.a, &["slow", "--node", "c", "--no-payload"]);
    // Until some output at a.
    eventually(LONG, || {
        (unit_status(&line.a, &id)["StdoutSize"].as_u64()? > 20).then_some(())
    });
    // a dies hard and comes back: the unit is adopted and resumes from what a holds.
    line.a.kill();
    std::thread::sleep(Duration::from_secs(1));
    line.a = start_with_config(&root, "a", &line.a_config);
    // Until the output at a to grow again.
    eventually(LONG, || {
        let st = unit_status(&line.a, &id);
        (st["StateName"] == "Running" && st["StdoutSize"].as_u64()? > 200).then_some(())
    });
    // The hop dies and comes back while the unit still runs.
    line.b.kill();
    std::thread::sleep(Duration::from_secs(1));
    line.b = start_with_config(&root, "b", &line.b_config);

    let out = results(&line.a, &id);
    let expected: String = (0..120).map(|i| format!("line {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&out), expected);
    assert_eq!(unit_status(&line.a, &id)["StateName"], "Succeeded");
    let _ = &line.c;
}

#[test]
fn a_submit_to_an_unreachable_node_waits_for_it() {
    let root = DataDir::new();
    let (pa, pb) = (free_port(), free_port());
    let a = start_with_config(&root, "a", &node_config(&root, "a", &listener(pa, "")));
    let _b = start_with_config(
        &root,
        "b",
        &node_config(&root, "b", &format!("{}{}", peer(pa, ""), listener(pb, ""))),
    );
    // c is not up yet: the submit is accepted and waits ("Job Submitted"), as Receptor's.
    let out = a.ctl_ok(&[
        "work",
        "submit",
        "cat",
        "--node",
        "c",
        "--payload-literal",
        "late but whole",
    ]);
    assert!(out.contains("Result: Job Submitted"), "{out}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("Unit ID: "))
        .unwrap()
        .trim()
        .to_string();
    let st = unit_status(&a, &id);
    assert_eq!(st["StateName"], "Pending", "{st}");
    assert_eq!(st["ExtraData"]["RemoteStarted"], false, "{st}");
    // With a `ttl` the unit gives up once it has passed without c answering.
    let out = a.ctl_ok(&[
        "work",
        "submit",
        "cat",
        "--node",
        "c",
        "--ttl",
        "1s",
        "--no-payload",
    ]);
    let expiring = out
        .lines()
        .find_map(|l| l.strip_prefix("Unit ID: "))
        .unwrap()
        .trim()
        .to_string();
    // Until the unit to expire.
    let st = eventually(LONG, || {
        let st = unit_status(&a, &expiring);
        (st["StateName"] == "Failed").then_some(st)
    });
    assert!(
        st["Detail"]
            .as_str()
            .unwrap()
            .starts_with("Work unit expired on "),
        "{st}"
    );
    let _c = start_with_config(&root, "c", &node_config(&root, "c", &peer(pb, "")));
    // Until the unit to complete once c is up.
    eventually(Duration::from_secs(120), || {
        (unit_status(&a, &id)["StateName"] == "Succeeded").then_some(())
    });
    assert_eq!(results(&a, &id), b"late but whole\n");
}

/// What `rawx serve --receptor-work-node c` drives: a [`rawx_mesh::RemoteNode`] on a's socket
/// whose work runs at c, two hops away, and which reports c as its node.
#[test]
fn a_client_of_a_runs_its_work_at_c() {
    let root = DataDir::new();
    let line = line_of_three(&root, "", "");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use rawx_mesh::{RemoteNode, RemoteOptions, SubmitRequest, WorkNode};
        use tokio::io::AsyncReadExt;
        let node = RemoteNode::connect(RemoteOptions {
            address: Some(line.a.socket.display().to_string().parse().unwrap()),
            work_node: Some("c".into()),
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(node.node_id(), "c");
        let id = node
            .submit(&SubmitRequest::new("cat"), b"through the hop\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        node.results(&id, 0)
            .await
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out, b"through the hop\n");
        let st = node.status(&id).await.unwrap();
        assert_eq!(st.work_type, "remote");
        assert_eq!(st.extra_data["RemoteNode"], "c");
        let remote_id = st.extra_data["RemoteUnitID"].as_str().unwrap().to_string();
        node.release(&id).await.unwrap();
        // Until released at c.
        eventually(LONG, || {
            list(&line.c).get(&remote_id).is_none().then_some(())
        });
    });
}
