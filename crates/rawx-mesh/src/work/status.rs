//! A unit's `status` file, in the shape and field order Go receptor writes it, and the
//! `work status` reply built from it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkState {
    Pending,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl WorkState {
    pub fn code(self) -> i64 {
        match self {
            WorkState::Pending => 0,
            WorkState::Running => 1,
            WorkState::Succeeded => 2,
            WorkState::Failed => 3,
            WorkState::Canceled => 4,
        }
    }

    pub fn from_code(code: i64) -> Option<WorkState> {
        Some(match code {
            0 => WorkState::Pending,
            1 => WorkState::Running,
            2 => WorkState::Succeeded,
            3 => WorkState::Failed,
            4 => WorkState::Canceled,
            _ => return None,
        })
    }

    /// Receptor stops streaming results once a unit is complete; unlike Go, rawx counts
    /// `Canceled` as complete so that a results reader of a canceled unit ends.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            WorkState::Succeeded | WorkState::Failed | WorkState::Canceled
        )
    }
}

pub fn state_name(code: i64) -> String {
    match WorkState::from_code(code) {
        Some(WorkState::Pending) => "Pending".into(),
        Some(WorkState::Running) => "Running".into(),
        Some(WorkState::Succeeded) => "Succeeded".into(),
        Some(WorkState::Failed) => "Failed".into(),
        Some(WorkState::Canceled) => "Canceled".into(),
        None => format!("Unknown: {code}"),
    }
}

/// The `status` file: one JSON line, fields in Go's declaration order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitStatus {
    #[serde(rename = "State")]
    pub state: i64,
    #[serde(rename = "Detail")]
    pub detail: String,
    #[serde(rename = "StdoutSize")]
    pub stdout_size: u64,
    #[serde(rename = "WorkType")]
    pub work_type: String,
    #[serde(rename = "ExtraData")]
    pub extra_data: Value,
}

impl UnitStatus {
    pub fn new(work_type: &str, state: WorkState, detail: &str) -> UnitStatus {
        UnitStatus {
            state: state.code(),
            detail: detail.to_string(),
            stdout_size: 0,
            work_type: work_type.to_string(),
            extra_data: Value::Null,
        }
    }

    pub fn work_state(&self) -> Option<WorkState> {
        WorkState::from_code(self.state)
    }

    pub fn is_final(&self) -> bool {
        self.work_state().is_some_and(WorkState::is_final)
    }

    pub fn to_file_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("status serializes");
        line.push('\n');
        line
    }

    pub fn from_file(bytes: &[u8]) -> Result<UnitStatus, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The `work status` / `work list` entry: a Go map, so keys sorted, plus `StateName`.
    pub fn to_reply(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("Detail".into(), Value::from(self.detail.clone()));
        m.insert("ExtraData".into(), self.extra_data.clone());
        m.insert("State".into(), Value::from(self.state));
        m.insert("StateName".into(), Value::from(state_name(self.state)));
        m.insert("StdoutSize".into(), Value::from(self.stdout_size));
        m.insert("WorkType".into(), Value::from(self.work_type.clone()));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = include_str!("../../tests/data/unit-status-files.txt");

    fn sample_lines() -> Vec<&'static str> {
        SAMPLES.lines().filter(|l| l.starts_with('{')).collect()
    }

    #[test]
    fn status_files_round_trip_byte_for_byte() {
        let lines = sample_lines();
        // The first four are command-unit status files; the fifth is a remote unit.
        for line in &lines[..5] {
            let st = UnitStatus::from_file(line.as_bytes()).unwrap();
            assert_eq!(st.to_file_line(), format!("{line}\n"));
        }
        let canceled = UnitStatus::from_file(lines[3].as_bytes()).unwrap();
        assert_eq!(canceled.work_state(), Some(WorkState::Canceled));
        assert!(canceled.is_final());
    }

    #[test]
    fn status_reply_matches_the_sample() {
        let lines = sample_lines();
        let st = UnitStatus::from_file(lines[0].as_bytes()).unwrap();
        assert_eq!(serde_json::to_string(&st.to_reply()).unwrap(), lines[5]);
    }

    #[test]
    fn unknown_states_are_named() {
        assert_eq!(state_name(9), "Unknown: 9");
        assert_eq!(state_name(1), "Running");
    }
}
