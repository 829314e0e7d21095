//! `rawx manage list-instances | provision-instance | deprovision-instance | register-queue`:
//! AWX's instance administration, on the store directly, so they work with the server down.
//!
//! Group membership is stored and follows AWX's policies; every command that changes
//! instances or groups applies them at once (as the task role does on its next pass), so
//! `list-instances` shows what jobs will use even with the server down.

use anyhow::{bail, Context};
use rawx_model::filter::{Cond, Filter};
use rawx_model::resources::{
    policy_list, INSTANCES, INSTANCE_GROUPS, INSTANCE_GROUP_MEMBERS, JOB_KINDS,
};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::Row;
use rawx_store::DynStore;
use serde_json::{json, Value};

fn db(e: rawx_store::DbError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn apply_policies(store: &DynStore) -> anyhow::Result<()> {
    rawx_control::apply_policies(store).await?;
    Ok(())
}

fn enabled(row: &Row) -> bool {
    row.get("enabled") != Some(&json!(false))
}

/// `2026-11-25T07:31:20.123456Z` as AWX prints a heartbeat: `2026-11-25 07:31:20`.
fn heartbeat(stamp: &str) -> String {
    stamp
        .get(..19)
        .map_or_else(|| stamp.to_string(), |s| s.replacen('T', " ", 1))
}

async fn find_instance(store: &DynStore, hostname: &str) -> anyhow::Result<Option<Row>> {
    let f = Filter::eq("hostname", ColumnType::Text, json!(hostname));
    store.find(&INSTANCES, &f).await.map_err(db)
}

pub async fn list(store: &DynStore) -> anyhow::Result<()> {
    let all = Filter::All(vec![]);
    let groups = store
        .list_all(&INSTANCE_GROUPS, &all, &[("id", false)])
        .await
        .map_err(db)?;
    let instances = store
        .list_all(&INSTANCES, &all, &[("hostname", false)])
        .await
        .map_err(db)?;
    let mut grouped = Vec::new();
    let mut sections: Vec<(String, Option<&Row>, Vec<&Row>)> = Vec::new();
    for g in &groups {
        let ids = store
            .linked(
                &INSTANCE_GROUP_MEMBERS,
                true,
                int(g, "id").unwrap_or_default(),
            )
            .await
            .map_err(db)?;
        let members: Vec<&Row> = instances
            .iter()
            .filter(|i| int(i, "id").is_some_and(|id| ids.contains(&id)))
            .collect();
        grouped.extend(ids);
        sections.push((text(g, "name").to_string(), Some(g), members));
    }
    let ungrouped: Vec<&Row> = instances
        .iter()
        .filter(|i| int(i, "id").is_some_and(|id| !grouped.contains(&id)))
        .collect();
    if !ungrouped.is_empty() {
        sections.push(("ungrouped".into(), None, ungrouped));
    }
    if sections.is_empty() {
        println!("No instance groups or instances registered yet (`rawx serve` registers this node at start).");
    }
    for (name, group, members) in sections {
        let capacity: i64 = members
            .iter()
            .filter(|i| enabled(i))
            .filter_map(|i| int(i, "capacity"))
            .sum();
        let mut head = format!("[{name} capacity={capacity}");
        if let Some(g) = group {
            match int(g, "policy_instance_percentage") {
                Some(p) if p > 0 => head.push_str(&format!(" policy={p}%")),
                _ => {}
            }
            match int(g, "policy_instance_minimum") {
                Some(m) if m > 0 => head.push_str(&format!(" policy>={m}")),
                _ => {}
            }
        }
        println!("{head}]");
        for i in members {
            let disabled = if enabled(i) { "" } else { "[DISABLED] " };
            let version = match text(i, "version") {
                "" => "?",
                v => v,
            };
            let mut line = format!(
                "\t{disabled}{} capacity={} node_type={} version={version}",
                text(i, "hostname"),
                int(i, "capacity").unwrap_or(0),
                text(i, "node_type"),
            );
            match text(i, "last_seen") {
                "" => line.push_str(" heartbeat=never"),
                seen => line.push_str(&format!(" heartbeat=\"{}\"", heartbeat(seen))),
            }
            println!("{line}");
        }
        println!();
    }
    Ok(())
}

pub async fn provision(store: &DynStore, hostname: &str, node_type: &str) -> anyhow::Result<()> {
    let hostname = hostname.trim();
    if hostname.is_empty() {
        bail!("--hostname is empty: name the node to register");
    }
    if let Some(existing) = find_instance(store, hostname).await? {
        let was = text(&existing, "node_type");
        if was == node_type {
            println!("Instance already registered {hostname} (node_type={node_type}).");
            return Ok(());
        }
        let id = int(&existing, "id").unwrap_or_default();
        let mut row = Row::new();
        row.insert("node_type".into(), json!(node_type));
        store.update(&INSTANCES, id, &row).await.map_err(db)?;
        println!("Instance {hostname} changed from node_type={was} to node_type={node_type}.");
        return apply_policies(store).await;
    }
    // The figures start at zero, as in AWX, until the node's first health check; the version
    // is known only for nodes running this controller.
    let version = match node_type {
        "control" | "hybrid" => env!("CARGO_PKG_VERSION"),
        _ => "",
    };
    let values = json!({
        "hostname": hostname, "uuid": "", "ip_address": "", "version": version,
        "node_type": node_type, "node_state": "installed", "capacity": 0,
        "consumed_capacity": 0, "percent_capacity_remaining": 0.0, "jobs_running": 0,
        "jobs_total": 0, "cpu": "0.0", "memory": 0, "cpu_capacity": 0, "mem_capacity": 0,
        "capacity_adjustment": "1.00", "enabled": true, "managed_by_policy": true,
        "managed": true, "errors": "",
    });
    let row: Row = values.as_object().cloned().unwrap_or_default();
    let id = store
        .insert(&INSTANCES, &row)
        .await
        .map_err(db)
        .with_context(|| format!("registering instance {hostname}"))?;
    println!("Successfully registered instance {hostname} (id {id}, node_type={node_type}).");
    apply_policies(store).await
}

pub async fn deprovision(store: &DynStore, hostname: &str) -> anyhow::Result<()> {
    let Some(existing) = find_instance(store, hostname).await? else {
        println!("No instance found matching name {hostname}: nothing to remove.");
        return Ok(());
    };
    let on_it = Filter::All(vec![
        Filter::On {
            path: vec![],
            column: "status",
            ctype: ColumnType::Text,
            cond: Cond::In(vec![json!("waiting"), json!("running")]),
        },
        Filter::Any(vec![
            Filter::eq("execution_node", ColumnType::Text, json!(hostname)),
            Filter::eq("controller_node", ColumnType::Text, json!(hostname)),
        ]),
    ]);
    let mut busy = Vec::new();
    for kind in JOB_KINDS {
        let rows = store
            .list_all(kind.resource, &on_it, &[("id", false)])
            .await
            .map_err(db)?;
        busy.extend(
            rows.iter()
                .map(|r| format!("{} {}", kind.resource.type_name, int(r, "id").unwrap_or(0))),
        );
    }
    if !busy.is_empty() {
        bail!(
            "instance {hostname} has {} running job(s) ({}): cancel them or wait for them to finish, then deprovision it",
            busy.len(),
            busy.join(", ")
        );
    }
    let id = int(&existing, "id").unwrap_or_default();
    store.delete(&INSTANCES, id).await.map_err(db)?;
    println!("Successfully deprovisioned {hostname}.");
    apply_policies(store).await?;
    // A node that is still up writes its row again at its next heartbeat, as in AWX.
    let recent =
        rawx_model::format_time(time::OffsetDateTime::now_utc() - time::Duration::seconds(120));
    if text(&existing, "last_seen") > recent.as_str() {
        println!(
            "note: {hostname} sent a heartbeat in the last 2 minutes: stop it, or it registers again."
        );
    }
    Ok(())
}

pub async fn register_queue(
    store: &DynStore,
    name: &str,
    percent: Option<u8>,
    minimum: Option<u32>,
    hostnames: &[String],
) -> anyhow::Result<()> {
    let name = name.trim();
    if name.is_empty() {
        bail!("--queuename is empty: name the instance group");
    }
    let hostnames: Vec<&str> = hostnames
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .collect();
    let mut named = Vec::new();
    for h in &hostnames {
        // AWX's rule: a hop node runs nothing, so it is never a member.
        match find_instance(store, h).await? {
            Some(i) if text(&i, "node_type") != "hop" => named.push(i),
            _ => bail!(
                "Instance does not exist or cannot run jobs: {h} (register it first with `rawx manage provision-instance --hostname …`)"
            ),
        }
    }
    let mut values = Row::new();
    // The installer's groups start as AWX's installer registers them: every node of their kind.
    let builtin = [
        rawx_model::resources::CONTROL_PLANE,
        rawx_model::resources::DEFAULT_GROUP,
    ]
    .contains(&name);
    if let Some(p) = percent {
        values.insert("policy_instance_percentage".into(), json!(p));
    }
    if let Some(m) = minimum {
        values.insert("policy_instance_minimum".into(), json!(m));
    }
    let f = Filter::eq("name", ColumnType::Text, json!(name));
    let group = match store.find(&INSTANCE_GROUPS, &f).await.map_err(db)? {
        Some(existing) => {
            let id = int(&existing, "id").unwrap_or_default();
            let changed: Vec<String> = values
                .iter()
                .filter(|(k, v)| existing.get(k.as_str()) != Some(v))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if changed.is_empty() {
                println!("Instance Group already registered {name}");
            } else {
                store
                    .update(&INSTANCE_GROUPS, id, &values)
                    .await
                    .map_err(db)?;
                println!(
                    "Instance Group already registered {name}; updated {}",
                    changed.join(", ")
                );
            }
            store.get(&INSTANCE_GROUPS, id).await.map_err(db)?
        }
        None => {
            let mut body: serde_json::Map<String, Value> = values;
            body.insert("name".into(), json!(name));
            if builtin {
                body.entry("policy_instance_percentage")
                    .or_insert(json!(100));
            }
            let row = rawx_model::validate::validate(
                &INSTANCE_GROUPS,
                &Value::Object(body),
                rawx_model::validate::Mode::Create,
            )
            .map_err(|e| anyhow::anyhow!("{}", e.to_json()))?;
            let id = store.insert(&INSTANCE_GROUPS, &row).await.map_err(db)?;
            println!("Creating instance group {name} (id {id})");
            store.get(&INSTANCE_GROUPS, id).await.map_err(db)?
        }
    };
    // As AWX: named instances join now and stay through the group's `policy_instance_list`
    // (the command never removes anyone already in the group).
    let gid = int(&group, "id").unwrap_or_default();
    let mut list = policy_list(&group);
    for i in &named {
        let host = text(i, "hostname").to_string();
        if !list.contains(&host) {
            list.push(host);
        }
    }
    // The list first: a task-manager pass between the writes then agrees with the links.
    if list != policy_list(&group) {
        let mut r = Row::new();
        r.insert(
            "policy_instance_list".into(),
            json!(serde_json::to_string(&list)?),
        );
        store.update(&INSTANCE_GROUPS, gid, &r).await.map_err(db)?;
    }
    for i in &named {
        store
            .link(
                &INSTANCE_GROUP_MEMBERS,
                gid,
                int(i, "id").unwrap_or_default(),
            )
            .await
            .map_err(db)?;
        println!("Added instance {} to {name}", text(i, "hostname"));
    }
    apply_policies(store).await
}
