//! AWX's `LOG_AGGREGATOR_*` settings as one value the shipper runs from.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// `LOG_AGGREGATOR_PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP POST of each document; `https://` unless the host names `http://`.
    Https,
    /// One document per line over a TCP connection.
    Tcp,
    /// One document per datagram.
    Udp,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "https" => Some(Self::Https),
            "tcp" => Some(Self::Tcp),
            "udp" => Some(Self::Udp),
            _ => None,
        }
    }
}

/// The loggers AWX lets an administrator ship (`LOG_AGGREGATOR_LOGGERS`).
pub const LOGGERS: &[&str] = &[
    "awx",
    "activity_stream",
    "job_events",
    "system_tracking",
    "broadcast_websocket",
];

/// `LOG_AGGREGATOR_TYPE` choices.
pub const TYPES: &[&str] = &["logstash", "splunk", "loggly", "sumologic", "other"];

/// Everything the shipper needs; built by the binary from the stored settings.
#[derive(Clone, PartialEq)]
pub struct LogConfig {
    pub enabled: bool,
    /// Host name or address, or a URL (`https://splunk:8088/services/collector/event`).
    pub host: String,
    pub port: Option<u16>,
    /// `logstash`, `splunk`, …: the documents' `type`, and how HTTPS authenticates.
    pub kind: String,
    pub protocol: Protocol,
    pub username: String,
    /// Never printed: `Debug` shows `$encrypted$`.
    pub password: String,
    /// Which of [`LOGGERS`] to ship.
    pub loggers: Vec<String>,
    /// The least severe level shipped.
    pub level: tracing::Level,
    pub tcp_timeout: Duration,
    pub verify_cert: bool,
    /// Documents held in memory before new ones are dropped.
    pub queue_size: usize,
    /// The most the on-disk buffer may hold while the aggregator is down.
    pub max_disk_bytes: u64,
    /// Where the on-disk buffer lives.
    pub disk_path: PathBuf,
    /// `cluster_host_id` and `host` of every document.
    pub node: String,
    /// `tower_uuid` of every document.
    pub install_uuid: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            host: String::new(),
            port: None,
            kind: "other".into(),
            protocol: Protocol::Https,
            username: String::new(),
            password: String::new(),
            loggers: LOGGERS.iter().map(|s| s.to_string()).collect(),
            level: tracing::Level::INFO,
            tcp_timeout: Duration::from_secs(5),
            verify_cert: true,
            queue_size: 131_072,
            max_disk_bytes: 1 << 30,
            disk_path: PathBuf::from("/var/lib/awx"),
            node: String::new(),
            install_uuid: String::new(),
        }
    }
}

impl fmt::Debug for LogConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogConfig")
            .field("enabled", &self.enabled)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("kind", &self.kind)
            .field("protocol", &self.protocol)
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "$encrypted$"
                },
            )
            .field("loggers", &self.loggers)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

/// AWX's level names (Python's) to tracing's; `CRITICAL` is tracing's `ERROR`.
pub fn parse_level(s: &str) -> Option<tracing::Level> {
    match s.to_ascii_uppercase().as_str() {
        "DEBUG" => Some(tracing::Level::DEBUG),
        "INFO" => Some(tracing::Level::INFO),
        "WARNING" | "WARN" => Some(tracing::Level::WARN),
        "ERROR" | "CRITICAL" => Some(tracing::Level::ERROR),
        _ => None,
    }
}

/// tracing's level as AWX's documents name it.
pub fn level_name(l: &tracing::Level) -> &'static str {
    match *l {
        tracing::Level::TRACE | tracing::Level::DEBUG => "DEBUG",
        tracing::Level::INFO => "INFO",
        tracing::Level::WARN => "WARNING",
        tracing::Level::ERROR => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let c = LogConfig {
            password: "hunter2".into(),
            ..LogConfig::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && shown.contains("$encrypted$"));
    }
}
