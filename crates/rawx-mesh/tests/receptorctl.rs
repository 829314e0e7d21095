//! The real `receptorctl` (from the test venv) against a real `rawx-receptor` process.

mod common;

use std::io::{BufRead, Write};
use std::time::Duration;

use common::{eventually, pids_naming, read_all, TestNode, NODE_ID};
use serde_json::Value;

#[test]
fn status_version_ping_traceroute() {
    let node = TestNode::start();
    let out = node.ctl_ok(&["status"]);
    assert!(out.contains(&format!("Node ID: {NODE_ID}")), "{out}");
    assert!(out.contains("Work Types"), "{out}");
    assert!(out.contains("cat") && out.contains("sh"), "{out}");

    let json: Value = serde_json::from_str(&node.ctl_ok(&["status", "--json"])).unwrap();
    for key in [
        "Advertisements",
        "Connections",
        "KnownConnectionCosts",
        "NodeID",
        "RoutingTable",
        "SystemCPUCount",
        "SystemMemoryMiB",
        "Version",
    ] {
        assert!(json.get(key).is_some(), "status lacks {key}: {json}");
    }
    let ad = &json["Advertisements"][0];
    assert_eq!(ad["NodeID"], NODE_ID);
    assert_eq!(ad["Service"], "control");
    assert_eq!(ad["ConnType"], 1);
    assert_eq!(ad["Tags"]["type"], "Control Service");
    assert_eq!(
        ad["WorkCommands"],
        serde_json::json!([
            {"WorkType": "cat", "Secure": false},
            {"WorkType": "local", "Secure": false},
            {"WorkType": "sh", "Secure": false}
        ])
    );
    assert!(json["Connections"].as_array().unwrap().is_empty());

    // The exact reply shape for requested fields, as receptorctl's first request sees it.
    assert_eq!(
        node.command(r#"{"command":"status","requested_fields":["Version"]}"#),
        format!("{{\"Version\":\"{}\"}}\n", rawx_mesh::RECEPTOR_VERSION)
    );

    let out = node.ctl_ok(&["version"]);
    assert!(out.contains(rawx_mesh::RECEPTOR_VERSION), "{out}");
    let out = node.ctl_ok(&["ping", NODE_ID, "--count", "2", "--delay", "0.1"]);
    assert_eq!(
        out.matches(&format!("Reply from {NODE_ID} in ")).count(),
        2,
        "{out}"
    );
    let out = node.ctl_ok(&["traceroute", NODE_ID]);
    assert!(out.starts_with(&format!("0: {NODE_ID} in ")), "{out}");
    let out = node.ctl(&["ping", "nowhere", "--count", "1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no route"),
        "{out:?}"
    );
    let out = node.ctl_ok(&["reload"]);
    assert!(out.contains("Reload successful"), "{out}");
    let original = std::fs::read_to_string(&node.config).unwrap();
    // Peers and listeners reload (Receptor's reloadable sections).
    std::fs::write(&node.config, format!("{original}- tcp-peer: 127.0.0.1:9\n")).unwrap();
    let out = node.ctl_ok(&["reload"]);
    assert!(out.contains("Reload successful"), "{out}");
    // Anything else needs a restart: ERRORCODE 3, as Receptor.
    std::fs::write(
        &node.config,
        format!("{original}- work-command:\n    worktype: extra\n    command: cat\n"),
    )
    .unwrap();
    let out = node.ctl(&["reload"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Must restart receptor"),
        "{out:?}"
    );
    // A file that does not load: ERRORCODE 4.
    std::fs::write(&node.config, "- node: [\n").unwrap();
    assert_eq!(node.ctl(&["reload"]).status.code(), Some(4));
    std::fs::write(&node.config, &original).unwrap();
    // The socket has the configured mode, and a second node on it is refused.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&node.socket)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o660);
    let second = std::process::Command::new(common::NODE_BIN)
        .arg("--config")
        .arg(&node.config)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another node holds"),
        "{second:?}"
    );
    assert!(
        node.ctl(&["status"]).status.success(),
        "the first node still serves"
    );

    // `work list --node` goes through `connect`, which reaches our own control service.
    let out = node.ctl_ok(&["work", "list", "--node", NODE_ID]);
    assert_eq!(out.trim(), "{}");
}

#[test]
fn work_submit_list_results_release() {
    let node = TestNode::start();
    // --payload-literal, --follow and --rm
    let out = node.ctl_ok(&[
        "work",
        "submit",
        "cat",
        "--payload-literal",
        "hello",
        "-f",
        "--rm",
    ]);
    let (text, released) = out.split_once('\n').unwrap();
    assert_eq!(text, "hello");
    assert!(
        released.starts_with('(') && released.ends_with(", released)\n"),
        "{out}"
    );
    assert_eq!(
        node.ctl_ok(&["work", "list", "-q"]).trim(),
        "",
        "--rm released the unit"
    );

    // runtime params (-a params=… and trailing words), --payload -, and results after the fact
    let id = node.submit(&["sh", "-a", "params=\"echo params; cat\"", "--payload", "-"]);
    node.wait_state(&id, 2);
    let id2 = {
        let out = node.ctl_with_stdin(
            &["work", "submit", "cat", "--payload", "-"],
            Some(b"from stdin"),
        );
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Result: Job Started"), "{text}");
        text.lines()
            .find_map(|l| l.strip_prefix("Unit ID: "))
            .unwrap()
            .to_string()
    };
    assert_eq!(node.ctl_ok(&["work", "results", &id2]), "from stdin");
    assert_eq!(node.ctl_ok(&["work", "results", &id]), "params\n");

    let payload_file = node.dir.join("payload.txt");
    std::fs::write(&payload_file, "file payload\n").unwrap();
    let id3 = node.submit(&["cat", "--payload", payload_file.to_str().unwrap()]);
    assert_eq!(node.ctl_ok(&["work", "results", &id3]), "file payload\n");
    let id4 = node.submit(&["cat", "--no-payload"]);
    assert_eq!(node.ctl_ok(&["work", "results", &id4]), "");

    let list: Value = serde_json::from_str(&node.ctl_ok(&["work", "list"])).unwrap();
    assert_eq!(list.as_object().unwrap().len(), 4, "{list}");
    let entry = &list[&id];
    assert_eq!(entry["State"], 2);
    assert_eq!(entry["StateName"], "Succeeded");
    assert_eq!(entry["Detail"], "exit status 0");
    assert_eq!(entry["WorkType"], "sh");
    assert_eq!(entry["StdoutSize"], 7);
    let one: Value =
        serde_json::from_str(&node.ctl_ok(&["work", "list", "--unit_id", &id])).unwrap();
    assert_eq!(one.as_object().unwrap().len(), 1);
    assert_eq!(node.ctl_ok(&["work", "list", "-q"]).lines().count(), 4);

    // The exact status reply: a Go map, keys sorted.
    let reply = node.command(&format!("work status {id}"));
    assert_eq!(
        reply,
        format!("{{\"Detail\":\"exit status 0\",\"ExtraData\":null,\"State\":2,\"StateName\":\"Succeeded\",\"StdoutSize\":7,\"WorkType\":\"sh\"}}\n")
    );

    // A failed unit: `work results` prints the output and exits 1.
    let failed = node.submit(&["sh", "--no-payload", "-a", "params=\"echo oops; exit 4\""]);
    let out = node.ctl(&["work", "results", &failed]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"oops\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("exit status 4"));

    let out = node.ctl_ok(&["work", "release", &id, &id2]);
    assert!(out.contains(&format!("({id}, released)")), "{out}");
    let out = node.ctl_ok(&["work", "release", "--force", &id3]);
    assert!(out.contains(&format!("({id3}, released)")), "{out}");
    let out = node.ctl(&["work", "release", "zzzzzzzz"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown work unit zzzzzzzz"));
    node.ctl_ok(&["work", "release", "--all"]);
    assert_eq!(node.ctl_ok(&["work", "list"]).trim(), "{}");
    assert!(std::fs::read_dir(node.dir.join("data").join(NODE_ID))
        .unwrap()
        .next()
        .is_none());

    // Submit refusals are ERROR lines that receptorctl shows.
    let out = node.ctl(&["work", "submit", "cat", "--no-payload", "-a", "params=-n"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("extra params provided but not allowed"),
        "{out:?}"
    );
    let out = node.ctl(&["work", "submit", "nope", "--no-payload"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown work type nope"),
        "{out:?}"
    );
}

#[test]
fn results_follow_from_an_offset_and_cancel_leaves_nothing_running() {
    let node = TestNode::start();
    let marker = format!("rxm-marker-{}", std::process::id());
    let script =
        format!("\"echo started; sh -c 'sleep 300; :' {marker} & sh -c 'sleep 301; :' {marker}\"");
    let id = node.submit(&["sh", "--no-payload", "-a", &format!("params={script}")]);
    node.wait_state(&id, 1);
    // Until the unit's processes run.
    eventually(Duration::from_secs(10), || !pids_naming(&marker).is_empty());

    // A raw follower from offset 3, started before the cancel.
    let (mut r, mut w) = node.raw();
    w.write_all(format!("work results {id} 3\n").as_bytes())
        .unwrap();
    let mut header = String::new();
    r.read_line(&mut header).unwrap();
    assert_eq!(header, format!("Streaming results for work unit {id}\n"));
    w.shutdown(std::net::Shutdown::Write).unwrap();

    let out = node.ctl_ok(&["work", "cancel", &id]);
    assert!(out.contains(&format!("({id}, cancelled)")), "{out}");
    assert_eq!(
        pids_naming(&marker),
        Vec::<u32>::new(),
        "cancel left processes of the unit alive"
    );
    let st = node.status(&id);
    assert_eq!(
        (st["State"].as_i64(), st["Detail"].as_str()),
        (Some(4), Some("Canceled"))
    );
    // Unlike Go receptor, the results stream of a canceled unit ends.
    assert_eq!(read_all(&mut r), b"rted\n");

    // AWX sends cancel and release on one connection.
    let (mut r, mut w) = node.raw();
    w.write_all(format!("work cancel {id}\nwork release {id}\n").as_bytes())
        .unwrap();
    let mut a = String::new();
    let mut b = String::new();
    r.read_line(&mut a).unwrap();
    r.read_line(&mut b).unwrap();
    assert_eq!(a, format!("{{\"cancelled\":\"{id}\"}}\n"));
    assert_eq!(b, format!("{{\"released\":\"{id}\"}}\n"));
}

#[test]
fn fifty_megabytes_through_cat_come_back_byte_for_byte() {
    let node = TestNode::start();
    let mut payload = Vec::with_capacity(50 << 20);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while payload.len() < 50 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        payload.extend_from_slice(&x.to_le_bytes());
    }
    let file = node.dir.join("payload.bin");
    std::fs::write(&file, &payload).unwrap();
    let out = node.ctl(&[
        "work",
        "submit",
        "cat",
        "--payload",
        file.to_str().unwrap(),
        "-f",
        "--rm",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `--rm` appends "(ID, released)\n".
    let (data, tail) = out.stdout.split_at(payload.len().min(out.stdout.len()));
    assert!(data == payload, "the payload came back altered");
    let tail = String::from_utf8_lossy(tail);
    assert!(
        tail.starts_with('(') && tail.ends_with(", released)\n"),
        "{tail}"
    );
}

#[test]
fn kill_9_and_restart_while_a_unit_runs() {
    let mut node = TestNode::start();
    let id = node.submit(&[
        "sh",
        "--no-payload",
        "-a",
        "params=\"for i in 1 2 3 4 5 6; do echo line $i; sleep 0.25; done\"",
    ]);
    node.wait_state(&id, 1);
    node.kill9();
    std::thread::sleep(Duration::from_millis(300));
    node.spawn();
    let out = node.ctl_ok(&["work", "results", &id]);
    assert_eq!(out, "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\n");
    let st = node.wait_state(&id, 2);
    assert_eq!(st["Detail"], "exit status 0");
    assert_eq!(st["StdoutSize"], 42);
    // A unit that finished while the node was down is found finished.
    let id2 = node.submit(&[
        "sh",
        "--no-payload",
        "-a",
        "params=\"sleep 0.3; echo late\"",
    ]);
    node.kill9();
    std::thread::sleep(Duration::from_millis(600));
    node.spawn();
    assert_eq!(node.ctl_ok(&["work", "results", &id2]), "late\n");
    assert_eq!(node.wait_state(&id2, 2)["Detail"], "exit status 0");

    // A graceful stop leaves running work running too, and removes the socket.
    let id3 = node.submit(&[
        "sh",
        "--no-payload",
        "-a",
        "params=\"echo a; sleep 0.5; echo b\"",
    ]);
    node.wait_state(&id3, 1);
    node.terminate();
    assert!(!node.socket.exists(), "the socket outlived a graceful stop");
    node.spawn();
    assert_eq!(node.ctl_ok(&["work", "results", &id3]), "a\nb\n");
}

#[test]
fn bad_input_on_the_socket_is_an_error_and_the_node_keeps_serving() {
    let node = TestNode::start();
    let (mut r, mut w) = node.raw();
    let mut line = String::new();
    let mut next = |r: &mut std::io::BufReader<_>| {
        line.clear();
        r.read_line(&mut line).unwrap();
        line.clone()
    };
    w.write_all(b"\x00\xff\xfegarbage\n").unwrap();
    assert_eq!(next(&mut r), "ERROR: Unknown command\n");
    w.write_all(b"{\"command\": \n").unwrap();
    assert!(next(&mut r).starts_with("ERROR: invalid JSON command"));
    let big = vec![b'a'; 1 << 20];
    w.write_all(&big).unwrap();
    w.write_all(b"\n").unwrap();
    assert!(next(&mut r).starts_with("ERROR: command line too long"));
    w.write_all(b"work status nosuchid\n").unwrap();
    assert_eq!(next(&mut r), "ERROR: unknown work unit nosuchid\n");
    w.write_all(b"work frobnicate\n").unwrap();
    assert!(next(&mut r).starts_with("ERROR: work: unknown subcommand"));
    w.write_all(b"status\n").unwrap();
    assert!(
        next(&mut r).starts_with("{\"Advertisements\""),
        "the session goes on"
    );
    drop((r, w));

    // A truncated payload: the client goes away without half-closing.
    let (mut r, mut w) = node.raw();
    w.write_all(b"{\"command\":\"work\",\"subcommand\":\"submit\",\"node\":\"localhost\",\"worktype\":\"cat\"}\n")
        .unwrap();
    let mut created = String::new();
    r.read_line(&mut created).unwrap();
    let id = created
        .split_whitespace()
        .nth(5)
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    w.write_all(b"half a payl").unwrap();
    drop((r, w));
    let st = eventually(Duration::from_secs(10), || {
        let st = node.status(&id);
        if st["State"] != 0 {
            Ok(st)
        } else {
            Err(format!("the truncated unit stays pending: {st}"))
        }
    });
    assert_eq!(st["State"], 3, "{st}");
    assert!(st["Detail"].as_str().unwrap().contains("payload"), "{st}");

    // Still serving.
    let out = node.ctl_ok(&[
        "work",
        "submit",
        "cat",
        "--payload-literal",
        "still here",
        "-f",
    ]);
    assert_eq!(out, "still here\n");
}
