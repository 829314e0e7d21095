//! A YAML tree that keeps every scalar as written.
//!
//! Receptor reads its config with Go's yaml.v2 (YAML 1.1), where `permissions: 0660` is the
//! octal number 432. YAML 1.2 loaders turn that into 660 and lose the leading zero, so this
//! tree keeps the raw text and whether the scalar was quoted; `config` resolves types the way
//! Go does, per option.

use yaml_rust2::parser::{MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Event;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `text` is the scalar as written; `plain` is false for quoted and block scalars, which
    /// are always strings.
    Scalar {
        text: String,
        plain: bool,
        line: usize,
    },
    Seq {
        items: Vec<Node>,
        line: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        line: usize,
    },
}

impl Node {
    pub fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. } | Node::Seq { line, .. } | Node::Map { line, .. } => *line,
        }
    }

    /// YAML 1.1 null: an empty plain scalar, `~` or `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { text, plain: true, .. }
            if text.is_empty() || text == "~" || text.eq_ignore_ascii_case("null"))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            _ if self.is_null() => "null",
            Node::Scalar { .. } => "a scalar",
            Node::Seq { .. } => "a list",
            Node::Map { .. } => "a map",
        }
    }
}

/// Parses one YAML document. An empty document is `None`.
pub fn parse(src: &str) -> Result<Option<Node>, String> {
    let mut builder = Builder::default();
    Parser::new_from_str(src)
        .load(&mut builder, false)
        .map_err(|e| e.to_string())?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root.filter(|n| !n.is_null()))
}

#[derive(Default)]
struct Builder {
    stack: Vec<Partial>,
    root: Option<Node>,
    anchors: Vec<(usize, Node)>,
    error: Option<String>,
}

enum Partial {
    Seq(Vec<Node>, usize, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize, usize),
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Partial::Seq(items, ..)) => items.push(node),
            Some(Partial::Map(entries, key, ..)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == TScalarStyle::Plain;
                self.push_value(Node::Scalar { text, plain, line }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Partial::Seq(Vec::new(), anchor, line))
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push(Partial::Map(Vec::new(), None, anchor, line))
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Partial::Seq(items, anchor, line)) => {
                    self.push_value(Node::Seq { items, line }, anchor)
                }
                Some(Partial::Map(entries, _, anchor, line)) => {
                    self.push_value(Node::Map { entries, line }, anchor)
                }
                None => self.error = Some(format!("unbalanced YAML at line {line}")),
            },
            Event::Alias(id) => match self.anchors.iter().rev().find(|(a, _)| *a == id) {
                Some((_, node)) => {
                    let node = node.clone();
                    self.push_value(node, 0)
                }
                None => self.error = Some(format!("unknown YAML alias at line {line}")),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_raw_scalars_and_quoting() {
        let node = parse("- a: 0660\n- b: '0660'\n- c: null\n")
            .unwrap()
            .unwrap();
        let Node::Seq { items, .. } = node else {
            panic!("not a list")
        };
        let Node::Map { entries, .. } = &items[0] else {
            panic!("not a map")
        };
        assert_eq!(
            entries[0].1,
            Node::Scalar {
                text: "0660".into(),
                plain: true,
                line: 1
            }
        );
        let Node::Map { entries, .. } = &items[1] else {
            panic!("not a map")
        };
        assert!(matches!(&entries[0].1, Node::Scalar { plain: false, .. }));
        let Node::Map { entries, .. } = &items[2] else {
            panic!("not a map")
        };
        assert!(entries[0].1.is_null());
    }

    #[test]
    fn reports_malformed_yaml_with_a_line() {
        let err = parse("- node:\n    id: [unclosed\n").unwrap_err();
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn empty_document_is_none() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("---\n").unwrap(), None);
    }
}
