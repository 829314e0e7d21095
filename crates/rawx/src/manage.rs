//! `rawx manage …`: administration that does not need a running server.

use crate::serve::{open_store, StoreArgs};
use anyhow::{bail, Context};
use clap::{Args, Subcommand};

mod export;
mod import;
mod instances;

const NODE_TYPE_NAMES: [&str; 4] = ["execution", "hybrid", "control", "hop"];

#[derive(Debug, Args)]
pub struct ManageArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: ManageCommand,
}

#[derive(Debug, Subcommand)]
enum ManageCommand {
    /// Bring the database to the current schema (serve does this at start too).
    Migrate,
    /// Create AWX's demo objects (Default organization, Demo Inventory, Demo Project, Demo Job
    /// Template…), as the first start does unless RAWX_PRELOAD_DATA=false.
    CreatePreloadData {
        /// Where manual projects live (default `<data dir>/projects`).
        #[arg(long, env = "RAWX_PROJECTS_DIR")]
        projects_dir: Option<std::path::PathBuf>,
    },
    /// Check the installation (like `awx-manage check`): the database answers and is at the
    /// current schema, the secret key opens, ansible-runner is there. Exits 1 on a problem.
    Check,
    /// Delete jobs and ad hoc commands created more than N days ago that are no longer running,
    /// with their events (like `awx-manage cleanup_jobs`).
    CleanupJobs {
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Only say what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete activity stream entries older than N days (like `awx-manage
    /// cleanup_activitystream`).
    CleanupActivitystream {
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Only say how many would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// The instance groups and, under each, its instances with capacity, node type, version and
    /// heartbeat (like `awx-manage list_instances`).
    ListInstances,
    /// Register a node as an instance, or change an existing one's node type (like
    /// `awx-manage provision_instance`).
    ProvisionInstance {
        #[arg(long)]
        hostname: String,
        #[arg(long = "node_type", alias = "node-type", value_parser = NODE_TYPE_NAMES, default_value = "hybrid")]
        node_type: String,
    },
    /// Remove an instance (like `awx-manage deprovision_instance`); refused while jobs run on it.
    DeprovisionInstance {
        #[arg(long)]
        hostname: String,
    },
    /// Create or update an instance group (like `awx-manage register_queue`).
    RegisterQueue {
        #[arg(long)]
        queuename: String,
        /// Percentage of all instances the group takes in as they come online.
        #[arg(long = "instance_percent", alias = "instance-percent", value_parser = clap::value_parser!(u8).range(0..=100))]
        instance_percent: Option<u8>,
        /// Minimum number of instances the group takes in as they come online.
        #[arg(long = "instance_minimum", alias = "instance-minimum")]
        instance_minimum: Option<u32>,
        /// Instances to put in the group, comma separated.
        #[arg(long, value_delimiter = ',')]
        hostnames: Vec<String>,
    },
    /// Write organizations, users (no passwords), teams, credential types, credentials (secrets
    /// as `$encrypted$`), projects, inventories with hosts and groups, and job templates as the
    /// JSON `awx export` writes, on stdout.
    Export {
        /// Also write each secret sealed as it is stored, and users' password hashes, so that
        /// `rawx manage import` on an installation with the same secret key restores them.
        #[arg(long)]
        with_secrets: bool,
    },
    /// Create or update, by natural key, every object of a file `awx export` or `rawx manage
    /// export` wrote (like `awx import`). The whole file is checked before anything is written.
    Import {
        /// The file to read; `-` or none reads stdin.
        file: Option<std::path::PathBuf>,
        /// Where manual projects' directories live (default `<data dir>/projects`).
        #[arg(long, env = "RAWX_PROJECTS_DIR")]
        projects_dir: Option<std::path::PathBuf>,
    },
    /// Set a user's password (like `awx-manage update_password`).
    UpdatePassword {
        #[arg(long)]
        username: String,
        #[arg(long, env = "RAWX_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Create a superuser (like `awx-manage createsuperuser`).
    CreateSuperuser {
        #[arg(long)]
        username: String,
        #[arg(long, env = "RAWX_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "")]
        email: String,
    },
}

pub async fn run(args: ManageArgs) -> anyhow::Result<()> {
    let (store, data_dir) = open_store(&args.store).await?;
    match args.command {
        ManageCommand::CreatePreloadData { projects_dir } => {
            let seeded = rawx_api::seed(&store, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Some((user, password)) = seeded.admin {
                println!("Created superuser {user} with password: {password}");
            }
            let dir = projects_dir.unwrap_or_else(|| data_dir.join("projects"));
            let demo = rawx_api::preload(&store, &dir)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "Preload data is in place (Demo Job Template runs {}).",
                demo.join("hello_world.yml").display()
            );
        }
        ManageCommand::Check => check(&store, &data_dir).await?,
        ManageCommand::Export { with_secrets } => {
            let doc = export::export(&store, with_secrets).await?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        ManageCommand::Import { file, projects_dir } => {
            let text = match file.as_deref() {
                None => std::io::read_to_string(std::io::stdin()).context("reading stdin")?,
                Some(p) if p.as_os_str() == "-" => {
                    std::io::read_to_string(std::io::stdin()).context("reading stdin")?
                }
                Some(p) => std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?,
            };
            let doc: serde_json::Value = serde_json::from_str(&text)
                .context("the file is not JSON (what `awx export` writes); nothing was imported")?;
            let dir = projects_dir.unwrap_or_else(|| data_dir.join("projects"));
            import::import(store, &data_dir, dir, &doc).await?
        }
        ManageCommand::ListInstances => instances::list(&store).await?,
        ManageCommand::ProvisionInstance {
            hostname,
            node_type,
        } => instances::provision(&store, &hostname, &node_type).await?,
        ManageCommand::DeprovisionInstance { hostname } => {
            instances::deprovision(&store, &hostname).await?
        }
        ManageCommand::RegisterQueue {
            queuename,
            instance_percent,
            instance_minimum,
            hostnames,
        } => {
            instances::register_queue(
                &store,
                &queuename,
                instance_percent,
                instance_minimum,
                &hostnames,
            )
            .await?
        }
        ManageCommand::CleanupJobs { days, dry_run } => cleanup_jobs(&store, days, dry_run).await?,
        ManageCommand::CleanupActivitystream { days, dry_run } => {
            cleanup_activitystream(&store, days, dry_run).await?
        }
        ManageCommand::Migrate => {
            println!("Database is at the current schema ({}).", store.backend());
        }
        ManageCommand::UpdatePassword { username, password } => {
            if password.is_empty() {
                bail!("the new password is empty: give one with --password");
            }
            match rawx_api::set_password(&store, &username, &password).await {
                Ok(()) => println!("Password updated for {username}."),
                Err(rawx_api::ApiError::NotFound) => bail!("there is no user named {username:?}"),
                Err(e) => return Err(anyhow::anyhow!("{e}")).context("updating the password"),
            }
        }
        ManageCommand::CreateSuperuser {
            username,
            password,
            email,
        } => {
            if password.is_empty() {
                bail!("the password is empty: give one with --password");
            }
            match rawx_api::create_user(&store, &username, &password, true).await {
                Ok(id) => {
                    if !email.is_empty() {
                        let mut row = rawx_model::Row::new();
                        row.insert("email".into(), email.into());
                        store
                            .update(&rawx_model::resources::USERS, id, &row)
                            .await?;
                    }
                    println!("Superuser {username} created (id {id}).");
                }
                Err(rawx_api::ApiError::Fields(f)) => {
                    bail!("cannot create {username:?}: {}", f.to_json())
                }
                Err(e) => {
                    let msg = e.to_string();
                    if msg.contains("unique") {
                        bail!("a user named {username:?} already exists; use `rawx manage update-password` to change its password");
                    }
                    return Err(anyhow::anyhow!(msg)).context("creating the superuser");
                }
            }
        }
    }
    Ok(())
}

async fn check(store: &rawx_store::DynStore, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let mut issues = Vec::new();
    if let Err(e) = store.ping().await {
        issues.push(format!("the database does not answer: {e}"));
    }
    let key_text = match std::env::var("RAWX_SECRET_KEY") {
        Ok(t) => Some(("RAWX_SECRET_KEY".to_string(), t)),
        Err(_) => {
            let path = data_dir.join("secret.key");
            match std::fs::read_to_string(&path) {
                Ok(t) => Some((path.display().to_string(), t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    println!(
                        "note: no secret key yet at {} (`rawx serve` creates it)",
                        path.display()
                    );
                    None
                }
                Err(e) => {
                    issues.push(format!("cannot read {}: {e}", path.display()));
                    None
                }
            }
        }
    };
    if let Some((from, text)) = key_text {
        if let Err(e) = rawx_model::secret::SecretKey::from_text(&text) {
            issues.push(format!("{from} is not a rawx secret key: {e}"));
        }
    }
    match crate::serve::ansible_runner() {
        Some(p) if p.is_file() => {}
        Some(p) => issues.push(format!(
            "RAWX_ANSIBLE_RUNNER names {}, which does not exist",
            p.display()
        )),
        None => println!(
            "note: ansible-runner is not on PATH: rawx builds its own environment on the first job"
        ),
    }
    if issues.is_empty() {
        println!("System check identified no issues (0 silenced).");
        return Ok(());
    }
    for i in &issues {
        eprintln!("ERROR: {i}");
    }
    bail!("System check identified {} issue(s).", issues.len())
}

/// Jobs of every kind created before the cutoff and not waiting or running; their events go
/// with them (the events' foreign key cascades).
/// `created` (or `column`) before `days` days ago.
fn older_than(column: &'static str, days: u32) -> rawx_model::filter::Filter {
    use rawx_model::filter::{Cond, Filter, Op};
    let cutoff = rawx_model::format_time(
        time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days)),
    );
    Filter::On {
        path: vec![],
        column,
        ctype: rawx_model::schema::ColumnType::Text,
        cond: Cond::Op(Op::Lt, serde_json::Value::String(cutoff)),
    }
}

/// AWX's `cleanup_activitystream`: entries whose `timestamp` is older than `days` go, in one
/// statement (AWX deletes in batches of 500 for Django's sake).
async fn cleanup_activitystream(
    store: &rawx_store::DynStore,
    days: u32,
    dry_run: bool,
) -> anyhow::Result<()> {
    let res = &rawx_model::resources::ACTIVITY_STREAM;
    let old = older_than("timestamp", days);
    let n = if dry_run {
        store.count(res, &old).await
    } else {
        store.delete_where(res, &old).await
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let verb = if dry_run { "would remove" } else { "removed" };
    println!("{verb} {n} activity stream entries older than {days} days");
    Ok(())
}

async fn cleanup_jobs(
    store: &rawx_store::DynStore,
    days: u32,
    dry_run: bool,
) -> anyhow::Result<()> {
    use rawx_model::filter::{Cond, Filter};
    use rawx_model::schema::ColumnType;
    let old = Filter::All(vec![
        older_than("created", days),
        Filter::Not(Box::new(Filter::On {
            path: vec![],
            column: "status",
            ctype: ColumnType::Text,
            cond: Cond::In(vec!["pending".into(), "waiting".into(), "running".into()]),
        })),
    ]);
    for kind in rawx_model::resources::JOB_KINDS {
        let rows = store
            .list_all(kind.resource, &old, &[("id", false)])
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let plural = kind.resource.key.replace('_', " ");
        if dry_run {
            println!(
                "would remove {} {plural} older than {days} days",
                rows.len()
            );
            continue;
        }
        let mut removed = 0;
        for row in &rows {
            let id = rawx_model::schema::int(row, "id").unwrap_or_default();
            store
                .delete(kind.resource, id)
                .await
                .map_err(|e| anyhow::anyhow!("deleting {} {id}: {e}", kind.resource.type_name))?;
            removed += 1;
        }
        println!("removed {removed} {plural} older than {days} days");
    }
    Ok(())
}
