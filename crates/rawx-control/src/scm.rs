//! Project updates, run by the task role itself: `git` (and, for requirements, `ansible-galaxy`)
//! as child processes of this node, not a playbook through ansible-runner.
//!
//! Why: AWX runs `project_update.yml` through ansible-runner, which costs an ansible-playbook
//! start (1–2 s of Python) before the first `git` command; an update of an unchanged
//! repository is a `git fetch` and a few `rev-parse`s (tens of milliseconds). The update still
//! reads as AWX's does: its events have the playbook's shape (play `Update source tree if
//! necessary`, one task per step, `ok`/`changed`/`fatal` for `localhost`, the recap), so the
//! UI, `stdout` in every format, `--monitor` and `playbook_counts` show what they show in AWX.
//!
//! Secrets: a Source Control credential's password, token or key passphrase never reaches a
//! command line, an environment variable or a URL. Git asks for them through `GIT_ASKPASS` /
//! `SSH_ASKPASS`, a script in a private (0700) directory that prints a 0600 file; the directory
//! goes when the update ends. Any output line holding a secret is masked before it is stored.

mod svn;
mod verify;

use crate::ingest::event_row;
use crate::ingest::Writer;
use crate::job_state::set;
use crate::prepare::mask;
use crate::Shared;
use rawx_domain::JobStatus;
use rawx_model::resources::{
    CREDENTIALS, CREDENTIAL_TYPES, PROJECTS, PROJECT_UPDATES, PROJECT_UPDATE_KIND,
};
use rawx_model::schema::{int, text};
use rawx_model::Row;
use rawx_runner::RunnerEvent;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const PLAYBOOK: &str = "project_update.yml";
const PLAY: &str = "Update source tree if necessary";
/// How often a running command checks whether its update was canceled.
const CANCEL_POLL: Duration = Duration::from_millis(200);

/// Why a step stopped the update.
enum Stop {
    /// The step failed: the update ends `failed` with this message in its output.
    Failed(String),
    Canceled,
    TimedOut,
}

/// The update's output as events in the playbook's shape, handed to the ingester.
struct Out {
    job: i64,
    writer: Writer,
    batch: Vec<Row>,
    counter: u64,
    line: u64,
    secrets: Vec<String>,
    ok: u64,
    changed: u64,
    failures: u64,
    task: String,
    action: String,
}

impl Out {
    fn emit(&mut self, event: &str, stdout: &str, mut data: Map<String, Value>) {
        self.counter += 1;
        let stdout = clean(&mask(stdout, &self.secrets));
        let lines = if stdout.is_empty() {
            0
        } else {
            stdout.lines().count() as u64
        };
        data.insert("playbook".into(), json!(PLAYBOOK));
        if event != "playbook_on_start" {
            data.insert("play".into(), json!(PLAY));
        }
        if !self.task.is_empty() && event != "playbook_on_stats" && event != "verbose" {
            data.insert("task".into(), json!(self.task));
        }
        let ev = RunnerEvent {
            uuid: format!("{:08x}-0000-4000-8000-{:012x}", self.job, self.counter),
            parent_uuid: None,
            counter: self.counter,
            event: event.into(),
            event_data: if event == "verbose" {
                json!({})
            } else {
                Value::Object(data)
            },
            stdout: stdout.replace('\n', "\r\n"),
            start_line: self.line,
            end_line: self.line + lines,
            created: Some(rawx_model::now_string()),
            runner_ident: None,
            verbosity: 0,
            extra: Map::new(),
        };
        self.line += lines;
        self.batch.push(event_row(
            &PROJECT_UPDATE_KIND,
            self.job,
            &ev,
            &Default::default(),
        ));
    }

    fn task(&mut self, name: &str, action: &str) {
        self.task = name.into();
        self.action = action.into();
        let stars = "*".repeat(79usize.saturating_sub(name.len() + 8).max(3));
        let mut d = Map::new();
        d.insert("task_action".into(), json!(action));
        d.insert("name".into(), json!(name));
        self.emit(
            "playbook_on_task_start",
            &format!("\nTASK [{name}] {stars}"),
            d,
        );
    }

    fn verbose(&mut self, text: &str) {
        for l in text.lines().filter(|l| !l.trim().is_empty()) {
            self.emit("verbose", l, Map::new());
        }
    }

    fn result(&mut self, action: &str, res: Value, changed: bool) {
        let mut d = Map::new();
        d.insert("host".into(), json!("localhost"));
        d.insert("task_action".into(), json!(action));
        let mut res = res;
        res["changed"] = json!(changed);
        d.insert("res".into(), res);
        if changed {
            self.changed += 1;
        }
        self.ok += 1;
        let word = if changed { "changed" } else { "ok" };
        self.emit("runner_on_ok", &format!("{word}: [localhost]"), d);
    }

    fn failed(&mut self, action: &str, msg: &str) {
        self.failures += 1;
        let res = json!({"changed": false, "failed": true, "msg": msg});
        let mut d = Map::new();
        d.insert("host".into(), json!("localhost"));
        d.insert("task_action".into(), json!(action));
        d.insert("res".into(), res.clone());
        self.emit(
            "runner_on_failed",
            &format!("fatal: [localhost]: FAILED! => {res}"),
            d,
        );
    }

    fn stats(&mut self) -> Value {
        self.task.clear();
        let one = |n: u64| json!({"localhost": n});
        let stats = json!({
            "ok": if self.ok > 0 { one(self.ok) } else { json!({}) },
            "changed": if self.changed > 0 { one(self.changed) } else { json!({}) },
            "failures": if self.failures > 0 { one(self.failures) } else { json!({}) },
            "dark": {}, "skipped": {}, "ignored": {}, "rescued": {},
            "processed": one(1),
        });
        let recap = format!(
            "\nPLAY RECAP *********************************************************************\n\
             localhost                  : ok={:<4} changed={:<4} unreachable=0    failed={:<4} skipped=0    rescued=0    ignored=0   ",
            self.ok, self.changed, self.failures
        );
        self.emit(
            "playbook_on_stats",
            &recap,
            stats.as_object().cloned().unwrap_or_default(),
        );
        stats
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        self.writer.send(&mut self.batch).await
    }
}

