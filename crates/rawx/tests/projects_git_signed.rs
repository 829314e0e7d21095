//! End-to-end: signed project content as AWX 24.6.1 verifies it. A project's
//! `signature_validation_credential` (a "GPG Public Key") makes every update verify the
//! checkout with ansible-sign: the detached signature of `.ansible-sign/sha256sum.txt` against
//! the key, then the files against the manifest. Content is signed by the test with the real
//! `ansible-sign project gpg-sign` and a key it makes (`gpg --quick-gen-key`, its own
//! GNUPGHOME); through the API and the collection's `project` module.

use rawx_testkit::git::{play, project_row, update_of, Repo};
use rawx_testkit::lab::*;
use rawx_testkit::{venv, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A GPG key of the test's own, in a private GNUPGHOME; its agent is stopped when dropped.
struct Key {
    home: tempfile::TempDir,
    public: String,
}

impl Key {
    fn new(who: &str) -> Key {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let gpg = |args: &[&str]| {
            let out = Command::new("gpg")
                .env("GNUPGHOME", home.path())
                .args(["--batch", "--passphrase", ""])
                .args(args)
                .output()
                .expect("gpg (scripts/setup-system.sh installs it)");
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        gpg(&[
            "--quick-gen-key",
            &format!("{who} <{who}@example.com>"),
            "default",
            "default",
            "never",
        ]);
        let public = gpg(&["--armor", "--export"]);
        assert!(public.contains("BEGIN PGP PUBLIC KEY BLOCK"), "{public}");
        Key { home, public }
    }

    /// `ansible-sign project gpg-sign` of the repository's work tree, committed.
    fn sign(&self, repo: &Repo) -> String {
        let out = Command::new(venv().join("bin/ansible-sign"))
            .args(["--nocolor", "project", "gpg-sign", "--gnupg-home"])
            .arg(self.home.path())
            .arg(".")
            .current_dir(&repo.dir)
            // No terminal: ansible-sign asks for none when GPG_TTY is set (the key has no
            // passphrase).
            .env("GPG_TTY", "/dev/null")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ansible-sign: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "--quiet", "-m", "signed"]);
        repo.git(&["rev-parse", "HEAD"])
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "all"])
            .output();
    }
}

/// What the manifest covers. When verifying, ansible-sign starts from every file of the
/// checkout (`global-include *`), so the checkout's `.git` must be pruned, in AWX as here.
const MANIFEST_IN: &str = "include site.yml\ninclude data.txt\nprune .git\n";

/// Updates project `pid` and waits for the update.
/// A key and a repository of a manifest, a playbook saying `says` and a data file, committed
/// (not yet signed).
fn signed_repo(s: &Server, name: &str, says: &str) -> (Key, Repo) {
    let key = Key::new("signer");
    let repo = Repo::new(&s.data, &format!("repos/{name}"));
    repo.commit(
        &[
            ("MANIFEST.in", MANIFEST_IN),
            ("site.yml", &play(says)),
            ("data.txt", "v1"),
        ],
        "content",
    );
    (key, repo)
}

fn update(s: &Server, pid: i64) -> Value {
    let id = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    )["id"]
        .as_i64()
        .unwrap();
    update_of(s, id)
}

/// The events of a project update.
fn events(lab: &Lab, id: &Value) -> Vec<Value> {
    lab.all(&format!(
        "/api/v2/project_updates/{id}/events/?order_by=counter&page_size=200"
    ))
}

