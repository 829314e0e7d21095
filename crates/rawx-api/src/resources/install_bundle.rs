//! `/api/v2/instances/N/install_bundle/`: AWX's `InstanceInstallBundle`, a
//! `<hostname>_install_bundle.tar.gz` that sets up a new execution or hop node. AWX's bundle is
//! an inventory, group vars and a playbook that needs the `ansible.receptor` collection from
//! Galaxy, plus TLS files signed by the mesh CA. rawx's node is `rawx receptor`, so its bundle
//! needs no collection: the playbook uses only `ansible.builtin` modules to copy the `rawx`
//! binary, the node's `receptor.conf` (rendered here: its node id, its listener and the
//! addresses it peers to, its work command) and a systemd unit, and `install.sh` does the same
//! on the host it runs on without Ansible. rawx has no mesh CA, so the bundle carries no
//! certificates and the links it configures are plain TCP or websocket (add `tls-client` /
//! `tls-server` sections to the config to use TLS).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::fetch_visible;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_model::filter::Filter;
use rawx_model::resources::{INSTANCES, INSTANCE_PEERS, RECEPTOR_ADDRESSES};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::Row;
use serde_json::json;
use std::sync::Arc;

/// What a bundle is made from: the node and the addresses it listens on and dials.
pub struct BundleNode {
    pub hostname: String,
    pub node_type: String,
    /// Its canonical address: (protocol, port, websocket path).
    pub listener: Option<(String, i64, String)>,
    /// (protocol, full address) of each peer.
    pub peers: Vec<(String, String)>,
}

