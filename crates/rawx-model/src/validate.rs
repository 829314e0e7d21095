//! Client input checked against a resource's schema, with AWX's error messages keyed by field.

use crate::schema::{Kind, Resource, Row};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `{"field": ["message", …]}`; `__all__` for errors of no single field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(msg.into());
    }
    pub fn one(field: &str, msg: impl Into<String>) -> Self {
        let mut e = Self::default();
        e.add(field, msg);
        e
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// POST: missing fields take their defaults; required ones must be there.
    Create,
    /// PUT: required fields must be there; others left out keep their stored value, as in
    /// AWX (Django REST framework's update), so a client that drops a field (awxkit's import
    /// drops a manual project's `local_path`) does not reset it.
    Replace,
    /// PATCH: only what is given.
    Patch,
}

/// Checks `input` and returns the columns to write. Foreign keys are only checked for form;
/// whether the target exists is the caller's question (it needs the store).
pub fn validate(res: &Resource, input: &Value, mode: Mode) -> Result<Row, FieldErrors> {
    let mut errors = FieldErrors::default();
    let Some(obj) = input.as_object() else {
        let got = match input {
            Value::Array(_) => "list",
            Value::String(_) => "str",
            Value::Number(_) => "int",
            Value::Bool(_) => "bool",
            _ => "null",
        };
        return Err(FieldErrors::one(
            "__all__",
            format!("Invalid data. Expected a dictionary, but got {got}."),
        ));
    };
    // Keys that are no writable field (unknown ones, read-only ones, the envelope a client
    // PUTs back from a GET) are ignored, as Django REST framework's serializers ignore them:
    // the awx.awx collection and awxkit send whatever they were given.
    let mut out = Map::new();
    for field in res.fields.iter().filter(|f| f.writable()) {
        match obj.get(field.name) {
            // AWX's blank choices (`blank=True, default=''`, as an execution environment's
            // `pull`): the empty string its default is, is a valid value.
            // `null` comes here too: AWX's `ChoiceNullField` turns it into `""` first (the
            // collection's inventory module sends `"kind": null`).
            Some(v @ (Value::String(_) | Value::Null))
                if v.as_str().unwrap_or_default().is_empty()
                    && !field.nullable
                    && matches!(field.kind, Kind::Choice(_))
                    && field.default == crate::schema::Default::Str("") =>
            {
                out.insert(field.name.into(), Value::String(String::new()));
            }
            Some(v) => match convert(
                field.kind,
                field.nullable,
                field.required,
                &coerce_null(field, v),
            ) {
                Ok(v) => {
                    out.insert(field.name.into(), v);
                }
                Err(msg) => errors.add(field.name, msg),
            },
            None if mode == Mode::Patch || (mode == Mode::Replace && !field.required) => {}
            None if field.required => errors.add(field.name, "This field is required."),
            None => {
                out.insert(
                    field.name.into(),
                    stored_default(field.kind, field.default.value()),
                );
            }
        }
    }
    if mode == Mode::Create {
        for field in res.fields.iter().filter(|f| f.read_only && !f.internal) {
            out.insert(
                field.name.into(),
                stored_default(field.kind, field.default.value()),
            );
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// AWX's serializers (`build_standard_field` in `awx/api/serializers.py`, the fields of
/// `awx/api/fields.py`) take `null` for every writable boolean (`BooleanNullField`: false) and
/// every text field (`CharNullField`, `ChoiceNullField`: the empty string), whatever the
/// model allows; `""` for a boolean is false too. Other kinds keep DRF's "may not be null".
fn coerce_null(field: &crate::schema::Field, v: &Value) -> Value {
    match (field.kind, v) {
        (_, Value::Null) if field.nullable => Value::Null,
        (Kind::Bool, Value::Null) => Value::Bool(false),
        (Kind::Bool, Value::String(s)) if s.is_empty() => Value::Bool(false),
        (Kind::Str { .. } | Kind::Text | Kind::Vars | Kind::Choice(_), Value::Null) => {
            Value::String(String::new())
        }
        _ => v.clone(),
    }
}

/// Fills every field of `res` that `row` does not set with its default, as stored (a row
/// written by the task role or the domain rather than through the API's validation).
pub fn with_defaults(res: &Resource, row: &mut Row) {
    for f in res.fields.iter() {
        if !row.contains_key(f.name) {
            row.insert(f.name.into(), stored_default(f.kind, f.default.value()));
        }
    }
}

fn stored_default(kind: Kind, v: Value) -> Value {
    match (kind, v) {
        (Kind::Json, Value::Object(m)) => Value::String(Value::Object(m).to_string()),
        (_, v) => v,
    }
}

fn convert(kind: Kind, nullable: bool, required: bool, v: &Value) -> Result<Value, String> {
    if v.is_null() {
        return if nullable {
            Ok(Value::Null)
        } else {
            Err("This field may not be null.".into())
        };
    }
    match kind {
        Kind::Str { .. } | Kind::Text | Kind::Password => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err("Not a valid string.".into()),
            };
            if let Kind::Str { max } = kind {
                if s.chars().count() > max as usize {
                    return Err(format!(
                        "Ensure this field has no more than {max} characters."
                    ));
                }
            }
            if required && s.trim().is_empty() {
                return Err("This field may not be blank.".into());
            }
            Ok(Value::String(s))
        }
        Kind::Int { min, max } => {
            let i = as_int(v).ok_or("A valid integer is required.")?;
            if let Some(min) = min.filter(|m| i < *m) {
                return Err(format!(
                    "Ensure this value is greater than or equal to {min}."
                ));
            }
            if let Some(max) = max.filter(|m| i > *m) {
                return Err(format!("Ensure this value is less than or equal to {max}."));
            }
            Ok(Value::from(i))
        }
        Kind::Float => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Value::from)
            .ok_or_else(|| "A valid number is required.".into()),
        Kind::Bool => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Value::Bool(true)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Value::Bool(false)),
            Value::String(s) => crate::filter::parse_bool(s)
                .or(match s.as_str() {
                    "yes" | "on" | "y" | "t" => Some(true),
                    "no" | "off" | "n" | "f" => Some(false),
                    _ => None,
                })
                .map(Value::Bool)
                .ok_or_else(|| "Must be a valid boolean.".into()),
            _ => Err("Must be a valid boolean.".into()),
        },
        Kind::Choice(choices) => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("\"{v}\" is not a valid choice."))?;
            if choices.iter().any(|(c, _)| *c == s) {
                Ok(Value::String(s.into()))
            } else {
                Err(format!("\"{s}\" is not a valid choice."))
            }
        }
        Kind::IntChoice(choices) => {
            let i =
                as_int(v).ok_or_else(|| format!("\"{}\" is not a valid choice.", display(v)))?;
            if choices.iter().any(|(c, _)| *c == i) {
                Ok(Value::from(i))
            } else {
                Err(format!("\"{i}\" is not a valid choice."))
            }
        }
        Kind::Fk(_) => {
            let i = as_int(v).ok_or_else(|| {
                format!(
                    "Incorrect type. Expected pk value, received {}.",
                    json_type(v)
                )
            })?;
            Ok(Value::from(i))
        }
        Kind::Vars => match v {
            Value::Object(_) => Ok(Value::String(v.to_string())),
            Value::String(s) => {
                parse_vars(s)?;
                Ok(Value::String(s.clone()))
            }
            _ => Err(format!("Input type `{}` is not a dictionary", json_type(v))),
        },
        Kind::Json => match v {
            Value::Object(_) => Ok(Value::String(v.to_string())),
            Value::String(s) => Ok(Value::String(Value::Object(parse_vars(s)?).to_string())),
            _ => Err(format!("Input type `{}` is not a dictionary", json_type(v))),
        },
        Kind::DateTime => v
            .as_str()
            .filter(|s| {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .is_ok()
            })
            .map(|s| Value::String(s.into()))
            .ok_or_else(|| "Datetime has wrong format.".into()),
    }
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn display(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::String(_) => "str",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "None",
    }
}

