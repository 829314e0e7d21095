//! What a new database starts with: AWX's managed credential types (brought up to date on an
//! existing one), the install UUID and the
//! first superuser.

use crate::auth::{hash_password, random_token};
use crate::error::ApiResult;
use rawx_model::filter::Filter;
use rawx_model::resources::{
    CREDENTIAL_TYPES, DEFAULT_EE_NAMES, EXECUTION_ENVIRONMENTS, INSTANCE_GROUPS, SETTINGS, USERS,
};
use rawx_model::schema::ColumnType;
use rawx_model::validate::{validate, Mode};
use rawx_model::Row;
use rawx_store::DynStore;
use serde_json::{json, Value};

fn uuid4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The database-wide lock seeding holds (the migration's is 727377).
const SEED_LOCK: i64 = 727378;

/// What seeding a database did.
#[derive(Debug, Default)]
pub struct Seeded {
    /// Set when the first superuser was created: its username and password.
    pub admin: Option<(String, String)>,
    pub install_uuid: String,
}

/// Seeds an empty database; a seeded one is left alone. `admin_password` is used for the
/// first superuser when given, otherwise one is generated (and returned, to print once).
pub async fn seed(store: &DynStore, admin_password: Option<String>) -> ApiResult<Seeded> {
    // Replicas start together (that is how orchestrators start them): each find-then-insert
    // below must see its twin's insert, so one process seeds at a time, database-wide.
    let _one_at_a_time = store.exclusive(SEED_LOCK).await?;
    // AWX's 21 managed types, from rawx-domain's table; an existing one (an older rawx, whose
    // definitions were shorter) takes the current definition, as AWX's
    // `setup_tower_managed_defaults` does on upgrade.
    for t in rawx_domain::credentials::managed_types() {
        let f = Filter::eq("name", ColumnType::Text, json!(t.name)).and(Filter::eq(
            "kind",
            ColumnType::Text,
            json!(t.kind),
        ));
        let mut row = Row::new();
        row.insert("namespace".into(), json!(t.namespace));
        row.insert("inputs".into(), json!(t.inputs.to_string()));
        row.insert("injectors".into(), json!(t.injectors.to_string()));
        row.insert("managed".into(), json!(true));
        if let Some(existing) = store.find(&CREDENTIAL_TYPES, &f).await? {
            let same = ["namespace", "inputs", "injectors", "managed"]
                .iter()
                .all(|k| existing.get(*k) == row.get(*k));
            if !same {
                let id = existing["id"].as_i64().unwrap_or_default();
                store.update(&CREDENTIAL_TYPES, id, &row).await?;
            }
            continue;
        }
        let mut valid = validate(
            &CREDENTIAL_TYPES,
            &json!({"name": t.name, "kind": t.kind}),
            Mode::Create,
        )
        .map_err(|e| crate::ApiError::Internal(format!("seed type {}: {e:?}", t.name)))?;
        valid.extend(row);
        store.insert(&CREDENTIAL_TYPES, &valid).await?;
    }
    // As AWX's installer registers them: every node of their kind, by a 100% policy.
    for name in ["controlplane", "default"] {
        let f = Filter::eq("name", ColumnType::Text, json!(name));
        if store.find(&INSTANCE_GROUPS, &f).await?.is_none() {
            let body = json!({"name": name, "policy_instance_percentage": 100});
            let row = validate(&INSTANCE_GROUPS, &body, Mode::Create)
                .map_err(|e| crate::ApiError::Internal(format!("seed group {name}: {e:?}")))?;
            store.insert(&INSTANCE_GROUPS, &row).await?;
        }
    }
    for (name, managed) in DEFAULT_EE_NAMES {
        let f = Filter::eq("name", ColumnType::Text, json!(name));
        if store.find(&EXECUTION_ENVIRONMENTS, &f).await?.is_none() {
            let body = json!({"name": name, "image": "ansible-runner"});
            let mut row = validate(&EXECUTION_ENVIRONMENTS, &body, Mode::Create)
                .map_err(|e| crate::ApiError::Internal(format!("seed EE {name}: {e:?}")))?;
            row.insert("managed".into(), json!(managed));
            store.insert(&EXECUTION_ENVIRONMENTS, &row).await?;
        }
    }
    let key_f = Filter::eq("key", ColumnType::Text, json!("INSTALL_UUID"));
    let install_uuid = match store.find(&SETTINGS, &key_f).await? {
        Some(r) => serde_json::from_str::<String>(r["value"].as_str().unwrap_or("\"\""))
            .unwrap_or_default(),
        None => {
            let u = uuid4();
            let mut row = Row::new();
            row.insert("key".into(), json!("INSTALL_UUID"));
            row.insert("value".into(), json!(json!(u).to_string()));
            store.insert(&SETTINGS, &row).await?;
            u
        }
    };
    let mut out = Seeded {
        admin: None,
        install_uuid,
    };
    if store.count(&USERS, &Filter::All(vec![])).await? == 0 {
        let password = admin_password
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| random_token(20));
        create_user(store, "admin", &password, true).await?;
        out.admin = Some(("admin".into(), password));
    }
    // Every object's roles, and memberships from before roles, as grants.
    rawx_domain::roles::backfill(&**store).await?;
    Ok(out)
}

