//! Where a job may run: AWX's instance groups. Each pass of the task manager first brings the
//! stored membership to what the groups' policies say (AWX's `apply_cluster_membership_policies`,
//! which AWX runs after every change of an instance or a group: a pass follows any change
//! within one tick), then asks `Placement` whether this node's execution instance may take
//! each pending job.
//!
//! A job launched with instance groups (the template asks for them) prefers only those, in the
//! order given. Otherwise it prefers its template's groups, then its inventory's, then its
//! organization's (each step unless the one before sets `prevent_instance_group_fallback`),
//! else `default` then `controlplane` (AWX outside Kubernetes). AWX's one task manager walks those groups in order
//! and starts the job on the first that has an instance with room. Here every task node
//! decides for its own instance: it may take the job when its instance is in one of the
//! groups and no group before holds another live instance with room for it (that one's node
//! takes it). Only nodes that cannot run a job and see nobody who could write why it waits,
//! so two nodes never overwrite each other's explanation.

use std::collections::{BTreeMap, HashMap};

use crate::Shared;
use rawx_model::filter::Filter;
use rawx_model::resources::{
    policy_members, JobKind, CONTROL_PLANE, DEFAULT_GROUP, INSTANCES, INSTANCE_GROUPS,
    INSTANCE_GROUP_MEMBERS, INVENTORIES, INVENTORY_INSTANCE_GROUPS, JOB_TEMPLATES,
    JT_INSTANCE_GROUPS, ORG_INSTANCE_GROUPS,
};
use rawx_model::schema::{int, text};
use rawx_model::{Relation, Resource, Row};
use rawx_store::DynStore;
use serde_json::json;

/// An instance whose heartbeat (or, for an execution node, last health check) is older than
/// this has no task node scheduling onto it: jobs do not wait for it. Health checks come every
/// 60 s, heartbeats every 2 s.
const LIVE_SECS: i64 = 150;

