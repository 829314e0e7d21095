//! End-to-end: credentials in real jobs. A Machine credential (SSH key with passphrase, against
//! an unprivileged `sshd` the test starts that accepts only that key) and Vault credentials are
//! really used, and their secrets end up nowhere a user or an attacker with the data dir could
//! look; jobs never share SSH connections; AWX's validation of machine keys.

use rawx_testkit::lab::*;
use rawx_testkit::plays::*;
use rawx_testkit::sshd::{keygen, Sshd, ED25519};
use rawx_testkit::{Opts, ADMIN_PW};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const WHO: &str = "\
- name: Remote play
  hosts: all
  gather_facts: false
  tasks:
    - name: who am i over ssh
      command: id -un
";

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}

/// A Machine credential (SSH key with passphrase) and Vault credentials are really used, and
/// afterwards none of the secrets is anywhere a user or an attacker with the data dir could look.
#[test]
fn credentials_are_injected_and_secrets_stay_hidden() {
    let passphrase = "ssh-unlock-Q7zX93w";
    let vault_pw = "vault-pw-Kp29xLq";
    let sshd = Sshd::start(passphrase);
    // Debug logging: "never logged" must hold at the most verbose level too.
    let lab = Lab::start_with(Opts {
        env: vec![("RAWX_LOG".into(), "debug".into())],
        ..Opts::default()
    });
    let scratch = tempfile::tempdir().unwrap();
    let plain_vars = vault_vars(
        scratch.path(),
        "plain_secret",
        "decrypted-plain-77",
        vault_pw,
        None,
    );
    let p = lab.project(
        "creds",
        &[
            ("who.yml", WHO),
            ("plain_vars.yml", &plain_vars),
            (
                "vault_plain.yml",
                &vault_play("plain_vars.yml", "plain_secret"),
            ),
        ],
    );
    let remote = lab.inventory("Remote", &[("sshhost", sshd.host_vars())]);
    let local = lab.inventory("Local", &[("localhost", local_vars())]);

    let machine = lab.credential(
        "key",
        "Machine",
        json!({"username": whoami(), "ssh_key_data": sshd.key, "ssh_key_unlock": passphrase}),
    );
    let vault = lab.credential("vault", "Vault", json!({"vault_password": vault_pw}));
    let shown = s_get(&lab, &format!("/api/v2/credentials/{machine}/"));
    assert_eq!(shown["inputs"]["ssh_key_unlock"], "$encrypted$", "{shown}");
    assert_eq!(shown["inputs"]["ssh_key_data"], "$encrypted$", "{shown}");

    let jt_ssh = lab.jt("ssh", p, remote, "who.yml", json!({}));
    lab.attach(jt_ssh, machine);
    let jt_ssh_bare = lab.jt("ssh-bare", p, remote, "who.yml", json!({}));
    let jt_vault = lab.jt("vault", p, local, "vault_plain.yml", json!({}));
    lab.attach(jt_vault, vault);
    let jt_vault_bare = lab.jt("vault-bare", p, local, "vault_plain.yml", json!({}));

    // Without the credential first, so no earlier connection to the sshd exists.
    let v1 = lab.launch(jt_vault);
    let v3 = lab.launch(jt_vault_bare);
    let bare = lab.launch(jt_ssh_bare);
    let job = lab.wait_status(bare, "failed");
    let ev = lab.events_of(bare, "runner_on_unreachable");
    assert_eq!(
        ev.len(),
        1,
        "without the key the host must be unreachable: {job}"
    );
    assert_eq!(ev[0]["failed"], true);

    let out = lab.s.awx(&["job_templates", "launch", "ssh", "--monitor"]);
    assert_eq!(
        out.code,
        0,
        "launch ssh --monitor:\n{out}\n--- sshd\n{}",
        sshd.log()
    );
    let ssh_job = lab.all(&format!("/api/v2/job_templates/{jt_ssh}/jobs/"))[0]["id"]
        .as_i64()
        .unwrap();
    let job = lab.wait_status(ssh_job, "successful");
    let ok = lab.events_of(ssh_job, "runner_on_ok");
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert_eq!(ok[0]["event_data"]["res"]["stdout"], whoami(), "{}", ok[0]);
    assert!(
        sshd.log().contains("Accepted publickey for"),
        "the job did not log in through the test's sshd:\n{}",
        sshd.log()
    );
    assert!(
        job_args(&job)
            .iter()
            // With an SSH key the runner wraps the command in `ssh-agent sh -c "…"`.
            .any(|a| a == "-u" || a.starts_with("--user") || a.contains(" -u ")),
        "the credential's username is not on the command line: {}",
        job["job_args"]
    );

    lab.wait_status(v1, "successful");
    assert!(
        lab.stdout(v1).contains("plain=decrypted-plain-77"),
        "{}",
        lab.stdout(v1)
    );
    let job = lab.wait(v3);
    assert_ne!(
        job["status"], "successful",
        "decrypted without a vault password: {job}"
    );
    assert!(
        lab.stdout(v3).to_lowercase().contains("vault"),
        "{}",
        lab.stdout(v3)
    );

    // Secrets nowhere.
    let mut secrets = vec![
        ("ssh key passphrase".to_string(), passphrase.to_string()),
        ("vault password".to_string(), vault_pw.to_string()),
    ];
    for f in sshd.key_fragments() {
        secrets.push(("private key body".to_string(), f));
    }
    for id in [bare, ssh_job, v1, v3] {
        for format in ["txt", "ansi", "json", "txt_download"] {
            let r = lab.s.http(
                "GET",
                &format!("/api/v2/jobs/{id}/stdout/?format={format}"),
                Some(("admin", ADMIN_PW)),
                None,
            );
            assert_eq!(r.status, 200, "{r:?}");
            assert_clean(
                &format!("job {id}'s stdout ({format})"),
                r.body.as_bytes(),
                &secrets,
            );
        }
        let cli = lab.s.awx_ok(&["jobs", "stdout", &id.to_string()]);
        assert_clean(&format!("awx jobs stdout {id}"), cli.as_bytes(), &secrets);
        let events = Value::Array(lab.events(id)).to_string();
        assert_clean(&format!("job {id}'s events"), events.as_bytes(), &secrets);
        let job = lab.job(id);
        assert_clean(
            &format!("job {id}'s job_args"),
            job["job_args"].to_string().as_bytes(),
            &secrets,
        );
        assert_clean(
            &format!("job {id}'s job_env"),
            job["job_env"].to_string().as_bytes(),
            &secrets,
        );
        assert_clean(&format!("job {id}"), job.to_string().as_bytes(), &secrets);
    }
    let data = lab.s.data.clone();
    let (dir, logs) = lab.s.stop_with_logs();
    assert!(
        logs.contains("DEBUG") || logs.contains("debug"),
        "RAWX_LOG=debug did not log at debug level"
    );
    assert_clean("rawx's stdout/stderr", logs.as_bytes(), &secrets);
    let mut db = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("rawx.db") {
            db.extend(std::fs::read(e.path()).unwrap());
        }
    }
    // Proves the scan sees stored job output at all.
    assert!(
        contains(&db, "decrypted-plain-77"),
        "the database scan found no job output"
    );
    assert_clean("the SQLite database", &db, &secrets);
    // The work units were released: no transmit stream (which carries the secrets, zipped)
    // stays on the node.
    let units: Vec<PathBuf> = files_under(&data.join("receptor"))
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "stdin"))
        .collect();
    assert!(
        units.is_empty(),
        "work units left with their input: {units:?}"
    );
    for sub in ["receptor", "jobs"] {
        for f in files_under(&data.join(sub)) {
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert_clean(&f.display().to_string(), &bytes, &secrets);
        }
    }
    let left: Vec<PathBuf> = files_under(&data.join("jobs"));
    assert!(
        left.is_empty(),
        "the jobs' private data dirs were not removed: {left:?}"
    );
    drop(dir);
}