/// Ansible variables as AWX accepts them: empty, or JSON or YAML holding a mapping.
pub fn parse_vars(s: &str) -> Result<Map<String, Value>, String> {
    if s.trim().is_empty() {
        return Ok(Map::new());
    }
    let json_err = match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => return Ok(m),
        Ok(other) => {
            return Err(format!(
                "Input type `{}` is not a dictionary",
                json_type(&other)
            ))
        }
        Err(e) => e,
    };
    match serde_norway::from_str::<Value>(s) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(other) => Err(format!(
            "Input type `{}` is not a dictionary",
            json_type(&other)
        )),
        Err(yaml_err) => Err(format!(
            "Cannot parse as JSON (error: {json_err}) or YAML (error: {yaml_err})."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{HOSTS, JOB_TEMPLATES, ORGANIZATIONS};
    use serde_json::json;

    fn errs(r: Result<Row, FieldErrors>) -> Value {
        r.unwrap_err().to_json()
    }

    #[test]
    fn create_fills_defaults_and_requires_name() {
        assert_eq!(
            errs(validate(&ORGANIZATIONS, &json!({}), Mode::Create)),
            json!({"name": ["This field is required."]})
        );
        let row = validate(
            &HOSTS,
            &json!({"name": "web1", "inventory": "3"}),
            Mode::Create,
        )
        .unwrap();
        assert_eq!(row["inventory"], json!(3));
        assert_eq!(row["enabled"], json!(true));
        assert_eq!(row["variables"], json!(""));
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        assert_eq!(
            errs(validate(
                &JOB_TEMPLATES,
                &json!({"name": "x", "forks": "many", "job_type": "go", "bogus": 1}),
                Mode::Create
            )),
            json!({
                "forks": ["A valid integer is required."],
                "job_type": ["\"go\" is not a valid choice."],
            })
        );
        assert_eq!(
            errs(validate(
                &HOSTS,
                &json!({"name": "", "inventory": 1, "variables": "[1]"}),
                Mode::Create
            )),
            json!({"name": ["This field may not be blank."], "variables": ["Input type `list` is not a dictionary"]})
        );
        assert_eq!(
            errs(validate(&HOSTS, &json!([1]), Mode::Create)),
            json!({"__all__": ["Invalid data. Expected a dictionary, but got list."]})
        );
    }

    #[test]
    fn patch_takes_only_what_is_given_and_ignores_the_envelope() {
        let row = validate(
            &HOSTS,
            &json!({"id": 9, "url": "/x", "enabled": "false"}),
            Mode::Patch,
        )
        .unwrap();
        assert_eq!(Value::Object(row), json!({"enabled": false}));
    }

    #[test]
    fn nulls_and_unknown_keys_are_taken_as_awx_takes_them() {
        use crate::resources::INVENTORIES;
        // What the awx.awx collection's inventory module sends.
        let row = validate(
            &INVENTORIES,
            &json!({"name": "i", "organization": 1, "kind": null, "host_filter": null,
                    "description": null, "variables": null, "total_hosts": 7, "bogus": 1}),
            Mode::Create,
        )
        .unwrap();
        assert_eq!(row["kind"], json!(""));
        assert_eq!(row["host_filter"], json!(null));
        assert_eq!(row["description"], json!(""));
        assert_eq!(row["variables"], json!(""));
        assert_eq!(
            row["total_hosts"],
            json!(0),
            "read-only: the client's value is ignored"
        );
        assert!(!row.contains_key("bogus"));
        let row = validate(&HOSTS, &json!({"enabled": null}), Mode::Patch).unwrap();
        assert_eq!(row["enabled"], json!(false));
        // Not a blank choice, not a nullable integer: refused as AWX refuses them.
        assert_eq!(
            errs(validate(
                &JOB_TEMPLATES,
                &json!({"job_type": null, "forks": null}),
                Mode::Patch
            )),
            json!({"job_type": ["\"\" is not a valid choice."], "forks": ["This field may not be null."]})
        );
    }

    #[test]
    fn variables_accept_json_yaml_and_objects() {
        assert!(parse_vars("a: 1\nb: [x]").is_ok());
        assert!(parse_vars("{\"a\": 1}").is_ok());
        assert!(parse_vars("").is_ok());
        assert!(parse_vars("a: [").is_err());
        let row = validate(&HOSTS, &json!({"variables": {"a": 1}}), Mode::Patch).unwrap();
        assert_eq!(row["variables"], json!("{\"a\":1}"));
    }
}
