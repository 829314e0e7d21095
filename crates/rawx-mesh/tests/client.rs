//! `RemoteNode`, the controller's side of the control protocol, against a real `rawx-receptor`
//! process: over its Unix socket (submit, live results, resume from an offset, cancel,
//! release, errors as the in-process node gives them) and over TLS with client certificates
//! and work signing (signed, unsigned, wrongly signed).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, eventually_async, free_port, DataDir, Proc, TestNode, NODE_BIN, NODE_ID};
use rawx_mesh::signing::Signer;
use rawx_mesh::{RemoteNode, RemoteOptions, SubmitRequest, WorkError, WorkNode};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use tokio::io::AsyncReadExt;

async fn connect_unix(node: &TestNode) -> RemoteNode {
    RemoteNode::connect(RemoteOptions {
        address: Some(node.socket.display().to_string().parse().unwrap()),
        ..Default::default()
    })
    .await
    .expect("connect over the unix socket")
}

/// The unit's status once it is final.
async fn final_status(node: &RemoteNode, unit: &str) -> rawx_mesh::UnitStatus {
    eventually_async(Duration::from_secs(20), || async {
        let st = node.status(unit).await.unwrap();
        if st.is_final() {
            Ok(st)
        } else {
            Err(format!("unit {unit} is not final: {st:?}"))
        }
    })
    .await
}

#[tokio::test]
async fn remote_node_over_the_unix_socket() {
    let node = TestNode::start();
    let remote = connect_unix(&node).await;
    assert_eq!(remote.node_id(), NODE_ID);

    // A payload larger than any buffer comes back byte for byte.
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let unit = remote
        .submit(&SubmitRequest::new("cat"), &payload)
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut results = remote.results(&unit, 0).await.unwrap();
    results.read_to_end(&mut out).await.unwrap();
    assert_eq!(out.len(), payload.len());
    assert!(out == payload, "cat's output differs from its input");
    let st = final_status(&remote, &unit).await;
    assert_eq!((st.state, st.detail.as_str()), (2, "exit status 0"));
    assert_eq!(st.stdout_size, payload.len() as u64);

    // Results are live: the first line arrives while the unit still runs.
    let req = SubmitRequest::new("sh").param("params", "'echo one; sleep 2; echo two'");
    let started = Instant::now();
    let unit2 = remote.submit(&req, b"").await.unwrap();
    let mut results = remote.results(&unit2, 0).await.unwrap();
    let mut first = [0u8; 4];
    results.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"one\n");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the first line took {:?}: results are not streamed",
        started.elapsed()
    );
    assert_eq!(
        remote.status(&unit2).await.unwrap().state,
        1,
        "still running"
    );
    let mut rest = String::new();
    results.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "two\n");
    // Resumable: from an offset, as a controller that restarted re-attaches.
    let mut tail = String::new();
    let mut from4 = remote.results(&unit2, 4).await.unwrap();
    from4.read_to_string(&mut tail).await.unwrap();
    assert_eq!(tail, "two\n");

    // Cancel reaches the unit, and its results stream ends.
    let req = SubmitRequest::new("sh").param("params", "'echo started; exec sleep 60'");
    let unit3 = remote.submit(&req, b"").await.unwrap();
    let mut results = remote.results(&unit3, 0).await.unwrap();
    let mut line = [0u8; 8];
    results.read_exact(&mut line).await.unwrap();
    remote.cancel(&unit3).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), results.read_to_end(&mut rest))
        .await
        .expect("the results of a canceled unit end")
        .unwrap();
    let st = final_status(&remote, &unit3).await;
    assert_eq!(st.state, 4, "{st:?}");

    // Release deletes; the node then says it does not know the unit, as the in-process node does.
    for u in [&unit, &unit2, &unit3] {
        remote.release(u).await.unwrap();
        match remote.status(u).await {
            Err(WorkError::UnknownUnit(id)) => assert_eq!(&id, u),
            other => panic!("status after release: {other:?}"),
        }
    }
    match remote.submit(&SubmitRequest::new("nope"), b"").await {
        Err(WorkError::Refused(m)) => assert!(m.contains("unknown work type"), "{m}"),
        other => panic!("unknown work type: {other:?}"),
    }
    // receptorctl sees what the client did: nothing left.
    assert_eq!(node.ctl_ok(&["work", "list"]).trim(), "{}");
}

struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn make_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "client test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c.display().to_string(), k.display().to_string())
    };
    let server = leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let client = leaf("controller", ExtendedKeyUsagePurpose::ClientAuth);
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    Pki {
        ca: ca_path.display().to_string(),
        server,
        client,
    }
}