/// `https://user:secret@host/…` → `https://user:********@host/…` (AWX's `UriCleaner`).
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                let user = userinfo.split(':').next().unwrap_or_default();
                if userinfo.contains(':') {
                    out.push_str(&format!("{user}:********"));
                } else {
                    out.push_str(userinfo);
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The update's environment: where it runs, how git authenticates, when it must stop.
struct Ctx<'a> {
    shared: &'a Shared,
    id: i64,
    dir: PathBuf,
    env: Vec<(String, String)>,
    /// The organization's Galaxy servers (`ANSIBLE_GALAXY_SERVER_*`), for `ansible-galaxy`.
    galaxy: Vec<(String, String)>,
    deadline: Option<Instant>,
    /// The update's private directory (0700): svn's configuration directory lives there.
    private: PathBuf,
    /// The Source Control credential's username and password, for svn (which takes the
    /// password on its standard input, as the subversion module passes it).
    login: (String, String),
}

struct Ran {
    stdout: String,
    stderr: String,
    ok: bool,
}

impl Ctx<'_> {
    /// Runs `program args` in the project directory, stopping it on cancel or timeout.
    async fn cmd(&self, program: &str, args: &[&str], cwd: &Path) -> Result<Ran, Stop> {
        self.cmd_env(program, args, cwd, &[]).await
    }

    async fn cmd_env(
        &self,
        program: &str,
        args: &[&str],
        cwd: &Path,
        extra: &[(String, String)],
    ) -> Result<Ran, Stop> {
        self.cmd_input(program, args, cwd, extra, None).await
    }

    /// As `cmd_env`, writing `input` (a password) to the command's standard input.
    async fn cmd_input(
        &self,
        program: &str,
        args: &[&str],
        cwd: &Path,
        extra: &[(String, String)],
        input: Option<&str>,
    ) -> Result<Ran, Stop> {
        let mut c = tokio::process::Command::new(program);
        c.args(args)
            .current_dir(cwd)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .env("GIT_TERMINAL_PROMPT", "0")
            // English messages (parsed by nobody, read by users), UTF-8 as ansible-galaxy needs.
            .env("LC_ALL", "C.UTF-8");
        for (k, v) in self.env.iter().chain(extra) {
            c.env(k, v);
        }
        let mut child = c
            .spawn()
            .map_err(|e| Stop::Failed(format!("cannot run {program}: {e}")))?;
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            use tokio::io::AsyncWriteExt;
            let data = data.to_string();
            // Written beside the wait: a command that does not read it cannot block this.
            tokio::spawn(async move {
                let _ = stdin.write_all(data.as_bytes()).await;
            });
        }
        let output = child.wait_with_output();
        tokio::pin!(output);
        let mut poll = tokio::time::interval(CANCEL_POLL);
        poll.tick().await;
        loop {
            let until_deadline = self
                .deadline
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(86_400));
            tokio::select! {
                o = &mut output => {
                    let o = o.map_err(|e| Stop::Failed(format!("{program}: {e}")))?;
                    return Ok(Ran {
                        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                        ok: o.status.success(),
                    });
                }
                _ = poll.tick() => {
                    if canceled(self.shared, self.id).await {
                        return Err(Stop::Canceled);
                    }
                }
                _ = tokio::time::sleep(until_deadline) => return Err(Stop::TimedOut),
            }
        }
    }

    async fn git(&self, args: &[&str]) -> Result<Ran, Stop> {
        self.cmd("git", args, &self.dir).await
    }

    /// `git args`, failing the step with git's own message when it fails.
    async fn git_ok(&self, args: &[&str], what: &str) -> Result<Ran, Stop> {
        let r = self.git(args).await?;
        if !r.ok {
            let detail = r.stderr.trim();
            return Err(Stop::Failed(if detail.is_empty() {
                what.to_string()
            } else {
                format!("{what}: {detail}")
            }));
        }
        Ok(r)
    }

    async fn rev(&self, name: &str) -> Result<Option<String>, Stop> {
        let spec = format!("{name}^{{commit}}");
        let r = self
            .git(&["rev-parse", "--verify", "--quiet", &spec])
            .await?;
        Ok(r.ok.then(|| r.stdout.trim().to_string()))
    }
}

async fn canceled(shared: &Shared, id: i64) -> bool {
    shared
        .store
        .get(&PROJECT_UPDATES, id)
        .await
        .is_ok_and(|j| !j.get("canceled_on").is_none_or(Value::is_null))
}

/// A credential's inputs, secrets opened.
async fn credential_inputs(
    shared: &Shared,
    id: i64,
) -> anyhow::Result<(String, Map<String, Value>)> {
    let cred = shared.store.get(&CREDENTIALS, id).await?;
    let ctype = shared
        .store
        .get(
            &CREDENTIAL_TYPES,
            int(&cred, "credential_type").unwrap_or_default(),
        )
        .await?;
    let stored: Map<String, Value> =
        serde_json::from_str(text(&cred, "inputs")).unwrap_or_default();
    let mut inputs = Map::new();
    for (k, v) in stored {
        let v = match v.as_str() {
            Some(s) if rawx_model::secret::is_sealed(s) => json!(shared.key.open(s)?),
            _ => v,
        };
        inputs.insert(k, v);
    }
    Ok((text(&ctype, "kind").to_string(), inputs))
}

/// What the update runs, as `job_args` shows it: the tool and the URL, a password in the URL
/// hidden (the field is readable by anyone who can see the update).
fn job_args(update: &Row) -> Value {
    let url = clean(text(update, "scm_url"));
    match text(update, "scm_type") {
        "svn" => json!(["svn", "update", url]),
        "archive" => json!(["curl", url]),
        _ => json!(["git", "fetch", url]),
    }
}

