//! The mesh across real `rawx-receptor` processes on loopback, driven by the real
//! `receptorctl`: routing over several hops (ping, traceroute, status), a killed node routed
//! around, firewall rules on a hop, TLS links that refuse the wrong certificate, and the
//! control service of a node two hops away over QUIC service streams.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{receptorctl_bin, temp_dir, TempDir, NODE_BIN};
use serde_json::Value;

/// One node process; killed when dropped, so a failing test leaves nothing behind.
struct MeshNode {
    id: String,
    socket: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl MeshNode {
    /// Starts node `id` with a control socket, a `cat` work type and the `extra` config
    /// items; returns once its control socket answers (its listeners are bound by then).
    fn start(root: &Path, id: &str, extra: &str) -> MeshNode {
        let socket = root.join(format!("{id}.sock"));
        let config = root.join(format!("{id}.conf"));
        std::fs::write(
            &config,
            format!(
                "---\n- node:\n    id: {id}\n    datadir: {}\n- log-level: info\n\
                 - control-service:\n    service: control\n    filename: {}\n\
                 - work-command:\n    worktype: cat\n    command: cat\n{extra}",
                root.join(format!("{id}-data")).display(),
                socket.display()
            ),
        )
        .unwrap();
        let text = std::fs::read_to_string(&config).unwrap();
        start_with_config(root, id, &text)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(receptorctl_bin())
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "receptorctl {args:?} at {} failed: {}\n{}",
            self.id,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `status` as JSON, over the socket as AWX asks for it.
    fn status(&self) -> Value {
        let s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        (&s).write_all(b"{\"command\":\"status\"}\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("bad status {line}"))
    }

    fn route(&self, to: &str) -> Option<String> {
        self.status()["RoutingTable"][to].as_str().map(String::from)
    }
}

impl Drop for MeshNode {
    fn drop(&mut self) {
        self.kill();
    }
}

fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listener(port: u16, more: &str) -> String {
    format!("- tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {port}\n{more}")
}

fn peer(port: u16, more: &str) -> String {
    format!("- tcp-peer:\n    address: 127.0.0.1:{port}\n{more}")
}

/// a ← b ← c: b dials a, c dials b.
fn line_of_three(root: &TempDir, b_extra: &str) -> (MeshNode, MeshNode, MeshNode) {
    let (pa, pb) = (free_port(), free_port());
    let a = MeshNode::start(root, "a", &listener(pa, ""));
    let b = MeshNode::start(
        root,
        "b",
        &format!("{}{}{b_extra}", peer(pa, ""), listener(pb, "")),
    );
    let c = MeshNode::start(root, "c", &peer(pb, ""));
    eventually("a to learn a route to c", Duration::from_secs(20), || {
        (a.route("c").as_deref() == Some("b")).then_some(())
    });
    eventually("c to learn a route to a", Duration::from_secs(20), || {
        (c.route("a").as_deref() == Some("b")).then_some(())
    });
    (a, b, c)
}

#[test]
fn three_nodes_in_a_line_ping_traceroute_and_status() {
    let root = temp_dir("mesh-line");
    let (a, b, c) = line_of_three(&root, "");

    let out = a.ctl_ok(&["ping", "c", "--count", "2", "--delay", "0.1"]);
    assert_eq!(out.matches("Reply from c in ").count(), 2, "{out}");
    let out = c.ctl_ok(&["ping", "a", "--count", "1"]);
    assert!(out.contains("Reply from a in "), "{out}");

    let out = a.ctl_ok(&["traceroute", "c"]);
    let froms: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(froms, ["a", "b", "c"], "{out}");
    assert!(out.starts_with("0: a in "), "{out}");

    // A node nobody knows: no route, from the node asked.
    let out = a.ctl(&["ping", "nowhere", "--count", "1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no route to node"),
        "{out:?}"
    );

    let st = a.status();
    assert_eq!(st["NodeID"], "a");
    assert_eq!(
        st["Connections"],
        serde_json::json!([{"NodeID": "b", "Cost": 1}])
    );
    assert_eq!(st["RoutingTable"], serde_json::json!({"b": "b", "c": "b"}));
    assert_eq!(
        st["KnownConnectionCosts"],
        serde_json::json!({"a": {"b": 1}, "b": {"a": 1, "c": 1}, "c": {"b": 1}})
    );
    // Every node's control service, c's with its work types, reaches a two hops away.
    let ads = eventually("c's advertisement at a", Duration::from_secs(20), || {
        let st = a.status();
        let ads = st["Advertisements"].as_array().unwrap().clone();
        (ads.len() == 3).then_some(ads)
    });
    let c_ad = ads.iter().find(|ad| ad["NodeID"] == "c").unwrap();
    assert_eq!(c_ad["Service"], "control");
    assert_eq!(c_ad["ConnType"], 1);
    assert_eq!(c_ad["Tags"]["type"], "Control Service");
    assert_eq!(
        c_ad["WorkCommands"],
        serde_json::json!([{"WorkType": "cat", "Secure": false}])
    );
    // receptorctl's own rendering of the same.
    let text = a.ctl_ok(&["status"]);
    assert!(text.contains("Route        Via"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["c", "b"]),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["c", "cat"]),
        "{text}"
    );

    // The hop's memory when idle, for the closing note.
    std::thread::sleep(Duration::from_secs(2));
    let rss = std::fs::read_to_string(format!("/proc/{}/status", b.pid()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap()
        .to_string();
    eprintln!("hop node b (debug build) {rss}");
}

#[test]
fn a_killed_node_is_routed_around() {
    let root = temp_dir("mesh-reroute");
    // a ← b ← c and a ← d ← c, where the links through d cost more: c is reached via b
    // until b dies, then via d. a's listener gives d's link its cost with `nodecost`, and
    // d's peer says the same (both ends must agree).
    let (pa, pb, pd) = (free_port(), free_port(), free_port());
    let a = MeshNode::start(&root, "a", &listener(pa, "    nodecost:\n      d: 2.5\n"));
    let mut b = MeshNode::start(&root, "b", &format!("{}{}", peer(pa, ""), listener(pb, "")));
    let d = MeshNode::start(
        &root,
        "d",
        &format!("{}{}", peer(pa, "    cost: 2.5\n"), listener(pd, "")),
    );
    let c = MeshNode::start(&root, "c", &format!("{}{}", peer(pb, ""), peer(pd, "")));
    eventually("a's full view of the mesh", Duration::from_secs(30), || {
        let st = a.status();
        let costs = &st["KnownConnectionCosts"];
        (st["RoutingTable"]["c"] == "b" && costs["d"]["c"] == 1 && costs["c"]["d"] == 1)
            .then_some(())
    });
    assert_eq!(a.status()["KnownConnectionCosts"]["a"]["d"], 2.5);
    assert!(a
        .ctl_ok(&["ping", "c", "--count", "1"])
        .contains("Reply from c"));

    b.kill();
    let killed = Instant::now();
    eventually("a to route c through d", Duration::from_secs(10), || {
        (a.route("c").as_deref() == Some("d")).then_some(())
    });
    let reroute = killed.elapsed();
    eprintln!("reroute after a closed connection: {reroute:?}");
    assert!(
        reroute < Duration::from_secs(2),
        "rerouted after {reroute:?}"
    );
    let out = a.ctl_ok(&["traceroute", "c"]);
    let froms: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(froms, ["a", "d", "c"], "{out}");
    assert!(c
        .ctl_ok(&["ping", "a", "--count", "1"])
        .contains("Reply from a"));
    assert_eq!(d.route("c").as_deref(), Some("c"));
    let st = a.status();
    assert!(st["RoutingTable"].get("b").is_none(), "{st}");
    assert_eq!(st["Connections"].as_array().unwrap().len(), 1, "{st}");
}

#[test]
fn control_service_two_hops_away() {
    let root = temp_dir("mesh-control");
    let (a, _b, c) = line_of_three(&root, "");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/mesh_control.py");
    let size = 4 * 1024 * 1024;
    let out = Command::new(common::venv().join("bin/python"))
        .arg(&script)
        .arg(&a.socket)
        .arg("c")
        .arg(size.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        c.log_text()
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["greeting"], "Receptor Control, node c");
    assert_eq!(v["list"], serde_json::json!({}));
    assert_eq!(v["status"]["NodeID"], "c");
    assert!(
        v["created"]
            .as_str()
            .unwrap()
            .starts_with("Work unit created with ID"),
        "{v}"
    );
    assert_eq!(v["results_intact"], true, "{v}");
    assert_eq!(v["unit_status"]["State"], 2, "{v}");
    assert_eq!(v["unit_status"]["StdoutSize"], size, "{v}");
    assert_eq!(v["released"]["released"], v["unit"]);
    let secs = v["seconds"].as_f64().unwrap();
    eprintln!(
        "4 MiB through cat at c and back over 2 hops: {secs:.2} s ({:.1} MB/s each way, debug build)",
        size as f64 / secs / 1e6
    );
    // The unit ran at c, not at a.
    let unit = v["unit"].as_str().unwrap();
    assert!(!a.ctl_ok(&["work", "list"]).contains(unit));
}

#[test]
fn reload_adds_and_removes_a_peer() {
    let root = temp_dir("mesh-reload");
    let (pa, pz) = (free_port(), free_port());
    let a = MeshNode::start(&root, "a", &listener(pa, ""));
    let z = MeshNode::start(&root, "z", &listener(pz, ""));
    let conf = root.join("z.conf");
    let original = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{original}{}", peer(pa, ""))).unwrap();
    let out = z.ctl_ok(&["reload"]);
    assert!(out.contains("Reload successful"), "{out}");
    eventually(
        "a to see z after z's reload",
        Duration::from_secs(20),
        || (a.route("z").as_deref() == Some("z")).then_some(()),
    );
    assert!(a
        .ctl_ok(&["ping", "z", "--count", "1"])
        .contains("Reply from z"));
    // z's listener came back on its port after the reload.
    assert!(std::net::TcpStream::connect(("127.0.0.1", pz)).is_ok());
    std::fs::write(&conf, &original).unwrap();
    assert!(z.ctl_ok(&["reload"]).contains("Reload successful"));
    eventually(
        "the link to go with the peer",
        Duration::from_secs(20),
        || (a.status()["Connections"] == serde_json::json!([])).then_some(()),
    );
}

#[test]
fn firewall_rules_on_a_hop() {
    let root = temp_dir("mesh-firewall");
    // b (the hop) rejects a's pings to c and drops anything from a to b itself; c's pings to
    // a pass, and so do a's answers to them (to c's ephemeral service, not `ping`).
    let rules = "- node:\n    id: b\n    firewallrules:\n\
                 \x20     - action: reject\n        fromnode: a\n        tonode: c\n        toservice: ping\n\
                 \x20     - action: drop\n        fromnode: a\n        tonode: /[b]/\n\
                 \x20     - action: accept\n";
    let (pa, pb) = (free_port(), free_port());
    let a = MeshNode::start(&root, "a", &listener(pa, ""));
    // The `node` section appears once: b's config is written whole.
    let b_conf = format!(
        "---\n{rules}    datadir: {}\n- log-level: info\n- control-service:\n    service: control\n    filename: {}\n{}{}",
        root.join("b-data").display(),
        root.join("b.sock").display(),
        peer(pa, ""),
        listener(pb, "")
    );
    let b = start_with_config(&root, "b", &b_conf);
    let c = MeshNode::start(&root, "c", &peer(pb, ""));
    eventually("a route to c", Duration::from_secs(20), || {
        (a.route("c").as_deref() == Some("b") && c.route("a").as_deref() == Some("b")).then_some(())
    });

    let out = a.ctl(&["ping", "c", "--count", "1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("blocked by firewall"),
        "{out:?}"
    );
    // The hop that rejected it says so on the traceroute.
    let out = a.ctl(&["traceroute", "c"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.starts_with("0: a in "), "{stdout}");
    // receptorctl prints a hop's error on stderr.
    assert!(
        stderr.contains("1: Error blocked by firewall from b"),
        "{stderr}"
    );
    assert!(c
        .ctl_ok(&["ping", "a", "--count", "1"])
        .contains("Reply from a"));
    // A drop is silent: the ping times out (Receptor waits 10 s).
    let started = Instant::now();
    let out = a.ctl(&["ping", "b", "--count", "1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("timeout"),
        "{out:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(9));
    drop(b);
}

/// Starts a node from a whole config (its control socket at `<root>/<id>.sock`).
fn start_with_config(root: &Path, id: &str, config: &str) -> MeshNode {
    let path = root.join(format!("{id}.conf"));
    std::fs::write(&path, config).unwrap();
    let log = root.join(format!("{id}.log"));
    let socket = root.join(format!("{id}.sock"));
    let child = Command::new(NODE_BIN)
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut node = MeshNode {
        id: id.into(),
        socket,
        log,
        child: Some(child),
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while UnixStream::connect(&node.socket).is_err() {
        if let Some(status) = node.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("node {id} exited with {status}: {}", node.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "node {id} did not open its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    node
}

mod tls {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        SanType,
    };

    struct Ca {
        cert: rcgen::Certificate,
        key: KeyPair,
        path: PathBuf,
    }

    fn ca(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let cert = p.self_signed(&key).unwrap();
        let path = dir.join(format!("{name}.crt"));
        std::fs::write(&path, cert.pem()).unwrap();
        Ca { cert, key, path }
    }

    /// A node certificate as AWX makes them: the node's name as CN, DNS name and (with
    /// `with_node_id`) Receptor otherName, plus 127.0.0.1, for both server and client use.
    /// Returns (cert, key) paths.
    fn node_cert(dir: &Path, ca: &Ca, node: &str) -> (PathBuf, PathBuf) {
        cert_for(dir, ca, node, true)
    }

    fn cert_for(dir: &Path, ca: &Ca, node: &str, with_node_id: bool) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![node.to_string()]).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        if with_node_id {
            p.subject_alt_names.push(SanType::OtherName((
                vec![1, 3, 6, 1, 4, 1, 2312, 19, 1],
                rcgen::OtherNameValue::Utf8String(node.to_string()),
            )));
        }
        p.distinguished_name.push(DnType::CommonName, node);
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
        let tag = format!(
            "{node}-by-{}",
            ca.path.file_stem().unwrap().to_string_lossy()
        );
        let (c, k) = (
            dir.join(format!("{tag}.crt")),
            dir.join(format!("{tag}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    fn tls_client(name: &str, cert: &(PathBuf, PathBuf), roots: &Path) -> String {
        format!(
            "- tls-client:\n    name: {name}\n    cert: {}\n    key: {}\n    rootcas: {}\n",
            cert.0.display(),
            cert.1.display(),
            roots.display()
        )
    }

    #[test]
    fn tls_links_refuse_the_wrong_certificate() {
        let root = temp_dir("mesh-tls");
        let mesh_ca = ca(&root, "mesh-ca");
        let other_ca = ca(&root, "other-ca");
        let a_cert = node_cert(&root, &mesh_ca, "a");
        let (open_port, mutual_port) = (free_port(), free_port());
        // Two listeners: one with server TLS only, one that requires a client certificate
        // signed by the mesh CA.
        let a_extra = format!(
            "- tls-server:\n    name: open\n    cert: {c}\n    key: {k}\n\
             - tls-server:\n    name: mutual\n    cert: {c}\n    key: {k}\n    requireclientcert: true\n    clientcas: {ca}\n\
             {}{}",
            listener(open_port, "    tls: open\n"),
            listener(mutual_port, "    tls: mutual\n"),
            c = a_cert.0.display(),
            k = a_cert.1.display(),
            ca = mesh_ca.path.display(),
        );
        let a = MeshNode::start(&root, "a", &a_extra);

        // good: trusts the mesh CA, presents a mesh certificate.
        let good_cert = node_cert(&root, &mesh_ca, "good");
        let good = MeshNode::start(
            &root,
            "good",
            &format!(
                "{}{}",
                tls_client("tc", &good_cert, &mesh_ca.path),
                peer(mutual_port, "    tls: tc\n")
            ),
        );
        // distrustful: a's certificate is not signed by the CA it trusts.
        let d_cert = node_cert(&root, &other_ca, "distrustful");
        let distrustful = MeshNode::start(
            &root,
            "distrustful",
            &format!(
                "{}{}",
                tls_client("tc", &d_cert, &other_ca.path),
                peer(open_port, "    tls: tc\n")
            ),
        );
        // stranger: trusts a, but its own certificate is from another CA.
        let s_cert = node_cert(&root, &other_ca, "stranger");
        let stranger = MeshNode::start(
            &root,
            "stranger",
            &format!(
                "{}{}",
                tls_client("tc", &s_cert, &mesh_ca.path),
                peer(mutual_port, "    tls: tc\n")
            ),
        );

        eventually("good to connect over TLS", Duration::from_secs(20), || {
            (a.route("good").as_deref() == Some("good")).then_some(())
        });
        assert!(good
            .ctl_ok(&["ping", "a", "--count", "1"])
            .contains("Reply from a"));
        // Give the refused ones time to have tried (they dial at start).
        std::thread::sleep(Duration::from_secs(2));
        let st = a.status();
        let conns: Vec<&str> = st["Connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["NodeID"].as_str().unwrap())
            .collect();
        assert_eq!(conns, ["good"], "{st}");
        for refused in [&distrustful, &stranger] {
            let st = refused.status();
            assert_eq!(st["Connections"], serde_json::json!([]), "{st}");
        }
        assert!(
            distrustful.log_text().contains("UnknownIssuer")
                || distrustful.log_text().contains("invalid peer certificate"),
            "{}",
            distrustful.log_text()
        );
        assert!(
            a.log_text().contains("TLS handshake with"),
            "{}",
            a.log_text()
        );
    }

    #[test]
    fn tls_service_streams_check_the_node_id() {
        let root = temp_dir("mesh-tls-streams");
        let mesh_ca = ca(&root, "mesh-ca");
        let (pa, pb) = (free_port(), free_port());
        // a ← b ← c and a ← b ← d; c's and d's control services take TLS clients with
        // mesh-CA certificates naming them, c's certificate names c, d's names nobody.
        let a_cert = node_cert(&root, &mesh_ca, "a");
        let a = MeshNode::start(
            &root,
            "a",
            &format!(
                "{}- tls-client:\n    name: nodeid\n    cert: {}\n    key: {}\n    rootcas: {}\n",
                listener(pa, ""),
                a_cert.0.display(),
                a_cert.1.display(),
                mesh_ca.path.display()
            ),
        );
        let _b = MeshNode::start(&root, "b", &format!("{}{}", peer(pa, ""), listener(pb, "")));
        // A second control service, `tlsctl`, only on the mesh, with TLS.
        let tls_control = |cert: &(PathBuf, PathBuf)| {
            format!(
                "{}- control-service:\n    service: tlsctl\n    tls: srv\n\
                 - tls-server:\n    name: srv\n    cert: {}\n    key: {}\n    clientcas: {}\n    requireclientcert: true\n",
                peer(pb, ""),
                cert.0.display(),
                cert.1.display(),
                mesh_ca.path.display()
            )
        };
        let c = MeshNode::start(&root, "c", &tls_control(&node_cert(&root, &mesh_ca, "c")));
        let _d = MeshNode::start(
            &root,
            "d",
            &tls_control(&cert_for(&root, &mesh_ca, "d", false)),
        );
        eventually("a's routes to c and d", Duration::from_secs(20), || {
            let st = a.status();
            (st["RoutingTable"]["c"] == "b" && st["RoutingTable"]["d"] == "b").then_some(())
        });
        // The TLS service is advertised as such.
        let ad = eventually("c's tlsctl ad at a", Duration::from_secs(20), || {
            a.status()["Advertisements"]
                .as_array()
                .unwrap()
                .iter()
                .find(|ad| ad["NodeID"] == "c" && ad["Service"] == "tlsctl")
                .cloned()
        });
        assert_eq!(ad["ConnType"], 2);

        let ok = connect_service(&a, "c", "tlsctl", "nodeid");
        assert_eq!(
            ok.lines().collect::<Vec<_>>(),
            ["Receptor Control, node c", "c"],
            "{ok}"
        );
        let wrong = connect_service(&a, "d", "tlsctl", "nodeid");
        assert!(
            wrong.contains("not valid for any Receptor node IDs, but wanted to match d"),
            "{wrong}"
        );
        // Without a TLS client config, only the insecure certificate is accepted.
        let insecure = connect_service(&a, "c", "tlsctl", "");
        assert!(insecure.starts_with("ERROR"), "{insecure}");
        drop(c);
    }

    fn connect_service(from: &MeshNode, node: &str, service: &str, tls: &str) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/mesh_connect.py");
        let out = Command::new(common::venv().join("bin/python"))
            .arg(&script)
            .arg(&from.socket)
            .arg(node)
            .arg(service)
            .arg(tls)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }
}
