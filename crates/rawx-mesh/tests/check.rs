//! `rawx-receptor --check` on AWX's shipped config and on broken ones.

mod common;

use std::process::{Command, Output};

use common::{DataDir, NODE_BIN};

const AWX_SAMPLE: &str = include_str!("data/receptor.conf.sample");

fn check(config: &std::path::Path) -> Output {
    Command::new(NODE_BIN)
        .arg("--config")
        .arg(config)
        .arg("--check")
        .output()
        .expect("run rawx-receptor --check")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn awx_sample_passes_check_with_its_files_in_place() {
    let dir = DataDir::new();
    let mut conf = AWX_SAMPLE.to_string();
    for path in [
        "/etc/receptor/signing/work-private-key.pem",
        "/etc/receptor/tls/receptor.crt",
        "/etc/receptor/tls/receptor.key",
        "/etc/receptor/tls/ca/receptor-ca.crt",
    ] {
        let local = dir.join(path.trim_start_matches('/').replace('/', "_"));
        if path.contains("signing") {
            // The signing key is loaded and must be a real one.
            std::fs::copy(common::signing_key_file(&dir, "RSA PRIVATE KEY"), &local).unwrap();
        } else {
            // Only the mesh and remote work would load the tls-client files.
            std::fs::write(&local, "-----BEGIN TEST-----\n-----END TEST-----\n").unwrap();
        }
        conf = conf.replace(path, local.to_str().unwrap());
    }
    conf = conf.replace(
        "/var/run/receptor/receptor.sock",
        dir.join("receptor.sock").to_str().unwrap(),
    );
    let file = dir.join("receptor.conf");
    std::fs::write(&file, &conf).unwrap();
    let out = check(&file);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("is valid"), "{stdout}");
    assert!(
        stdout.contains("Control service control: unix socket"),
        "{stdout}"
    );
    assert!(stdout.contains("(mode 0660)"), "{stdout}");
    assert!(
        stdout.contains("Work type local: runs `ansible-runner worker`, runtime params allowed"),
        "{stdout}"
    );
    // Nothing parsed is silently ignored.
    for part in [
        "firewallrules",
        "work-kubernetes kubernetes-runtime-auth",
        "work-kubernetes kubernetes-incluster-auth",
        "work-signing",
        "tls-client tlsclient",
    ] {
        assert!(stdout.contains(part), "{part} not reported: {stdout}");
    }
    assert!(
        !dir.join("receptor.sock").exists(),
        "--check starts nothing"
    );
}

#[test]
fn awx_sample_as_is_names_every_missing_file() {
    let dir = DataDir::new();
    let file = dir.join("receptor.conf");
    std::fs::write(&file, AWX_SAMPLE).unwrap();
    let out = check(&file);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    for path in [
        "work-signing privatekey: /etc/receptor/signing/work-private-key.pem",
        "tls-client tlsclient cert: /etc/receptor/tls/receptor.crt",
        "tls-client tlsclient key: /etc/receptor/tls/receptor.key",
        "tls-client tlsclient rootcas: /etc/receptor/tls/ca/receptor-ca.crt",
    ] {
        assert!(stderr.contains(path), "{path} not named: {stderr}");
    }
}

#[test]
fn broken_configs_are_clear_errors() {
    let dir = DataDir::new();
    let cases = [
        ("- node:\n    id: n1\n  - [oops\n", "malformed YAML"),
        (
            "- node:\n    id: n1\n- local-only: null\n- work-command:\n    worktype: w\n    command: c\n    colour: blue\n",
            "section `work-command`: unknown option `colour`",
        ),
        (
            "- node:\n    id: n1\n- local-only: null\n- control-service:\n    permissions: [1]\n",
            "option `permissions`: expected an integer",
        ),
    ];
    for (i, (conf, want)) in cases.iter().enumerate() {
        let file = dir.join(format!("bad{i}.conf"));
        std::fs::write(&file, conf).unwrap();
        let out = check(&file);
        assert!(!out.status.success(), "case {i} passed");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(want), "case {i}: {stderr}");
        assert!(
            stderr.contains(file.to_str().unwrap()),
            "the error names the file: {stderr}"
        );
    }
    let out = check(&dir.join("absent.conf"));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot read receptor config"));
}