/// Runs a project update the task manager moved to `waiting`, to its final state.
pub async fn run(shared: Shared, id: i64) {
    let kind = &PROJECT_UPDATE_KIND;
    let mut update = match shared.store.get(&PROJECT_UPDATES, id).await {
        Ok(u) => u,
        Err(e) => {
            return tracing::error!(job = id, error = %e, "project update vanished before it ran")
        }
    };
    if canceled(&shared, id).await {
        return crate::job_state::end(
            &shared,
            kind,
            id,
            JobStatus::Canceled,
            "Job canceled by request.",
            "",
        )
        .await;
    }
    let pid = int(&update, "project").unwrap_or_default();
    let started = rawx_model::now_string();
    let dir = shared.projects_dir.join(text(&update, "local_path"));
    // One git at a time in a checkout of this node (an update and a job's own sync).
    let _checkout = crate::checkouts::checkout(&dir).await;
    let ee = crate::prepare::resolved_environment(&shared, kind, &update).await;
    let _ = set(
        &shared,
        kind,
        id,
        json!({"status": JobStatus::Running.as_str(), "started": started, "execution_environment": ee,
               "execution_node": shared.node.node_id(), "controller_node": shared.node_name,
               "job_cwd": dir.display().to_string(),
               "job_args": job_args(&update).to_string()}),
    )
    .await;
    let t0 = Instant::now();
    // Private files for git's password prompts: removed when this goes out of scope.
    let private = match tempdir(&shared.jobs_dir, id) {
        Ok(p) => p,
        Err(e) => {
            return crate::job_state::fail(
                &shared,
                kind,
                id,
                &format!("cannot make the update's private directory: {e}"),
                "",
            )
            .await
        }
    };
    let mut secrets = Vec::new();
    let mut env = Vec::new();
    let mut login = (String::new(), String::new());
    if let Some(cid) = int(&update, "credential") {
        match credential_inputs(&shared, cid).await {
            Ok((_, inputs)) => {
                let get = |k: &str| inputs.get(k).and_then(Value::as_str).unwrap_or_default();
                login = (get("username").to_string(), get("password").to_string());
                // AWX's `update_scm_url`: an ssh URL without a user takes the credential's.
                let user = inputs
                    .get("username")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let url = with_ssh_user(text(&update, "scm_url"), user);
                update.insert("scm_url".into(), json!(url));
                if let Err(e) = askpass(&private.0, &inputs, &mut env, &mut secrets) {
                    return crate::job_state::fail(
                        &shared,
                        kind,
                        id,
                        &format!("cannot prepare the credential: {e}"),
                        "",
                    )
                    .await;
                }
            }
            Err(e) => {
                return crate::job_state::fail(
                    &shared,
                    kind,
                    id,
                    &format!("the project's credential: {e:#}"),
                    "",
                )
                .await
            }
        }
    }
    let timeout = int(&update, "timeout").unwrap_or(0);
    let galaxy = match galaxy_env(&shared, &update, &mut secrets).await {
        Ok(g) => g,
        Err(e) => {
            return crate::job_state::fail(
                &shared,
                kind,
                id,
                &format!("the organization's Galaxy credentials: {e:#}"),
                "",
            )
            .await
        }
    };
    let ctx = Ctx {
        shared: &shared,
        id,
        dir: dir.clone(),
        env,
        galaxy,
        deadline: (timeout > 0).then(|| t0 + Duration::from_secs(timeout as u64)),
        private: private.0.clone(),
        login,
    };
    let mut out = Out {
        job: id,
        writer: Writer::start(&shared, kind, id, Default::default(), &secrets),
        batch: Vec::new(),
        counter: 0,
        line: 0,
        secrets: secrets.clone(),
        ok: 0,
        changed: 0,
        failures: 0,
        task: String::new(),
        action: String::new(),
    };
    out.emit("playbook_on_start", "", Map::new());
    out.emit(
        "playbook_on_play_start",
        &format!("\nPLAY [{PLAY}] {}", "*".repeat(40)),
        Map::new(),
    );
    let result = steps(&ctx, &mut out, &update).await;
    let (status, revision, explanation) = match result {
        Ok(rev) => (JobStatus::Successful, Some(rev), String::new()),
        Err(Stop::Failed(msg)) => {
            let action = out.action.clone();
            out.failed(&action, &msg);
            (JobStatus::Failed, None, String::new())
        }
        Err(Stop::Canceled) => (JobStatus::Canceled, None, "Job canceled by request.".into()),
        Err(Stop::TimedOut) => (
            JobStatus::Failed,
            None,
            "Job terminated due to timeout".into(),
        ),
    };
    let stats = out.stats();
    let final_counter = out.counter as i64;
    let stored = async {
        out.flush().await?;
        out.writer.finish().await
    }
    .await;
    if let Err(e) = stored {
        tracing::warn!(job = id, error = %e, "project update events not all stored");
    }
    drop(private);
    let finished = rawx_model::now_string();
    let mut counts = Map::new();
    for (k, v) in rawx_runner::host_status_counts(&stats) {
        counts.insert(k, json!(v));
    }
    let mut fields = json!({
        "status": status.as_str(), "failed": status != JobStatus::Successful, "finished": finished,
        "elapsed": (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "job_explanation": explanation, "final_counter": final_counter,
        "host_status_counts": Value::Object(counts).to_string(),
        "event_processing_finished": true, "rc": if status == JobStatus::Successful { 0 } else { 2 },
    });
    if let Some(rev) = &revision {
        fields["scm_revision"] = json!(rev);
    }
    if let Err(e) = set(&shared, kind, id, fields).await {
        tracing::error!(job = id, error = %e, "cannot close the project update");
    }
    // The project follows its update (AWX's `_update_parent_instance` and
    // `RunProjectUpdate.post_run_hook`): the revision of a successful check, the last job. A
    // node's own `sync` (`job_type: run`) leaves the project as it was.
    if text(&update, "job_type") != "run" {
        follow_project(&shared, pid, id, status, &finished, revision, dir.clone()).await;
    }
    rawx_domain::messages::publish(
        &*shared.bus,
        &rawx_domain::messages::EventsSummary {
            kind,
            job: id,
            final_counter,
        },
    );
    tracing::info!(job = id, %status, ms = t0.elapsed().as_millis() as u64, "project update finished");
}

/// The project after its update (AWX's `_update_parent_instance` and
/// `RunProjectUpdate.post_run_hook`): its status, last job and the revision of a successful
/// check.
async fn follow_project(
    shared: &Shared,
    pid: i64,
    id: i64,
    status: JobStatus,
    finished: &str,
    revision: Option<String>,
    checkout: PathBuf,
) {
    let mut p = Row::new();
    p.insert("last_job".into(), json!(id));
    p.insert(
        "last_job_failed".into(),
        json!(status != JobStatus::Successful),
    );
    p.insert(
        "last_update_failed".into(),
        json!(status != JobStatus::Successful),
    );
    p.insert("last_job_run".into(), json!(finished));
    p.insert("last_updated".into(), json!(finished));
    p.insert("status".into(), json!(status.as_str()));
    if let Some(rev) = revision {
        p.insert("scm_revision".into(), json!(rev));
        // AWX's `post_run_hook` records what the checkout offers: web nodes read it from here.
        let found = tokio::task::spawn_blocking(move || {
            (
                rawx_domain::project_files::playbooks(&checkout),
                rawx_domain::project_files::inventories(&checkout),
            )
        })
        .await;
        if let Ok((playbooks, inventories)) = found {
            p.insert("playbook_files".into(), json!(json!(playbooks).to_string()));
            p.insert(
                "inventory_files".into(),
                json!(json!(inventories).to_string()),
            );
        }
    }
    if let Ok(proj) = shared.store.get(&PROJECTS, pid).await {
        if int(&proj, "current_job") == Some(id) {
            p.insert("current_job".into(), Value::Null);
        }
        let _ = shared.store.update(&PROJECTS, pid, &p).await;
    }
}

/// The steps of AWX's `project_update.yml` that apply to this update, in its order; the
/// revision checked out.
async fn steps(ctx: &Ctx<'_>, out: &mut Out, update: &Row) -> Result<String, Stop> {
    let flag = |k: &str| update.get(k) == Some(&json!(true));
    // A node's own sync has no `delete` tag (AWX adds it to checks only).
    let tagged = text(update, "job_tags").split(',').any(|t| t == "delete");
    if flag("scm_delete_on_update") && tagged && ctx.dir.exists() {
        out.task(
            "Delete project directory before update",
            "ansible.builtin.shell",
        );
        let entries = std::fs::read_dir(&ctx.dir).map(|d| d.count()).unwrap_or(0);
        remove_contents(&ctx.dir)
            .map_err(|e| Stop::Failed(format!("cannot delete {}: {e}", ctx.dir.display())))?;
        out.result("ansible.builtin.shell", json!({}), entries > 0);
    }
    let rev = match text(update, "scm_type") {
        "git" => git(ctx, out, update).await?,
        "archive" => archive(ctx, out, update).await?,
        "svn" => svn::update(ctx, out, update).await?,
        other => {
            out.task(&format!("Update project using {other}"), other);
            return Err(Stop::Failed(format!(
                "rawx cannot update a project of scm_type {other:?}"
            )));
        }
    };
    let _ = out.flush().await;
    verify::verify(ctx, out, update).await?;
    requirements(ctx, out, update, &rev).await?;
    Ok(rev)
}

async fn git(ctx: &Ctx<'_>, out: &mut Out, update: &Row) -> Result<String, Stop> {
    out.task("Update project using git", "ansible.builtin.git");
    // What has happened so far is shown while git works (a fetch may take long).
    let _ = out.flush().await;
    let url = text(update, "scm_url");
    let branch = text(update, "scm_branch");
    let refspec = text(update, "scm_refspec");
    let force = update.get("scm_clean") == Some(&json!(true));
    std::fs::create_dir_all(&ctx.dir)
        .map_err(|e| Stop::Failed(format!("cannot create {}: {e}", ctx.dir.display())))?;
    if !ctx.dir.join(".git").exists() {
        ctx.git_ok(&["init", "--quiet"], "git init failed").await?;
    }
    let before = ctx.rev("HEAD").await?;
    // Every branch and tag, the remote's default branch (`HEAD`), and the project's extra
    // refspec, into this checkout's own refs; nothing else is kept between updates.
    let mut args = vec![
        "-c",
        "protocol.file.allow=always",
        "fetch",
        "--quiet",
        "--force",
        "--prune",
        "--prune-tags",
        "--tags",
        "--no-write-fetch-head",
        url,
        "+refs/heads/*:refs/remotes/origin/*",
        "+HEAD:refs/remotes/origin/HEAD",
    ];
    args.extend(refspec.split_whitespace());
    let fetched = ctx.git(&args).await?;
    if !fetched.ok {
        return Err(Stop::Failed(format!(
            "Failed to download remote objects and refs: {}",
            fetched.stderr.trim()
        )));
    }
    // A node's own `sync` (`job_type: run`) checks out the revision its job runs, as AWX's
    // `build_extra_vars_file` gives such an update the project's revision as its version.
    let pinned = (text(update, "job_type") == "run")
        .then(|| text(update, "scm_revision"))
        .filter(|r| !r.is_empty());
    let candidates: Vec<String> = if let Some(rev) = pinned {
        vec![rev.to_string()]
    } else if branch.is_empty() {
        vec!["refs/remotes/origin/HEAD".into()]
    } else {
        vec![
            format!("refs/remotes/origin/{branch}"),
            format!("refs/tags/{branch}"),
            branch.to_string(),
        ]
    };
    let mut after = None;
    for c in &candidates {
        if let Some(r) = ctx.rev(c).await? {
            after = Some(r);
            break;
        }
    }
    let Some(after) = after else {
        return Err(Stop::Failed(format!(
            "Failed to checkout {}: no branch, tag or commit of that name in {url}",
            if branch.is_empty() { "HEAD" } else { branch }
        )));
    };
    let mut changed = before.as_deref() != Some(after.as_str());
    if before.is_some() {
        // Files changed by hand, in the checkout or in a submodule's; a submodule at another
        // commit than recorded is not one (`scm_track_submodules` puts it there).
        let status = ctx
            .git_ok(
                &[
                    "status",
                    "--porcelain",
                    "--untracked-files=no",
                    "--ignore-submodules=all",
                ],
                "git status failed",
            )
            .await?;
        let mut local = status.stdout.trim().to_string();
        if ctx.dir.join(".gitmodules").exists() {
            let subs = ctx
                .git(&[
                    "submodule",
                    "foreach",
                    "--quiet",
                    "--recursive",
                    "git status --porcelain --untracked-files=no --ignore-submodules=all",
                ])
                .await?;
            local.push_str(subs.stdout.trim());
        }
        if !local.is_empty() {
            if !force {
                return Err(Stop::Failed("Local modifications exist in the destination: the project's checkout was changed by hand (set scm_clean to discard them).".into()));
            }
            changed = true;
        }
    }
    if changed {
        ctx.git_ok(
            &["checkout", "--quiet", "--force", "--detach", &after],
            "git checkout failed",
        )
        .await?;
    }
    if ctx.dir.join(".gitmodules").exists() {
        // The git module's submodule handling: every submodule checked out, recursively, at
        // the commit the superproject records, or with `track_submodules` at the head of
        // its branch (`.gitmodules`' `branch`, else the submodule's remote `HEAD`).
        // As the module: URLs synced from `.gitmodules` first (only when the revision moved:
        // the same revision has the same `.gitmodules`), `--force` only with scm_clean.
        let before_subs = before
            .as_deref()
            .and_then(|b| std::fs::read_to_string(submodules_record(&ctx.dir, b)).ok());
        if before.as_deref() != Some(after.as_str()) {
            ctx.git_ok(
                &["submodule", "sync", "--recursive", "--quiet"],
                "Failed to sync submodules",
            )
            .await?;
        }
        let mut sub = vec![
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "update",
            "--init",
            "--recursive",
            "--quiet",
        ];
        if update.get("scm_track_submodules") == Some(&json!(true)) {
            sub.push("--remote");
        }
        if force {
            sub.push("--force");
        }
        let r = ctx.git_ok(&sub, "Failed to init/update submodules").await?;
        out.verbose(&r.stdout);
        let heads = submodule_heads(&ctx.dir)
            .await
            .ok_or_else(|| Stop::Failed("cannot list the checked out submodules".into()))?;
        changed |= before_subs.as_deref() != Some(heads.as_str());
        // What each job of this revision copies (`build.rs`): the submodules' commits as this
        // update left them, kept per revision so a later update does not move an older job.
        let record = submodules_record(&ctx.dir, &after);
        if std::fs::read_to_string(&record).ok().as_deref() != Some(heads.as_str()) {
            // Written aside and renamed: a job reading it meanwhile sees the old or the new.
            let part = record.with_extension("part");
            let written = record
                .parent()
                .map(std::fs::create_dir_all)
                .unwrap_or(Ok(()))
                .and_then(|_| std::fs::write(&part, &heads))
                .and_then(|_| std::fs::rename(&part, &record));
            written.map_err(|e| Stop::Failed(format!("cannot write {}: {e}", record.display())))?;
        }
    }
    out.result(
        "ansible.builtin.git",
        json!({"before": before, "after": after, "remote_url_changed": false}),
        changed,
    );
    out.task("Set the git repository version", "ansible.builtin.set_fact");
    out.result(
        "ansible.builtin.set_fact",
        json!({"ansible_facts": {"scm_version": after}}),
        false,
    );
    Ok(after)
}

/// Where an update records the submodule commits of revision `rev` of the checkout `dir`.
pub(crate) fn submodules_record(dir: &Path, rev: &str) -> PathBuf {
    dir.join(".git").join("rawx-submodules").join(rev)
}

/// The checked out submodules of the checkout `dir`, recursively, parents first: one line
/// `<commit> <path from the top>` each.
pub(crate) async fn submodule_heads(dir: &Path) -> Option<String> {
    let out = tokio::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "submodule",
            "foreach",
            "--quiet",
            "--recursive",
            r#"echo "$(git rev-parse HEAD) $displaypath""#,
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The commit `branch` (a branch, a tag or a commit) names in the checkout `dir`, as an update
/// resolves `scm_branch`.
pub(crate) async fn resolve(dir: &Path, branch: &str) -> Option<String> {
    for c in [
        format!("refs/remotes/origin/{branch}"),
        format!("refs/tags/{branch}"),
        branch.to_string(),
    ] {
        let out = tokio::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{c}^{{commit}}"),
            ])
            .stdin(Stdio::null())
            .output()
            .await
            .ok()?;
        if out.status.success() {
            return Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
    }
    None
}

/// `ssh://host/…` → `ssh://user@host/…` when the URL names no user.
fn with_ssh_user(url: &str, user: &str) -> String {
    match url.strip_prefix("ssh://") {
        Some(rest) if !user.is_empty() && !rest.split('/').next().unwrap_or("").contains('@') => {
            format!("ssh://{user}@{rest}")
        }
        _ => url.to_string(),
    }
}

/// Where the roles and collections a revision's requirements name are kept (AWX's
/// `.__awx_cache/<local_path>/<cache id>`): one directory per revision, made once.
pub(crate) fn requirements_cache(projects_dir: &Path, local_path: &str, rev: &str) -> PathBuf {
    projects_dir.join(".__awx_cache").join(local_path).join(rev)
}

/// The first of `names` the checkout has.
fn first_found(dir: &Path, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find(|n| dir.join(n).is_file())
        .map(|n| n.to_string())
}

/// AWX's second play, `Install content with ansible-galaxy command if necessary`: the roles
/// and collections of `roles/requirements.yml`, `collections/requirements.yml` and a root
/// `requirements.yml`, installed with `ansible-galaxy` into the revision's cache (kept: the
/// next update of the same revision, and every job of it, reuse it).
async fn requirements(ctx: &Ctx<'_>, out: &mut Out, update: &Row, rev: &str) -> Result<(), Stop> {
    // AWX's `AWX_ROLES_ENABLED` / `AWX_COLLECTIONS_ENABLED`: a root `requirements.yml` needs both.
    let settings = ctx.shared.settings();
    let roles_on = settings.get(rawx_domain::settings::AWX_ROLES_ENABLED).await;
    let collections_on = settings
        .get(rawx_domain::settings::AWX_COLLECTIONS_ENABLED)
        .await;
    let roles = first_found(
        &ctx.dir,
        &["roles/requirements.yml", "roles/requirements.yaml"],
    )
    .filter(|_| roles_on);
    let collections = first_found(
        &ctx.dir,
        &[
            "collections/requirements.yml",
            "collections/requirements.yaml",
        ],
    )
    .filter(|_| collections_on);
    let both = first_found(&ctx.dir, &["requirements.yaml", "requirements.yml"])
        .filter(|_| roles_on && collections_on);
    if roles.is_none() && collections.is_none() && both.is_none() {
        return Ok(());
    }
    out.task.clear();
    out.emit(
        "playbook_on_play_start",
        &format!(
            "\nPLAY [Install content with ansible-galaxy command if necessary] {}",
            "*".repeat(16)
        ),
        Map::new(),
    );
    let cache = requirements_cache(&ctx.shared.projects_dir, text(update, "local_path"), rev);
    let steps = [
        (
            "Fetch galaxy roles from roles/requirements.(yml/yaml)",
            "role",
            roles,
        ),
        (
            "Fetch galaxy collections from collections/requirements.(yml/yaml)",
            "collection",
            collections,
        ),
        (
            "Fetch galaxy roles and collections from requirements.(yml/yaml)",
            "",
            both,
        ),
    ];
    if cache.join(".complete").exists() {
        for (name, _, file) in &steps {
            if file.is_some() {
                out.task(name, "ansible.builtin.command");
                out.verbose(&format!(
                    "installed for revision {rev} already (cache {})",
                    cache.display()
                ));
                out.result("ansible.builtin.command", json!({}), false);
            }
        }
        return Ok(());
    }
    // A managed execution environment may still be building its ansible.
    if let Err(e) = ctx.shared.environment.ready(|_| async {}).await {
        return Err(Stop::Failed(format!(
            "no ansible-galaxy to install requirements with: {e}"
        )));
    }
    let galaxy = ctx
        .shared
        .environment
        .runner_command()
        .with_file_name("ansible-galaxy");
    let stage = cache.with_file_name(format!(".stage-{}", ctx.id));
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(stage.join("tmp"))
        .map_err(|e| Stop::Failed(format!("cannot create {}: {e}", stage.display())))?;
    let mut env = ctx.galaxy.clone();
    let path = |d: &str| stage.join(d).display().to_string();
    env.push(("ANSIBLE_ROLES_PATH".into(), path("requirements_roles")));
    env.push((
        "ANSIBLE_COLLECTIONS_PATHS".into(),
        path("requirements_collections"),
    ));
    env.push((
        "ANSIBLE_COLLECTIONS_PATH".into(),
        path("requirements_collections"),
    ));
    env.push(("ANSIBLE_LOCAL_TEMP".into(), path("tmp")));
    env.push(("ANSIBLE_FORCE_COLOR".into(), "False".into()));
    let prog = galaxy.display().to_string();
    for (name, what, file) in steps {
        let Some(file) = file else { continue };
        out.task(name, "ansible.builtin.command");
        let _ = out.flush().await;
        let mut args: Vec<&str> = Vec::new();
        if !what.is_empty() {
            args.push(what);
        }
        args.extend(["install", "-r", &file]);
        let r = ctx.cmd_env(&prog, &args, &ctx.dir, &env).await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&stage);
                return Err(e);
            }
        };
        out.verbose(&r.stdout);
        if !r.ok {
            out.verbose(&r.stderr);
            let _ = std::fs::remove_dir_all(&stage);
            let org = int(update, "organization").unwrap_or_default();
            let why = galaxy_unreachable(&r.stderr, &ctx.galaxy, org).unwrap_or_else(|| {
                r.stderr
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("non-zero return code")
                    .to_string()
            });
            return Err(Stop::Failed(format!(
                "ansible-galaxy could not install {file}: {why}"
            )));
        }
        let changed = match what {
            "role" => r.stdout.contains("was installed successfully"),
            _ => !r.stdout.contains("Nothing to do."),
        };
        out.result(
            "ansible.builtin.command",
            json!({"cmd": format!("ansible-galaxy {}", args.join(" "))}),
            changed,
        );
    }
    let _ = std::fs::remove_dir_all(stage.join("tmp"));
    let _ = std::fs::write(stage.join(".complete"), rev);
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::rename(&stage, &cache).map_err(|e| {
        Stop::Failed(format!(
            "cannot keep the requirements in {}: {e}",
            cache.display()
        ))
    })?;
    Ok(())
}

