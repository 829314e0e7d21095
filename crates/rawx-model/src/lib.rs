//! rawx's domain model: what each AWX resource is made of (its schema), how client input is
//! validated against it, how AWX's query-string filters become a filter tree, who may see and
//! change what, and how secrets are sealed.
//!
//! Architecture invariant: this crate does no I/O (no network, no database, no files) and knows
//! nothing of HTTP or SQL. The schema here is the single source for request validation, OPTIONS
//! metadata, filtering and the store's columns, so the four can never disagree.

pub mod capacity;
pub mod dab;
pub mod filter;
pub mod rbac;
pub mod resources;
pub mod schema;
pub mod secret;
pub mod smart;
pub mod validate;

pub use schema::{Field, Kind, Relation, Resource, Row};

/// Timestamps as AWX renders them: UTC, microseconds, `Z`. Stored as this same text so that
/// text order is time order on every backend.
pub fn now_string() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// A time as stored (or as a client or ansible-runner writes it: RFC 3339).
pub fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// A stored time moved by `secs` seconds, in the stored format.
pub fn shift_time(t: &str, secs: f64) -> Option<String> {
    parse_time(t).map(|t| format_time(t + time::Duration::seconds_f64(secs)))
}

/// Seconds from stored time `a` to `b`, to the millisecond as AWX's `elapsed`; 0 when either
/// cannot be read or `b` comes first (a clock that stepped back).
pub fn elapsed_secs(a: &str, b: &str) -> f64 {
    match (parse_time(a), parse_time(b)) {
        (Some(a), Some(b)) => (((b - a).as_seconds_f64() * 1000.0).round() / 1000.0).max(0.0),
        _ => 0.0,
    }
}

/// The time `secs` seconds from now, in the stored format.
pub fn time_after(secs: i64) -> String {
    format_time(time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn elapsed_counts_seconds_between_stored_times() {
        let e = super::elapsed_secs("2026-11-25T23:59:58.500000Z", "2026-11-26T00:00:01.250000Z");
        assert!((e - 2.75).abs() < 1e-6, "{e}");
        assert_eq!(
            super::elapsed_secs("2026-11-26T00:00:01Z", "2026-11-25T00:00:00Z"),
            0.0
        );
        assert_eq!(
            super::shift_time("2026-11-25T23:59:58.500000Z", 2.0).as_deref(),
            Some("2026-11-26T00:00:00.500000Z")
        );
    }
}
