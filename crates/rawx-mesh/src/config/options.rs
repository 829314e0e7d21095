//! Typed access to one config section's options, with Go receptor's conversions and errors that
//! name the section, the option and what was expected.

use std::collections::BTreeMap;

use super::yaml::Node;
use super::ConfigError;

/// The options of one `- section: …` item. Each getter removes the option it reads, so
/// [`Options::finish`] can refuse whatever is left as unknown.
pub(crate) struct Options<'a> {
    origin: &'a str,
    section: &'static str,
    line: usize,
    allowed: &'static [&'static str],
    entries: Vec<(String, Node)>,
}

impl<'a> Options<'a> {
    /// `bare` names the option a scalar value stands for (`- log-level: debug`).
    pub fn new(
        origin: &'a str,
        section: &'static str,
        value: &Node,
        allowed: &'static [&'static str],
        bare: Option<&'static str>,
    ) -> Result<Self, ConfigError> {
        let mut opts = Options {
            origin,
            section,
            line: value.line(),
            allowed,
            entries: Vec::new(),
        };
        match value {
            v if v.is_null() => {}
            Node::Map { entries, .. } => {
                for (k, v) in entries {
                    let Node::Scalar { text, .. } = k else {
                        return Err(opts.error(k.line(), "option names must be plain words"));
                    };
                    // Go matches option names in any case.
                    let name = text.to_ascii_lowercase();
                    if opts.entries.iter().any(|(n, _)| *n == name) {
                        return Err(opts.error(k.line(), &format!("option `{name}` appears twice")));
                    }
                    opts.entries.push((name, v.clone()));
                }
            }
            Node::Scalar { .. } | Node::Seq { .. } => match bare {
                Some(name) => opts.entries.push((name.to_string(), value.clone())),
                None => {
                    return Err(opts.error(
                        value.line(),
                        &format!("expected a map of options, got {}", value.kind()),
                    ))
                }
            },
        }
        Ok(opts)
    }

    pub fn error(&self, line: usize, message: &str) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.to_string(),
            line,
            message: format!("section `{}`: {message}", self.section),
        }
    }

    fn option_error(&self, key: &str, node: &Node, expected: &str) -> ConfigError {
        let got = match node {
            Node::Scalar { text, .. } if !node.is_null() => format!("`{text}`"),
            _ => node.kind().to_string(),
        };
        self.error(
            node.line(),
            &format!("option `{key}`: expected {expected}, got {got}"),
        )
    }

    fn take(&mut self, key: &str) -> Option<Node> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        let (_, node) = self.entries.remove(pos);
        (!node.is_null()).then_some(node)
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node::Scalar { text, .. }) => Ok(Some(text)),
            Some(other) => Err(self.option_error(key, &other, "a string")),
        }
    }

    pub fn required_string(&mut self, key: &str) -> Result<String, ConfigError> {
        match self.string(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.error(self.line, &format!("option `{key}` is required"))),
        }
    }

    /// Go's `strconv.ParseInt(s, 0, …)`: `0660` is octal, `0x1F` hex.
    pub fn int(&mut self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(node) => match &node {
                Node::Scalar { text, .. } => parse_go_int(text)
                    .map(Some)
                    .ok_or_else(|| self.option_error(key, &node, "an integer (0660 is octal)")),
                _ => Err(self.option_error(key, &node, "an integer")),
            },
        }
    }

    pub fn float(&mut self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(node) => match &node {
                Node::Scalar { text, .. } => text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Some)
                    .ok_or_else(|| self.option_error(key, &node, "a number")),
                _ => Err(self.option_error(key, &node, "a number")),
            },
        }
    }

    pub fn boolean(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.take(key) {
            None => Ok(default),
            Some(node) => match &node {
                Node::Scalar { text, .. } => parse_bool(text)
                    .ok_or_else(|| self.option_error(key, &node, "a boolean (true or false)")),
                _ => Err(self.option_error(key, &node, "a boolean")),
            },
        }
    }

    /// A list of strings; a single string counts as a list of one, as in Go.
    pub fn string_list(&mut self, key: &str) -> Result<Vec<String>, ConfigError> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(Node::Scalar { text, .. }) => Ok(vec![text]),
            Some(Node::Seq { items, .. }) => items
                .iter()
                .map(|item| match item {
                    Node::Scalar { text, .. } => Ok(text.clone()),
                    other => Err(self.option_error(key, other, "a list of strings")),
                })
                .collect(),
            Some(other) => Err(self.option_error(key, &other, "a list of strings")),
        }
    }

    pub fn float_map(&mut self, key: &str) -> Result<BTreeMap<String, f64>, ConfigError> {
        let mut out = BTreeMap::new();
        match self.take(key) {
            None => {}
            Some(Node::Map { entries, .. }) => {
                for (k, v) in entries {
                    let value = match &v {
                        Node::Scalar { text, .. } => text.trim().parse::<f64>().ok(),
                        _ => None,
                    };
                    match (k, value) {
                        (Node::Scalar { text, .. }, Some(f)) => {
                            out.insert(text, f);
                        }
                        (_, _) => return Err(self.option_error(key, &v, "a map of node: number")),
                    }
                }
            }
            Some(other) => return Err(self.option_error(key, &other, "a map of node: number")),
        }
        Ok(out)
    }

    /// A list of maps of strings (firewall rules).
    pub fn map_list(&mut self, key: &str) -> Result<Vec<BTreeMap<String, String>>, ConfigError> {
        let items = match self.take(key) {
            None => return Ok(Vec::new()),
            Some(Node::Seq { items, .. }) => items,
            Some(m @ Node::Map { .. }) => vec![m],
            Some(other) => return Err(self.option_error(key, &other, "a list of maps")),
        };
        let mut out = Vec::new();
        for item in items {
            let Node::Map { entries, .. } = &item else {
                return Err(self.option_error(key, &item, "a list of maps"));
            };
            let mut rule = BTreeMap::new();
            for (k, v) in entries {
                match (k, v) {
                    (Node::Scalar { text: k, .. }, Node::Scalar { text: v, .. }) => {
                        rule.insert(k.to_ascii_lowercase(), v.clone());
                    }
                    _ => return Err(self.option_error(key, v, "string values")),
                }
            }
            out.push(rule);
        }
        Ok(out)
    }

    /// Refuses every option no getter asked for.
    pub fn finish(self) -> Result<(), ConfigError> {
        match self.entries.first() {
            None => Ok(()),
            Some((key, node)) => Err(self.error(
                node.line(),
                &format!(
                    "unknown option `{key}`; expected one of: {}",
                    self.allowed.join(", ")
                ),
            )),
        }
    }
}

pub(crate) fn parse_go_int(text: &str) -> Option<i64> {
    let t = text.trim().replace('_', "");
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b)
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let v = i64::from_str_radix(body, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// Go's `strconv.ParseBool` plus the YAML 1.1 words yaml.v2 turns into booleans.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "y" | "yes" | "on" => Some(true),
        "0" | "f" | "false" | "n" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Go's `time.ParseDuration` for the units config files use (`1m`, `1h20m30s`, `500ms`).
pub fn parse_go_duration(text: &str) -> Option<std::time::Duration> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(std::time::Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Some(std::time::Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_ints() {
        assert_eq!(parse_go_int("0660"), Some(0o660));
        assert_eq!(parse_go_int("660"), Some(660));
        assert_eq!(parse_go_int("0x1f"), Some(31));
        assert_eq!(parse_go_int("0"), Some(0));
        assert_eq!(parse_go_int("-12"), Some(-12));
        assert_eq!(parse_go_int("rw"), None);
        assert_eq!(parse_go_int("089"), None);
    }

    #[test]
    fn go_durations() {
        use std::time::Duration;
        assert_eq!(parse_go_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(
            parse_go_duration("1h20m30s"),
            Some(Duration::from_secs(4830))
        );
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("5 minutes"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}
