//! Incremental decoder for the worker's result stream (its stdout).
//!
//! Bytes arrive in chunks that may split anywhere: inside a line, inside a UTF-8 character,
//! inside the base64 of the artifacts zip. The decoder buffers what it needs and hands out
//! whole [`Frame`]s. A bad line yields one [`RunnerError`] naming its line and byte offset, and
//! decoding goes on with the next line: the caller decides whether to stop.
//!
//! Frames are classified the way ansible-runner's `process` does, first match wins: has
//! `status` → status; has `zipfile` → artifacts; has `eof` → end; `event == "keepalive"` →
//! keepalive; anything else → event.

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::{snippet, Position};
use crate::events::{scalar_string, RunnerEvent};
use crate::RunnerError;

/// One decoded unit of the result stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `{"event": "keepalive", …}`: the worker is alive but quiet. AWX drops these.
    Keepalive,
    Status(StatusFrame),
    Event(Box<RunnerEvent>),
    /// The artifacts zip (`artifacts/<ident>/`: rc, status, stdout, command, fact_cache/…);
    /// read it with [`crate::Artifacts::from_zip`].
    Artifacts(Vec<u8>),
    /// `{"eof": true}`: nothing follows.
    Eof,
    /// A line that is not JSON at all: something the worker's Python printed into the stream
    /// (a warning). Output to keep, not a broken stream.
    Text(String),
}

/// A `{"status": …}` line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusFrame {
    /// `starting`, `running`, `successful`, `failed`, `canceled`, `timeout` or `error`.
    pub status: String,
    pub runner_ident: Option<String>,
    /// On `starting`: the argv the worker runs.
    pub command: Option<Vec<String>>,
    /// On `starting`: the job's full environment, envvars (secrets) included: mask before
    /// storing or logging.
    pub env: Option<Map<String, Value>>,
    /// On `starting`: the working directory.
    pub cwd: Option<String>,
    /// On `error`: why (e.g. "Failed to JSON parse a line from transmit stream.").
    pub job_explanation: Option<String>,
    /// On `error`, sometimes: a Python traceback.
    pub result_traceback: Option<String>,
}

/// [`StatusFrame::status`] as an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerStatus {
    Starting,
    Running,
    Successful,
    Failed,
    Canceled,
    Timeout,
    Error,
    Unknown,
}

impl RunnerStatus {
    /// Whether this status ends the job (the zip and eof follow).
    pub fn is_final(self) -> bool {
        !matches!(self, RunnerStatus::Starting | RunnerStatus::Running)
    }
}

impl StatusFrame {
    pub fn kind(&self) -> RunnerStatus {
        match self.status.as_str() {
            "starting" => RunnerStatus::Starting,
            "running" => RunnerStatus::Running,
            "successful" => RunnerStatus::Successful,
            "failed" => RunnerStatus::Failed,
            "canceled" => RunnerStatus::Canceled,
            "timeout" => RunnerStatus::Timeout,
            "error" => RunnerStatus::Error,
            _ => RunnerStatus::Unknown,
        }
    }

    fn from_json(m: &Map<String, Value>) -> Result<Self, String> {
        let status = m
            .get("status")
            .and_then(Value::as_str)
            .ok_or("\"status\" is not a string")?
            .to_string();
        let command = match m.get("command") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("\"command\" has a non-string element")?,
            ),
            Some(_) => return Err("\"command\" is not a list".into()),
        };
        Ok(StatusFrame {
            status,
            runner_ident: m.get("runner_ident").and_then(scalar_string),
            command,
            env: m.get("env").and_then(Value::as_object).cloned(),
            cwd: m.get("cwd").and_then(scalar_string),
            job_explanation: m.get("job_explanation").and_then(scalar_string),
            result_traceback: m.get("result_traceback").and_then(scalar_string),
        })
    }
}

enum State {
    Lines,
    /// Discarding the rest of an over-long line.
    SkipLine,
    /// Inside the base64 of a `{"zipfile": size}` payload.
    Zip {
        size: usize,
        want: usize,
        got: usize,
        b64: Option<Vec<u8>>,
        start: Position,
    },
}

/// Lines above this are refused (a runaway or hostile stream must not eat all memory). Events
/// carry `res` up to ~700 KB and uncapped stdout, so the default is generous.
pub const DEFAULT_MAX_LINE: usize = 64 << 20;
/// Artifacts zips above this are skipped with an error.
pub const DEFAULT_MAX_ZIP: usize = 1 << 30;

