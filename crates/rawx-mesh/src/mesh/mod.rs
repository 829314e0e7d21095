//! The execution mesh: Receptor's "netceptor" network.
//!
//! * [`wire`]: the wire format, pure (framing, message types, node-ID hashes, Go's JSON).

pub mod wire;