fn db(e: rawx_store::DbError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Every instance, every group, and each group's members once the policies are applied.
struct Cluster {
    instances: Vec<Row>,
    groups: Vec<Row>,
    members: BTreeMap<i64, Vec<i64>>,
}

async fn sync(store: &DynStore) -> anyhow::Result<(Cluster, usize)> {
    let all = Filter::All(vec![]);
    let instances = store
        .list_all(&INSTANCES, &all, &[("id", false)])
        .await
        .map_err(db)?;
    let groups = store
        .list_all(&INSTANCE_GROUPS, &all, &[("id", false)])
        .await
        .map_err(db)?;
    let members = policy_members(&instances, &groups);
    let mut changed = 0;
    for (gid, want) in &members {
        let have = store
            .linked(&INSTANCE_GROUP_MEMBERS, true, *gid)
            .await
            .map_err(db)?;
        for id in want.iter().filter(|i| !have.contains(i)) {
            store
                .link(&INSTANCE_GROUP_MEMBERS, *gid, *id)
                .await
                .map_err(db)?;
            changed += 1;
        }
        for id in have.iter().filter(|i| !want.contains(i)) {
            store
                .unlink(&INSTANCE_GROUP_MEMBERS, *gid, *id)
                .await
                .map_err(db)?;
            changed += 1;
        }
    }
    if changed > 0 {
        tracing::info!(
            changed,
            "instance group membership brought to the groups' policies"
        );
    }
    Ok((
        Cluster {
            instances,
            groups,
            members,
        },
        changed,
    ))
}

/// Brings stored group membership to what the groups' policies say; returns how many
/// memberships it added or removed. `rawx manage` calls it after changing instances or groups.
pub async fn apply_policies(store: &DynStore) -> anyhow::Result<usize> {
    Ok(sync(store).await?.1)
}

/// What one scheduling pass knows of instance groups (loaded once per pass).
pub(crate) struct Placement {
    /// `None` when the groups could not be read: every job is allowed, as before groups
    /// steered anything, rather than stopping all work on a passing database error.
    cluster: Option<Cluster>,
    /// This node's execution instance.
    me: Option<i64>,
    /// Groups each template, inventory and organization prefers, read once per pass.
    prefs: HashMap<(&'static str, i64), Vec<i64>>,
    /// `prevent_instance_group_fallback` of templates and inventories.
    prevent: HashMap<(&'static str, i64), bool>,
    /// Jobs' impacts; an inventory's host count is read once a pass.
    impacts: rawx_domain::capacity::Impacts,
    /// The group each job this pass allowed would run in.
    chosen: HashMap<(&'static str, i64), i64>,
}

impl Placement {
    /// Applies the groups' policies and loads what the pass needs for the execution instance
    /// `instance` (its hostname).
    pub(crate) async fn load(shared: &Shared, instance: &str) -> Self {
        let cluster = match sync(&shared.store).await {
            Ok((c, _)) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read instance groups; this pass places jobs without them");
                None
            }
        };
        let me = cluster.as_ref().and_then(|c| {
            c.instances
                .iter()
                .find(|i| text(i, "hostname") == instance)
                .and_then(|i| int(i, "id"))
        });
        Placement {
            cluster,
            me,
            prefs: HashMap::new(),
            prevent: HashMap::new(),
            impacts: Default::default(),
            chosen: HashMap::new(),
        }
    }

    /// The group `job` runs in, when this pass allowed it: what the claim should write as its
    /// `instance_group` (AWX shows it on the job).
    pub(crate) fn group_for(&self, kind: &JobKind, id: i64) -> Option<i64> {
        self.chosen.get(&(kind.resource.key, id)).copied()
    }

    /// `None` when `job` may run on this pass's instance; otherwise why not, in words for the
    /// job's `job_explanation` (its present explanation when another node will give one).
    pub(crate) async fn refuses(
        &mut self,
        shared: &Shared,
        kind: &JobKind,
        job: &Row,
    ) -> Option<String> {
        let (Some(_), Some(me)) = (&self.cluster, self.me) else {
            // Nothing registered yet (a first start): the node runs what comes, as before.
            return None;
        };
        let preferred = self.preferred(&shared.store, kind, job).await;
        let need = self.impacts.of_or_one_host(&*shared.store, job).await;
        let cluster = self.cluster.as_ref()?;
        let cutoff = rawx_model::time_after(-LIVE_SECS);
        let live = |i: &Row| text(i, "last_seen") >= cutoff.as_str();
        let by_id: HashMap<i64, &Row> = cluster
            .instances
            .iter()
            .filter_map(|i| Some((int(i, "id")?, i)))
            .collect();
        let room = |i: &Row| {
            i.get("enabled") != Some(&json!(false))
                && live(i)
                && rawx_model::capacity::fits(
                    int(i, "capacity").unwrap_or(0),
                    int(i, "consumed_capacity").unwrap_or(0),
                    need,
                )
        };
        let empty = Vec::new();
        let mut limited = Vec::new();
        for gid in &preferred {
            let members = cluster.members.get(gid).unwrap_or(&empty);
            if let Some(why) = self.at_limit(*gid, need) {
                limited.push(why);
                continue;
            }
            if members.contains(&me) {
                self.chosen.insert(
                    (kind.resource.key, int(job, "id").unwrap_or_default()),
                    *gid,
                );
                return None;
            }
            if members.iter().filter_map(|m| by_id.get(m)).any(|i| room(i)) {
                // An instance of an earlier group can take it: its node will.
                return Some(text(job, "job_explanation").to_string());
            }
        }
        if !limited.is_empty() {
            // Every node reads the same rows, so this text is the same whoever writes it.
            return Some(format!(
                "This job is not ready to start because there is not enough available capacity: {}.",
                limited.join("; ")
            ));
        }
        let someone_else_decides = preferred
            .iter()
            .flat_map(|g| cluster.members.get(g).unwrap_or(&empty))
            .filter_map(|m| by_id.get(m))
            .any(|i| live(i));
        if someone_else_decides {
            return Some(text(job, "job_explanation").to_string());
        }
        let names: Vec<String> = preferred
            .iter()
            .filter_map(|g| {
                let row = cluster.groups.iter().find(|r| int(r, "id") == Some(*g))?;
                let n = cluster.members.get(g).map_or(0, Vec::len);
                Some(match n {
                    0 => format!("{} (no instances)", text(row, "name")),
                    1 => format!("{} (1 instance, not running)", text(row, "name")),
                    n => format!("{} ({n} instances, none running)", text(row, "name")),
                })
            })
            .collect();
        Some(if names.is_empty() {
            "This job is not ready to start because there is not enough available capacity: it has no instance group to run in.".into()
        } else {
            format!(
                "This job is not ready to start because there is not enough available capacity: no instance of its instance groups can run it: {}.",
                names.join(", ")
            )
        })
    }

    /// Why group `gid` takes no more work now (AWX's `max_concurrent_jobs`, `max_forks`:
    /// the jobs running on its members and what they take, counted from the instance rows the
    /// task managers keep, plus the jobs this pass already let in), `None` when it may.
    fn at_limit(&self, gid: i64, need: i64) -> Option<String> {
        let cluster = self.cluster.as_ref()?;
        let group = cluster.groups.iter().find(|g| int(g, "id") == Some(gid))?;
        let max_jobs = int(group, "max_concurrent_jobs").unwrap_or(0);
        let max_forks = int(group, "max_forks").unwrap_or(0);
        if max_jobs <= 0 && max_forks <= 0 {
            return None;
        }
        let members = cluster.members.get(&gid)?;
        let (mut jobs, mut forks) = (0, 0);
        for i in cluster
            .instances
            .iter()
            .filter(|i| int(i, "id").is_some_and(|id| members.contains(&id)))
        {
            jobs += int(i, "jobs_running").unwrap_or(0);
            forks += int(i, "consumed_capacity").unwrap_or(0);
        }
        jobs += self.chosen.values().filter(|g| **g == gid).count() as i64;
        let name = text(group, "name");
        if max_jobs > 0 && jobs + 1 > max_jobs {
            return Some(format!(
                "instance group {name} runs {jobs} of its max_concurrent_jobs ({max_jobs})"
            ));
        }
        if max_forks > 0 && forks + need > max_forks {
            return Some(format!(
                "instance group {name} has {forks} of its max_forks ({max_forks}) in use and this job needs {need}"
            ));
        }
        None
    }

    /// AWX's `preferred_instance_groups`; a job launched with instance groups (its
    /// `preferred_instance_groups_cache` set by `create_unified_job`) has only those.
    async fn preferred(&mut self, store: &DynStore, kind: &JobKind, job: &Row) -> Vec<i64> {
        if kind.resource.key == "jobs" {
            let given = rawx_domain::launch::launch_instance_groups(job);
            if !given.is_empty() {
                return given;
            }
        }
        let steps: &[(&'static Resource, &'static str, &'static Relation)] =
            if kind.resource.key == "jobs" {
                &[
                    (&JOB_TEMPLATES, "job_template", &JT_INSTANCE_GROUPS),
                    (&INVENTORIES, "inventory", &INVENTORY_INSTANCE_GROUPS),
                    (
                        &rawx_model::resources::ORGANIZATIONS,
                        "organization",
                        &ORG_INSTANCE_GROUPS,
                    ),
                ]
            } else {
                &[
                    (&INVENTORIES, "inventory", &INVENTORY_INSTANCE_GROUPS),
                    (
                        &rawx_model::resources::ORGANIZATIONS,
                        "organization",
                        &ORG_INSTANCE_GROUPS,
                    ),
                ]
            };
        let mut out: Vec<i64> = Vec::new();
        for (res, column, relation) in steps {
            let Some(id) = int(job, column) else {
                continue;
            };
            let key = (res.key, id);
            let linked = match self.prefs.get(&key) {
                Some(l) => l.clone(),
                None => {
                    let l = store.linked(relation, true, id).await.unwrap_or_default();
                    self.prefs.insert(key, l.clone());
                    l
                }
            };
            for g in linked {
                if !out.contains(&g) {
                    out.push(g);
                }
            }
            if res.field("prevent_instance_group_fallback").is_some() {
                let prevent =
                    match self.prevent.get(&key) {
                        Some(p) => *p,
                        None => {
                            let p =
                                store.get(res, id).await.ok().and_then(|r| {
                                    r.get("prevent_instance_group_fallback").cloned()
                                }) == Some(json!(true));
                            self.prevent.insert(key, p);
                            p
                        }
                    };
                if prevent {
                    break;
                }
            }
        }
        if out.is_empty() {
            if let Some(c) = &self.cluster {
                for name in [DEFAULT_GROUP, CONTROL_PLANE] {
                    out.extend(
                        c.groups
                            .iter()
                            .filter(|g| text(g, "name") == name)
                            .filter_map(|g| int(g, "id")),
                    );
                }
            }
        }
        out
    }
}
