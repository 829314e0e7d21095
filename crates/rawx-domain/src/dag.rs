//! A workflow job's graph and AWX 24.6.1's rules over it (`awx/main/scheduler/dag_workflow.py`,
//! rule for rule): which nodes will decidedly not run, which run next, whether the workflow is
//! done and whether it failed, and the cycle check of a new edge. Pure: the workflow engine
//! and the API load the graph (`workflows::job_dag`, `workflows::template_dag`).

use crate::status::JobStatus;
use std::collections::{HashMap, HashSet};

/// An edge's kind: which outcome of the parent lets the child run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    Success,
    Failure,
    Always,
}

impl Edge {
    /// In the order of `WFJT_EDGES` and `WFJ_EDGES`.
    pub const ALL: [Edge; 3] = [Edge::Success, Edge::Failure, Edge::Always];
}

/// One node of a workflow job as the graph rules read it.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub id: i64,
    pub has_template: bool,
    pub job: Option<i64>,
    /// The status of its job (when it has one).
    pub status: Option<JobStatus>,
    pub do_not_run: bool,
    pub converge: bool,
}

impl Node {
    fn finished(&self) -> bool {
        self.status.is_some_and(JobStatus::is_final)
    }
}

/// A workflow job's graph: nodes and `(from, to, kind)` edges.
#[derive(Default, Debug)]
pub struct Dag {
    pub nodes: Vec<Node>,
    pub edges: Vec<(i64, i64, Edge)>,
}

