//! The private data dir, built in memory: the archive the worker unpacks and runs from.
//!
//! ```text
//! env/extravars  env/envvars  env/passwords  env/settings  env/cmdline  env/ssh_key   (0600)
//! inventory/hosts   an executable script printing the inventory JSON, as AWX writes it (0700)
//! project/…         the project's files, modes and symlinks kept
//! ```
//!
//! Every job input goes in a file here, secrets included, and none in kwargs: see the crate
//! docs ("Where secrets travel") for why and what the worker does with each file.

use std::io;
use std::path::Path;

use serde_json::{Map, Value};

use crate::pyjson;
use crate::zipdata::{entries_from_dir, ZipEntry};

/// Where [`PrivateDataDir`] puts the inventory, relative to the private data dir: the value
/// for the `inventory` kwarg (the worker prefixes it with its own directory).
pub const INVENTORY_PATH: &str = "inventory/hosts";

/// In-memory private data dir. Setters replace earlier values; nothing touches the disk except
/// [`PrivateDataDir::project_dir`], which reads the project once.
#[derive(Default, Clone)]
pub struct PrivateDataDir {
    project: Vec<ZipEntry>,
    inventory: Option<Value>,
    extravars: Option<Map<String, Value>>,
    envvars: Option<Map<String, Value>>,
    passwords: Option<Map<String, Value>>,
    settings: Option<Map<String, Value>>,
    cmdline: Option<String>,
    ssh_key: Option<String>,
    extra: Vec<ZipEntry>,
}

impl std::fmt::Debug for PrivateDataDir {
    // Holds secrets: show only what is set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateDataDir")
            .field("project_entries", &self.project.len())
            .field("inventory", &self.inventory.is_some())
            .field("extravars", &self.extravars.is_some())
            .field("envvars", &self.envvars.is_some())
            .field("passwords", &self.passwords.is_some())
            .field("settings", &self.settings.is_some())
            .field("cmdline", &self.cmdline.is_some())
            .field("ssh_key", &self.ssh_key.is_some())
            .field("extra_entries", &self.extra.len())
            .finish()
    }
}

impl PrivateDataDir {
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies the project directory (recursively, symlinks kept as links) under `project/`.
    pub fn project_dir(mut self, path: &Path) -> io::Result<Self> {
        let entries = entries_from_dir(path)?;
        self.project = entries
            .into_iter()
            .map(|mut e| {
                e.path = format!("project/{}", e.path);
                e
            })
            .collect();
        Ok(self)
    }

    /// Adds one project file from memory (`path` relative to the project root).
    pub fn project_file(mut self, path: &str, perm: u32, data: impl Into<Vec<u8>>) -> Self {
        self.project
            .push(ZipEntry::file(format!("project/{path}"), perm, data));
        self
    }

    /// The inventory in ansible's dynamic-inventory JSON shape (groups with `hosts`, `vars`,
    /// `children`; `_meta.hostvars`), which is what AWX renders. Written as the executable
    /// script `inventory/hosts` that prints it, as AWX does; an empty `_meta.hostvars` is
    /// added when absent so ansible does not call the script once per host with `--host`.
    pub fn inventory_json(mut self, inventory: Value) -> Self {
        self.inventory = Some(inventory);
        self
    }

    /// `env/extravars`: passed as `-e @…/env/extravars` by the worker.
    pub fn extravars(mut self, vars: Map<String, Value>) -> Self {
        self.extravars = Some(vars);
        self
    }

    /// `env/envvars`: merged over the worker's environment for ansible-playbook. Values are
    /// turned into strings (numbers as written, booleans as Python prints them), because the
    /// worker hands them to exec as they are.
    pub fn envvars(mut self, vars: Map<String, Value>) -> Self {
        self.envvars = Some(vars);
        self
    }

    /// `env/passwords`: prompt regex → answer, typed by the worker's pexpect loop.
    pub fn passwords(mut self, prompts: Map<String, Value>) -> Self {
        self.passwords = Some(prompts);
        self
    }

    /// `env/settings`: runner settings (`job_timeout`, `idle_timeout`, `pexpect_timeout`,
    /// `suppress_output_file`, `suppress_ansible_output`, …).
    pub fn settings(mut self, settings: Map<String, Value>) -> Self {
        self.settings = Some(settings);
        self
    }