fn s_get(lab: &Lab, path: &str) -> Value {
    lab.s.admin("GET", path, None, 200)
}

/// A Vault credential with a `vault_id` decrypts what was encrypted under that id, and its
/// password stays out of the job's output.
#[test]
fn a_vault_credential_with_a_vault_id_decrypts_its_vars() {
    let pw = "vault-prod-Mn48vRt";
    let lab = Lab::start();
    let scratch = tempfile::tempdir().unwrap();
    let vars = vault_vars(
        scratch.path(),
        "prod_secret",
        "decrypted-prod-88",
        pw,
        Some("prod"),
    );
    let p = lab.project(
        "vault",
        &[
            ("prod_vars.yml", &vars),
            (
                "vault_prod.yml",
                &vault_play("prod_vars.yml", "prod_secret"),
            ),
        ],
    );
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let cred = lab.credential(
        "vault-prod",
        "Vault",
        json!({"vault_password": pw, "vault_id": "prod"}),
    );
    let jt = lab.jt("vault-prod", p, inv, "vault_prod.yml", json!({}));
    lab.attach(jt, cred);
    let id = lab.launch(jt);
    let job = lab.wait_status(id, "successful");
    let text = lab.stdout(id);
    assert!(text.contains("plain=decrypted-prod-88"), "{text}");
    let secrets = [("vault password".to_string(), pw.to_string())];
    assert_clean("the job", job.to_string().as_bytes(), &secrets);
    assert_clean("the stdout", text.as_bytes(), &secrets);
    assert_clean(
        "the events",
        Value::Array(lab.events(id)).to_string().as_bytes(),
        &secrets,
    );
}