/// When ansible-galaxy failed because no Galaxy server answered: which servers it tried and
/// why, and what to do about it (ansible-galaxy's own last line says neither for roles). The
/// URLs are the credentials' `url`s (never their tokens), as ansible-galaxy printed them.
fn galaxy_unreachable(stderr: &str, galaxy: &[(String, String)], org: i64) -> Option<String> {
    const CALL: &str = "when attempting to call Galaxy at '";
    // ansible-galaxy wraps its warnings; its messages are read as one line.
    let flat = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut tried: Vec<String> = Vec::new();
    let mut rest = flat.as_str();
    while let Some(i) = rest.find(CALL) {
        rest = &rest[i + CALL.len()..];
        let Some(end) = rest.find('\'') else { break };
        let url = &rest[..end];
        let after = rest[end + 1..].trim_start_matches(':').trim_start();
        let reason = match after.strip_prefix("<urlopen error ") {
            Some(r) => r.split('>').next().unwrap_or(r),
            None => after.split(". ").next().unwrap_or(after),
        };
        let item = format!("{url} ({})", reason.trim_end_matches('.'));
        if !tried.iter().any(|t| t.starts_with(url)) {
            tried.push(item);
        }
        rest = &rest[end..];
    }
    if tried.is_empty() {
        return None;
    }
    let configured = galaxy
        .iter()
        .any(|(k, _)| k.ends_with("_URL") && !k.ends_with("_AUTH_URL"));
    let whose = if configured {
        format!(
            "The servers are the Galaxy credentials of the project's organization, in their \
             order (/api/v2/organizations/{org}/galaxy_credentials/): correct their URL or add \
             one for a server this node can reach"
        )
    } else {
        format!(
            "The project's organization has no Galaxy credential, so ansible-galaxy used its \
             default server: add a Galaxy credential for a server this node can reach to \
             /api/v2/organizations/{org}/galaxy_credentials/"
        )
    };
    Some(format!(
        "no Galaxy server could be reached: tried {}. {whose}; or have the requirements \
         name sources that need no server (git+https:// URLs, tarballs).",
        tried.join(", ")
    ))
}

