//! JSON as Python's `json.dumps` writes it by default: `", "` and `": "` separators and
//! `ensure_ascii` (every non-ASCII character and DEL as `\uXXXX`, surrogate pairs above the BMP).
//! The worker accepts any JSON, but writing what ansible-runner's own transmit writes keeps our
//! streams byte-comparable with the real tool's and pure ASCII on the wire.

use std::io::{self, Write};

use serde_json::ser::{CharEscape, Formatter, Serializer};
use serde_json::Value;

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    // serde_json hands over runs of characters it does not escape itself; Python's ensure_ascii
    // escapes everything outside ' '..='~' among those.
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in s.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            w.write_all(&s.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&s.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(&mut self, w: &mut W, e: CharEscape) -> io::Result<()> {
        // Same spellings as Python: short escapes for the usual five, \u00XX for the rest.
        let s: &[u8] = match e {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(b) => return write!(w, "\\u{:04x}", b),
            // Any future variant: fall back to serde_json's own spelling via the default method.
            #[allow(unreachable_patterns)]
            _ => return Formatter::write_char_escape(&mut serde_json::ser::CompactFormatter, w, e),
        };
        w.write_all(s)
    }
}

/// Writes `value` Python-style (no trailing newline).
pub fn write<W: Write>(w: &mut W, value: &Value) -> io::Result<()> {
    let mut ser = Serializer::with_formatter(w, PythonFormatter);
    serde::Serialize::serialize(value, &mut ser).map_err(io::Error::other)
}

/// `value` as a Python-style JSON string.
pub fn to_string(value: &Value) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and the formatter writes ASCII only.
    let _ = write(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn separators_and_ascii_escapes_match_python() {
        let v = json!({"a": [1, 2.5, null, true], "é": "x\u{7f}y\u{1F600}\n\u{1}\"\\"});
        assert_eq!(
            to_string(&v),
            r#"{"a": [1, 2.5, null, true], "\u00e9": "x\u007fy\ud83d\ude00\n\u0001\"\\"}"#
        );
        assert_eq!(to_string(&json!({})), "{}");
        assert_eq!(to_string(&json!([])), "[]");
    }
}