/// A job without credentials must not ride on an SSH connection an earlier job opened with
/// someone's key. AWX gives every job its own `ANSIBLE_SSH_CONTROL_PATH_DIR` in the private data
/// dir; a shared one lets ansible's `ControlPersist` master (60 s) serve the next job.
#[test]
fn jobs_never_share_ssh_connections() {
    let sshd = Sshd::start("cp-unlock-Zr81pQ");
    let lab = Lab::start();
    let p = lab.project("cp", &[("who.yml", WHO)]);
    let remote = lab.inventory("Remote", &[("sshhost", sshd.host_vars())]);
    let machine = lab.credential(
        "key",
        "Machine",
        json!({"username": whoami(), "ssh_key_data": sshd.key, "ssh_key_unlock": sshd.passphrase}),
    );
    let jt_key = lab.jt("with-key", p, remote, "who.yml", json!({}));
    lab.attach(jt_key, machine);
    let jt_bare = lab.jt("no-key", p, remote, "who.yml", json!({}));
    let with = lab.launch(jt_key);
    lab.wait_status(with, "successful");
    let without = lab.launch(jt_bare);
    let job = lab.wait(without);
    assert_eq!(
        job["status"],
        "failed",
        "a job without the key reached the host through the previous job's connection:\n{}",
        lab.stdout(without)
    );
}

/// AWX refuses a Machine credential whose key cannot work: an encrypted key without
/// `ssh_key_unlock` ("must be set when SSH key is encrypted.") and data that is no key at all.
/// Accepted, such a key makes the job hang: `ssh-add` waits for a passphrase nobody types.
#[test]
fn machine_credential_keys_are_validated_like_awx() {
    let lab = Lab::start();
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "k", "some-passphrase", ED25519);
    let ct = lab
        .s
        .admin("GET", "/api/v2/credential_types/?name=Machine", None, 200)["results"][0]["id"]
        .clone();
    for (inputs, field) in [
        (
            json!({"username": "u", "ssh_key_data": key}),
            "ssh_key_unlock",
        ),
        (
            json!({"username": "u", "ssh_key_data": "not a key"}),
            "ssh_key_data",
        ),
    ] {
        let r = lab.s.http(
            "POST",
            "/api/v2/credentials/",
            Some(("admin", ADMIN_PW)),
            Some(&json!({"name": field, "organization": lab.org["id"], "credential_type": ct, "inputs": inputs})),
        );
        assert_eq!(r.status, 400, "{field}: {r:?}");
        assert!(
            r.json()["inputs"][field].is_array(),
            "the error is not keyed by inputs.{field}: {r:?}"
        );
    }
}