/// The Galaxy servers of the project's organization, in AWX's variables
/// (`ANSIBLE_GALAXY_SERVER_LIST`, `ANSIBLE_GALAXY_SERVER_SERVER<i>_URL`/`_TOKEN`/`_AUTH_URL`).
async fn galaxy_env(
    shared: &Shared,
    update: &Row,
    secrets: &mut Vec<String>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    let Some(org) = int(update, "organization") else {
        return Ok(env);
    };
    let creds = shared
        .store
        .linked(&rawx_model::resources::ORG_GALAXY_CREDENTIALS, true, org)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut names = Vec::new();
    for (i, cid) in creds.into_iter().enumerate() {
        let (_, inputs) = credential_inputs(shared, cid).await?;
        let get = |k: &str| {
            inputs
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        env.push((format!("ANSIBLE_GALAXY_SERVER_SERVER{i}_URL"), get("url")));
        let token = get("token");
        if !token.is_empty() {
            secrets.push(token.clone());
            env.push((format!("ANSIBLE_GALAXY_SERVER_SERVER{i}_TOKEN"), token));
        }
        let auth = get("auth_url");
        if !auth.is_empty() {
            env.push((format!("ANSIBLE_GALAXY_SERVER_SERVER{i}_AUTH_URL"), auth));
        }
        names.push(format!("server{i}"));
    }
    if !names.is_empty() {
        env.push(("ANSIBLE_GALAXY_SERVER_LIST".into(), names.join(",")));
    }
    Ok(env)
}

/// Unpacks a zip or tar archive into a directory as AWX's `project_archive` action does: a
/// single top directory is stripped, files present are kept unless forced, nothing may land
/// outside the directory.
const UNPACK: &str = r#"
import os, sys, tarfile, zipfile
src, dest, force = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3] == "1"
try:
    if zipfile.is_zipfile(src):
        a = zipfile.ZipFile(src)
        members = [(i.filename.rstrip("/"), i.is_dir(), (lambda i=i: a.open(i))) for i in a.infolist()]
    else:
        a = tarfile.open(src)
        members = [(m.name, m.isdir(), (lambda m=m: a.extractfile(m))) for m in a.getmembers() if m.isdir() or m.isfile()]
