//! The messages the roles send each other over the bus, one type each. They are built and read
//! as these types; JSON exists only here, at the edge (`Message::to_json`, `from_json`), in the
//! shapes AWX's websocket clients see. Messages are hints: whoever misses one re-reads the store.

use crate::status::JobStatus;
use rawx_bus::Bus;
use rawx_model::resources::{job_kind, JobKind};
use serde_json::{json, Value};

/// A message with its channel and its one wire shape.
pub trait Message: Sized {
    const CHANNEL: &'static str;
    fn to_json(&self) -> Value;
    fn from_json(v: &Value) -> Option<Self>;
}

/// Publishes `m` on its channel (never waits: see `Bus::publish`).
pub fn publish<M: Message>(bus: &dyn Bus, m: &M) {
    bus.publish(M::CHANNEL, m.to_json());
}

/// Wakes the task managers: a job is pending, or capacity changed (`job` is `None`).
#[derive(Clone)]
pub struct Wake<'k> {
    pub job: Option<(&'k JobKind, i64)>,
}

impl Message for Wake<'_> {
    const CHANNEL: &'static str = rawx_bus::SCHEDULE;
    fn to_json(&self) -> Value {
        match self.job {
            Some((kind, id)) => json!({"job": id, "type": kind.resource.type_name}),
            None => json!({}),
        }
    }
    fn from_json(v: &Value) -> Option<Self> {
        let job = v.get("job").and_then(Value::as_i64);
        let kind = job_kind(v.get("type").and_then(Value::as_str).unwrap_or("job"));
        Some(Wake { job: kind.zip(job) })
    }
}

/// Someone asked to cancel a job: the node running it stops it.
#[derive(Clone)]
pub struct CancelRequested<'k> {
    pub kind: &'k JobKind,
    pub job: i64,
}

impl Message for CancelRequested<'_> {
    const CHANNEL: &'static str = rawx_bus::CANCEL;
    fn to_json(&self) -> Value {
        json!({"job": self.job, "type": self.kind.resource.type_name})
    }
    fn from_json(v: &Value) -> Option<Self> {
        Some(CancelRequested {
            kind: job_kind(v.get("type").and_then(Value::as_str).unwrap_or("job"))?,
            job: v.get("job")?.as_i64()?,
        })
    }
}

/// A job's status changed (AWX's `status_changed` frame on the `jobs` group).
#[derive(Clone)]
pub struct StatusChanged<'k> {
    pub kind: &'k JobKind,
    pub job: i64,
    pub status: JobStatus,
    /// `unified_job_template_id`; `Absent` leaves the key out, as AWX does for a job that has
    /// none to say.
    pub template: Template,
    pub finished: Option<Value>,
}

/// The template of a status message: known (possibly `null`), or not said.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    Absent,
    Is(Value),
}

impl<'k> StatusChanged<'k> {
    pub fn new(kind: &'k JobKind, job: i64, status: JobStatus) -> Self {
        StatusChanged {
            kind,
            job,
            status,
            template: Template::Absent,
            finished: None,
        }
    }
    pub fn template(mut self, t: Value) -> Self {
        self.template = Template::Is(t);
        self
    }
}

impl Message for StatusChanged<'_> {
    const CHANNEL: &'static str = rawx_bus::JOB_STATUS;
    fn to_json(&self) -> Value {
        let mut m = json!({
            "unified_job_id": self.job, "status": self.status.as_str(),
            "type": self.kind.resource.type_name, "group_name": "jobs",
        });
        if let Template::Is(t) = &self.template {
            m["unified_job_template_id"] = t.clone();
        }
        if let Some(f) = &self.finished {
            m["finished"] = f.clone();
        }
        m
    }
    fn from_json(v: &Value) -> Option<Self> {
        Some(StatusChanged {
            kind: job_kind(v.get("type")?.as_str()?)?,
            job: v.get("unified_job_id")?.as_i64()?,
            status: JobStatus::parse(v.get("status")?.as_str()?)?,
            template: match v.get("unified_job_template_id") {
                Some(t) => Template::Is(t.clone()),
                None => Template::Absent,
            },
            finished: v.get("finished").cloned(),
        })
    }
}

/// A job's events are all stored: AWX's summary frame (`final_counter`), on the status channel.
#[derive(Clone)]
pub struct EventsSummary<'k> {
    pub kind: &'k JobKind,
    pub job: i64,
    pub final_counter: i64,
}

impl Message for EventsSummary<'_> {
    const CHANNEL: &'static str = rawx_bus::JOB_STATUS;
    fn to_json(&self) -> Value {
        // `job_type` tells the websocket whose read rule applies; it is not sent to clients.
        json!({"group_name": "jobs", "unified_job_id": self.job, "final_counter": self.final_counter,
            "type": "summary", "job_type": self.kind.resource.type_name})
    }
    fn from_json(v: &Value) -> Option<Self> {
        if v.get("type")?.as_str()? != "summary" {
            return None;
        }
        Some(EventsSummary {
            kind: job_kind(v.get("job_type").and_then(Value::as_str).unwrap_or("job"))?,
            job: v.get("unified_job_id")?.as_i64()?,
            final_counter: v.get("final_counter").and_then(Value::as_i64).unwrap_or(0),
        })
    }
}

/// A schedule was written or advanced: wakes the schedulers; also AWX's websocket group.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulesChanged {
    pub id: Option<i64>,
}

impl Message for SchedulesChanged {
    const CHANNEL: &'static str = "schedules-changed";
    fn to_json(&self) -> Value {
        match self.id {
            Some(id) => json!({"id": id, "group_name": "schedules"}),
            None => json!({"group_name": "schedules"}),
        }
    }
    fn from_json(v: &Value) -> Option<Self> {
        Some(SchedulesChanged {
            id: v.get("id").and_then(Value::as_i64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rawx_model::resources::{AD_HOC_KIND, JOB_KIND};

    fn round_trip<M: Message>(m: M) {
        let wire = m.to_json();
        assert_eq!(M::from_json(&wire).map(|back| back.to_json()), Some(wire));
    }

    #[test]
    fn every_message_reads_back_as_written() {
        round_trip(Wake { job: None });
        round_trip(Wake {
            job: Some((&AD_HOC_KIND, 3)),
        });
        round_trip(CancelRequested {
            kind: &JOB_KIND,
            job: 4,
        });
        round_trip(StatusChanged::new(&JOB_KIND, 5, JobStatus::Waiting).template(json!(2)));
        round_trip(StatusChanged::new(&AD_HOC_KIND, 5, JobStatus::Pending));
        round_trip(EventsSummary {
            kind: &AD_HOC_KIND,
            job: 6,
            final_counter: 9,
        });
        round_trip(SchedulesChanged { id: Some(1) });
    }

    #[test]
    fn status_frames_keep_awx_keys() {
        let m = StatusChanged::new(&JOB_KIND, 4, JobStatus::Running).to_json();
        assert_eq!(
            m,
            json!({"unified_job_id": 4, "status": "running", "type": "job", "group_name": "jobs"})
        );
    }
}
