//! The control service over TLS (`tcplisten` + `tcptls`) with the real `receptorctl
//! --socket tls://…`, using a CA and certificates made at test time.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{eventually, free_port, receptorctl_bin, DataDir, Proc, NODE_BIN};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};

struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
    stranger: (String, String),
}

fn make_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "rawx test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();

    let leaf = |name: &str,
                usage: ExtendedKeyUsagePurpose,
                signer: Option<(&rcgen::Certificate, &KeyPair)>| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![usage];
        let cert = match signer {
            Some((c, k)) => p.signed_by(&key, c, k).unwrap(),
            None => p.self_signed(&key).unwrap(),
        };
        let cert_path = dir.join(format!("{name}.crt"));
        let key_path = dir.join(format!("{name}.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (
            cert_path.display().to_string(),
            key_path.display().to_string(),
        )
    };
    let server = leaf(
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
        Some((&ca_cert, &ca_key)),
    );
    let client = leaf(
        "client",
        ExtendedKeyUsagePurpose::ClientAuth,
        Some((&ca_cert, &ca_key)),
    );
    let stranger = leaf("stranger", ExtendedKeyUsagePurpose::ClientAuth, None);
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    Pki {
        ca: ca_path.display().to_string(),
        server,
        client,
        stranger,
    }
}

fn ctl(port: u16, pki: &Pki, client: &(String, String), args: &[&str]) -> Output {
    Command::new(receptorctl_bin())
        .arg("--socket")
        .arg(format!("tls://localhost:{port}"))
        .args([
            "--rootcas",
            &pki.ca,
            "--cert",
            &client.0,
            "--key",
            &client.1,
        ])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn receptorctl_over_tls_with_client_certificates() {
    let dir = DataDir::new();
    let pki = make_pki(&dir);
    let port = free_port();
    let config = dir.join("receptor.conf");
    std::fs::write(
        &config,
        format!(
            "- node:\n    id: tlsnode\n    datadir: {data}\n- local-only: null\n\
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
    let check = Command::new(NODE_BIN)
        .arg("--config")
        .arg(&config)
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout)
        .contains(&format!("TLS on 127.0.0.1:{port} (tls-server ctl_tls)")));

    let mut node = Proc::spawn(
        Command::new(NODE_BIN)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn"),
    );
    // Until the TLS listener opens.
    eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port))
    });

    let out = ctl(port, &pki, &pki.client, &["status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Node ID: tlsnode"));
    // The payload ends with a TCP half-close inside TLS; the results come back over TLS too.
    let out = ctl(
        port,
        &pki,
        &pki.client,
        &[
            "work",
            "submit",
            "cat",
            "--payload-literal",
            "over tls",
            "-f",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "over tls\n");
    let out = ctl(port, &pki, &pki.client, &["work", "list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let cat_unit = String::from_utf8_lossy(&out.stdout).trim().to_string();

    // Off the Unix socket, a `verifysignature` work type needs a valid signature.
    let out = ctl(
        port,
        &pki,
        &pki.client,
        &["work", "submit", "signed", "--payload-literal", "x"],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("requires a signature"),
        "{out:?}"
    );
    let signer = rawx_mesh::signing::Signer::load(
        &common::signing_key_file(&dir, "RSA PRIVATE KEY"),
        Duration::from_secs(60),
    )
    .unwrap();
    let for_other = signer
        .sign("othernode", std::time::SystemTime::now())
        .unwrap();
    let arg = format!("signature={for_other}");
    let out = ctl(
        port,
        &pki,
        &pki.client,
        &[
            "work",
            "submit",
            "signed",
            "--payload-literal",
            "x",
            "-a",
            &arg,
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("audience"),
        "{out:?}"
    );
    // Expired: signed two minutes ago with a one-minute life.
    let stale = signer
        .sign(
            "tlsnode",
            std::time::SystemTime::now() - Duration::from_secs(120),
        )
        .unwrap();
    let arg = format!("signature={stale}");
    let out = ctl(
        port,
        &pki,
        &pki.client,
        &[
            "work",
            "submit",
            "signed",
            "--payload-literal",
            "x",
            "-a",
            &arg,
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expired"),
        "{out:?}"
    );
    let good = signer
        .sign("tlsnode", std::time::SystemTime::now())
        .unwrap();
    let arg = format!("signature={good}");
    let out = ctl(
        port,
        &pki,
        &pki.client,
        &[
            "work",
            "submit",
            "signed",
            "--payload-literal",
            "x",
            "-a",
            &arg,
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Job Started"),
        "{out:?}"
    );
    let out = ctl(
        port,
        &pki,
        &pki.client,
        &[
            "work",
            "submit",
            "cat",
            "--payload-literal",
            "x",
            "-a",
            &arg,
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did not expect a signature"),
        "{out:?}"
    );
    // The text form of `work results` cannot carry a signature.
    let signed_unit =
        String::from_utf8_lossy(&ctl(port, &pki, &pki.client, &["work", "list", "-q"]).stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>();
    assert_eq!(signed_unit.len(), 2);
    let signed_unit = signed_unit.into_iter().find(|u| *u != cat_unit).unwrap();
    let out = ctl(port, &pki, &pki.client, &["work", "results", &signed_unit]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("requires a signature"),
        "{out:?}"
    );
    let out = ctl(port, &pki, &pki.client, &["work", "results", &cat_unit]);
    assert!(out.status.success(), "{out:?}");

    // A client certificate from outside the CA is refused; the node keeps serving.
    let out = ctl(port, &pki, &pki.stranger, &["status"]);
    assert!(
        !out.status.success(),
        "a stranger's certificate was accepted"
    );
    let out = ctl(
        port,
        &pki,
        &pki.client,
        &["ping", "tlsnode", "--count", "1"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    node.kill();
}

#[test]
fn check_reports_unusable_tls_files() {
    let dir = DataDir::new();
    let bogus = dir.join("bogus.pem");
    std::fs::write(&bogus, "not a certificate\n").unwrap();
    let config = dir.join("receptor.conf");
    std::fs::write(
        &config,
        format!(
            "- node:\n    id: n1\n    datadir: {d}\n- local-only: null\n\
             - tls-server:\n    name: t\n    cert: {b}\n    key: {b}\n\
             - control-service:\n    tcplisten: 127.0.0.1:1\n    tcptls: t\n",
            d = dir.display(),
            b = bogus.display()
        ),
    )
    .unwrap();
    let out = Command::new(NODE_BIN)
        .arg("--config")
        .arg(&config)
        .arg("--check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tls-server t") && stderr.contains("no PEM certificate"),
        "{stderr}"
    );
}