pub struct ResultDecoder {
    buf: Vec<u8>,
    /// Consumed prefix of `buf`.
    pos: usize,
    /// Where to resume the newline search (a long line arrives in many chunks).
    scan: usize,
    /// Stream position of `buf[pos]`.
    at: Position,
    state: State,
    max_line: usize,
    max_zip: usize,
    eof_seen: bool,
    after_eof_reported: bool,
}

impl Default for ResultDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ResultDecoder {
    pub fn new() -> Self {
        ResultDecoder {
            buf: Vec::new(),
            pos: 0,
            scan: 0,
            at: Position { offset: 0, line: 1 },
            state: State::Lines,
            max_line: DEFAULT_MAX_LINE,
            max_zip: DEFAULT_MAX_ZIP,
            eof_seen: false,
            after_eof_reported: false,
        }
    }

    /// Limits line and artifacts-zip sizes (bytes).
    pub fn with_limits(mut self, max_line: usize, max_zip: usize) -> Self {
        self.max_line = max_line.max(1);
        self.max_zip = max_zip;
        self
    }

    /// Whether `{"eof": true}` has been decoded.
    pub fn saw_eof(&self) -> bool {
        self.eof_seen
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.at.offset
    }

    /// Appends `chunk` and returns every frame (or error) it completes, in stream order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Result<Frame, RunnerError>> {
        self.push(chunk);
        let mut out = Vec::new();
        while let Some(item) = self.next_frame() {
            out.push(item);
        }
        out
    }

    /// Appends `chunk` without decoding; pull frames with [`ResultDecoder::next_frame`].
    pub fn push(&mut self, chunk: &[u8]) {
        // Drop the consumed prefix before growing, so the buffer holds about one line.
        if self.pos > 0 && (self.pos >= self.buf.len() / 2 || self.pos > 1 << 20) {
            self.buf.drain(..self.pos);
            self.scan -= self.pos;
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete frame or error, or `None` when more input is needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, RunnerError>> {
        loop {
            match self.state {
                State::Zip { .. } => match self.step_zip()? {
                    Some(item) => return Some(item),
                    None => continue,
                },
                State::SkipLine => {
                    let nl = memchr(b'\n', &self.buf[self.pos..]);
                    match nl {
                        Some(i) => {
                            self.consume(i + 1);
                            self.state = State::Lines;
                        }
                        None => {
                            let n = self.buf.len() - self.pos;
                            self.consume(n);
                            return None;
                        }
                    }
                }
                State::Lines => {
                    let from = self.scan.max(self.pos);
                    let Some(i) = memchr(b'\n', &self.buf[from..]) else {
                        self.scan = self.buf.len();
                        if self.buf.len() - self.pos > self.max_line {
                            let at = self.at;
                            self.state = State::SkipLine;
                            return Some(Err(RunnerError::LineTooLong {
                                at,
                                limit: self.max_line,
                            }));
                        }
                        return None;
                    };
                    let end = from + i;
                    let at = self.at;
                    let (start, len) = (self.pos, end + 1 - self.pos);
                    let result = self.line(start, end, at);
                    self.consume(len);
                    if let Some(item) = result {
                        return Some(item);
                    }
                }
            }
        }
    }

    /// Marks `n` bytes from `pos` as consumed, keeping the line count.
    fn consume(&mut self, n: usize) {
        let newlines = self.buf[self.pos..self.pos + n]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.pos += n;
        self.scan = self.scan.max(self.pos);
        self.at.offset += n as u64;
        self.at.line += newlines as u64;
    }

    /// Decodes the complete line `buf[start..end]` (newline excluded).
    fn line(
        &mut self,
        start: usize,
        end: usize,
        at: Position,
    ) -> Option<Result<Frame, RunnerError>> {
        let mut line = &self.buf[start..end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        if self.eof_seen {
            if self.after_eof_reported {
                return None;
            }
            self.after_eof_reported = true;
            return Some(Err(RunnerError::AfterEof { at }));
        }
        let obj = match parse_object(line) {
            Ok(o) => o,
            Err(_) if line.trim_ascii_start().first() != Some(&b'{') => {
                return Some(Ok(Frame::Text(String::from_utf8_lossy(line).into_owned())));
            }
            Err(why) => {
                return Some(Err(RunnerError::BadJson {
                    at,
                    why,
                    snippet: snippet(line),
                }))
            }
        };
        let bad = |why: String| {
            Some(Err(RunnerError::BadFrame {
                at,
                why,
                snippet: snippet(line),
            }))
        };
        if obj.contains_key("status") {
            return match StatusFrame::from_json(&obj) {
                Ok(s) => Some(Ok(Frame::Status(s))),
                Err(why) => bad(format!("bad status frame: {why}")),
            };
        }
        if let Some(z) = obj.get("zipfile") {
            let Some(size) = z.as_u64().and_then(|s| usize::try_from(s).ok()) else {
                return bad("\"zipfile\" is not a byte count".into());
            };
            let keep = size <= self.max_zip;
            self.state = State::Zip {
                size,
                want: size.div_ceil(3) * 4,
                got: 0,
                b64: keep.then(|| Vec::with_capacity(size.div_ceil(3) * 4)),
                start: Position {
                    offset: at.offset + (end + 1 - start) as u64,
                    line: at.line + 1,
                },
            };
            if !keep {
                return bad(format!(
                    "artifacts zip of {size} bytes exceeds the {} byte limit; skipping it",
                    self.max_zip
                ));
            }
            return None;
        }
        if obj.contains_key("eof") {
            self.eof_seen = true;
            return Some(Ok(Frame::Eof));
        }
        if obj.get("event").and_then(Value::as_str) == Some("keepalive") {
            return Some(Ok(Frame::Keepalive));
        }
        match RunnerEvent::from_json(obj) {
            Ok(e) => Some(Ok(Frame::Event(Box::new(e)))),
            Err(why) => bad(format!("bad event: {why}")),
        }
    }

    /// Collects base64 characters of the zip payload; `None` at the outer level means "need
    /// more input", `Some(None)` "state changed, go on".
    fn step_zip(&mut self) -> Option<Option<Result<Frame, RunnerError>>> {
        let State::Zip {
            size,
            want,
            ref mut got,
            ref mut b64,
            start,
        } = self.state
        else {
            return Some(None);
        };
        let mut i = self.pos;
        let mut stray = None;
        while *got < want && i < self.buf.len() {
            let c = self.buf[i];
            if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=' {
                if let Some(b) = b64.as_mut() {
                    b.push(c);
                }
                *got += 1;
            } else if !c.is_ascii_whitespace() {
                // Wrapped base64 is fine; anything else means the payload is shorter than
                // announced. Resynchronise on this byte as the start of the next frame.
                stray = Some(c);
                break;
            }
            i += 1;
        }
        let got = *got;
        let data = if stray.is_some() || got == want {
            b64.take()
        } else {
            None
        };
        self.consume(i - self.pos);
        if let Some(c) = stray {
            self.state = State::Lines;
            return Some(Some(Err(RunnerError::BadPayload {
                at: start,
                why: format!(
                    "ended after {got} of {want} base64 characters for the announced {size} bytes (found {:?} at byte {})",
                    char::from(c),
                    self.at.offset
                ),
            })));
        }
        if got < want {
            return None;
        }
        self.state = State::Lines;
        let Some(data) = data else {
            return Some(None); // an over-limit payload, already reported
        };
        Some(Some(
            match base64::engine::general_purpose::STANDARD.decode(&data) {
                Ok(zip) if zip.len() == size => Ok(Frame::Artifacts(zip)),
                Ok(zip) => Err(RunnerError::BadPayload {
                    at: start,
                    why: format!("announced {size} bytes, base64 decodes to {}", zip.len()),
                }),
                Err(e) => Err(RunnerError::BadPayload {
                    at: start,
                    why: format!("invalid base64: {e}"),
                }),
            },
        ))
    }

    /// Ends decoding: `Ok` when the stream was complete (eof seen), otherwise a
    /// [`RunnerError::Truncated`] saying where it stopped.
    pub fn finish(self) -> Result<(), RunnerError> {
        if self.eof_seen {
            return Ok(());
        }
        let rest = self.buf.len() - self.pos;
        let why = match &self.state {
            State::Zip { got, want, .. } => format!(
                "ended inside the artifacts zip payload after {got} of {want} base64 characters"
            ),
            _ if rest > 0 => {
                // A last line without its newline is still accepted if it is the eof frame.
                let tail = self.buf[self.pos..].to_vec();
                if let Ok(obj) = parse_object(tail.trim_ascii()) {
                    if obj.contains_key("eof")
                        && !obj.contains_key("status")
                        && !obj.contains_key("zipfile")
                    {
                        return Ok(());
                    }
                }
                format!(
                    "ended in an unterminated line of {rest} bytes ({:?})",
                    snippet(&tail)
                )
            }
            _ => "ended".to_string(),
        };
        Err(RunnerError::Truncated(format!(
            "result stream {why} at byte {} (line {})",
            self.at.offset + rest as u64,
            self.at.line
        )))
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Parses one line into a JSON object, accepting Python's bare `NaN`/`Infinity`.
fn parse_object(line: &[u8]) -> Result<Map<String, Value>, String> {
    let value = match serde_json::from_slice::<Value>(line) {
        Ok(v) => v,
        Err(e) => match replace_nonfinite(line) {
            Some(fixed) => serde_json::from_slice(&fixed).map_err(|_| e.to_string())?,
            None => return Err(e.to_string()),
        },
    };
    match value {
        Value::Object(m) => Ok(m),
        other => Err(format!("expected a JSON object, got {}", kind(&other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Python's json writes non-finite floats as bare `NaN`, `Infinity`, `-Infinity`; JSON has no
/// such values. Replaces them (outside strings) by `null`; `None` when there was none.
fn replace_nonfinite(line: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(line.len());
    let (mut i, mut in_str, mut changed) = (0, false, false);
    while i < line.len() {
        let c = line[i];
        if in_str {
            out.push(c);
            if c == b'\\' && i + 1 < line.len() {
                out.push(line[i + 1]);
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        let token = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|t| line[i..].starts_with(t));
        if let Some(t) = token {
            out.extend_from_slice(b"null");
            i += t.len();
            changed = true;
            continue;
        }
        in_str = c == b'"';
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_infinity_outside_strings_become_null() {
        let fixed =
            replace_nonfinite(br#"{"a": NaN, "b": [-Infinity, Infinity], "c": "NaN \" NaN"}"#)
                .unwrap();
        assert_eq!(
            String::from_utf8(fixed).unwrap(),
            r#"{"a": null, "b": [null, null], "c": "NaN \" NaN"}"#
        );
        assert!(replace_nonfinite(br#"{"a": "NaN"}"#).is_none());
    }

    #[test]
    fn zip_payload_shorter_than_announced_resynchronises() {
        let mut d = ResultDecoder::new();
        let got = d.feed(b"{\"zipfile\": 30}\nYWJj{\"eof\": true}\n");
        assert!(
            matches!(got[0], Err(RunnerError::BadPayload { .. })),
            "{got:?}"
        );
        assert!(matches!(got[1], Ok(Frame::Eof)));
        assert!(d.finish().is_ok());
    }

    #[test]
    fn truncated_stream_is_reported() {
        let mut d = ResultDecoder::new();
        d.feed(b"{\"status\": \"running\", \"runner_ident\": 1}\n{\"zipfile\": 3}\nYW");
        let e = d.finish().unwrap_err().to_string();
        assert!(
            e.contains("inside the artifacts zip payload after 2 of 4"),
            "{e}"
        );
        assert!(e.contains("no eof"), "{e}");
    }

    #[test]
    fn a_line_that_is_not_json_is_text_and_a_broken_object_an_error() {
        let mut d = ResultDecoder::new();
        let got = d.feed(
            b"/usr/lib/python3/x.py:3: DeprecationWarning: old\n{\"status\": \"running\"\n{\"eof\": true}\n",
        );
        assert!(
            matches!(&got[0], Ok(Frame::Text(t)) if t == "/usr/lib/python3/x.py:3: DeprecationWarning: old"),
            "{got:?}"
        );
        assert!(
            matches!(got[1], Err(RunnerError::BadJson { .. })),
            "{got:?}"
        );
        assert!(matches!(got[2], Ok(Frame::Eof)));
    }

    #[test]
    fn eof_without_final_newline_is_complete() {
        let mut d = ResultDecoder::new();
        assert!(d.feed(b"{\"eof\": true}").is_empty());
        assert!(d.finish().is_ok());
    }
}