except (tarfile.ReadError, zipfile.BadZipFile):
    sys.exit("%s is not a valid archive" % os.path.basename(src))
roots = {n.split("/")[0] for n, _, _ in members}
cut = len(next(iter(roots))) + 1 if len(roots) == 1 else 0
written = 0
for name, is_dir, open_member in members:
    rel = name[cut:]
    if not rel:
        continue
    path = os.path.normpath(os.path.join(dest, rel))
    if not path.startswith(dest + os.sep):
        sys.exit("unsafe path in the archive: %s" % name)
    if is_dir:
        os.makedirs(path, exist_ok=True)
        continue
    if os.path.exists(path) and not force:
        continue
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open_member() as f, open(path, "wb") as o:
        o.write(f.read())
    written += 1
print("%d files unpacked" % written)
"#;

/// AWX's `Update project using archive`: the archive at `scm_url` (basic auth from the
/// credential, through a netrc file) into `.archive/`, unpacked when it changed (or
/// `scm_clean`), older archives removed; the revision is its SHA-1.
async fn archive(ctx: &Ctx<'_>, out: &mut Out, update: &Row) -> Result<String, Stop> {
    out.task("Get archive from url", "ansible.builtin.get_url");
    let _ = out.flush().await;
    let url = text(update, "scm_url");
    let store = ctx.dir.join(".archive");
    std::fs::create_dir_all(&store)
        .map_err(|e| Stop::Failed(format!("cannot create {}: {e}", store.display())))?;
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("archive")
        .to_string();
    let dest = store.join(&name);
    let part = store.join(format!(".{name}.part"));
    let mut args = vec!["-sS", "-f", "-L", "-o"];
    let part_s = part.display().to_string();
    args.push(&part_s);
    let netrc = ctx
        .env
        .iter()
        .find(|(k, _)| k == "RAWX_NETRC")
        .map(|(_, v)| v.clone());
    if let Some(n) = &netrc {
        args.extend(["--netrc-file", n]);
    }
    args.push(url);
    let got = ctx.cmd("curl", &args, &ctx.dir).await?;
    if !got.ok {
        let _ = std::fs::remove_file(&part);
        return Err(Stop::Failed(format!(
            "Request failed: {}",
            got.stderr.trim()
        )));
    }
    let sum = |p: &Path| -> Option<String> {
        let bytes = std::fs::read(p).ok()?;
        Some(sha1_hex(&bytes))
    };
    let new =
        sum(&part).ok_or_else(|| Stop::Failed("the downloaded archive cannot be read".into()))?;
    let changed = sum(&dest).as_deref() != Some(new.as_str());
    std::fs::rename(&part, &dest)
        .map_err(|e| Stop::Failed(format!("cannot keep the archive: {e}")))?;
    out.result(
        "ansible.builtin.get_url",
        json!({"dest": dest.display().to_string(), "checksum_src": new}),
        changed,
    );
    out.task("Unpack archive", "project_archive");
    let force = update.get("scm_clean") == Some(&json!(true));
    if changed || force {
        let python = ctx
            .shared
            .environment
            .runner_command()
            .with_file_name("python");
        let d = dest.display().to_string();
        let to = ctx.dir.display().to_string();
        let r = ctx
            .cmd(
                &python.display().to_string(),
                &["-c", UNPACK, &d, &to, if force { "1" } else { "0" }],
                &ctx.dir,
            )
            .await?;
        if !r.ok {
            return Err(Stop::Failed(r.stderr.trim().to_string()));
        }
        out.verbose(&r.stdout);
        out.result("project_archive", json!({}), true);
        // Older archives go (AWX's `Remove previous archives`).
        for e in std::fs::read_dir(&store).into_iter().flatten().flatten() {
            if e.path() != dest {
                let _ = std::fs::remove_file(e.path());
            }
        }
    } else {
        out.result("project_archive", json!({}), false);
    }
    out.task(
        "Set scm_version to archive sha1 checksum",
        "ansible.builtin.set_fact",
    );
    out.result(
        "ansible.builtin.set_fact",
        json!({"ansible_facts": {"scm_version": new}}),
        false,
    );
    Ok(new)
}

