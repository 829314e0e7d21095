//! `Update project using svn`: what AWX's `project_update.yml` asks of the `subversion` module
//! (`revision: scm_branch` or `HEAD`, `force: scm_clean`, `in_place: true`, the credential's
//! username and password), done with the `svn` client the same way: a checkout into the
//! project directory the first time, then `switch` (the URL may have changed) and `update`;
//! local changes refused unless `scm_clean` (then reverted). The revision recorded is the
//! working copy's revision number, as AWX's `Parse subversion version string properly`.
//!
//! The password goes to svn on its standard input (`--password-from-stdin`, as the module
//! does), never on its command line; `--no-auth-cache` and a configuration directory private to
//! the update keep it out of any auth cache.

use super::{Ctx, Out, Ran, Stop};
use rawx_model::schema::text;
use rawx_model::Row;
use serde_json::json;

/// How svn is run for one update: who it logs in as, where its configuration lives.
struct Svn<'a, 'b> {
    ctx: &'a Ctx<'b>,
    user: String,
    password: String,
    config: String,
}

impl Svn<'_, '_> {
    async fn run(&self, args: &[&str]) -> Result<Ran, Stop> {
        // The module's defaults: never prompt, cache nothing, `validate_certs: false`.
        let mut argv = vec![
            "--non-interactive",
            "--no-auth-cache",
            "--trust-server-cert",
            "--config-dir",
            &self.config,
        ];
        if !self.user.is_empty() {
            argv.extend(["--username", &self.user]);
        }
        if !self.password.is_empty() {
            argv.push("--password-from-stdin");
        }
        argv.extend(args);
        let input = (!self.password.is_empty()).then_some(self.password.as_str());
        match self
            .ctx
            .cmd_input("svn", &argv, &self.ctx.dir, &[], input)
            .await
        {
            Err(Stop::Failed(e)) if e.starts_with("cannot run svn") => Err(Stop::Failed(format!(
                "{e}: the Subversion client is not installed on this node \
                 (Debian: apt-get install subversion)"
            ))),
            other => other,
        }
    }

    /// `svn args`, failing the step with svn's own message when it fails.
    async fn ok(&self, args: &[&str], what: &str) -> Result<Ran, Stop> {
        let r = self.run(args).await?;
        if !r.ok {
            return Err(Stop::Failed(format!("{what}: {}", r.stderr.trim())));
        }
        Ok(r)
    }

    /// The working copy's revision (`svn info`'s `Revision: N`).
    async fn revision(&self) -> Result<Option<String>, Stop> {
        let r = self.run(&["info", "."]).await?;
        Ok(r.ok
            .then(|| {
                r.stdout
                    .lines()
                    .find_map(|l| l.strip_prefix("Revision: "))
                    .map(|n| n.trim().to_string())
            })
            .flatten())
    }
}

/// Whether svn's output names a file it added, deleted, updated, merged or conflicted (the
/// module's `^[ABDUCGE]\s`).
fn touched(out: &str) -> bool {
    out.lines().any(|l| {
        let mut c = l.chars();
        matches!(c.next(), Some('A' | 'B' | 'D' | 'U' | 'C' | 'G' | 'E'))
            && c.next().is_some_and(char::is_whitespace)
    })
}

/// The URL svn is given, and the user and password it held: AWX's `update_scm_url` takes
/// them out (keeping only an `svn+ssh` user) and prefers them to the credential's.
fn split_url(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let bare = if scheme == "svn+ssh" {
        format!("{scheme}://{user}@{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    };
    (bare, Some((user.to_string(), password.to_string())))
}

pub(super) async fn update(ctx: &Ctx<'_>, out: &mut Out, update: &Row) -> Result<String, Stop> {
    out.task("Update project using svn", "ansible.builtin.subversion");
    let _ = out.flush().await;
    let (url, in_url) = split_url(text(update, "scm_url"));
    let (user, password) = in_url.unwrap_or_else(|| ctx.login.clone());
    let svn = Svn {
        ctx,
        user,
        password,
        config: ctx.private.join("svn").display().to_string(),
    };
    let rev = match text(update, "scm_branch") {
        "" => "HEAD",
        b => b,
    };
    let force = update.get("scm_clean") == Some(&json!(true));
    std::fs::create_dir_all(&ctx.dir)
        .map_err(|e| Stop::Failed(format!("cannot create {}: {e}", ctx.dir.display())))?;
    let before = if ctx.dir.join(".svn").is_dir() {
        svn.revision().await?
    } else {
        None
    };
    let mut changed;
    if before.is_some() {
        // Modified files under version control (not unversioned ones, not externals).
        let status = svn
            .ok(
                &["status", "--quiet", "--ignore-externals", "."],
                "svn status failed",
            )
            .await?;
        let local = status
            .stdout
            .lines()
            .any(|l| !l.starts_with('?') && !l.starts_with('X') && !l.trim().is_empty());
        if local && !force {
            return Err(Stop::Failed("Local modifications exist in the destination: the project's checkout was changed by hand (set scm_clean to discard them).".into()));
        }
        let switched = svn
            .ok(
                &["switch", "--revision", rev, &url, "."],
                "Failed to switch to the repository",
            )
            .await?;
        changed = touched(&switched.stdout) || local;
        if local {
            svn.ok(&["revert", "-R", "."], "svn revert failed").await?;
        }
        let updated = svn
            .ok(&["update", "-r", rev, "."], "svn update failed")
            .await?;
        changed |= touched(&updated.stdout);
    } else {
        // The directory exists (AWX mounts it): the module's `in_place` checkout.
        svn.ok(
            &["checkout", "--force", "-r", rev, &url, "."],
            &format!("Failed to check out {url} at revision {rev}"),
        )
        .await?;
        changed = true;
    }
    let after = svn
        .revision()
        .await?
        .ok_or_else(|| Stop::Failed("Unable to get revision".into()))?;
    changed |= before.as_deref() != Some(after.as_str());
    out.result(
        "ansible.builtin.subversion",
        json!({"before": before.as_ref().map(|r| format!("Revision: {r}")),
               "after": format!("Revision: {after}")}),
        changed,
    );
    out.task("Set the svn repository version", "ansible.builtin.set_fact");
    out.result(
        "ansible.builtin.set_fact",
        json!({"ansible_facts": {"scm_version": format!("Revision: {after}")}}),
        false,
    );
    out.task(
        "Parse subversion version string properly",
        "ansible.builtin.set_fact",
    );
    out.result(
        "ansible.builtin.set_fact",
        json!({"ansible_facts": {"scm_version": after}}),
        false,
    );
    Ok(after)
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_secrets_and_output_tells_changes() {
        let login = |u: &str, p: &str| Some((u.to_string(), p.to_string()));
        assert_eq!(
            super::split_url("https://bob:pw@svn.example/repo/trunk"),
            ("https://svn.example/repo/trunk".into(), login("bob", "pw"))
        );
        assert_eq!(
            super::split_url("svn+ssh://bob:pw@svn.example/repo"),
            ("svn+ssh://bob@svn.example/repo".into(), login("bob", "pw"))
        );
        assert_eq!(
            super::split_url("file:///srv/svn/r"),
            ("file:///srv/svn/r".into(), None)
        );
        assert!(super::touched(
            "Updating '.':\nU    site.yml\nUpdated to revision 3.\n"
        ));
        assert!(!super::touched("Updating '.':\nAt revision 3.\n"));
    }
}