    /// `env/cmdline`: extra ansible-playbook arguments, shell-quoted (see [`crate::argv`]).
    pub fn cmdline(mut self, cmdline: impl Into<String>) -> Self {
        self.cmdline = Some(cmdline.into());
        self
    }

    /// `env/ssh_key`: a private key the worker loads into an ssh-agent for the run (through a
    /// FIFO; the worker needs `ssh-agent` and `ssh-add` on its PATH).
    pub fn ssh_key(mut self, key: impl Into<String>) -> Self {
        self.ssh_key = Some(key.into());
        self
    }

    /// Any other member, e.g. `artifacts/<ident>/fact_cache/<host>` to pre-seed the fact cache.
    pub fn file(mut self, entry: ZipEntry) -> Self {
        self.extra.push(entry);
        self
    }

    /// The archive members, directories first, ready for [`crate::encode_transmit`].
    pub fn entries(&self) -> Vec<ZipEntry> {
        let mut out = vec![
            ZipEntry::dir("env", 0o700),
            ZipEntry::dir("inventory", 0o700),
        ];
        if !self.project.iter().any(|e| e.path == "project") {
            out.push(ZipEntry::dir("project", 0o755));
        }
        let json_file = |name: &str, v: &Map<String, Value>| {
            ZipEntry::file(
                format!("env/{name}"),
                0o600,
                pyjson::to_string(&Value::Object(v.clone())),
            )
        };
        if let Some(v) = &self.extravars {
            out.push(json_file("extravars", v));
        }
        if let Some(v) = &self.envvars {
            let strings = v
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(env_string(v))))
                .collect();
            out.push(json_file("envvars", &strings));
        }
        if let Some(v) = &self.passwords {
            out.push(json_file("passwords", v));
        }
        if let Some(v) = &self.settings {
            out.push(json_file("settings", v));
        }
        if let Some(c) = &self.cmdline {
            out.push(ZipEntry::file("env/cmdline", 0o600, c.as_bytes()));
        }
        if let Some(k) = &self.ssh_key {
            out.push(ZipEntry::file("env/ssh_key", 0o600, k.as_bytes()));
        }
        if let Some(inv) = &self.inventory {
            out.push(ZipEntry::file(INVENTORY_PATH, 0o700, inventory_script(inv)));
        }
        out.extend(self.project.iter().cloned());
        out.extend(self.extra.iter().cloned());
        out
    }
}

/// An environment value as Python's `str()` would print the JSON scalar.
fn env_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A Python script printing the inventory. The JSON is written ASCII-only (non-ASCII as
/// `\uXXXX`, newlines escaped), so escaping `\` and `'` makes it a complete single-quoted
/// Python literal whatever the host names and variables contain.
pub fn inventory_script(inventory: &Value) -> String {
    let mut inv = inventory.clone();
    if let Value::Object(m) = &mut inv {
        let meta = m
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            meta.entry("hostvars")
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    let json = pyjson::to_string(&inv);
    let literal = json.replace('\\', "\\\\").replace('\'', "\\'");
    format!("#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint('{literal}')\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_files_are_private_and_inventory_executable() {
        let mut env = Map::new();
        env.insert("JOB_ID".into(), json!(42));
        env.insert("FLAG".into(), json!(true));
        let d = PrivateDataDir::new()
            .envvars(env)
            .cmdline("--limit web1")
            .inventory_json(json!({"all": {"hosts": ["a"]}}));
        let entries = d.entries();
        let get = |p: &str| entries.iter().find(|e| e.path == p).unwrap();
        assert_eq!(get("env/envvars").mode, 0o100600);
        assert_eq!(
            get("env/envvars").data,
            br#"{"JOB_ID": "42", "FLAG": "True"}"#.to_vec()
        );
        assert_eq!(get("env/cmdline").data, b"--limit web1".to_vec());
        assert_eq!(get("inventory/hosts").mode, 0o100700);
        assert!(get("env").is_dir());
    }

    #[test]
    fn inventory_script_is_a_safe_python_literal() {
        let s = inventory_script(&json!({"g": {"vars": {"q": "it's \\ \"x\" é\n"}}}));
        assert!(s.contains(r#"print('{"g": {"vars": {"q": "it\'s \\\\ \\"x\\" \\u00e9\\n"}}, "_meta": {"hostvars": {}}}')"#), "{s}");
        assert!(s.is_ascii());
    }
}
