//! A job's private data dir, built from the store as AWX builds it: the inventory rendered as
//! AWX renders it, extra vars with AWX's job variables, the environment AWX sets, the command
//! line from the job's options, and credentials injected (Machine and Vault as options and
//! prompts, every other type through `rawx_domain::credentials::inject`). Secrets found on
//! the way are collected so that everything stored afterwards can be masked.

use crate::inventory_render::{inventory_hosts, render_inventory, vars};
use crate::prepare::{Built, Context_, PreStart};
use anyhow::{anyhow, bail, Context};
use rawx_domain::credentials;
use rawx_model::resources::{
    JobKind, CREDENTIALS, CREDENTIAL_TYPES, INVENTORIES, JOB_CREDENTIALS, JOB_KIND, PROJECTS, USERS,
};
use rawx_model::schema::{int, text};
use rawx_model::Row;
use rawx_runner::{CmdlineOptions, PrivateDataDir};
use serde_json::{json, Map, Value};
use std::path::Path;

/// The prompts ansible asks and the answers, as AWX's `get_password_prompts` pairs them.
fn prompt(passwords: &mut Map<String, Value>, regex: &str, answer: &str) {
    passwords.insert(regex.into(), json!(answer));
}

pub async fn build(ctx: &Context_<'_>, kind: &JobKind, job: &Row) -> anyhow::Result<Built> {
    if std::ptr::eq(kind, &rawx_model::resources::INVENTORY_UPDATE_KIND) {
        return crate::inventory_build::build(ctx, job).await;
    }
    let store = ctx.store;
    let job_id = int(job, "id").context("job without id")?;
    let ad_hoc = !std::ptr::eq(kind, &JOB_KIND);
    let inventory = match int(job, "inventory") {
        Some(i) => store
            .get(&INVENTORIES, i)
            .await
            .map_err(|_| anyhow!("the job's inventory {i} no longer exists"))?,
        None => bail!("the job has no inventory"),
    };
    // An ad hoc command runs one module: no project, no playbook.
    let project = match int(job, "project") {
        Some(p) => store
            .get(&PROJECTS, p)
            .await
            .map_err(|_| anyhow!("the job's project {p} no longer exists"))?,
        None if ad_hoc => Row::new(),
        None => bail!("the job has no project"),
    };
    let project_dir = ctx.projects_dir.join(text(&project, "local_path"));
    let playbook = text(job, "playbook").to_string();
    if !ad_hoc {
        if text(&project, "local_path").is_empty() || !project_dir.is_dir() {
            bail!(
                "the project directory {} is missing: create it, or fix the project's local_path",
                project_dir.display()
            );
        }
        if !project_dir.join(&playbook).is_file() {
            bail!(
                "playbook {playbook} is not in the project directory {}",
                project_dir.display()
            );
        }
    }
    let host_rows = inventory_hosts(store, &inventory).await?;
    let (inv_json, hosts) = render_inventory(store, &inventory, &host_rows).await?;
    // AWX's `fact_cache_type`: `jsonfile` with the stored facts, else none at all (the
    // runner's own default would be `jsonfile`).
    let (fact_files, facts) = if !ad_hoc && job.get("use_fact_cache") == Some(&json!(true)) {
        let (files, cache) = crate::facts::start(job_id, &host_rows, ctx.fact_cache_timeout);
        (files, Some(cache))
    } else {
        (Vec::new(), None)
    };
    drop(host_rows);

    let mut secrets = Vec::new();
    let mut passwords = Map::new();
    let mut dir_files: Vec<rawx_runner::ZipEntry> = Vec::new();
    let mut opts = CmdlineOptions {
        check: text(job, "job_type") == "check",
        become_enabled: job.get("become_enabled") == Some(&json!(true)),
        diff_mode: job.get("diff_mode") == Some(&json!(true)),
        force_handlers: job.get("force_handlers") == Some(&json!(true)),
        forks: int(job, "forks").unwrap_or(0).max(0) as u32,
        verbosity: int(job, "verbosity").unwrap_or(0).clamp(0, 5) as u8,
        limit: Some(text(job, "limit").to_string()).filter(|s| !s.is_empty()),
        job_tags: Some(text(job, "job_tags").to_string()).filter(|s| !s.is_empty()),
        skip_tags: Some(text(job, "skip_tags").to_string()).filter(|s| !s.is_empty()),
        start_at_task: Some(text(job, "start_at_task").to_string()).filter(|s| !s.is_empty()),
        ..CmdlineOptions::default()
    };
    if ad_hoc {
        // AWX names the hosts as ansible's pattern argument, and connects as root unless the
        // machine credential names a user.
        opts.host_pattern = Some(opts.limit.take().unwrap_or_else(|| "all".into()));
        opts.user = Some("root".into());
    }
    let credentials = if ad_hoc {
        int(job, "credential").into_iter().collect()
    } else {
        store
            .linked(&JOB_CREDENTIALS, true, job_id)
            .await
            .map_err(|e| anyhow!("{e}"))?
    };
    // Passwords given at launch for credentials that ask for them (sealed with the job).
    let runtime: Map<String, Value> = match job.get("start_args").and_then(Value::as_str) {
        Some(s) if rawx_model::secret::is_sealed(s) => {
            let plain = ctx
                .key
                .open(s)
                .map_err(|e| anyhow!("the job's launch-time passwords: {e}"))?;
            serde_json::from_str(&plain).unwrap_or_default()
        }
        _ => Map::new(),
    };
    for v in runtime.values().filter_map(Value::as_str) {
        secrets.push(v.to_string());
    }
    let mut injected = credentials::Injected::default();
    let mut net_unlock = None;
    let mut ssh_key = None;
    for cid in credentials {
        let cred = store
            .get(&CREDENTIALS, cid)
            .await
            .map_err(|e| anyhow!("credential {cid}: {e}"))?;
        let ctype = store
            .get(
                &CREDENTIAL_TYPES,
                int(&cred, "credential_type").unwrap_or_default(),
            )
            .await
            .map_err(|e| anyhow!("credential type of {cid}: {e}"))?;
        let stored: Map<String, Value> =
            serde_json::from_str(text(&cred, "inputs")).unwrap_or_default();
        let mut inputs = Map::new();
        for (k, v) in stored {
            let v = match v.as_str() {
                Some(s) if rawx_model::secret::is_sealed(s) => {
                    let plain = ctx
                        .key
                        .open(s)
                        .map_err(|e| anyhow!("credential {}: {e}", text(&cred, "name")))?;
                    secrets.push(plain.clone());
                    json!(plain)
                }
                _ => v,
            };
            inputs.insert(k, v);
        }
        let def = credentials::TypeDef::from_row(&ctype);
        // Fields filled by a lookup count as given (AWX's `has_input` of a dynamic field).
        let sources = crate::lookup::sources_of(store, cid).await?;
        let dynamic: Vec<&str> = sources
            .iter()
            .map(|s| text(s, "input_field_name"))
            .collect();
        let missing: Vec<String> = credentials::missing_required(&def, &inputs)
            .into_iter()
            .filter(|m| !dynamic.contains(&m.as_str()))
            .collect();
        if !missing.is_empty() {
            return Err(PreStart(format!(
                "{} cannot start because Credential {} does not provide one or more required fields ({}).",
                if ad_hoc { "Ad Hoc Command" } else { "Job" },
                text(&cred, "name"),
                missing.join(", ")
            ))
            .into());
        }
        for source in &sources {
            let value = crate::lookup::resolve(store, ctx.key, &cred, source, &mut secrets).await?;
            inputs.insert(text(source, "input_field_name").to_string(), json!(value));
        }
        // An `ASK` input takes the password given at launch (AWX's `build_passwords`).
        let needed = credentials::passwords_needed(&def, &inputs);
        let mut lacking = Vec::new();
        for name in &needed {
            let field = match name.as_str() {
                "ssh_password" => "password",
                n if n.starts_with("vault_password") => "vault_password",
                n => n,
            };
            match runtime.get(name).and_then(Value::as_str) {
                Some(v) if !v.is_empty() => {
                    inputs.insert(field.into(), json!(v));
                }
                _ => lacking.push(name.clone()),
            }
        }
        if !lacking.is_empty() {
            return Err(PreStart(format!("Missing needed fields: {}.", lacking.join(", "))).into());
        }
        if let Some(cert) = inputs.get("ssh_public_key_data").and_then(Value::as_str) {
            if !cert.is_empty() {
                dir_files.push(rawx_runner::ZipEntry::file(
                    format!("artifacts/{job_id}/ssh_key_data-cert.pub"),
                    0o600,
                    cert.as_bytes(),
                ));
            }
        }
        credentials::inject(&def, &inputs, &ctx.job_dir, &mut injected);
        if def.kind == "net" && net_unlock.is_none() {
            net_unlock = inputs
                .get("ssh_key_unlock")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
        }
        let get = |k: &str| {
            inputs
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match text(&ctype, "kind") {
            "ssh" => {
                opts.user = get("username").or(opts.user.take());
                if let Some(p) = get("password") {
                    opts.ask_pass = true;
                    prompt(&mut passwords, r"^SSH [pP]assword:\s*?$", &p);
                }
                if let Some(k) = get("ssh_key_data") {
                    ssh_key = Some(k);
                }
                if let Some(p) = get("ssh_key_unlock") {
                    prompt(&mut passwords, r"^Enter passphrase for .*:\s*?$", &p);
                }
                opts.become_method = get("become_method");
                opts.become_user = get("become_username");
                if let Some(p) = get("become_password") {
                    opts.ask_become_pass = true;
                    prompt(&mut passwords, r"^BECOME [pP]assword:\s*?$", &p);
                }
            }
            "vault" => {
                if let Some(p) = get("vault_password") {
                    match get("vault_id") {
                        Some(id) => {
                            // The command line adds `@prompt` (`--vault-id prod@prompt`).
                            opts.vault_ids.push(id.clone());
                            prompt(
                                &mut passwords,
                                &format!(r"^Vault password \({id}\):\s*?$"),
                                &p,
                            );
                        }
                        None => {
                            opts.ask_vault_pass = true;
                            prompt(&mut passwords, r"^Vault password:\s*?$", &p);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    // Only one answer per prompt: a machine key's passphrase wins over a network one's.
    if let Some(p) = net_unlock {
        let re = r"^Enter passphrase for .*:\s*?$";
        if !passwords.contains_key(re) {
            prompt(&mut passwords, re, &p);
        }
    }
    let mut cmdline = rawx_runner::build_cmdline(&opts).map_err(|e| anyhow!("{e}"))?;
    for a in &injected.args {
        cmdline.push(' ');
        cmdline.push_str(&rawx_runner::quote(a));
    }

    let launched_by = match int(job, "launched_by_user") {
        Some(u) => store.get(&USERS, u).await.ok(),
        None => None,
    };
    let mut extravars = vars(text(job, "extra_vars"));
    // Survey password answers: sealed with the job, `$encrypted$` in its stored extra vars;
    // the run gets them in the clear, and what it prints is masked like any secret.
    if let Some(sealed) = job
        .get(rawx_domain::survey::PASSWORDS_FIELD)
        .and_then(Value::as_str)
        .filter(|s| rawx_model::secret::is_sealed(s))
    {
        let plain = ctx
            .key
            .open(sealed)
            .map_err(|e| anyhow!("the job's survey passwords: {e}"))?;
        let answers: Map<String, Value> = serde_json::from_str(&plain).unwrap_or_default();
        for (k, v) in answers {
            if let Some(t) = v.as_str() {
                secrets.push(t.to_string());
            }
            extravars.insert(k, v);
        }
    }
    let mut job_vars = Map::new();
    let username = launched_by
        .as_ref()
        .map(|u| text(u, "username").to_string())
        .unwrap_or_default();
    let email = launched_by
        .as_ref()
        .map(|u| text(u, "email").to_string())
        .unwrap_or_default();
    for prefix in ["awx", "tower"] {
        let mut put = |k: &str, v: Value| {
            job_vars.insert(format!("{prefix}_{k}"), v);
        };
        put("job_id", json!(job_id));
        if ad_hoc {
            put("job_launch_type", job["launch_type"].clone());
            put("user_id", job["launched_by_user"].clone());
            put("user_name", json!(username));
            put("inventory_id", inventory["id"].clone());
            put("inventory_name", inventory["name"].clone());
            put("execution_node", json!(ctx.node_name));
            continue;
        }
        put("job_launch_type", job["launch_type"].clone());
        put("user_id", job["launched_by_user"].clone());
        put("user_name", json!(username));
        put("user_email", json!(email));
        put("user_first_name", json!(""));
        put("user_last_name", json!(""));
        put("inventory_id", inventory["id"].clone());
        put("inventory_name", inventory["name"].clone());
        put("job_template_id", job["job_template"].clone());
        put("job_template_name", job["name"].clone());
        put("project_revision", project["scm_revision"].clone());
        put("project_scm_branch", project["scm_branch"].clone());
        put("execution_node", json!(ctx.node_name));
        put("job_scm_branch", job["scm_branch"].clone());
    }
    for (k, v) in job_vars {
        extravars.entry(k).or_insert(v);
    }

    let mut env = ctx.task_env.clone();
    let id_var = if ad_hoc {
        "AD_HOC_COMMAND_ID"
    } else {
        "JOB_ID"
    };
    for (k, v) in [
        (id_var, json!(job_id.to_string())),
        ("INVENTORY_ID", json!(inventory["id"].to_string())),
        ("PROJECT_REVISION", json!(text(&project, "scm_revision"))),
        ("ANSIBLE_RETRY_FILES_ENABLED", json!("False")),
        ("ANSIBLE_HOST_KEY_CHECKING", json!("False")),
        ("ANSIBLE_FORCE_COLOR", json!("True")),
        ("AWX_HOST", json!(ctx.url_base)),
        // Each job its own ssh control sockets: a connection one job authenticated must not
        // serve the next job on the same host.
        (
            "ANSIBLE_SSH_CONTROL_PATH_DIR",
            json!(ctx.job_dir.join("cp").display().to_string()),
        ),
    ] {
        env.insert(k.into(), v);
    }
    // The roles and collections the revision's requirements installed (`scm.rs`), copied into
    // the job and first on ansible's paths (AWX's `make_local_copy` and `build_env`).
    let revision = if ad_hoc {
        None
    } else {
        job_revision(job, &project)
    };
    let cache = revision
        .as_deref()
        .map(|rev| {
            crate::scm::requirements_cache(ctx.projects_dir, text(&project, "local_path"), rev)
        })
        .filter(|c| c.join(".complete").exists());
    let mut requirements = Vec::new();
    if let Some(cache) = &cache {
        for (folder, vars, defaults) in [
            (
                "requirements_roles",
                &["ANSIBLE_ROLES_PATH"][..],
                "~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles",
            ),
            (
                "requirements_collections",
                &["ANSIBLE_COLLECTIONS_PATHS", "ANSIBLE_COLLECTIONS_PATH"][..],
                "~/.ansible/collections:/usr/share/ansible/collections",
            ),
        ] {
            let src = cache.join(folder);
            if !src.is_dir() {
                continue;
            }
            for mut e in rawx_runner::entries_from_dir(&src)
                .with_context(|| format!("reading {}", src.display()))?
            {
                e.path = format!("{folder}/{}", e.path);
                requirements.push(e);
            }
            let path = format!("{}:{defaults}", ctx.job_dir.join(folder).display());
            for v in vars {
                env.insert((*v).into(), json!(path));
            }
        }
    }
    // Credentials go after the job's own variables, as AWX injects them after `build_env`.
    env.extend(injected.env);
    let timeout = int(job, "timeout").unwrap_or(0);
    let mut settings = Map::new();
    settings.insert("suppress_ansible_output".into(), json!(true));
    if timeout > 0 {
        settings.insert("job_timeout".into(), json!(timeout));
    }

    let mut dir = PrivateDataDir::new();
    if !ad_hoc {
        // A project from source control: the job's own copy of the revision its update checked
        // out (AWX's per-job copy), however the checkout has moved on since.
        let copy = match &revision {
            Some(rev) if project_dir.join(".git").exists() => {
                let dest = ctx.job_dir.with_extension("src");
                export_revision(&project_dir, rev, &dest).await?;
                Some(dest)
            }
            _ => None,
        };
        let src = copy.clone().unwrap_or_else(|| project_dir.clone());
        let read = dir.project_dir(&src);
        if let Some(c) = &copy {
            let _ = std::fs::remove_dir_all(c);
        }
        dir = read.with_context(|| format!("reading the project directory {}", src.display()))?;
    }
    let mut dir = dir
        .inventory_json(inv_json)
        .extravars(extravars)
        .envvars(env)
        .passwords(passwords)
        .settings(settings)
        .cmdline(cmdline);
    if let Some(k) = ssh_key {
        dir = dir.ssh_key(k);
    }
    for f in injected.files {
        dir = dir.file(rawx_runner::ZipEntry::file(
            f.path,
            f.mode,
            f.data.into_bytes(),
        ));
    }
    for f in dir_files.into_iter().chain(requirements).chain(fact_files) {
        dir = dir.file(f);
    }
    let mut kwargs = Map::new();
    kwargs.insert("ident".into(), json!(job_id));
    if ad_hoc {
        kwargs.insert("module".into(), json!(text(job, "module_name")));
        kwargs.insert("module_args".into(), json!(text(job, "module_args")));
    } else {
        kwargs.insert("playbook".into(), json!(playbook));
    }
    kwargs.insert("inventory".into(), json!(rawx_runner::INVENTORY_PATH));
    kwargs.insert(
        "fact_cache_type".into(),
        json!(if facts.is_some() { "jsonfile" } else { "" }),
    );
    Ok(Built {
        kwargs,
        dir,
        secrets,
        hosts,
        facts,
    })
}

/// The revision a job of a source-control project runs: the one its update checked out (the
/// task manager wrote it to the job), else the project's.
fn job_revision(job: &Row, project: &Row) -> Option<String> {
    if text(project, "scm_type") != "git" {
        return None;
    }
    [text(job, "scm_revision"), text(project, "scm_revision")]
        .into_iter()
        .find(|r| !r.is_empty())
        .map(str::to_string)
}

/// Writes the tree of `rev` of the checkout `repo` into `dest` (`git archive | tar -x`): the
/// checkout's own files and index are not touched, so an update may run meanwhile. Submodules
/// (which `git archive` leaves out) follow at the commits the update of `rev` checked out
/// (`scm::submodules_record`), else at those checked out now: AWX's copy holds them too.
async fn export_revision(repo: &Path, rev: &str, dest: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    archive_into(repo, rev, "", dest).await?;
    if !dest.join(".gitmodules").exists() {
        return Ok(());
    }
    let record = crate::scm::submodules_record(repo, rev);
    let heads = match std::fs::read_to_string(&record) {
        Ok(h) => h,
        Err(_) => crate::scm::submodule_heads(repo).await.unwrap_or_default(),
    };
    for line in heads.lines() {
        let Some((commit, path)) = line.split_once(' ') else {
            continue;
        };
        archive_into(&repo.join(path), commit, &format!("{path}/"), dest).await?;
    }
    Ok(())
}

/// `git -C repo archive --prefix=prefix rev | tar -x -C dest`.
async fn archive_into(repo: &Path, rev: &str, prefix: &str, dest: &Path) -> anyhow::Result<()> {
    use std::process::Stdio;
    let mut git = tokio::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["archive", "--format=tar"])
        .arg(format!("--prefix={prefix}"))
        .arg(rev)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("running git archive")?;
    let pipe: Stdio = git
        .stdout
        .take()
        .context("git archive's output")?
        .try_into()
        .context("git archive's output")?;
    let tar = tokio::process::Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dest)
        .stdin(pipe)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let (git, tar) = tokio::join!(git.wait_with_output(), tar);
    let (git, tar) = (git.context("git archive")?, tar.context("tar")?);
    if !git.status.success() || !tar.status.success() {
        bail!(
            "the project's revision {rev} cannot be read from its checkout {}: {}{}",
            repo.display(),
            String::from_utf8_lossy(&git.stderr).trim(),
            String::from_utf8_lossy(&tar.stderr).trim()
        );
    }
    Ok(())
}