/// Says what AWX's default execution environments are on this node: `image` is the path of the
/// Python environment its jobs run in (rawx runs no containers). Called at every start.
pub async fn show_execution_environment(
    store: &DynStore,
    image: &str,
    description: &str,
) -> ApiResult<()> {
    for (name, _) in DEFAULT_EE_NAMES {
        let f = Filter::eq("name", ColumnType::Text, json!(name));
        let Some(ee) = store.find(&EXECUTION_ENVIRONMENTS, &f).await? else {
            continue;
        };
        if ee.get("image") == Some(&json!(image))
            && ee.get("description") == Some(&json!(description))
        {
            continue;
        }
        let mut row = Row::new();
        row.insert("image".into(), json!(image));
        row.insert("description".into(), json!(description));
        let id = ee.get("id").and_then(Value::as_i64).unwrap_or_default();
        store.update(&EXECUTION_ENVIRONMENTS, id, &row).await?;
    }
    Ok(())
}

/// Creates a user (the `manage create-superuser` path and the first start).
pub async fn create_user(
    store: &DynStore,
    username: &str,
    password: &str,
    superuser: bool,
) -> ApiResult<i64> {
    let mut row = validate(
        &USERS,
        &json!({"username": username, "is_superuser": superuser}),
        Mode::Create,
    )
    .map_err(crate::ApiError::Fields)?;
    row.insert("password".into(), json!(hash_password(password)));
    let id = store.insert(&USERS, &row).await?;
    // A superuser holds the system administrator role, as AWX shows it.
    rawx_domain::roles::sync_user_flags(&**store, id).await?;
    Ok(id)
}

/// Sets a user's password (`manage update-password`); `NotFound` when there is no such user.
pub async fn set_password(store: &DynStore, username: &str, password: &str) -> ApiResult<()> {
    let f = Filter::eq("username", ColumnType::Text, json!(username));
    let user = store
        .find(&USERS, &f)
        .await?
        .ok_or(crate::ApiError::NotFound)?;
    let mut row = Row::new();
    row.insert("password".into(), json!(hash_password(password)));
    store
        .update(&USERS, user["id"].as_i64().unwrap_or_default(), &row)
        .await?;
    Ok(())
}

/// The playbook the Demo Project ships with.
pub const HELLO_WORLD: &str = "- name: Hello World Sample\n  hosts: all\n  tasks:\n    - name: Hello Message\n      debug:\n        msg: \"Hello World!\"\n";

/// Where AWX's `create_preload_data` points the Demo Project.
pub const DEMO_PROJECT_URL: &str = "https://github.com/ansible/ansible-tower-samples";

