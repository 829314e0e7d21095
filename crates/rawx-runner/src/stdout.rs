//! A job's stdout as AWX serves it, rebuilt from events: the non-empty event stdouts in
//! `start_line` order, each followed by a newline, `\r\n` turned into `\n` (`format=ansi`);
//! `format=txt` is the same with ANSI sequences removed.

use std::sync::LazyLock;

use regex::Regex;

use crate::events::RunnerEvent;

/// Joins `(start_line, stdout)` pairs the way AWX does. Works on stored rows as well as on
/// decoded events; ties on `start_line` keep their given order (pass them in counter order).
pub fn join_stdout<'a>(items: impl IntoIterator<Item = (u64, &'a str)>) -> String {
    let mut items: Vec<(u64, &str)> = items.into_iter().filter(|(_, s)| !s.is_empty()).collect();
    items.sort_by_key(|(line, _)| *line);
    let mut out = String::with_capacity(items.iter().map(|(_, s)| s.len() + 1).sum());
    for (_, s) in items {
        out.push_str(&s.replace("\r\n", "\n"));
        out.push('\n');
    }
    out
}

/// `format=ansi`: colours kept.
pub fn stdout_ansi<'a>(events: impl IntoIterator<Item = &'a RunnerEvent>) -> String {
    let mut events: Vec<&RunnerEvent> = events.into_iter().collect();
    events.sort_by_key(|e| e.counter);
    join_stdout(
        events
            .into_iter()
            .map(|e| (e.start_line, e.stdout.as_str())),
    )
}

/// `format=txt`: ANSI removed.
pub fn stdout_txt<'a>(events: impl IntoIterator<Item = &'a RunnerEvent>) -> String {
    strip_ansi(&stdout_ansi(events))
}

/// Removes what AWX removes for text output: the invisible base64 blocks old callbacks
/// embedded (`ESC[K … ESC[nD … ESC[K`) and every `ESC … m` colour sequence.
pub fn strip_ansi(s: &str) -> String {
    static EMBEDDED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\x1b\[K(?:[A-Za-z0-9+/=]+\x1b\[\d+D)+\x1b\[K").expect("static regex")
    });
    static COLOUR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\x1b[^m]*m").expect("static regex"));
    if !s.contains('\x1b') {
        return s.to_string();
    }
    let s = EMBEDDED.replace_all(s, "");
    COLOUR.replace_all(&s, "").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_in_line_order_and_strips_colour() {
        let out = join_stdout([
            (2, "\x1b[0;32mok: [a]\x1b[0m"),
            (0, "PLAY [x]\r\n*****"),
            (2, ""),
        ]);
        assert_eq!(out, "PLAY [x]\n*****\n\x1b[0;32mok: [a]\x1b[0m\n");
        assert_eq!(strip_ansi(&out), "PLAY [x]\n*****\nok: [a]\n");
        assert_eq!(join_stdout([]), "");
    }
}
