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
}