/// SHA-1 of `data` in hex (the archive's revision, as `get_url`'s `checksum_src`).
pub(crate) fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

fn remove_contents(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p)?;
        } else {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// A private directory for one update, removed when dropped.
struct Private(PathBuf);

impl Drop for Private {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(root: &Path, id: i64) -> std::io::Result<Private> {
    use std::os::unix::fs::DirBuilderExt;
    let p = root.join(format!("project_update_{id}"));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&p)?;
    Ok(Private(p))
}

fn write_private(path: &Path, data: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(data.as_bytes())
}

/// How git and ssh get a Source Control credential's secrets: files only they read, named by
/// `GIT_ASKPASS`/`SSH_ASKPASS` and `GIT_SSH_COMMAND`, never their values in the environment.
fn askpass(
    dir: &Path,
    inputs: &Map<String, Value>,
    env: &mut Vec<(String, String)>,
    secrets: &mut Vec<String>,
) -> std::io::Result<()> {
    let get = |k: &str| inputs.get(k).and_then(Value::as_str).unwrap_or_default();
    let (user, password, key, passphrase) = (
        get("username"),
        get("password"),
        get("ssh_key_data"),
        get("ssh_key_unlock"),
    );
    for s in [password, key, passphrase] {
        if !s.is_empty() {
            secrets.push(s.to_string());
        }
    }
    write_private(&dir.join("username"), user, 0o600)?;
    write_private(&dir.join("password"), password, 0o600)?;
    write_private(&dir.join("passphrase"), passphrase, 0o600)?;
    // Git asks `Username for '…': ` and `Password for '…': `; ssh asks for the key's
    // passphrase. The script answers from the files beside it.
    let d = dir.display();
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n  Username*) cat '{d}/username' ;;\n  *assphrase*) cat '{d}/passphrase' ;;\n  *) cat '{d}/password' ;;\nesac\n"
    );
    let ask = dir.join("askpass");
    write_private(&ask, &script, 0o700)?;
    env.push(("GIT_ASKPASS".into(), ask.display().to_string()));
    let mut ssh = "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=no"
        .to_string();
    if !key.is_empty() {
        let keyfile = dir.join("ssh_key");
        let mut k = key.replace("\r\n", "\n");
        if !k.ends_with('\n') {
            k.push('\n');
        }
        write_private(&keyfile, &k, 0o600)?;
        ssh.push_str(&format!(
            " -o IdentitiesOnly=yes -i '{}'",
            keyfile.display()
        ));
        env.push(("SSH_ASKPASS".into(), ask.display().to_string()));
        env.push(("SSH_ASKPASS_REQUIRE".into(), "force".into()));
        env.push(("DISPLAY".into(), ":0".into()));
    }
    env.push(("GIT_SSH_COMMAND".into(), ssh));
    // An archive's download (curl) reads the same user and password from a netrc file.
    if !user.is_empty() || !password.is_empty() {
        let netrc = dir.join("netrc");
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        write_private(
            &netrc,
            &format!(
                "default login {} password {}\n",
                quote(user),
                quote(password)
            ),
            0o600,
        )?;
        env.push(("RAWX_NETRC".into(), netrc.display().to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            super::clean("fatal: unable to access 'https://bob:s3cret@git.example/r.git/': 403"),
            "fatal: unable to access 'https://bob:********@git.example/r.git/': 403"
        );
        assert_eq!(super::clean("ssh://git@host/repo"), "ssh://git@host/repo");
        let mut u = rawx_model::Row::new();
        u.insert("scm_type".into(), serde_json::json!("svn"));
        u.insert("scm_url".into(), serde_json::json!("svn://bob:pw@h/r"));
        assert_eq!(
            super::job_args(&u),
            serde_json::json!(["svn", "update", "svn://bob:********@h/r"])
        );
        assert_eq!(
            super::with_ssh_user("ssh://h:22/r", "bob"),
            "ssh://bob@h:22/r"
        );
        assert_eq!(super::with_ssh_user("ssh://al@h/r", "bob"), "ssh://al@h/r");
        assert_eq!(
            super::sha1_hex(b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let stderr = "[WARNING]: - geerlingguy.nginx was NOT installed successfully: Unknown error\nwhen attempting to call Galaxy at 'http://127.0.0.1:9/api/': <urlopen\nerror [Errno 111] Connection refused>. <urlopen error [Errno 111] Connection refused>\nERROR! - you can use --ignore-errors to skip failed roles and finish processing the list.\n";
        let env = [(
            "ANSIBLE_GALAXY_SERVER_SERVER0_URL".to_string(),
            "http://127.0.0.1:9/api/".to_string(),
        )];
        let msg = super::galaxy_unreachable(stderr, &env, 3).unwrap();
        assert!(
            msg.starts_with("no Galaxy server could be reached: tried http://127.0.0.1:9/api/ ([Errno 111] Connection refused). The servers are"),
            "{msg}"
        );
        assert!(msg.contains("/api/v2/organizations/3/galaxy_credentials/"));
        assert_eq!(super::galaxy_unreachable("ERROR! bad yaml", &env, 3), None);
        let msg = super::galaxy_unreachable(stderr, &[], 3).unwrap();
        assert!(
            msg.contains("has no Galaxy credential, so ansible-galaxy used its default server"),
            "{msg}"
        );
        assert_eq!(
            super::sha1_hex(b""),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }
}
