//! An inventory update's private data dir, as AWX's `RunInventoryUpdate` builds it: no
//! playbook and no inventory for ansible-runner, but an `args` file that makes the worker run
//! `ansible-inventory --list --export -i <source> --output artifacts/<id>/output.json` (its
//! raw-command mode). The source is a project's file, directory or script (`scm`), or the
//! plugin configuration AWX writes per source (`inventory/<plugin>.yml`: the source's
//! `source_vars` with `plugin:` set), with the cloud credential injected as AWX's injectors do;
//! a constructed inventory's input inventories go first, each as a script. The JSON written
//! to `output.json` comes back in the artifacts and is imported by `run.rs`.

use crate::prepare::{Built, Context_, PreStart};
use anyhow::{anyhow, bail, Context};
use rawx_domain::credentials;
use rawx_model::resources::{
    CREDENTIALS, CREDENTIAL_TYPES, INVENTORIES, INVENTORY_SOURCES, INVENTORY_UPDATE_CREDENTIALS,
    PROJECTS,
};
use rawx_model::schema::{int, text};
use rawx_model::validate::parse_vars;
use rawx_model::Row;
use rawx_runner::{PrivateDataDir, ZipEntry};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// AWX's `STANDARD_INVENTORY_UPDATE_ENV`.
const STANDARD_ENV: &[(&str, &str)] = &[
    ("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True"),
    ("ANSIBLE_INVENTORY_EXPORT", "True"),
    ("ANSIBLE_VERBOSE_TO_STDERR", "True"),
    ("ANSIBLE_HOST_PATTERN_MISMATCH", "error"),
];

/// AWX's `INV_ENV_VARIABLE_BLOCKED`.
const BLOCKED_ENV: &[&str] = &["HOME", "USER", "_", "TERM", "PATH"];

/// A source's plugin (AWX's `PluginFileInjector` subclasses): the plugin name, the
/// collection it lives in, whether `plugin:` is written fully qualified.
pub fn plugin(source: &str) -> Option<(&'static str, &'static str, bool)> {
    Some(match source {
        "azure_rm" => ("azure_rm", "azure.azcollection", false),
        "ec2" => ("aws_ec2", "amazon.aws", false),
        "gce" => ("gcp_compute", "google.cloud", false),
        "vmware" => ("vmware_vm_inventory", "community.vmware", false),
        "openstack" => ("openstack", "openstack.cloud", false),
        "rhv" => ("ovirt", "ovirt.ovirt", true),
        "satellite6" => ("foreman", "theforeman.foreman", true),
        "terraform" => ("terraform_state", "cloud.terraform", true),
        // AWX relies on ansible-core's routing of `tower` to `awx.awx.tower`.
        "controller" => ("tower", "awx.awx", false),
        "insights" => ("insights", "redhatinsights.insights", true),
        "openshift_virtualization" => ("kubevirt", "kubevirt.core", true),
        "constructed" => ("constructed", "ansible.builtin", false),
        _ => return None,
    })
}

/// AWX's `inventory_as_dict`: the source's variables with `plugin:` set.
pub fn plugin_config(
    source: &str,
    source_vars: &Map<String, Value>,
    cloud_inputs: Option<&Map<String, Value>>,
) -> Option<Map<String, Value>> {
    let (name, collection, fqcn) = plugin(source)?;
    let mut out = source_vars.clone();
    let plugin = if fqcn {
        format!("{collection}.{name}")
    } else {
        name.to_string()
    };
    out.insert("plugin".into(), json!(plugin));
    // `gce.inventory_as_dict`: the credential's project unless the variables name some.
    if source == "gce" && !out.contains_key("projects") {
        let project = cloud_inputs
            .and_then(|i| i.get("project"))
            .cloned()
            .unwrap_or(json!(""));
        out.insert("projects".into(), json!([project]));
    }
    Some(out)
}

async fn inputs_of(
    ctx: &Context_<'_>,
    cid: i64,
    secrets: &mut Vec<String>,
) -> anyhow::Result<(Row, Row, Map<String, Value>)> {
    let cred = ctx
        .store
        .get(&CREDENTIALS, cid)
        .await
        .map_err(|e| anyhow!("credential {cid}: {e}"))?;
    let ctype = ctx
        .store
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
    Ok((cred, ctype, inputs))
}

