//! AWX's capacity arithmetic, in forks: what a node offers and what a job takes. One place, so
//! the task manager's decisions and the numbers the API shows agree.

/// A node's capacity: AWX's CPU-based figure, four forks per core.
pub fn node_capacity(cores: usize) -> i64 {
    cores.max(1) as i64 * 4
}

/// This machine's capacity.
pub fn local_capacity() -> i64 {
    node_capacity(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    )
}

/// AWX's `SYSTEM_TASK_FORKS_CPU`: forks one CPU carries.
pub const FORKS_PER_CPU: i64 = 4;
/// AWX's `SYSTEM_TASK_FORKS_MEM`: megabytes one fork takes.
pub const MEM_PER_FORK_MB: i64 = 100;
/// Megabytes AWX keeps back for the node itself before counting forks.
pub const MEM_RESERVE_MB: i64 = 2048;

/// Forks by CPU: `cpus × 4` (a fractional CPU quota counts as such).
pub fn cpu_capacity(cpus: f64) -> i64 {
    (cpus.max(0.0) * FORKS_PER_CPU as f64) as i64
}

/// Forks by memory: one per 100 MB above the 2 GB reserve, at least one.
pub fn mem_capacity(mem_bytes: i64) -> i64 {
    let mb = mem_bytes.max(0) / 1024 / 1024;
    ((mb - MEM_RESERVE_MB) / MEM_PER_FORK_MB).max(1)
}

/// An instance's capacity as AWX sets it: none while the node reports errors; otherwise
/// between the smaller figure (`capacity_adjustment` 0) and the larger (1), linearly.
pub fn instance_capacity(cpu_cap: i64, mem_cap: i64, adjustment: f64, has_errors: bool) -> i64 {
    if has_errors {
        return 0;
    }
    let (lo, hi) = (cpu_cap.min(mem_cap), cpu_cap.max(mem_cap));
    lo + ((hi - lo) as f64 * adjustment.clamp(0.0, 1.0)) as i64
}

/// Whether a job needing `need` forks may start where `consumed` of `capacity` is taken.
/// An idle instance takes a job larger than its capacity rather than leave it pending forever
/// (AWX does the same), but an instance without capacity (errors, disabled) takes nothing.
pub fn fits(capacity: i64, consumed: i64, need: i64) -> bool {
    capacity > 0 && (consumed == 0 || consumed + need <= capacity)
}

/// `percent_capacity_remaining`, one decimal.
pub fn percent_remaining(capacity: i64, consumed: i64) -> f64 {
    if capacity <= 0 {
        return 0.0;
    }
    ((capacity - consumed).max(0) as f64 / capacity as f64 * 1000.0).round() / 10.0
}

/// What a job takes: `min(forks, hosts) + 1`, where forks 0 means ansible's default of 5.
pub fn job_impact(forks: i64, hosts: i64) -> i64 {
    let forks = if forks <= 0 { 5 } else { forks };
    forks.min(hosts.max(1)) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impact_follows_awx() {
        assert_eq!(job_impact(0, 100), 6, "forks 0 is ansible's 5");
        assert_eq!(job_impact(10, 3), 4, "no more forks than hosts");
        assert_eq!(job_impact(2, 0), 2, "an empty inventory still takes a slot");
        assert_eq!(node_capacity(2), 8);
    }

    #[test]
    fn instance_capacity_follows_awx() {
        // The worker-info sample: 2 CPUs, 25276063744 bytes (24105 MB).
        assert_eq!(cpu_capacity(2.0), 8);
        assert_eq!(mem_capacity(25276063744), (24105 - 2048) / 100);
        assert_eq!(mem_capacity(1 << 30), 1, "below the reserve still one fork");
        assert_eq!(instance_capacity(8, 220, 1.0, false), 220);
        assert_eq!(instance_capacity(8, 220, 0.0, false), 8);
        assert_eq!(instance_capacity(8, 220, 0.5, false), 114);
        assert_eq!(
            instance_capacity(8, 220, 1.0, true),
            0,
            "errors: no capacity"
        );
        assert!(fits(8, 0, 20), "an idle instance takes a large job");
        assert!(!fits(0, 0, 2), "no capacity takes nothing");
        assert!(fits(8, 4, 4) && !fits(8, 6, 4));
        assert_eq!(percent_remaining(8, 2), 75.0);
    }
}
