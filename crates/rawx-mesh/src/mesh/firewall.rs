//! `node: firewallrules:` as Receptor applies them (`pkg/netceptor/firewall_rules.go`): rules
//! in order, the first whose every given field matches decides; no rule matching accepts. A
//! field is an exact string, or a regex between slashes anchored at both ends. Every hop runs
//! the rules on every data message it handles, its own included.

use std::collections::BTreeMap;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Accept,
    Reject,
    Drop,
}

#[derive(Debug, Clone)]
enum Pattern {
    Exact(String),
    Regex(Regex),
}

impl Pattern {
    fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Exact(s) => s == value,
            Pattern::Regex(r) => r.is_match(value),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    action: Action,
    from_node: Option<Pattern>,
    to_node: Option<Pattern>,
    from_service: Option<Pattern>,
    to_service: Option<Pattern>,
}

/// What the rules look at in a data message.
pub struct Packet<'a> {
    pub from_node: &'a str,
    pub to_node: &'a str,
    pub from_service: &'a str,
    pub to_service: &'a str,
}

impl Rule {
    /// One rule from its config map (keys already checked by the config parser).
    ///
    /// Go ignores a field whose regex does not compile, which widens the rule; rawx refuses
    /// the config instead, so a typo never turns a narrow `accept` into a broad one.
    pub fn parse(rule: &BTreeMap<String, String>) -> Result<Rule, String> {
        let action = match rule
            .get("action")
            .map(|a| a.to_ascii_lowercase())
            .as_deref()
        {
            Some("accept") => Action::Accept,
            Some("reject") => Action::Reject,
            Some("drop") => Action::Drop,
            other => return Err(format!("unknown action: {}", other.unwrap_or(""))),
        };
        let pattern = |key: &str| -> Result<Option<Pattern>, String> {
            let Some(v) = rule.get(key).filter(|v| !v.is_empty()) else {
                return Ok(None);
            };
            if !v.starts_with('/') {
                return Ok(Some(Pattern::Exact(v.clone())));
            }
            if v.len() < 2 || !v.ends_with('/') {
                return Err(format!("{key}: regex not enclosed in //: {v}"));
            }
            Regex::new(&format!("^(?:{})$", &v[1..v.len() - 1]))
                .map(|r| Some(Pattern::Regex(r)))
                .map_err(|e| format!("{key}: regex {v} does not compile: {e}"))
        };
        Ok(Rule {
            action,
            from_node: pattern("fromnode")?,
            to_node: pattern("tonode")?,
            from_service: pattern("fromservice")?,
            to_service: pattern("toservice")?,
        })
    }

    fn decide(&self, p: &Packet<'_>) -> Option<Action> {
        let fits = |pat: &Option<Pattern>, v: &str| pat.as_ref().is_none_or(|pat| pat.matches(v));
        (fits(&self.from_node, p.from_node)
            && fits(&self.to_node, p.to_node)
            && fits(&self.from_service, p.from_service)
            && fits(&self.to_service, p.to_service))
        .then_some(self.action)
    }
}

pub fn parse_rules(rules: &[BTreeMap<String, String>]) -> Result<Vec<Rule>, String> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| Rule::parse(r).map_err(|e| format!("error in rule {i}: {e}")))
        .collect()
}

pub fn decide(rules: &[Rule], p: &Packet<'_>) -> Action {
    rules
        .iter()
        .find_map(|r| r.decide(p))
        .unwrap_or(Action::Accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pairs: &[(&str, &str)]) -> Rule {
        Rule::parse(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    fn pkt<'a>(f: &'a str, t: &'a str, fs: &'a str, ts: &'a str) -> Packet<'a> {
        Packet {
            from_node: f,
            to_node: t,
            from_service: fs,
            to_service: ts,
        }
    }

    #[test]
    fn first_match_wins_and_default_accepts() {
        let rules = vec![
            rule(&[
                ("action", "accept"),
                ("fromnode", "a"),
                ("toservice", "control"),
            ]),
            rule(&[("action", "reject"), ("toservice", "control")]),
            rule(&[("action", "DROP"), ("fromnode", "/x.*/")]),
        ];
        assert_eq!(
            decide(&rules, &pkt("a", "c", "e1", "control")),
            Action::Accept
        );
        assert_eq!(
            decide(&rules, &pkt("b", "c", "e1", "control")),
            Action::Reject
        );
        assert_eq!(decide(&rules, &pkt("xy", "c", "e1", "ping")), Action::Drop);
        // Anchored: `/x.*/` does not match `axe`.
        assert_eq!(
            decide(&rules, &pkt("axe", "c", "e1", "ping")),
            Action::Accept
        );
        let all = vec![rule(&[("action", "drop")])];
        assert_eq!(decide(&all, &pkt("a", "b", "c", "d")), Action::Drop);
    }

    #[test]
    fn bad_rules_refused() {
        let bad = |pairs: &[(&str, &str)]| {
            Rule::parse(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
            .is_err()
        };
        assert!(bad(&[("action", "allow")]));
        assert!(bad(&[("action", "drop"), ("tonode", "/abc")]));
        assert!(bad(&[("action", "drop"), ("tonode", "/(/")]));
    }
}
