//! `/api/v2/receptor_addresses/` (AWX's `ReceptorAddress`: where a node's Receptor listens)
//! and `/api/v2/mesh_visualizer/` (every instance and who peers to whom). rawx's rows come from
//! the mesh (the task role reads them from the node it talks to), so both only read.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::view::Renderer;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use rawx_model::filter::Filter;
use rawx_model::resources::{INSTANCES, INSTANCE_PEERS, RECEPTOR_ADDRESSES};
use rawx_model::schema::{int, text, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub struct ReceptorAddresses;

/// AWX's `ReceptorAddress.get_full_address` (as written: `ws` gets `wss://` and its path,
/// `wss` neither).
pub fn full_address(row: &Row) -> String {
    let protocol = text(row, "protocol");
    let scheme = if protocol == "ws" { "wss://" } else { "" };
    let path = match text(row, "websocket_path") {
        p if protocol == "ws" && !p.is_empty() => format!("/{p}"),
        _ => String::new(),
    };
    let port = match int(row, "port") {
        Some(p) if p != 0 => format!(":{p}"),
        _ => String::new(),
    };
    format!("{scheme}{}{port}{path}", text(row, "address"))
}

#[async_trait::async_trait]
impl ResourceApi for ReceptorAddresses {
    fn schema(&self) -> &'static Resource {
        &RECEPTOR_ADDRESSES
    }

    async fn derived(
        &self,
        _r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        out.insert("full_address".into(), json!(full_address(row)));
        Ok(())
    }
}

/// `/api/v2/mesh_visualizer/`: AWX's `InstanceNodeSerializer` for every instance and
/// `InstanceLinkSerializer` for every link; system administrators and auditors only.
pub async fn mesh_visualizer(State(s): State<Arc<AppState>>, a: Auth) -> ApiResult<Json<Value>> {
    if !(a.0.actor.is_superuser || a.0.actor.is_system_auditor) {
        return Err(ApiError::forbidden());
    }
    let all = Filter::All(vec![]);
    let instances = s
        .store
        .list_all(&INSTANCES, &all, &[("hostname", false)])
        .await?;
    let addresses = s
        .store
        .list_all(&RECEPTOR_ADDRESSES, &all, &[("id", false)])
        .await?;
    let host: HashMap<i64, &str> = instances
        .iter()
        .filter_map(|i| Some((int(i, "id")?, text(i, "hostname"))))
        .collect();
    let nodes: Vec<Value> = instances
        .iter()
        .map(|i| {
            json!({"id": int(i, "id"), "hostname": text(i, "hostname"), "node_type": text(i, "node_type"),
                   "node_state": text(i, "node_state"), "enabled": i.get("enabled").cloned().unwrap_or(json!(true))})
        })
        .collect();
    let mut links = Vec::new();
    for i in &instances {
        let Some(src) = int(i, "id") else { continue };
        for target in s.store.linked(&INSTANCE_PEERS, true, src).await? {
            let Some(addr) = addresses.iter().find(|a| int(a, "id") == Some(target)) else {
                continue;
            };
            let Some(target_host) = int(addr, "instance").and_then(|t| host.get(&t)) else {
                continue;
            };
            // rawx stores only the links the mesh reports as up.
            links.push(json!({
                "id": links.len() + 1,
                "related": {"source_instance": format!("/api/v2/instances/{src}/"),
                            "target_address": format!("/api/v2/receptor_addresses/{target}/")},
                "source": text(i, "hostname"), "target": target_host,
                "target_full_address": full_address(addr), "link_state": "established",
            }));
        }
    }
    Ok(Json(json!({"nodes": nodes, "links": links})))
}