/// The `msg` of each verification result (`ok` or `failed`) of update `u`, by task.
fn verified(lab: &Lab, u: &Value) -> Vec<(String, String, String)> {
    events(lab, &u["id"])
        .into_iter()
        .filter(|e| e["event_data"]["task_action"] == "verify_project")
        .filter(|e| e["event"] == "runner_on_ok" || e["event"] == "runner_on_failed")
        .map(|e| {
            (
                e["task"].as_str().unwrap_or_default().to_string(),
                e["event"].as_str().unwrap_or_default().to_string(),
                e["event_data"]["res"]["msg"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

const GPG_TASK: &str = "Verify project content using GPG signature";
const SUM_TASK: &str = "Verify project content against checksum manifest";

fn ok(task: &str, msg: &str) -> (String, String, String) {
    (task.into(), "runner_on_ok".into(), msg.into())
}

fn failed(task: &str, msg: &str) -> (String, String, String) {
    (task.into(), "runner_on_failed".into(), msg.into())
}

/// A failed update: its status, the failing step and message, and the stdout (with the
/// message), the project's revision left where it was.
fn assert_failed(lab: &Lab, u: &Value, want: (String, String, String), kept: &str) {
    let stdout = lab.stdout_on("project_updates", u["id"].as_i64().unwrap());
    assert_eq!(u["status"], "failed", "{u}\n{stdout}");
    let got = verified(lab, u);
    assert_eq!(got.last(), Some(&want), "{got:?}\n{stdout}");
    assert!(stdout.contains(&want.2), "{stdout}");
    assert!(stdout.contains("fatal: [localhost]: FAILED!"), "{stdout}");
    let p = project_row(&lab.s, u["project"].as_i64().unwrap());
    assert_eq!(p["scm_revision"], kept, "{p}");
    assert_eq!(p["status"], "failed", "{p}");
}

#[test]
fn signed_content_is_verified_and_tampered_unsigned_or_foreign_content_fails_the_update() {
    let lab = Lab::start();
    let s = &lab.s;
    let (key, repo) = signed_repo(s, "signed", "signed");
    let good = key.sign(&repo);

    // AWX's managed type, the key as its one secret input.
    let gpg_type = lab.credential_type("GPG Public Key");
    let t = s.admin(
        "GET",
        &format!("/api/v2/credential_types/{gpg_type}/"),
        None,
        200,
    );
    assert_eq!(t["kind"], "cryptography");
    assert_eq!(t["namespace"], "gpg_public_key");
    let cred = lab.credential_typed("Signer", gpg_type, json!({"gpg_public_key": key.public}));
    let p = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(
            json!({"name": "Signed", "organization": lab.org["id"], "scm_type": "git",
                    "scm_url": repo.url(), "signature_validation_credential": cred,
                    "scm_update_on_launch": true}),
        ),
        201,
    );
    assert_eq!(p["signature_validation_credential"], cred);
    assert_eq!(
        p["summary_fields"]["signature_validation_credential"]["kind"], "gpg_public_key",
        "{p}"
    );
    let pid = p["id"].as_i64().unwrap();
    let first = p["summary_fields"]["current_update"]["id"]
        .as_i64()
        .unwrap();

    // Good: both steps pass with AWX's messages, the update records the revision.
    let u = update_of(s, first);
    let stdout = lab.stdout_on("project_updates", first);
    assert_eq!(u["status"], "successful", "{u}\n{stdout}");
    assert_eq!(
        u["job_tags"],
        "update_git,install_roles,install_collections,validation_gpg_public_key,validation_checksum_manifest"
    );
    assert_eq!(
        verified(&lab, &u),
        [
            ok(GPG_TASK, "GPG signature verification succeeded."),
            ok(SUM_TASK, "Checksum manifest is valid."),
        ]
    );
    assert!(
        stdout.contains("PLAY [Perform project signature/checksum verification]"),
        "{stdout}"
    );
    assert!(!stdout.contains("PGP PUBLIC KEY"), "{stdout}");
    assert_eq!(project_row(s, pid)["scm_revision"], good.as_str());
    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let jt = lab.jt("Signed JT", pid, inv, "site.yml", json!({}));
    let j = lab.launch(jt);
    lab.wait_status(j, "successful");
    assert!(lab.stdout(j).contains("git-play says signed"));

    // Tampered: a file changed after signing.
    repo.commit(&[("site.yml", &play("tampered"))], "tampered");
    let u = update(s, pid);
    assert_failed(
        &lab,
        &u,
        failed(SUM_TASK, "Checksum mismatch: site.yml"),
        &good,
    );
    // A job that updates on launch fails with the explanation, and never runs the content.
    let j = lab.launch(jt);
    let job = lab.wait(j);
    assert_eq!(job["status"], "failed", "{job}");
    let dep = lab.all(&format!(
        "/api/v2/project_updates/?project={pid}&launch_type=dependency&order_by=-id"
    ))[0]
        .clone();
    assert_eq!(dep["status"], "failed", "{dep}");
    let dep = dep["id"].as_i64().unwrap();
    assert_eq!(
        job["job_explanation"],
        format!(
            "Previous Task Failed: {{\"job_type\": \"project_update\", \"job_name\": \"Signed\", \"job_id\": \"{dep}\"}}"
        )
    );
    assert!(lab
        .stdout_on("project_updates", dep)
        .contains("Checksum mismatch: site.yml"));
    assert!(!lab.stdout(j).contains("git-play says tampered"));

    // A file the manifest does not know.
    repo.git(&["checkout", "--quiet", &good, "--", "site.yml"]);
    repo.commit(
        &[("data.txt", "v1"), ("extra.yml", "- hosts: all\n")],
        "added",
    );
    let u = update(s, pid);
    let got = verified(&lab, &u);
    assert_eq!(u["status"], "failed", "{got:?}");
    assert!(
        got.last().unwrap().2.contains("'added': ['extra.yml']"),
        "{got:?}"
    );

    // Bad: the manifest changed after it was signed.
    repo.git(&["rm", "--quiet", "extra.yml"]);
    let manifest = repo.dir.join(".ansible-sign/sha256sum.txt");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!("{}  other.txt\n", "0".repeat(64)));
    repo.commit(&[(".ansible-sign/sha256sum.txt", &text)], "manifest edited");
    let u = update(s, pid);
    assert_failed(
        &lab,
        &u,
        failed(GPG_TASK, "GPG signature verification failed."),
        &good,
    );
    assert!(lab
        .stdout_on("project_updates", u["id"].as_i64().unwrap())
        .contains("gpg: BAD signature"));

    // Unsigned: no signature at all.
    repo.git(&["rm", "--quiet", "-r", ".ansible-sign"]);
    repo.git(&["commit", "--quiet", "-m", "unsigned"]);
    let u = update(s, pid);
    let dir = Path::new(u["job_cwd"].as_str().unwrap()).to_path_buf();
    let sig: PathBuf = dir.join(".ansible-sign/sha256sum.txt.sig");
    assert_failed(
        &lab,
        &u,
        failed(
            GPG_TASK,
            &format!("Expected file not found: {}", sig.display()),
        ),
        &good,
    );

    // Signed by another key than the credential's.
    let other = Key::new("stranger");
    other.sign(&repo);
    let u = update(s, pid);
    assert_failed(
        &lab,
        &u,
        failed(GPG_TASK, "GPG signature verification failed."),
        &good,
    );
    assert!(lab
        .stdout_on("project_updates", u["id"].as_i64().unwrap())
        .contains("gpg: Can't check signature: No public key"));

    // Signed again by the right key: verified, the project moves on, a job runs it.
    repo.commit(&[("site.yml", &play("resigned"))], "new content");
    let resigned = key.sign(&repo);
    let u = update(s, pid);
    assert_eq!(u["status"], "successful", "{u}");
    assert_eq!(project_row(s, pid)["scm_revision"], resigned.as_str());
    let j = lab.launch(jt);
    lab.wait_status(j, "successful");
    assert!(lab.stdout(j).contains("git-play says resigned"));
}

/// AWX 24.6.1 takes any credential as `signature_validation_credential` (no kind check):
/// the update's tags name `validation_<its namespace>`, which no step answers, and the
/// manifest is still checked.
#[test]
fn another_kind_of_credential_checks_the_manifest_alone() {
    let lab = Lab::start();
    let s = &lab.s;
    let (key, repo) = signed_repo(s, "manifest", "m");
    key.sign(&repo);
    let scm = lab.credential("Git", "Source Control", json!({"username": "u"}));
    let p = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(
            json!({"name": "Manifest", "organization": lab.org["id"], "scm_type": "git",
                    "scm_url": repo.url(), "signature_validation_credential": scm}),
        ),
        201,
    );
    let pid = p["id"].as_i64().unwrap();
    let u = update_of(
        s,
        p["summary_fields"]["current_update"]["id"]
            .as_i64()
            .unwrap(),
    );
    assert_eq!(u["status"], "successful", "{u}");
    assert_eq!(
        u["job_tags"],
        "update_git,install_roles,install_collections,validation_scm,validation_checksum_manifest"
    );
    assert_eq!(
        verified(&lab, &u),
        [ok(SUM_TASK, "Checksum manifest is valid.")]
    );
    repo.commit(&[("data.txt", "v2")], "tampered");
    let u = update(s, pid);
    assert_eq!(u["status"], "failed", "{u}");
    assert_eq!(
        verified(&lab, &u),
        [failed(SUM_TASK, "Checksum mismatch: data.txt")]
    );
}

/// The collection's `project` module sets `signature_validation_credential` by name and waits
/// for the verified update; `project_update` fails once the content is tampered with.
#[test]
fn the_collection_sets_the_signature_validation_credential() {
    let lab = Lab::start();
    let s = &lab.s;
    let (key, repo) = signed_repo(s, "col", "col");
    let good = key.sign(&repo);
    let cred = lab.credential(
        "Signer",
        "GPG Public Key",
        json!({"gpg_public_key": key.public}),
    );
    let dir = s.data.join("play");
    std::fs::create_dir_all(&dir).unwrap();
    let task = format!(
        "    - awx.awx.project:\n        name: ColSigned\n        organization: Ops\n        scm_type: git\n        scm_url: {}\n        signature_validation_credential: Signer\n        wait: true\n",
        repo.url()
    );
    let (out, tasks) = rawx_testkit::collection::play(s, &dir, &task, &[]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(tasks[0].result["changed"], true, "{}", tasks[0].result);
    let p = s.admin("GET", "/api/v2/projects/?name=ColSigned", None, 200)["results"][0].clone();
    assert_eq!(p["signature_validation_credential"], cred);
    assert_eq!(p["status"], "successful", "{p}");
    assert_eq!(p["scm_revision"], good.as_str());
    let last = p["summary_fields"]["last_update"]["id"].as_i64().unwrap();
    let u = update_of(s, last);
    assert_eq!(
        verified(&lab, &u),
        [
            ok(GPG_TASK, "GPG signature verification succeeded."),
            ok(SUM_TASK, "Checksum manifest is valid."),
        ]
    );

    repo.commit(&[("site.yml", &play("tampered"))], "tampered");
    let (out, tasks) = rawx_testkit::collection::play(
        s,
        &dir,
        "    - awx.awx.project_update: {name: ColSigned, wait: true}\n",
        &[],
    );
    assert_ne!(out.code, 0, "{out}");
    let r = &tasks[0].result;
    assert_eq!(r["failed"], true, "{r}");
    assert_eq!(
        project_row(s, p["id"].as_i64().unwrap())["scm_revision"],
        good.as_str()
    );
}
