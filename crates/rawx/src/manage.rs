//! `rawx manage …`: administration that does not need a running server.

use crate::serve::{open_store, StoreArgs};
use anyhow::{bail, Context};
use clap::{Args, Subcommand};

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
            rawx_api::preload(&store, &dir)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "Preload data is in place (Demo Job Template runs {}).",
                dir.join("demo-project/hello_world.yml").display()
            );
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
