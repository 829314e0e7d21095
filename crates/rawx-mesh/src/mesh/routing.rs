//! The next-hop table, as Receptor's `updateRoutingTable` computes it: Dijkstra from this
//! node over `KnownConnectionCosts` (directed: each node's own update lists its links), where
//! only nodes that have a row of their own are reachable.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

pub type Costs = BTreeMap<String, BTreeMap<String, f64>>;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Routes {
    /// Destination → the neighbour to send through.
    pub next_hop: BTreeMap<String, String>,
    /// Destination → total cost of the path.
    pub path_cost: BTreeMap<String, f64>,
}

struct Entry(f64, String);

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    // A min-heap on cost.
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0)
    }
}

pub fn compute(me: &str, costs: &Costs) -> Routes {
    let mut cost: HashMap<&str, f64> = costs
        .keys()
        .map(|n| (n.as_str(), if n == me { 0.0 } else { f64::MAX }))
        .collect();
    cost.insert(me, 0.0);
    let mut prev: HashMap<&str, &str> = HashMap::new();
    let mut queue = BinaryHeap::from([Entry(0.0, me.to_string())]);
    while let Some(Entry(c, node)) = queue.pop() {
        if c > cost.get(node.as_str()).copied().unwrap_or(f64::MAX) {
            continue;
        }
        let Some((node, edges)) = costs.get_key_value(node.as_str()) else {
            continue;
        };
        for (neighbor, edge) in edges {
            // A neighbour without a row of its own is unknown (Go's missing map entry is 0).
            let Some(&current) = cost.get(neighbor.as_str()) else {
                continue;
            };
            let through = c + edge;
            if through < current {
                cost.insert(neighbor, through);
                prev.insert(neighbor, node);
                queue.push(Entry(through, neighbor.clone()));
            }
        }
    }
    let mut routes = Routes::default();
    for dest in costs.keys().filter(|d| *d != me) {
        let mut p = dest.as_str();
        // The path is at most as long as the node count; the bound guards a corrupt table.
        for _ in 0..=costs.len() {
            match prev.get(p) {
                Some(&q) if q == me => {
                    routes.next_hop.insert(dest.clone(), p.to_string());
                    break;
                }
                Some(&q) => p = q,
                None => break,
            }
        }
    }
    for (n, c) in cost {
        if c < f64::MAX {
            routes.path_cost.insert(n.to_string(), c);
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs(edges: &[(&str, &str, f64)]) -> Costs {
        let mut c = Costs::new();
        for (a, b, w) in edges {
            c.entry(a.to_string())
                .or_default()
                .insert(b.to_string(), *w);
            c.entry(b.to_string())
                .or_default()
                .insert(a.to_string(), *w);
        }
        c
    }

    #[test]
    fn cheapest_path_wins() {
        // a-b-c costs 2; a-d-c costs 1 + 5.
        let c = costs(&[
            ("a", "b", 1.0),
            ("b", "c", 1.0),
            ("a", "d", 1.0),
            ("d", "c", 5.0),
        ]);
        let r = compute("a", &c);
        assert_eq!(r.next_hop["c"], "b");
        assert_eq!(r.next_hop["d"], "d");
        assert_eq!(r.path_cost["c"], 2.0);
        assert!(!r.next_hop.contains_key("a"));
        // b gone: around through d.
        let c = costs(&[("a", "d", 1.0), ("d", "c", 5.0)]);
        let r = compute("a", &c);
        assert_eq!(r.next_hop["c"], "d");
        assert_eq!(r.path_cost["c"], 6.0);
    }

    #[test]
    fn a_node_without_its_own_row_is_unreachable() {
        let mut c = Costs::new();
        c.entry("a".into()).or_default().insert("b".into(), 1.0);
        c.entry("b".into()).or_default().insert("a".into(), 1.0);
        c.entry("b".into()).or_default().insert("z".into(), 1.0);
        let r = compute("a", &c);
        assert_eq!(r.next_hop.len(), 1);
        assert!(!r.next_hop.contains_key("z"));
    }
}
