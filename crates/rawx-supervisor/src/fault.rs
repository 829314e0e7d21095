//! A test-only fault switch, compiled into every build but inert unless configured: the
//! end-to-end suite needs to make a real `rawx serve` lose a component, and there is no honest
//! way to do that from outside the process. The binary reads the spec from
//! `RAWX_TEST_FAULT` (`dispatcher:2,web:1`, or `dispatcher:always`) and hands it to
//! [`crate::Supervisor::with_faults`].
//!
//! A name with an `@` is a point inside a component's work rather than its start
//! (`ingester@commit:1`: the ingester's first commit is followed by a panic): the component
//! calls [`Faults::point`] there, so a test can crash it in the middle of a job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// How many starts of each named component should fail (by panic, the harshest way a
/// component can go) before it is left to run normally.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    remaining: HashMap<String, Arc<AtomicU32>>,
}

impl Faults {
    /// Parses `name:count[,name:count…]`; `always` as the count fails every start.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut remaining = HashMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, count) = part
                .split_once(':')
                .ok_or_else(|| format!("`{part}` is not `component:count`"))?;
            let count = match count.trim() {
                "always" => u32::MAX,
                n => n.parse::<u32>().map_err(|_| {
                    format!("`{n}` in `{part}` is not a count (a number or `always`)")
                })?,
            };
            remaining.insert(name.trim().to_string(), Arc::new(AtomicU32::new(count)));
        }
        Ok(Self { remaining })
    }

    pub fn is_empty(&self) -> bool {
        self.remaining.is_empty()
    }

    /// Panics here if a failure at `point` (`component@where`) is still to be injected.
    pub fn point(&self, point: &str) {
        if self.take(point) {
            panic!("injected failure at `{point}` (RAWX_TEST_FAULT)");
        }
    }

    /// Consumes one injected failure of `component`, if any is left.
    pub(crate) fn take(&self, component: &str) -> bool {
        let Some(left) = self.remaining.get(component) else {
            return false;
        };
        left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
            0 => None,
            u32::MAX => Some(u32::MAX),
            n => Some(n - 1),
        })
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_and_always_never_runs_out() {
        let f = Faults::parse("task:2, web:always").unwrap();
        assert!(f.take("task") && f.take("task") && !f.take("task"));
        assert!((0..100).all(|_| f.take("web")));
        assert!(!f.take("other"));
        assert!(Faults::parse("task").is_err() && Faults::parse("task:x").is_err());
        assert!(Faults::parse("").unwrap().is_empty());
    }
}
