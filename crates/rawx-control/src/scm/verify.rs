//! AWX's play `Perform project signature/checksum verification`: when a project has a
//! `signature_validation_credential`, its update's `job_tags` name `validation_<namespace>` and
//! `validation_checksum_manifest`; the checked-out tree is then verified as AWX's
//! `verify_project` action does, with ansible-sign: the detached signature
//! `.ansible-sign/sha256sum.txt.sig` of the manifest against the credential's GPG public key (a
//! throwaway GNUPGHOME), then every file the manifest's `MANIFEST.in` rules select against
//! `.ansible-sign/sha256sum.txt`. A failure fails the update with AWX's message.
//!
//! Why ansible-sign itself (in the execution environment's Python) and not gpg plus a manifest
//! check written in Rust: the set of files checked is distlib's `MANIFEST.in` semantics
//! (`include`, `recursive-include`, `graft`, `prune`, globs), which only a re-implementation
//! could copy and would drift from; ansible-sign is what signs the content and what AWX's
//! execution environment verifies it with, so messages and edge cases are AWX's. It costs a
//! Python start (≈0.3 s), only for projects that ask for verification.

use super::{Ctx, Out, Stop};
use rawx_model::schema::{int, text};
use rawx_model::Row;
use serde_json::{json, Value};

const PLAY: &str = "Perform project signature/checksum verification";
const SCRIPT: &str = include_str!("verify.py");

/// The verification steps `update`'s tags ask for, in the playbook's order.
fn wanted(update: &Row) -> Vec<(&'static str, &'static str)> {
    let tags: Vec<&str> = text(update, "job_tags").split(',').map(str::trim).collect();
    [
        (
            "validation_gpg_public_key",
            "gpg",
            "Verify project content using GPG signature",
        ),
        (
            "validation_checksum_manifest",
            "checksum_manifest",
            "Verify project content against checksum manifest",
        ),
    ]
    .into_iter()
    .filter(|(tag, _, _)| tags.contains(tag))
    .map(|(_, kind, task)| (kind, task))
    .collect()
}

/// Verifies the checkout when the update's tags ask for it; `Stop::Failed` with AWX's message
/// (`GPG signature verification failed.`, `Checksum mismatch: site.yml`, `Expected file not
/// found: …`) when it does not pass.
pub(super) async fn verify(ctx: &Ctx<'_>, out: &mut Out, update: &Row) -> Result<(), Stop> {
    let steps = wanted(update);
    if steps.is_empty() {
        return Ok(());
    }
    out.task.clear();
    out.emit(
        "playbook_on_play_start",
        &format!("\nPLAY [{PLAY}] {}", "*".repeat(32)),
        Default::default(),
    );
    // The key is read when the update runs, as AWX's `build_extra_vars_file` does.
    let pubkey = match public_key(ctx, update).await {
        Ok(k) => k,
        Err(e) => {
            out.task(steps[0].1, "verify_project");
            return Err(Stop::Failed(e));
        }
    };
    if let Err(e) = ctx.shared.environment.ready(|_| async {}).await {
        out.task(steps[0].1, "verify_project");
        return Err(Stop::Failed(format!(
            "no execution environment to verify the project with: {e}"
        )));
    }
    let private = Private::new(&ctx.shared.jobs_dir, ctx.id)
        .map_err(|e| Stop::Failed(format!("cannot make a private directory: {e}")))?;
    let key_file = private.0.join("gpg_public_key");
    super::write_private(&key_file, &pubkey, 0o600)
        .map_err(|e| Stop::Failed(format!("cannot write the public key: {e}")))?;
    let python = ctx
        .shared
        .environment
        .runner_command()
        .with_file_name("python")
        .display()
        .to_string();
    let dir = ctx.dir.display().to_string();
    let key = key_file.display().to_string();
    let mut args = vec!["-c", SCRIPT, &dir, &key];
    args.extend(steps.iter().map(|(kind, _)| *kind));
    out.task(steps[0].1, "verify_project");
    let _ = out.flush().await;
    let ran = ctx.cmd(&python, &args, &ctx.dir).await?;
    let results: Vec<Value> = ran
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for (i, (kind, task)) in steps.iter().enumerate() {
        if i > 0 {
            out.task(task, "verify_project");
        }
        let Some(r) = results
            .iter()
            .find(|r| r["validation_type"] == *kind)
            .map(|r| r["result"].clone())
        else {
            // The script stopped before this step: it crashed (its error is on stderr).
            out.verbose(&ran.stderr);
            return Err(Stop::Failed(format!(
                "the {kind} verification did not run: {}",
                ran.stderr.trim().lines().last().unwrap_or("no output")
            )));
        };
        let msg = r["msg"].as_str().unwrap_or_default().to_string();
        if r["failed"] == json!(true) {
            // gpg's own words say why (no public key, a bad signature), as AWX's `gpg_details`.
            if let Some(details) = r["gpg_details"]["stderr"].as_str() {
                out.verbose(
                    &details
                        .lines()
                        .filter(|l| l.starts_with("gpg:"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
            }
            return Err(Stop::Failed(msg));
        }
        out.result("verify_project", r, false);
    }
    Ok(())
}

/// The `gpg_public_key` of the project's signature validation credential.
async fn public_key(ctx: &Ctx<'_>, update: &Row) -> Result<String, String> {
    let project = ctx
        .shared
        .store
        .get(
            &rawx_model::resources::PROJECTS,
            int(update, "project").unwrap_or_default(),
        )
        .await
        .map_err(|e| format!("the project: {e}"))?;
    let Some(cid) = int(&project, "signature_validation_credential") else {
        return Err("No GPG public key (gpg_pubkey) was supplied.".into());
    };
    let (_, inputs) = super::credential_inputs(ctx.shared, cid)
        .await
        .map_err(|e| format!("the signature validation credential: {e:#}"))?;
    Ok(inputs
        .get("gpg_public_key")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string())
}

/// A 0700 directory for the key file, removed when dropped.
struct Private(std::path::PathBuf);

impl Private {
    fn new(root: &std::path::Path, id: i64) -> std::io::Result<Private> {
        use std::os::unix::fs::DirBuilderExt;
        let p = root.join(format!("project_update_{id}_verify"));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&p)?;
        Ok(Private(p))
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