#[tokio::test]
async fn remote_node_over_tls_signs_work_the_node_verifies() {
    let dir = DataDir::new();
    let pki = make_pki(&dir);
    let port = free_port();
    let config = dir.join("receptor.conf");
    std::fs::write(
        &config,
        format!(
            "- node:\n    id: tlsexec\n    datadir: {data}\n- local-only: null\n\
             - tls-server:\n    name: ctl_tls\n    cert: {cert}\n    key: {key}\n    clientcas: {ca}\n    requireclientcert: true\n\
             - control-service:\n    service: control\n    tcplisten: 127.0.0.1:{port}\n    tcptls: ctl_tls\n\
             - work-command:\n    worktype: cat\n    command: cat\n\
             - work-verification:\n    publickey: {public}\n\
             - work-command:\n    worktype: signed\n    command: cat\n    verifysignature: true\n",
            data = dir.join("data").display(),
            cert = pki.server.0,
            key = pki.server.1,
            ca = pki.ca,
            public = common::signing_key_file(&dir, "PUBLIC KEY").display(),
        ),
    )
    .unwrap();
    let _node = Proc::spawn(
        Command::new(NODE_BIN)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port))
    });
    let private = common::signing_key_file(&dir, "RSA PRIVATE KEY");
    let options = |signer: Option<Signer>, client_cert: bool| RemoteOptions {
        address: Some(format!("tls://localhost:{port}").parse().unwrap()),
        root_cas: Some(pki.ca.clone().into()),
        cert: client_cert.then(|| pki.client.0.clone().into()),
        key: client_cert.then(|| pki.client.1.clone().into()),
        signer,
        ..Default::default()
    };
    let signer = || Some(Signer::load(&private, Duration::from_secs(60)).unwrap());

    // Signed: submit, results, status and release all pass the node's verification.
    let remote = RemoteNode::connect(options(signer(), true)).await.unwrap();
    assert_eq!(remote.node_id(), "tlsexec");
    let unit = remote
        .submit(&SubmitRequest::new("signed"), b"signed payload\n")
        .await
        .unwrap();
    let mut out = String::new();
    let mut results = remote.results(&unit, 0).await.unwrap();
    results.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "signed payload\n");
    assert_eq!(final_status(&remote, &unit).await.state, 2);
    remote.release(&unit).await.unwrap();
    // Work types without verification get no signature (the node would refuse one).
    let unit = remote
        .submit(&SubmitRequest::new("cat"), b"plain\n")
        .await
        .unwrap();
    assert_eq!(final_status(&remote, &unit).await.state, 2);
    remote.release(&unit).await.unwrap();

    // Unsigned: the client says what is missing before the node has to.
    let unsigned = RemoteNode::connect(options(None, true)).await.unwrap();
    match unsigned.submit(&SubmitRequest::new("signed"), b"x").await {
        Err(WorkError::Refused(m)) => assert!(m.contains("work-signing key"), "{m}"),
        other => panic!("unsigned submit: {other:?}"),
    }

    // Wrongly signed (another RSA key): the node refuses it.
    let other_key = dir.join("other.pem");
    let gen = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&other_key)
        .arg("2048")
        .output()
        .unwrap();
    assert!(gen.status.success(), "openssl genrsa failed");
    let wrong = RemoteNode::connect(options(
        Some(Signer::load(&other_key, Duration::from_secs(60)).unwrap()),
        true,
    ))
    .await
    .unwrap();
    match wrong.submit(&SubmitRequest::new("signed"), b"x").await {
        Err(WorkError::Refused(m)) => assert!(m.contains("does not match"), "{m}"),
        other => panic!("wrongly signed submit: {other:?}"),
    }

    // No client certificate: the node's TLS refuses the connection.
    assert!(RemoteNode::connect(options(signer(), false)).await.is_err());
}

/// A results stream outlives its node: `kill -9` of the node mid-unit, a new node process on
/// the same config (it adopts the unit), and the reader goes on from the byte it had reached.
#[tokio::test]
async fn results_resume_across_a_node_restart() {
    let mut node = TestNode::start();
    let remote = connect_unix(&node).await;
    let req = SubmitRequest::new("sh").param("params", "'echo one; sleep 3; echo two'");
    let unit = remote.submit(&req, b"").await.unwrap();
    let mut results = remote.results(&unit, 0).await.unwrap();
    let mut first = [0u8; 4];
    results.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"one\n");
    node.kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    node.spawn();
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(20), results.read_to_string(&mut rest))
        .await
        .expect("the stream ends once the unit is done")
        .unwrap();
    assert_eq!(rest, "two\n", "each byte once, in order");
    let st = final_status(&remote, &unit).await;
    assert_eq!(st.state, 2, "{st:?}");
    remote.release(&unit).await.unwrap();
}
