//! Mesh links and service streams with TLS, and websocket links, across real `rawx-receptor`
//! processes: the wrong certificate is refused on a link, a service stream checks the node ID
//! in the certificate's otherName, and ws/wss links carry the mesh.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::mesh::*;
use common::DataDir;

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
        let root = DataDir::new();
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

        // misnamed: trusts the mesh CA and presents a mesh certificate, but dials a by a name
        // a's certificate does not carry (it names `a` and 127.0.0.1): Go checks the dialed
        // host against the server's certificate.
        let m_cert = node_cert(&root, &mesh_ca, "misnamed");
        let misnamed = MeshNode::start(
            &root,
            "misnamed",
            &format!(
                "{}- tcp-peer:\n    address: localhost:{open_port}\n    tls: tc\n",
                tls_client("tc", &m_cert, &mesh_ca.path),
            ),
        );
        // Until good to connect over TLS.
        eventually(Duration::from_secs(20), || {
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
        for refused in [&distrustful, &stranger, &misnamed] {
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
            misnamed.log_text().contains("NotValidForName")
                || misnamed.log_text().contains("not valid for name"),
            "{}",
            misnamed.log_text()
        );
        assert!(
            a.log_text().contains("TLS handshake with"),
            "{}",
            a.log_text()
        );
    }

    #[test]
    fn tls_service_streams_check_the_node_id() {
        let root = DataDir::new();
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
        // Until a's routes to c and d.
        eventually(Duration::from_secs(20), || {
            let st = a.status();
            (st["RoutingTable"]["c"] == "b" && st["RoutingTable"]["d"] == "b").then_some(())
        });
        // The TLS service is advertised as such.
        // Until c's tlsctl ad at a.
        let ad = eventually(Duration::from_secs(20), || {
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

    #[test]
    fn websocket_links_plain_and_tls() {
        let root = DataDir::new();
        let mesh_ca = ca(&root, "mesh-ca");
        let a_cert = node_cert(&root, &mesh_ca, "a");
        let (plain, secure) = (free_port(), free_port());
        let a = MeshNode::start(
            &root,
            "a",
            &format!(
                "- ws-listener:\n    bindaddr: 127.0.0.1\n    port: {plain}\n    path: /mesh\n\
                 - tls-server:\n    name: srv\n    cert: {}\n    key: {}\n\
                 - ws-listener:\n    bindaddr: 127.0.0.1\n    port: {secure}\n    tls: srv\n",
                a_cert.0.display(),
                a_cert.1.display()
            ),
        );
        let b = MeshNode::start(
            &root,
            "b",
            &format!(
                "- ws-peer:\n    address: ws://127.0.0.1:{plain}/mesh\n    extraheader: 'X-Test: 1'\n"
            ),
        );
        let c_cert = node_cert(&root, &mesh_ca, "c");
        let c = MeshNode::start(
            &root,
            "c",
            &format!(
                "{}- ws-peer:\n    address: wss://127.0.0.1:{secure}/\n    tls: tc\n",
                tls_client("tc", &c_cert, &mesh_ca.path)
            ),
        );
        // The wrong path is refused.
        let _d = MeshNode::start(
            &root,
            "d",
            &format!("- ws-peer:\n    address: ws://127.0.0.1:{plain}/other\n"),
        );
        // Until b and c linked to a.
        eventually(Duration::from_secs(20), || {
            let st = a.status();
            (st["RoutingTable"]["b"] == "b" && st["RoutingTable"]["c"] == "c").then_some(())
        });
        // a's routing update reaches b and c a moment after a has both links.
        // Until b and c route to each other.
        eventually(Duration::from_secs(20), || {
            (b.status()["RoutingTable"]["c"] == "a" && c.status()["RoutingTable"]["b"] == "a")
                .then_some(())
        });
        assert!(b
            .ctl_ok(&["ping", "c", "--count", "1"])
            .contains("Reply from c"));
        let out = c.ctl_ok(&["traceroute", "b"]);
        assert!(out.contains("1: a in") && out.contains("2: b in"), "{out}");
        std::thread::sleep(Duration::from_secs(1));
        assert!(a.status()["RoutingTable"].get("d").is_none());
    }
}
