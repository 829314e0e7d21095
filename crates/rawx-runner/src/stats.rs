//! `playbook_on_stats`: the per-host counts behind AWX's job host summaries and the job's
//! `host_status_counts`.

use std::collections::BTreeMap;

use serde_json::Value;

/// One host's counts from the stats event (one row of `/jobs/N/job_host_summaries/`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    pub ok: u64,
    pub changed: u64,
    /// Unreachable.
    pub dark: u64,
    pub failures: u64,
    pub skipped: u64,
    pub ignored: u64,
    pub rescued: u64,
    pub processed: u64,
}

impl HostStats {
    /// AWX's summary `failed`: unreachable or any failure.
    pub fn failed(&self) -> bool {
        self.dark > 0 || self.failures > 0
    }
}

const STAT_KEYS: [&str; 8] = [
    "ok",
    "changed",
    "dark",
    "failures",
    "skipped",
    "ignored",
    "rescued",
    "processed",
];

/// The hosts AWX writes summaries for: those named in these stats (not `ignored`/`rescued`
/// alone, which ansible never reports without `processed`).
const HOST_KEYS: [&str; 6] = ["changed", "dark", "failures", "ok", "processed", "skipped"];

/// Per-host counts, by host name, from a `playbook_on_stats` event's `event_data`. Malformed
/// parts (a stat that is not a mapping, a count that is not a number) count as 0, as in AWX.
pub fn host_stats(event_data: &Value) -> BTreeMap<String, HostStats> {
    let stat = |key: &str| event_data.get(key).and_then(Value::as_object);
    let mut out: BTreeMap<String, HostStats> = BTreeMap::new();
    for key in HOST_KEYS {
        for host in stat(key).into_iter().flat_map(|m| m.keys()) {
            out.entry(host.clone()).or_default();
        }
    }
    for (host, s) in out.iter_mut() {
        for key in STAT_KEYS {
            let n = stat(key)
                .and_then(|m| m.get(host))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let field = match key {
                "ok" => &mut s.ok,
                "changed" => &mut s.changed,
                "dark" => &mut s.dark,
                "failures" => &mut s.failures,
                "skipped" => &mut s.skipped,
                "ignored" => &mut s.ignored,
                "rescued" => &mut s.rescued,
                _ => &mut s.processed,
            };
            *field = n;
        }
    }
    out
}

/// AWX's job `host_status_counts`: each host is counted once, under the last of `skipped`,
/// `ok`, `changed`, `failures`, `dark` it appears in (so a host with a failure counts as
/// failures even if it also had ok tasks). Only the keys with hosts are present.
pub fn host_status_counts(event_data: &Value) -> BTreeMap<String, u64> {
    let mut status: BTreeMap<&str, &str> = BTreeMap::new();
    for key in ["skipped", "ok", "changed", "failures", "dark"] {
        if let Some(m) = event_data.get(key).and_then(Value::as_object) {
            for host in m.keys() {
                status.insert(host, key);
            }
        }
    }
    let mut counts = BTreeMap::new();
    for key in status.values() {
        *counts.entry(key.to_string()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_follow_awx() {
        let data = json!({"ok": {"a": 3, "b": 1}, "changed": {"a": 1}, "failures": {"b": 1},
            "dark": {"c": 1}, "skipped": {}, "processed": {"a": 1, "b": 1, "c": 1},
            "ignored": {"a": 2}, "rescued": {}});
        let s = host_stats(&data);
        assert_eq!(
            s["a"],
            HostStats {
                ok: 3,
                changed: 1,
                ignored: 2,
                processed: 1,
                ..Default::default()
            }
        );
        assert!(s["b"].failed() && s["c"].failed() && !s["a"].failed());
        let c = host_status_counts(&data);
        assert_eq!(c.get("changed"), Some(&1));
        assert_eq!(c.get("failures"), Some(&1));
        assert_eq!(c.get("dark"), Some(&1));
        assert_eq!(c.get("ok"), None);
    }
}
