//! The files of a project's directory or checkout that AWX offers: playbooks (`Project.playbooks`,
//! `could_be_playbook`, `skip_directory`: `.yml`/`.yaml` files with a `hosts:`, `include:` or
//! `import_playbook:` line, or vault-encrypted, outside `roles`, `tasks`, `group_vars`,
//! `host_vars` and dot directories, symlinked directories not followed) and inventories
//! (`Project.inventories`, `could_be_inventory`). A project update records both on its project
//! (AWX's `playbook_files` / `inventory_files`), so every web node answers from the store; a
//! manual project's directory is read as it is.

use serde_json::Value;
use std::path::Path as FsPath;

/// A project's recorded `playbook_files` / `inventory_files` (a JSON list, stored as text);
/// `None` when no update has recorded them (a project from before they were kept).
pub fn recorded(v: Option<&Value>) -> Option<Vec<String>> {
    let list = match v? {
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
        other => other.clone(),
    };
    serde_json::from_value(list).ok()
}

/// The playbooks under `root`, as relative paths sorted case-insensitively.
pub fn playbooks(root: &FsPath) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort_by_key(|p| p.to_lowercase());
    out
}

/// The files under `root` that could be an inventory; at most 51, as AWX stops after 50.
pub fn inventories(root: &FsPath) -> Vec<String> {
    let mut out = Vec::new();
    walk_with(root, root, &mut out, &could_be_inventory);
    out.truncate(51);
    out.sort_by_key(|p| p.to_lowercase());
    out
}

fn could_be_inventory(path: &FsPath) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name == "inventory" || name == "hosts" {
        return true;
    }
    let executable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if path.extension().and_then(|e| e.to_str()) == Some("ini") || executable {
        return true;
    }
    if path.extension().is_some() {
        return false;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    // AWX's `^[a-zA-Z0-9_.=\[\]]` on one of the first eleven lines.
    String::from_utf8_lossy(&bytes).lines().take(11).any(|l| {
        l.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "_.=[]".contains(c))
    })
}

fn skip_directory(rel: &FsPath) -> bool {
    rel.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s == "roles" || s == "tasks" || s == "group_vars" || s == "host_vars" || s.starts_with('.')
    })
}

fn walk(root: &FsPath, dir: &FsPath, out: &mut Vec<String>) {
    walk_with(root, dir, out, &could_be_playbook)
}

fn walk_with(root: &FsPath, dir: &FsPath, out: &mut Vec<String>, keep: &dyn Fn(&FsPath) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(kind) = e.file_type() else { continue };
        let rel = path.strip_prefix(root).unwrap_or(&path);
        if kind.is_dir() {
            if !skip_directory(rel) {
                walk_with(root, &path, out, keep);
            }
        } else if keep(&path) && !rel.parent().is_some_and(skip_directory) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

fn could_be_playbook(path: &FsPath) -> bool {
    if !matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml" | "yaml")
    ) {
        return false;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .enumerate()
        .any(|(n, line)| (n == 0 && line.starts_with("$ANSIBLE_VAULT;")) || playbook_line(line))
}

/// AWX's `^\s*?-?\s*?(?:hosts|(ansible\.builtin\.)?include|(ansible\.builtin\.)?import_playbook):`
fn playbook_line(line: &str) -> bool {
    let l = line.trim_start();
    let l = l.strip_prefix('-').unwrap_or(l).trim_start();
    let l = l.strip_prefix("ansible.builtin.").unwrap_or(l);
    ["hosts:", "include:", "import_playbook:"]
        .iter()
        .any(|k| l.starts_with(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &FsPath, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn lines_that_make_a_playbook() {
        assert!(playbook_line("- hosts: all"));
        assert!(playbook_line("  hosts: web"));
        assert!(playbook_line("- import_playbook: other.yml"));
        assert!(playbook_line("- ansible.builtin.import_playbook: x.yml"));
        assert!(playbook_line("-   include: x.yml"));
        assert!(!playbook_line("- name: a task"));
        assert!(!playbook_line("# hosts: commented"));
    }

    #[test]
    fn finds_inventories_as_awx_does() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let w = |p: &str, s: &str| write(root, p, s);
        w("inventory", "");
        w("envs/prod/hosts", "");
        w("lab.ini", "[web]\n");
        w("staging", "[web]\nh1\n");
        w("README", "# not one\n");
        w("site.yml", "- hosts: all\n");
        w("roles/r/inventory", "");
        w("dyn.py", "#!/usr/bin/env python\n");
        std::fs::set_permissions(root.join("dyn.py"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert_eq!(
            inventories(root),
            [
                "dyn.py",
                "envs/prod/hosts",
                "inventory",
                "lab.ini",
                "staging"
            ]
        );
    }

    #[test]
    fn finds_playbooks_as_awx_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let w = |p: &str, s: &str| write(root, p, s);
        w("site.yml", "- hosts: all\n  tasks: []\n");
        w("B/deploy.yaml", "---\n- name: x\n  hosts: web\n");
        w("vars.yml", "a: 1\n");
        w("readme.md", "- hosts: all\n");
        w("roles/r/tasks/main.yml", "- hosts: all\n");
        w("group_vars/all.yml", "- hosts: all\n");
        w(".git/x.yml", "- hosts: all\n");
        w("vault.yml", "$ANSIBLE_VAULT;1.1;AES256\n3030\n");
        assert_eq!(playbooks(root), ["B/deploy.yaml", "site.yml", "vault.yml"]);
    }
}
