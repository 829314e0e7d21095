//! The one error type of the crate. Every decoding error says where in the stream it happened
//! (byte offset and line, both counted from the start of the stream) so that an operator can
//! cut the offending bytes out of a saved stream and look at them.

use std::io;

/// Where in a result stream a problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset from the start of the stream (0-based) of the line or payload at fault.
    pub offset: u64,
    /// Physical line number (1-based): newlines seen before `offset`, plus one.
    pub line: u64,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, byte {}", self.line, self.offset)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{0}")]
    Io(#[from] io::Error),

    #[error("kwargs key {key:?} is not accepted by ansible-runner {runner} (the worker would crash with a TypeError and send nothing back); accepted keys are listed in rawx_runner::transmit::ACCEPTED_KWARGS")]
    UnknownKwarg { key: String, runner: &'static str },

    #[error("kwargs key {key:?} must not be sent: {why}")]
    ForbiddenKwarg { key: String, why: &'static str },

    #[error("zip entry {path:?}: {why}")]
    BadEntry { path: String, why: String },

    #[error("building the zip archive failed: {0}")]
    ZipWrite(String),

    #[error("reading the artifacts zip failed: {0}")]
    ZipRead(String),

    #[error("transmit stream written out of order: {0}")]
    TransmitOrder(&'static str),

    #[error("{0}")]
    InvalidInput(String),

    #[error("result stream, {at}: invalid JSON ({why}); the line starts with {snippet:?}")]
    BadJson {
        at: Position,
        why: String,
        snippet: String,
    },

    #[error("result stream, {at}: {why}; the line starts with {snippet:?}")]
    BadFrame {
        at: Position,
        why: String,
        snippet: String,
    },

    #[error("result stream, {at}: line longer than {limit} bytes; skipped up to its end")]
    LineTooLong { at: Position, limit: usize },

    #[error("result stream, {at}: artifacts zip payload: {why}")]
    BadPayload { at: Position, why: String },

    #[error("result stream, {at}: data after the eof frame ignored")]
    AfterEof { at: Position },

    #[error("result stream truncated: {0} (no eof frame: the worker died, was killed, or the connection broke)")]
    Truncated(String),
}

impl RunnerError {
    /// The stream position this error refers to, when it is a decoding error.
    pub fn position(&self) -> Option<Position> {
        match self {
            RunnerError::BadJson { at, .. }
            | RunnerError::BadFrame { at, .. }
            | RunnerError::LineTooLong { at, .. }
            | RunnerError::BadPayload { at, .. }
            | RunnerError::AfterEof { at } => Some(*at),
            _ => None,
        }
    }
}

/// The first bytes of a bad line, lossily decoded, for error messages: enough to recognise it,
/// never megabytes.
pub(crate) fn snippet(line: &[u8]) -> String {
    const MAX: usize = 120;
    let cut = &line[..line.len().min(MAX)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if line.len() > MAX {
        s.push('…');
    }
    s
}