pub async fn get(
    State(s): State<Arc<AppState>>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if !(a.0.actor.is_superuser || a.0.actor.is_system_auditor) {
        return Err(ApiError::forbidden());
    }
    let row = fetch_visible(&s, &a.0.actor, &INSTANCES, &id).await?;
    let node_type = text(&row, "node_type").to_string();
    if node_type != "execution" && node_type != "hop" {
        return Ok((
            StatusCode::BAD_REQUEST,
            Json(
                json!({"msg": "Install bundle can only be generated for execution or hop nodes."}),
            ),
        )
            .into_response());
    }
    let iid = int(&row, "id").unwrap_or_default();
    let own = s
        .store
        .list_all(
            &RECEPTOR_ADDRESSES,
            &Filter::eq("instance", ColumnType::Int, json!(iid)),
            &[("id", false)],
        )
        .await?;
    let listener = own
        .iter()
        .find(|a| a.get("canonical") == Some(&json!(true)))
        .map(|a| {
            (
                text(a, "protocol").to_string(),
                int(a, "port").unwrap_or(27199),
                text(a, "websocket_path").to_string(),
            )
        });
    let mut peers = Vec::new();
    for target in s.store.linked(&INSTANCE_PEERS, true, iid).await? {
        let addr: Row = s.store.get(&RECEPTOR_ADDRESSES, target).await?;
        peers.push((
            text(&addr, "protocol").to_string(),
            super::receptor_addresses::full_address(&addr),
        ));
    }
    // A node provisioned by hand has no links yet: it dials the controllers' own nodes (what
    // AWX's `peers_from_control_nodes` arranges from the other side).
    if peers.is_empty() {
        for ctl in s
            .store
            .list_all(&INSTANCES, &Filter::All(vec![]), &[("id", false)])
            .await?
            .iter()
            .filter(|i| matches!(text(i, "node_type"), "control" | "hybrid"))
        {
            let f = Filter::eq("instance", ColumnType::Int, json!(int(ctl, "id"))).and(Filter::eq(
                "canonical",
                ColumnType::Bool,
                json!(true),
            ));
            if let Some(addr) = s.store.find(&RECEPTOR_ADDRESSES, &f).await? {
                peers.push((
                    text(&addr, "protocol").to_string(),
                    super::receptor_addresses::full_address(&addr),
                ));
            }
        }
    }
    let node = BundleNode {
        hostname: text(&row, "hostname").to_string(),
        node_type,
        listener,
        peers,
    };
    let body = tarball(&node).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename={}_install_bundle.tar.gz",
                    node.hostname
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// The node's `receptor.conf`, for `rawx receptor` (Receptor's own syntax, so Receptor could
/// read it too). Paths are the packaged ones; `install.sh` moves them under `PREFIX`.
pub fn receptor_conf(n: &BundleNode) -> String {
    let mut c = format!(
        "---\n- node:\n    id: {}\n    datadir: /var/lib/receptor\n\
         - log-level: info\n\
         - control-service:\n    service: control\n    filename: /var/run/receptor/receptor.sock\n    permissions: 0660\n",
        n.hostname
    );
    if let Some((protocol, port, path)) = &n.listener {
        if protocol == "tcp" {
            c += &format!("- tcp-listener:\n    port: {port}\n");
        } else {
            c += &format!("- ws-listener:\n    port: {port}\n");
            if !path.is_empty() {
                c += &format!("    path: /{path}\n");
            }
        }
    }
    for (protocol, address) in &n.peers {
        if protocol == "tcp" {
            c += &format!("- tcp-peer:\n    address: {address}\n    redial: true\n");
        } else {
            let url = if address.contains("://") {
                address.clone()
            } else {
                format!("{protocol}://{address}")
            };
            c += &format!("- ws-peer:\n    address: {url}\n    redial: true\n");
        }
    }
    if n.node_type == "execution" {
        c += "- work-command:\n    worktype: ansible-runner\n    command: ansible-runner\n    params: worker\n    allowruntimeparams: true\n";
    }
    c
}

const SERVICE: &str = "\
[Unit]
Description=rawx receptor (Receptor-compatible mesh node)
After=network-online.target

[Service]
ExecStart=/usr/local/bin/rawx receptor --config /etc/receptor/receptor.conf
RuntimeDirectory=receptor
StateDirectory=receptor
Restart=always

[Install]
WantedBy=multi-user.target
";

const PLAYBOOK: &str = "\
---
# Installs rawx as this node's receptor. Only ansible.builtin modules: no Galaxy collection.
# Run: ansible-playbook -i inventory.yml install_receptor.yml -e rawx_binary=/path/to/rawx
- hosts: all
  become: true
  tasks:
    - name: Directories
      ansible.builtin.file:
        path: \"{{ item }}\"
        state: directory
        mode: \"0755\"
      loop: [/etc/receptor, /var/lib/receptor]
    - name: The rawx binary
      ansible.builtin.copy:
        src: \"{{ rawx_binary }}\"
        dest: /usr/local/bin/rawx
        mode: \"0755\"
    - name: The node's configuration
      ansible.builtin.copy:
        src: receptor/receptor.conf
        dest: /etc/receptor/receptor.conf
        mode: \"0644\"
      notify: restart rawx-receptor
    - name: The service
      ansible.builtin.copy:
        src: receptor/rawx-receptor.service
        dest: /etc/systemd/system/rawx-receptor.service
        mode: \"0644\"
      notify: restart rawx-receptor
    - name: ansible-runner for the node's work
      ansible.builtin.pip:
        name: ansible-runner
      when: rawx_node_type == 'execution'
    - name: Started at boot and now
      ansible.builtin.systemd_service:
        name: rawx-receptor
        enabled: true
        state: started
        daemon_reload: true
  handlers:
    - name: restart rawx-receptor
      ansible.builtin.systemd_service:
        name: rawx-receptor
        state: restarted
        daemon_reload: true
";

const INSTALL_SH: &str = "\
#!/bin/sh
# Installs rawx as this host's receptor without Ansible.
#   RAWX_BINARY  the rawx binary to install (default: `rawx` on PATH)
#   PREFIX       install under this directory instead of / (paths in the config follow)
#   START        `systemd` (default when PREFIX is unset and systemctl exists), `foreground`
#                (exec the node), or `none`
set -eu
here=$(cd \"$(dirname \"$0\")\" && pwd)
bin=${RAWX_BINARY:-$(command -v rawx || true)}
[ -n \"$bin\" ] || { echo 'install.sh: set RAWX_BINARY to the rawx binary' >&2; exit 2; }
prefix=${PREFIX:-}
mkdir -p \"$prefix/usr/local/bin\" \"$prefix/etc/receptor\" \"$prefix/var/lib/receptor\" \"$prefix/var/run/receptor\"
cp \"$bin\" \"$prefix/usr/local/bin/rawx\"
chmod 0755 \"$prefix/usr/local/bin/rawx\"
sed -e \"s#/var/lib/receptor#$prefix/var/lib/receptor#\" -e \"s#/var/run/receptor#$prefix/var/run/receptor#\" \\
    \"$here/receptor/receptor.conf\" > \"$prefix/etc/receptor/receptor.conf\"
\"$prefix/usr/local/bin/rawx\" receptor --config \"$prefix/etc/receptor/receptor.conf\" --check
start=${START:-}
if [ -z \"$start\" ]; then
  if [ -z \"$prefix\" ] && command -v systemctl >/dev/null; then start=systemd; else start=none; fi
fi
case $start in
  systemd)
    cp \"$here/receptor/rawx-receptor.service\" /etc/systemd/system/rawx-receptor.service
    systemctl daemon-reload
    systemctl enable --now rawx-receptor ;;
  foreground)
    exec \"$prefix/usr/local/bin/rawx\" receptor --config \"$prefix/etc/receptor/receptor.conf\" ;;
  none) echo \"installed; run: $prefix/usr/local/bin/rawx receptor --config $prefix/etc/receptor/receptor.conf\" ;;
esac
";

/// The bundle's files (path under `<hostname>_install_bundle/`, mode, content).
pub fn files(n: &BundleNode) -> Vec<(String, u32, String)> {
    let inventory = format!(
        "---\nall:\n  hosts:\n    remote-execution:\n      ansible_host: {}\n      ansible_user: <username> # user provided\n      ansible_ssh_private_key_file: ~/.ssh/id_rsa\n",
        n.hostname
    );
    let mut vars = format!(
        "---\nrawx_node_id: {}\nrawx_node_type: {}\n# The rawx binary to install (this machine's path).\nrawx_binary: \"{{{{ lookup('env', 'RAWX_BINARY') | default('/usr/local/bin/rawx', true) }}}}\"\n",
        n.hostname, n.node_type
    );
    match &n.listener {
        Some((protocol, port, _)) => {
            let protocol = if protocol == "wss" { "ws" } else { protocol };
            vars += &format!(
                "receptor_listener: true\nreceptor_protocol: {protocol}\nreceptor_port: {port}\n"
            );
        }
        None => vars += "receptor_listener: false\n",
    }
    if !n.peers.is_empty() {
        vars += "receptor_peers:\n";
        for (protocol, address) in &n.peers {
            vars += &format!("  - address: {address}\n    protocol: {protocol}\n");
        }
    }
    vec![
        ("inventory.yml".into(), 0o644, inventory),
        ("group_vars/all.yml".into(), 0o644, vars),
        ("install_receptor.yml".into(), 0o644, PLAYBOOK.into()),
        ("install.sh".into(), 0o755, INSTALL_SH.into()),
        ("receptor/receptor.conf".into(), 0o644, receptor_conf(n)),
        (
            "receptor/rawx-receptor.service".into(),
            0o644,
            SERVICE.into(),
        ),
    ]
}

fn tarball(n: &BundleNode) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for (path, mode, content) in files(n) {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(mode);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(
            &mut h,
            format!("{}_install_bundle/{path}", n.hostname),
            content.as_bytes(),
        )?;
    }
    tar.into_inner()?.finish()
}
