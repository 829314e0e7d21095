//! The job status, one type for every kind of job (AWX's `UnifiedJob.status`). Stored and sent
//! as AWX's lower-case names; everything else compares this type, not strings.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    New,
    Pending,
    Waiting,
    Running,
    Successful,
    Failed,
    Error,
    Canceled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 8] = [
        JobStatus::New,
        JobStatus::Pending,
        JobStatus::Waiting,
        JobStatus::Running,
        JobStatus::Successful,
        JobStatus::Failed,
        JobStatus::Error,
        JobStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::New => "new",
            JobStatus::Pending => "pending",
            JobStatus::Waiting => "waiting",
            JobStatus::Running => "running",
            JobStatus::Successful => "successful",
            JobStatus::Failed => "failed",
            JobStatus::Error => "error",
            JobStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The status of a stored row (`None` when absent or unknown).
    pub fn of(row: &rawx_model::Row) -> Option<JobStatus> {
        row.get("status")
            .and_then(serde_json::Value::as_str)
            .and_then(Self::parse)
    }

    /// No further change: `successful`, `failed`, `error`, `canceled`.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Successful | JobStatus::Failed | JobStatus::Error | JobStatus::Canceled
        )
    }

    /// Launched and not yet over: `pending`, `waiting`, `running` (AWX's "active jobs" that
    /// block a delete).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobStatus::Pending | JobStatus::Waiting | JobStatus::Running
        )
    }

    /// Holding capacity on a node: `waiting` (claimed) and `running`.
    pub fn holds_capacity(self) -> bool {
        matches!(self, JobStatus::Waiting | JobStatus::Running)
    }

    /// A cancel still means something (AWX's `can_cancel`).
    pub fn can_cancel(self) -> bool {
        self == JobStatus::New || self.is_active()
    }

    /// The names of the statuses for which `pick` holds, for store filters.
    pub fn names(pick: impl Fn(JobStatus) -> bool) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|s| pick(*s))
            .map(JobStatus::as_str)
            .collect()
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_agree_with_the_schema() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        let schema: Vec<&str> = rawx_model::resources::JOB_STATUS
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(schema, JobStatus::names(|_| true));
        assert_eq!(
            rawx_model::resources::FINAL_STATES,
            JobStatus::names(JobStatus::is_final)
        );
        assert_eq!(
            rawx_model::resources::ACTIVE_STATES,
            JobStatus::names(JobStatus::is_active)
        );
    }
}