pub async fn build(ctx: &Context_<'_>, update: &Row) -> anyhow::Result<Built> {
    let store = ctx.store;
    let id = int(update, "id").context("update without id")?;
    let source_id = int(update, "inventory_source").context("update without a source")?;
    let source_row = store
        .get(&INVENTORY_SOURCES, source_id)
        .await
        .map_err(|_| anyhow!("the update's inventory source {source_id} no longer exists"))?;
    let inventory = match int(update, "inventory") {
        Some(i) => store
            .get(&INVENTORIES, i)
            .await
            .map_err(|_| anyhow!("the update's inventory {i} no longer exists"))?,
        None => bail!("Inventory Source is not associated with an Inventory."),
    };
    let source = text(update, "source").to_string();
    let source_vars = parse_vars(text(update, "source_vars")).unwrap_or_default();
    let job_dir = ctx.job_dir.display().to_string();
    let mut secrets = Vec::new();
    let mut dir = PrivateDataDir::new();
    let mut env: Map<String, Value> = ctx.task_env.clone();
    for (k, v) in [
        ("INVENTORY_SOURCE_ID", source_id.to_string()),
        ("INVENTORY_UPDATE_ID", id.to_string()),
        ("ANSIBLE_FORCE_COLOR", "True".into()),
        ("AWX_HOST", ctx.url_base.clone()),
    ] {
        env.insert(k.into(), json!(v));
    }
    for (k, v) in STANDARD_ENV {
        env.insert((*k).into(), json!(v));
    }

    // The credentials: the cloud one (the source's `credential`, injected as the source's
    // injector does) and every other (injected as for a job: AWX's `get_extra_credentials`).
    let mut injected = credentials::Injected::default();
    let mut cloud_inputs = None;
    let creds = store
        .linked(&INVENTORY_UPDATE_CREDENTIALS, true, id)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let cloud_id = int(update, "credential");
    for cid in creds {
        let (cred, ctype, inputs) = inputs_of(ctx, cid, &mut secrets).await?;
        let def = credentials::TypeDef::from_row(&ctype);
        let missing = credentials::missing_required(&def, &inputs);
        if !missing.is_empty() {
            return Err(PreStart(format!(
                "Inventory Update cannot start because Credential {} does not provide one or more required fields ({}).",
                text(&cred, "name"),
                missing.join(", ")
            ))
            .into());
        }
        if Some(cid) == cloud_id && source == "satellite6" {
            // `satellite6.get_plugin_env`.
            let get = |k: &str| inputs.get(k).cloned().unwrap_or(json!(""));
            env.insert("FOREMAN_SERVER".into(), get("host"));
            env.insert("FOREMAN_USER".into(), get("username"));
            env.insert("FOREMAN_PASSWORD".into(), get("password"));
        } else {
            credentials::inject(&def, &inputs, &ctx.job_dir, &mut injected);
        }
        if Some(cid) == cloud_id {
            cloud_inputs = Some(inputs);
        }
    }
    if cloud_id.is_some() && plugin(&source).is_some() {
        env.insert("INVENTORY_UPDATE_ID".into(), json!(id.to_string()));
    }
    env.extend(injected.env);
    for f in injected.files {
        dir = dir.file(ZipEntry::file(f.path, f.mode, f.data.into_bytes()));
    }

    let mut args: Vec<String> = vec![
        "ansible-inventory".into(),
        "--list".into(),
        "--export".into(),
    ];
    // A constructed inventory's inputs first, in order, each as a script with the variables
    // AWX's `towervars` adds.
    if text(&inventory, "kind") == "constructed" {
        for input in crate::constructed::input_inventories(store, &inventory).await? {
            let iid = int(&input, "id").unwrap_or_default();
            let input_hosts = crate::inventory_render::inventory_hosts(store, &input).await?;
            let (mut inv_json, _) =
                crate::inventory_render::render_inventory(store, &input, &input_hosts).await?;
            crate::constructed::add_towervars(store, &input, &mut inv_json).await?;
            let rel = format!("inventory/hosts_{iid}");
            dir = dir.file(ZipEntry::file(
                rel.clone(),
                0o700,
                rawx_runner::inventory_script(&inv_json),
            ));
            args.push("-i".into());
            args.push(format!("{job_dir}/{rel}"));
        }
    }
    let source_location = match source.as_str() {
        "scm" => {
            let pid = int(&source_row, "source_project").ok_or_else(|| {
                anyhow!("Could not find project to run SCM inventory update from.")
            })?;
            let project = store
                .get(&PROJECTS, pid)
                .await
                .map_err(|_| anyhow!("the source's project {pid} no longer exists"))?;
            let project_dir = ctx.projects_dir.join(text(&project, "local_path"));
            if text(&project, "local_path").is_empty() || !project_dir.is_dir() {
                bail!(
                    "the project directory {} is missing: update the project first",
                    project_dir.display()
                );
            }
            dir = dir.project_dir(&project_dir).with_context(|| {
                format!("reading the project directory {}", project_dir.display())
            })?;
            // `scm` sources pass their variables as environment (AWX's `build_env`).
            for (k, v) in &source_vars {
                if !env.contains_key(k) && !BLOCKED_ENV.contains(&k.as_str()) {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    env.insert(k.clone(), json!(v));
                }
            }
            let path = text(update, "source_path");
            let path = if path.is_empty() { "." } else { path };
            if std::path::Path::new(path)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                bail!("source_path {path} leaves the project");
            }
            let local = project_dir.join(path);
            if !local.exists() {
                bail!(
                    "source_path {path} is not in the project {}",
                    project_dir.display()
                );
            }
            (format!("project/{path}"), local.is_dir())
        }
        "file" => bail!("Cannot update file sources through the task system."),
        s => {
            let config = plugin_config(s, &source_vars, cloud_inputs.as_ref())
                .ok_or_else(|| anyhow!("unknown inventory source {s}"))?;
            let (name, _, _) = plugin(s).unwrap_or_default();
            let rel = format!("inventory/{name}.yml");
            // JSON is YAML: what AWX's `yaml.safe_dump` writes, in the syntax both read.
            dir = dir.file(ZipEntry::file(
                rel.clone(),
                0o700,
                Value::Object(config).to_string().into_bytes(),
            ));
            env.insert("ANSIBLE_INVENTORY_ENABLED".into(), json!("auto"));
            if matches!(s, "azure_rm" | "ec2" | "gce") {
                env.insert("ANSIBLE_JINJA2_NATIVE".into(), json!("True"));
            }
            if s == "constructed" {
                env.insert("ANSIBLE_INVENTORY_ENABLED".into(), json!("auto,script"));
                env.insert(
                    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED".into(),
                    json!("True"),
                );
            }
            (rel, false)
        }
    };
    let (rel, is_dir) = source_location;
    let container = format!("{job_dir}/{rel}");
    args.push("-i".into());
    args.push(container.clone());
    let limit = text(update, "limit");
    if !limit.is_empty() {
        args.push("--limit".into());
        args.push(limit.into());
    }
    args.push("--output".into());
    args.push(format!("{job_dir}/artifacts/{id}/output.json"));
    args.push("--playbook-dir".into());
    args.push(if is_dir {
        container
    } else {
        container
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or(container.clone())
    });
    let verbosity = int(update, "verbosity").unwrap_or(0);
    if verbosity > 0 {
        args.push(format!(
            "-{}",
            "v".repeat((verbosity * 2 + 1).min(5) as usize)
        ));
    }
    // `env/cmdline` is for ansible-playbook; a raw command is the `args` file, one line.
    let line: Vec<String> = args.iter().map(|a| rawx_runner::quote(a)).collect();
    dir = dir.file(ZipEntry::file("args", 0o600, line.join(" ").into_bytes()));

    let mut settings = Map::new();
    settings.insert("suppress_ansible_output".into(), json!(true));
    let timeout = int(update, "timeout").unwrap_or(0);
    if timeout > 0 {
        settings.insert("job_timeout".into(), json!(timeout));
    }
    let dir = dir.envvars(env).settings(settings);
    let mut kwargs = Map::new();
    kwargs.insert("ident".into(), json!(id));
    Ok(Built {
        kwargs,
        dir,
        secrets,
        hosts: HashMap::new(),
        facts: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_configuration_is_awxs() {
        let vars: Map<String, Value> =
            serde_json::from_value(json!({"regions": ["us-east-1"], "plugin": "mine"})).unwrap();
        let c = plugin_config("ec2", &vars, None).unwrap();
        assert_eq!(c["plugin"], "aws_ec2");
        assert_eq!(c["regions"], json!(["us-east-1"]));
        assert_eq!(
            plugin_config("satellite6", &Map::new(), None).unwrap()["plugin"],
            "theforeman.foreman.foreman"
        );
        assert_eq!(
            plugin_config("controller", &Map::new(), None).unwrap()["plugin"],
            "tower"
        );
        let inputs: Map<String, Value> = serde_json::from_value(json!({"project": "p1"})).unwrap();
        assert_eq!(
            plugin_config("gce", &Map::new(), Some(&inputs)).unwrap()["projects"],
            json!(["p1"])
        );
        assert!(plugin_config("scm", &Map::new(), None).is_none());
    }
}