impl Dag {
    fn node(&self, id: i64) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }
    fn parents(&self, id: i64, kind: Option<Edge>) -> Vec<&Node> {
        self.edges
            .iter()
            .filter(|(_, to, k)| *to == id && kind.is_none_or(|x| x == *k))
            .filter_map(|(from, _, _)| self.node(*from))
            .collect()
    }
    fn children(&self, id: i64, kind: Edge) -> Vec<i64> {
        self.edges
            .iter()
            .filter(|(from, _, k)| *from == id && *k == kind)
            .map(|(_, to, _)| *to)
            .collect()
    }
    fn roots(&self) -> Vec<i64> {
        self.nodes
            .iter()
            .filter(|n| !self.edges.iter().any(|(_, to, _)| *to == n.id))
            .map(|n| n.id)
            .collect()
    }

    /// `_are_relevant_parents_finished`.
    fn relevant_parents_finished(&self, id: i64) -> bool {
        self.parents(id, None)
            .iter()
            .all(|p| p.do_not_run || !p.has_template || (p.job.is_some() && p.finished()))
    }

    /// `_all_parents_met_convergence_criteria`: no parent ended in a way whose edge does
    /// not lead here.
    fn convergence_met(&self, id: i64) -> bool {
        let by = |kind| -> Vec<i64> { self.parents(id, Some(kind)).iter().map(|p| p.id).collect() };
        let (ok, bad, always) = (by(Edge::Success), by(Edge::Failure), by(Edge::Always));
        self.parents(id, None).iter().all(|p| match p.status {
            Some(JobStatus::Successful) if p.job.is_some() => {
                ok.contains(&p.id) || always.contains(&p.id)
            }
            Some(JobStatus::Failed) if p.job.is_some() => {
                bad.contains(&p.id) || always.contains(&p.id)
            }
            _ => true,
        })
    }

    /// `bfs_nodes_to_run`: the nodes whose job should be made now.
    pub fn nodes_to_run(&self) -> Vec<i64> {
        let mut queue = self.roots();
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        let mut i = 0;
        while i < queue.len() {
            let id = queue[i];
            i += 1;
            if !seen.insert(id) {
                continue;
            }
            let Some(n) = self.node(id) else { continue };
            if n.do_not_run {
                continue;
            }
            if n.job.is_some() {
                match n.status {
                    Some(JobStatus::Failed | JobStatus::Error | JobStatus::Canceled) => {
                        queue.extend(self.children(id, Edge::Failure));
                        queue.extend(self.children(id, Edge::Always));
                    }
                    Some(JobStatus::Successful) => {
                        queue.extend(self.children(id, Edge::Success));
                        queue.extend(self.children(id, Edge::Always));
                    }
                    _ => {}
                }
            } else if !n.has_template {
                queue.extend(self.children(id, Edge::Failure));
                queue.extend(self.children(id, Edge::Always));
            } else if self.relevant_parents_finished(id)
                && (!n.converge || self.convergence_met(id))
            {
                found.push(id);
            }
        }
        found
    }

    /// The nodes in an order where each comes after its parents (Kahn's).
    fn topological(&self) -> Vec<i64> {
        let mut indeg: HashMap<i64, usize> = self.nodes.iter().map(|n| (n.id, 0)).collect();
        for (_, to, _) in &self.edges {
            *indeg.entry(*to).or_default() += 1;
        }
        let mut ready: Vec<i64> = self
            .nodes
            .iter()
            .filter(|n| indeg[&n.id] == 0)
            .map(|n| n.id)
            .collect();
        let mut out = Vec::new();
        while let Some(id) = ready.pop() {
            out.push(id);
            for (from, to, _) in &self.edges {
                if *from == id {
                    let d = indeg.get_mut(to).expect("edge to a node");
                    *d -= 1;
                    if *d == 0 {
                        ready.push(*to);
                    }
                }
            }
        }
        out
    }

    /// Whether the edges of `edges` plus this graph's make a cycle (AWX's `has_cycle`).
    pub fn has_cycle(&self) -> bool {
        self.topological().len() < self.nodes.len()
    }

    /// `_should_mark_node_dnr`.
    fn should_mark_dnr(&self, id: i64) -> bool {
        let leads = |p: &Node, kinds: [Edge; 2]| {
            kinds.iter().any(|k| self.children(p.id, *k).contains(&id))
        };
        for p in self.parents(id, None) {
            if p.do_not_run {
                continue;
            }
            if p.job.is_some() {
                match p.status {
                    Some(JobStatus::Successful) => {
                        if leads(p, [Edge::Success, Edge::Always]) {
                            return false;
                        }
                    }
                    Some(JobStatus::Failed | JobStatus::Error | JobStatus::Canceled) => {
                        if leads(p, [Edge::Failure, Edge::Always]) {
                            return false;
                        }
                    }
                    _ => return false,
                }
            } else if !p.has_template {
                if leads(p, [Edge::Failure, Edge::Always]) {
                    return false;
                }
            } else {
                return false;
            }
        }
        true
    }

    /// `mark_dnr_nodes`: marks (in this graph) and returns the nodes that will decidedly not
    /// run.
    pub fn mark_do_not_run(&mut self) -> Vec<i64> {
        let roots = self.roots();
        let mut marked = Vec::new();
        for id in self.topological() {
            let Some(n) = self.node(id) else { continue };
            if n.do_not_run || n.job.is_some() || roots.contains(&id) {
                continue;
            }
            let parents = self.parents(id, None);
            let mark = if n.converge {
                parents.iter().any(|p| p.do_not_run) || !self.convergence_met(id)
            } else {
                let decided = parents
                    .iter()
                    .all(|p| p.do_not_run || p.job.is_some() || !p.has_template);
                decided && self.should_mark_dnr(id)
            };
            if mark {
                if let Some(n) = self.nodes.iter_mut().find(|n| n.id == id) {
                    n.do_not_run = true;
                }
                marked.push(id);
            }
        }
        marked
    }

    /// `is_workflow_done`.
    pub fn is_done(&self) -> bool {
        self.nodes.iter().all(|n| {
            if !n.do_not_run && n.job.is_none() && n.has_template {
                return false;
            }
            n.job.is_none() || n.finished()
        })
    }

    /// `has_workflow_failed`: a node that failed (or has no template and was to run) with no
    /// failure or always path out of it.
    pub fn has_failed(&self) -> bool {
        self.nodes.iter().any(|n| {
            let failed = (!n.do_not_run && !n.has_template)
                || (n.job.is_some()
                    && matches!(
                        n.status,
                        Some(JobStatus::Failed | JobStatus::Canceled | JobStatus::Error)
                    ));
            failed
                && self.children(n.id, Edge::Failure).is_empty()
                && self.children(n.id, Edge::Always).is_empty()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: i64) -> Node {
        Node {
            id,
            has_template: true,
            ..Node::default()
        }
    }
    fn ran(id: i64, s: JobStatus) -> Node {
        Node {
            id,
            has_template: true,
            job: Some(100 + id),
            status: Some(s),
            ..Node::default()
        }
    }

    #[test]
    fn failure_path_runs_and_success_path_is_skipped() {
        // 1 fails; 2 on success, 3 on failure, 4 always.
        let mut dag = Dag {
            nodes: vec![ran(1, JobStatus::Failed), node(2), node(3), node(4)],
            edges: vec![
                (1, 2, Edge::Success),
                (1, 3, Edge::Failure),
                (1, 4, Edge::Always),
            ],
        };
        assert_eq!(dag.mark_do_not_run(), vec![2]);
        let mut run = dag.nodes_to_run();
        run.sort();
        assert_eq!(run, vec![3, 4]);
        assert!(!dag.is_done());
        assert!(!dag.has_failed(), "1 has a failure path");
    }

    #[test]
    fn failed_leaf_fails_the_workflow() {
        let dag = Dag {
            nodes: vec![ran(1, JobStatus::Successful), ran(2, JobStatus::Failed)],
            edges: vec![(1, 2, Edge::Success)],
        };
        assert!(dag.is_done());
        assert!(dag.has_failed());
    }

    #[test]
    fn convergence_waits_for_every_parent() {
        let mut c = node(3);
        c.converge = true;
        let mut dag = Dag {
            nodes: vec![ran(1, JobStatus::Successful), ran(2, JobStatus::Running), c],
            edges: vec![(1, 3, Edge::Success), (2, 3, Edge::Success)],
        };
        assert!(dag.mark_do_not_run().is_empty());
        assert!(dag.nodes_to_run().is_empty());
        dag.nodes[1].status = Some(JobStatus::Successful);
        assert_eq!(dag.nodes_to_run(), vec![3]);
        dag.nodes[1].status = Some(JobStatus::Failed);
        assert_eq!(dag.mark_do_not_run(), vec![3]);
    }

    #[test]
    fn cycle_is_found() {
        let dag = Dag {
            nodes: vec![node(1), node(2)],
            edges: vec![(1, 2, Edge::Success), (2, 1, Edge::Always)],
        };
        assert!(dag.has_cycle());
    }
}
