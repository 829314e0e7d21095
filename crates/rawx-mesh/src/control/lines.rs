//! Control-socket command lines: reading them with a length bound, and parsing the text and
//! JSON forms into one request shape.

use std::io;

use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longer lines are refused. Commands are short; the longest real ones carry a kubeconfig as
/// a `secret_kube_config` work param, which stays well below this.
pub const MAX_LINE: usize = 256 * 1024;

#[derive(Debug, PartialEq)]
pub enum Line {
    Command(String),
    TooLong(usize),
    Eof,
}

/// Reads one command line. Only the line itself is consumed, so payload bytes that follow a
/// `work submit` stay in the reader.
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Line> {
    let mut line: Vec<u8> = Vec::new();
    let mut dropped = 0usize;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(match (line.is_empty(), dropped) {
                (true, 0) => Line::Eof,
                (_, 0) => Line::Command(text(line)),
                (_, n) => Line::TooLong(n + line.len()),
            });
        }
        let (chunk, found) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if dropped == 0 && line.len() + chunk.len() <= MAX_LINE {
            line.extend_from_slice(chunk);
        } else {
            dropped += line.len() + chunk.len();
            line.clear();
        }
        let used = found.unwrap_or(buf.len());
        r.consume(used);
        if found.is_some() {
            return Ok(if dropped == 0 {
                Line::Command(text(line))
            } else {
                Line::TooLong(dropped)
            });
        }
    }
}

fn text(mut line: Vec<u8>) -> String {
    line.retain(|b| *b != b'\r');
    String::from_utf8_lossy(&line).into_owned()
}

/// One command, from either form.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Lower-cased command name.
    pub command: String,
    /// The text form's words after the name.
    pub args: Vec<String>,
    /// The JSON form's object.
    pub json: Option<Map<String, Value>>,
}

impl Request {
    /// `None` for an empty line, which is skipped.
    pub fn parse(line: &str) -> Option<Result<Request, String>> {
        if line.trim().is_empty() {
            return None;
        }
        if line.starts_with('{') {
            let parsed = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Some(Err("JSON command must be an object".into())),
                Err(e) => return Some(Err(format!("invalid JSON command: {e}"))),
            };
            let Some(cmd) = parsed.get("command").and_then(Value::as_str) else {
                return Some(Err("JSON command has no \"command\" string".into()));
            };
            return Some(Ok(Request {
                command: cmd.to_ascii_lowercase(),
                args: Vec::new(),
                json: Some(parsed),
            }));
        }
        // Receptor splits on single spaces, so empty words (a trailing space) are kept.
        let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
        let args = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split(' ').map(str::to_string).collect()
        };
        Some(Ok(Request {
            command: name.to_ascii_lowercase(),
            args,
            json: None,
        }))
    }

    /// Text word `index`, or JSON field `key`.
    pub fn arg(&self, index: usize, key: &str) -> Option<String> {
        match &self.json {
            Some(m) => m.get(key).and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            None => self.args.get(index).filter(|s| !s.is_empty()).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8]) -> Vec<Line> {
        let mut r = tokio::io::BufReader::with_capacity(16, input);
        let mut out = Vec::new();
        loop {
            let l = read_line(&mut r).await.unwrap();
            let end = l == Line::Eof;
            out.push(l);
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn reads_lines_drops_cr_and_bounds_length() {
        let long = vec![b'x'; MAX_LINE + 10];
        let mut input = b"status\r\nping n1\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\nwork list");
        let got = lines(&input).await;
        assert_eq!(
            got,
            vec![
                Line::Command("status".into()),
                Line::Command("ping n1".into()),
                Line::TooLong(MAX_LINE + 10),
                Line::Command("work list".into()),
                Line::Eof
            ]
        );
    }

    #[tokio::test]
    async fn leaves_the_payload_in_the_reader() {
        use tokio::io::AsyncReadExt;
        let mut r = tokio::io::BufReader::new(&b"{\"command\":\"work\"}\npayload bytes"[..]);
        assert!(matches!(read_line(&mut r).await.unwrap(), Line::Command(_)));
        let mut rest = String::new();
        r.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "payload bytes");
    }

    #[test]
    fn arbitrary_lines_never_panic() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| (x >> (i % 8 * 8)) as u8 ^ i as u8)
                .collect();
            let mut line = String::from_utf8_lossy(&bytes).into_owned();
            if x.is_multiple_of(3) {
                line.insert(0, '{');
            }
            if let Some(Ok(req)) = Request::parse(&line) {
                let _ = (req.arg(0, "unitid"), req.arg(5, "x"));
            }
        }
    }

    #[test]
    fn parses_both_forms_from_the_transcript() {
        let transcript = include_str!("../../tests/data/receptorctl-1.6.9-transcript.txt");
        let mut parsed = 0;
        for line in transcript.lines() {
            let Some(rest) = line.split_once("C> '").map(|(_, r)| r) else {
                continue;
            };
            let Some(cmd) = rest.strip_suffix("\\n'") else {
                continue;
            };
            let req = Request::parse(cmd).unwrap().unwrap();
            assert!(
                ["status", "ping", "traceroute", "work", "connect"].contains(&req.command.as_str()),
                "{cmd}"
            );
            parsed += 1;
        }
        assert!(parsed > 20, "only {parsed} client lines found");
        let r = Request::parse("connect hop1 control ").unwrap().unwrap();
        assert_eq!(r.args, vec!["hop1", "control", ""]);
        assert_eq!(r.arg(2, "tls"), None);
        let r = Request::parse("WORK Results abc 10").unwrap().unwrap();
        assert_eq!(
            (r.command.as_str(), r.arg(2, "startpos")),
            ("work", Some("10".into()))
        );
        let r = Request::parse(
            r#"{"command":"work","subcommand":"results","unitid":"u","startpos":5}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.arg(0, "startpos"), Some("5".into()));
        assert!(Request::parse("   ").is_none());
        assert!(Request::parse("{nope").unwrap().is_err());
    }
}
