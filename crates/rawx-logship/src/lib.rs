//! rawx's log shipping, AWX's "external logging": a `tracing` layer turns the records of the
//! loggers an administrator picked (`awx`, `job_events`, …) into the JSON documents AWX's
//! formatter produces, and a supervised component sends them to a logstash, Splunk, Loggly,
//! Sumo Logic or other aggregator over TCP, UDP or HTTPS. While the aggregator cannot be
//! reached, documents go to an on-disk buffer (bounded, like AWX's rsyslog action queue) that
//! is replayed, oldest first, once it can.
//!
//! Architecture invariant: depends on no rawx crate but the supervisor, and knows nothing of
//! the store or of HTTP serving; the binary reads the settings and calls
//! [`Shipper::configure`]. Logging never waits on the network: the layer only queues.
//! Nothing secret is shipped: the aggregator's password is never in a document, fields named
//! like secrets are masked, and job events drop AWX's skipped fields (`res`, `stdout`, …).

#![forbid(unsafe_code)]

mod config;
mod document;
mod layer;
mod shipper;
mod transport;

pub use config::{level_name, parse_level, LogConfig, Protocol, LOGGERS, TYPES};
pub use layer::ShipLayer;
pub use shipper::{
    check_connection, job_events_wanted, ship_job_events, Shipper, ShipperComponent,
};