/// Makes the Demo Project's checkout in `dir` without the network: a Git repository whose one
/// commit holds `hello_world.yml` as `ansible-tower-samples` has it. Its revision.
async fn demo_checkout(dir: &std::path::Path) -> Result<String, String> {
    let git = |args: &'static [&'static str]| {
        let dir = dir.to_path_buf();
        async move {
            let out = tokio::process::Command::new("git")
                .args([
                    "-c",
                    "user.name=rawx",
                    "-c",
                    "user.email=rawx@localhost",
                    "-c",
                    "commit.gpgsign=false",
                ])
                .args(args)
                .current_dir(&dir)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| format!("git: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "git {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    git(&["init", "--quiet"]).await?;
    std::fs::write(dir.join("hello_world.yml"), HELLO_WORLD)
        .map_err(|e| format!("writing hello_world.yml: {e}"))?;
    git(&["add", "hello_world.yml"]).await?;
    git(&[
        "commit",
        "--quiet",
        "-m",
        "hello_world.yml of ansible/ansible-tower-samples, shipped with rawx",
    ])
    .await?;
    git(&["rev-parse", "HEAD"]).await
}

/// AWX's preload data, so a newcomer can launch a job in their first minute: the `Default`
/// organization, `Demo Inventory` (localhost), `Demo Credential`, `Demo Project` and `Demo Job
/// Template`. Objects that exist are kept. The Demo Project's directory.
///
/// The Demo Project is AWX's: a git project of `ansible/ansible-tower-samples`, created without
/// an update (AWX's `skip_update`). AWX records a revision it has not checked out, so its demo
/// needs GitHub on the first launch; rawx instead ships that revision's `hello_world.yml` as
/// the checkout's first commit, so the demo runs offline on a fresh machine, and the first
/// update (where GitHub can be reached) brings the repository's own content. Without `git`,
/// it is a manual project holding the same playbook.
pub async fn preload(
    store: &DynStore,
    projects_dir: &std::path::Path,
) -> ApiResult<std::path::PathBuf> {
    use rawx_model::resources::{
        CREDENTIALS, HOSTS, INVENTORIES, JOB_TEMPLATES, JT_CREDENTIALS, ORGANIZATIONS, PROJECTS,
    };
    async fn get_or_make(
        store: &DynStore,
        res: &'static rawx_model::Resource,
        name: &str,
        body: Value,
    ) -> ApiResult<i64> {
        let f = Filter::eq("name", ColumnType::Text, json!(name));
        if let Some(r) = store.find(res, &f).await? {
            return Ok(r["id"].as_i64().unwrap_or_default());
        }
        let row = validate(res, &body, Mode::Create).map_err(crate::ApiError::Fields)?;
        Ok(store.insert(res, &row).await?)
    }
    let org = get_or_make(store, &ORGANIZATIONS, "Default", json!({"name": "Default"})).await?;
    let inv = get_or_make(
        store,
        &INVENTORIES,
        "Demo Inventory",
        json!({"name": "Demo Inventory", "organization": org}),
    )
    .await?;
    let host_f = Filter::eq("name", ColumnType::Text, json!("localhost")).and(Filter::eq(
        "inventory",
        ColumnType::Int,
        json!(inv),
    ));
    if store.find(&HOSTS, &host_f).await?.is_none() {
        let vars = "{\"ansible_connection\": \"local\", \"ansible_python_interpreter\": \"{{ ansible_playbook_python }}\"}";
        let row = validate(
            &HOSTS,
            &json!({"name": "localhost", "inventory": inv, "variables": vars}),
            Mode::Create,
        )
        .map_err(crate::ApiError::Fields)?;
        store.insert(&HOSTS, &row).await?;
    }
    let cred = get_or_make(
        store,
        &CREDENTIALS,
        "Demo Credential",
        json!({"name": "Demo Credential", "credential_type": 1, "organization": org, "inputs": {"username": "admin"}}),
    )
    .await?;
    let mut kind = Row::new();
    kind.insert("kind".into(), json!("ssh"));
    store.update(&CREDENTIALS, cred, &kind).await?;
    let galaxy_type = Filter::eq("kind", ColumnType::Text, json!("galaxy"));
    if let Some(t) = store.find(&CREDENTIAL_TYPES, &galaxy_type).await? {
        let galaxy = get_or_make(
            store,
            &CREDENTIALS,
            "Ansible Galaxy",
            json!({"name": "Ansible Galaxy", "credential_type": t["id"], "organization": org,
                   "inputs": {"url": "https://galaxy.ansible.com/"}}),
        )
        .await?;
        let mut kind = Row::new();
        kind.insert("kind".into(), json!("galaxy"));
        store.update(&CREDENTIALS, galaxy, &kind).await?;
        // AWX's `o.galaxy_credentials.add(public_galaxy_credential)`: the Default
        // organization's projects install their requirements from Galaxy.
        let rel = &rawx_model::resources::ORG_GALAXY_CREDENTIALS;
        if !store.linked(rel, true, org).await?.contains(&galaxy) {
            store.link(rel, org, galaxy).await?;
        }
    }
    let demo = Filter::eq("name", ColumnType::Text, json!("Demo Project"));
    let project = match store.find(&PROJECTS, &demo).await? {
        Some(p) => p["id"].as_i64().unwrap_or_default(),
        None => demo_project(store, projects_dir, org).await?,
    };
    let demo_dir = projects_dir.join(
        store
            .get(&PROJECTS, project)
            .await?
            .get("local_path")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    let jt_f = Filter::eq("name", ColumnType::Text, json!("Demo Job Template"));
    if store.find(&JOB_TEMPLATES, &jt_f).await?.is_none() {
        let mut row = validate(
            &JOB_TEMPLATES,
            &json!({"name": "Demo Job Template", "project": project, "inventory": inv, "playbook": "hello_world.yml"}),
            Mode::Create,
        )
        .map_err(crate::ApiError::Fields)?;
        row.insert("organization".into(), json!(org));
        let jt = store.insert(&JOB_TEMPLATES, &row).await?;
        store.link(&JT_CREDENTIALS, jt, cred).await?;
    }
    rawx_domain::roles::backfill(&**store).await?;
    Ok(demo_dir)
}

/// Creates the Demo Project (see [`preload`]): git with its checkout made here, else manual.
async fn demo_project(
    store: &DynStore,
    projects_dir: &std::path::Path,
    org: i64,
) -> ApiResult<i64> {
    use rawx_model::resources::PROJECTS;
    let body = json!({"name": "Demo Project", "organization": org, "scm_type": "git",
                      "scm_url": DEMO_PROJECT_URL, "scm_update_cache_timeout": 0});
    let row = validate(&PROJECTS, &body, Mode::Create).map_err(crate::ApiError::Fields)?;
    let id = store.insert(&PROJECTS, &row).await?;
    let local = rawx_domain::projects::scm_local_path(id, "Demo Project");
    let dir = projects_dir.join(&local);
    let mut fields = Row::new();
    match demo_checkout(&dir).await {
        Ok(rev) => {
            fields.insert("local_path".into(), json!(local));
            fields.insert("scm_revision".into(), json!(rev));
            fields.insert("status".into(), json!("successful"));
        }
        Err(e) => {
            tracing::warn!(error = %e, "no git checkout for the Demo Project: it is a manual project");
            let _ = std::fs::remove_dir_all(&dir);
            let manual = projects_dir.join("demo-project");
            std::fs::create_dir_all(&manual)
                .and_then(|_| std::fs::write(manual.join("hello_world.yml"), HELLO_WORLD))
                .map_err(|e| {
                    crate::ApiError::Internal(format!("writing {}: {e}", manual.display()))
                })?;
            for (k, v) in [
                ("scm_type", ""),
                ("scm_url", ""),
                ("local_path", "demo-project"),
            ] {
                fields.insert(k.into(), json!(v));
            }
        }
    }
    store.update(&PROJECTS, id, &fields).await?;
    Ok(id)
}
