//! Surveys (AWX's `SurveyJobTemplateMixin`, `JobTemplateSurveySpec`): the spec a template
//! stores, its validation on write, and the answers of a launch turned into extra vars.
//! Template-kind agnostic: job templates and workflow templates call the same functions with
//! their own row, so a survey behaves the same whatever it is attached to.
//!
//! Password answers never stay in the clear: a launch returns them apart (`Applied::passwords`)
//! and puts `$encrypted$` in the job's extra vars; the caller seals them into the job's
//! `survey_passwords`, which only the task role opens, when it writes the run's extra vars.

use rawx_model::secret::{SecretKey, ENCRYPTED};
use rawx_model::Row;
use serde_json::{json, Map, Value};

/// AWX's `SURVEY_TYPE_MAPPING` keys, in its order (its error message lists them so).
pub const TYPES: &[&str] = &[
    "text",
    "textarea",
    "password",
    "multiplechoice",
    "multiselect",
    "integer",
    "float",
];

/// The column a template keeps its spec in, and the one a job keeps its sealed password
/// answers in.
pub const SPEC_FIELD: &str = "survey_spec";
pub const PASSWORDS_FIELD: &str = "survey_passwords";

/// A template's stored spec (`{}` when it has none).
pub fn stored(row: &Row) -> Map<String, Value> {
    match row.get(SPEC_FIELD) {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
        _ => Map::new(),
    }
}

fn items(spec: &Map<String, Value>) -> Vec<&Map<String, Value>> {
    spec.get("spec")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

/// `survey_enabled` as the launch endpoint shows it: the flag and a spec to ask.
pub fn enabled(row: &Row) -> bool {
    row.get("survey_enabled") == Some(&json!(true)) && stored(row).contains_key("spec")
}

/// AWX's `variables_needed_to_start`: the required questions of an enabled survey.
pub fn variables_needed(row: &Row) -> Vec<String> {
    if row.get("survey_enabled") != Some(&json!(true)) {
        return Vec::new();
    }
    items(&stored(row))
        .into_iter()
        .filter(|q| q.get("required") == Some(&json!(true)))
        .filter_map(|q| q.get("variable").and_then(Value::as_str).map(String::from))
        .collect()
}

/// AWX's `display_survey_spec`: password defaults shown as `$encrypted$`.
pub fn display(spec: &Map<String, Value>) -> Value {
    let mut out = spec.clone();
    if let Some(Value::Array(qs)) = out.get_mut("spec") {
        for q in qs.iter_mut().filter_map(Value::as_object_mut) {
            let secret =
                q.get("type") == Some(&json!("password")) && q.get("default").is_some_and(truthy);
            if secret {
                q.insert("default".into(), json!(ENCRYPTED));
            }
        }
    }
    Value::Object(out)
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
    }
}

/// Python's `type(x).__name__` of a JSON value, for AWX's messages.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python's `str(x)` of a JSON value (AWX formats values into its messages with `%s`).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `isinstance(x, int)` (a bool is one).
fn is_int(v: &Value) -> bool {
    v.is_i64() || v.is_u64() || v.is_boolean()
}

fn type_ok(qtype: &str, v: &Value) -> bool {
    match qtype {
        "integer" => is_int(v),
        "float" => v.is_number() || v.is_boolean(),
        _ => v.is_string(),
    }
}

/// Lines of a choices/default text without the blank ones (AWX's normalisation).
fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// AWX's `JobTemplateSurveySpec._validate_spec_data`: the spec to store (choices and
/// defaults normalised, a new password default sealed, `$encrypted$` replaced by the stored
/// one), or the message of AWX's 400 `{"error": …}`.
pub fn validate_spec(
    new: &Value,
    old: &Map<String, Value>,
    key: &SecretKey,
) -> Result<Value, String> {
    let empty = Map::new();
    let obj = new.as_object().unwrap_or(&empty);
    let mut schema_error = None;
    for (field, label) in [
        ("name", "string"),
        ("description", "string"),
        ("spec", "list of items"),
    ] {
        match obj.get(field) {
            None => schema_error = Some(format!("Field '{field}' is missing from survey spec.")),
            Some(v)
                if (field == "spec" && !v.is_array()) || (field != "spec" && !v.is_string()) =>
            {
                schema_error = Some(format!(
                    "Expected {label} for field '{field}', received {} type.",
                    py_type(v)
                ))
            }
            _ => {}
        }
    }
    if obj
        .get("spec")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        schema_error = Some("'spec' doesn't contain any items.".into());
    }
    if let Some(e) = schema_error {
        return Err(e);
    }
    let old_items: Map<String, Value> = items(old)
        .into_iter()
        .filter_map(|q| Some((q.get("variable")?.as_str()?.to_string(), json!(q))))
        .collect();
    let mut out = obj.clone();
    let mut seen = std::collections::HashSet::new();
    let mut spec = Vec::new();
    for (idx, item) in obj["spec"].as_array().into_iter().flatten().enumerate() {
        let Some(q) = item.as_object() else {
            return Err(format!("Survey question {idx} is not a json object."));
        };
        let mut q = q.clone();
        for field in ["type", "question_name", "variable", "required"] {
            let Some(v) = q.get(field) else {
                return Err(format!("'{field}' missing from survey question {idx}"));
            };
            let (ok, label) = if field == "required" {
                (v.is_boolean(), "boolean")
            } else {
                (v.is_string(), "string")
            };
            if !ok {
                return Err(format!(
                    "'{field}' in survey question {idx} expected to be {label}."
                ));
            }
        }
        let variable = q["variable"].as_str().unwrap_or_default().to_string();
        if !seen.insert(variable.clone()) {
            return Err(format!(
                "'variable' '{variable}' duplicated in survey question {idx}."
            ));
        }
        let qtype = q["type"].as_str().unwrap_or_default().to_string();
        if !TYPES.contains(&qtype.as_str()) {
            return Err(format!(
                "'{qtype}' in survey question {idx} is not one of '{}' allowed question types.",
                TYPES.join(", ")
            ));
        }
        if let Some(d) = q.get("default").filter(|d| *d != &json!("")) {
            if !type_ok(&qtype, d) {
                let label = if qtype == "integer" || qtype == "float" {
                    qtype.as_str()
                } else {
                    "string"
                };
                return Err(format!(
                    "Default value {} in survey question {idx} expected to be {label}.",
                    py_str(d)
                ));
            }
        }
        for bound in ["min", "max"] {
            if let Some(v) = q.get(bound) {
                if !v.is_null() && !is_int(v) {
                    return Err(format!(
                        "The {bound} limit in survey question {idx} expected to be integer."
                    ));
                }
            }
        }
        if qtype == "multiselect" || qtype == "multiplechoice" {
            let Some(choices) = q.get("choices").cloned() else {
                return Err(format!(
                    "Survey question {idx} of type {qtype} must specify choices."
                ));
            };
            let choices = match choices {
                Value::String(s) => json!(lines(&s).join("\n")),
                other => other,
            };
            q.insert("choices".into(), choices.clone());
            if let Some(d) = q.get("default").cloned() {
                let defaults: Vec<Value> = match &d {
                    Value::String(s) => {
                        let joined = lines(s).join("\n");
                        q.insert("default".into(), json!(joined));
                        joined.lines().map(|l| json!(l)).collect()
                    }
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                if qtype == "multiplechoice" && defaults.len() > 1 {
                    return Err(
                        "Multiple Choice (Single Select) can only have one default value.".into(),
                    );
                }
                // `item in choices`: membership in a list, a substring of a text.
                let in_choices = |v: &Value| match (&choices, v) {
                    (Value::String(c), Value::String(s)) => c.contains(s.as_str()),
                    (Value::Array(a), v) => a.contains(v),
                    _ => false,
                };
                if !defaults.iter().all(in_choices) {
                    return Err("Default choice must be answered from the choices listed.".into());
                }
            }
        }
        let default = q.get("default").cloned();
        match default {
            Some(Value::String(d)) if d.starts_with(ENCRYPTED) => {
                if qtype != "password" {
                    return Err(format!("$encrypted$ is a reserved keyword for password question defaults, survey question {idx} is type {qtype}."));
                }
                let kept = old_items
                    .get(&variable)
                    .and_then(|o| o.get("default"))
                    .and_then(Value::as_str)
                    .filter(|o| o.starts_with(ENCRYPTED) || o.is_empty());
                let Some(kept) = kept else {
                    return Err(format!("$encrypted$ is a reserved keyword, may not be used for new default in position {idx}."));
                };
                q.insert("default".into(), json!(kept));
            }
            Some(Value::String(d)) if qtype == "password" && !d.is_empty() => {
                q.insert("default".into(), json!(key.seal(&d)));
            }
            _ => {}
        }
        spec.push(Value::Object(q));
    }
    out.insert("spec".into(), Value::Array(spec));
    Ok(Value::Object(out))
}

/// AWX's `_survey_element_validation`: the messages for one question against `data`.
fn check(q: &Map<String, Value>, data: &Map<String, Value>, required: bool) -> Vec<String> {
    let mut errors = Vec::new();
    let var = q
        .get("variable")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let qtype = q.get("type").and_then(Value::as_str).unwrap_or_default();
    let is_required = q.get("required") == Some(&json!(true));
    let value = data.get(var);
    if qtype == "password" && value == Some(&json!(ENCRYPTED)) {
        if q.get("default").is_none_or(Value::is_null) && is_required && required {
            errors.push(format!("'{var}' value missing"));
        }
        return errors;
    }
    let bound = |k: &str| q.get(k).filter(|b| !b.is_null() && *b != &json!(""));
    let num = |b: &Value| {
        b.as_f64()
            .or_else(|| b.as_str().and_then(|s| s.trim().parse().ok()))
    };
    let Some(v) = value else {
        if is_required && required {
            errors.push(format!("'{var}' value missing"));
        }
        return errors;
    };
    let shown = py_str(v);
    match qtype {
        "text" | "textarea" | "password" => {
            let Some(s) = v.as_str() else {
                errors.push(format!(
                    "Value {shown} for '{var}' expected to be a string."
                ));
                return errors;
            };
            let len = s.chars().count() as f64;
            if let Some(min) = bound("min") {
                if num(min).is_some_and(|m| len < m.trunc()) {
                    errors.push(format!(
                        "'{var}' value {s} is too small (length is {len} must be at least {}).",
                        py_str(min)
                    ));
                }
            }
            if let Some(max) = bound("max") {
                if num(max).is_some_and(|m| len > m.trunc()) {
                    errors.push(format!(
                        "'{var}' value {s} is too large (must be no more than {}).",
                        py_str(max)
                    ));
                }
            }
        }
        "integer" | "float" => {
            let ok = if qtype == "integer" {
                v.is_i64() || v.is_u64()
            } else {
                v.is_number()
            };
            if !ok {
                let what = if qtype == "integer" {
                    "an integer"
                } else {
                    "a numeric type"
                };
                errors.push(format!("Value {shown} for '{var}' expected to be {what}."));
                return errors;
            }
            let x = v.as_f64().unwrap_or_default();
            let limit = |m: f64| if qtype == "integer" { m.trunc() } else { m };
            if let Some(min) = bound("min") {
                if num(min).is_some_and(|m| x < limit(m)) {
                    errors.push(format!(
                        "'{var}' value {shown} is too small (must be at least {}).",
                        py_str(min)
                    ));
                }
            }
            if let Some(max) = bound("max") {
                if num(max).is_some_and(|m| x > limit(m)) {
                    errors.push(format!(
                        "'{var}' value {shown} is too large (must be no more than {}).",
                        py_str(max)
                    ));
                }
            }
        }
        "multiselect" | "multiplechoice" => {
            let choices: Vec<Value> = match q.get("choices") {
                Some(Value::String(s)) => lines(s).into_iter().map(|c| json!(c)).collect(),
                Some(Value::Array(a)) => a.clone(),
                _ => Vec::new(),
            };
            let listed = py_repr(&Value::Array(choices.clone()));
            if qtype == "multiselect" {
                let Some(answers) = v.as_array() else {
                    errors.push(format!("'{var}' value is expected to be a list."));
                    return errors;
                };
                for a in answers.iter().filter(|a| !choices.contains(a)) {
                    errors.push(format!(
                        "Value {} for '{var}' expected to be one of {listed}.",
                        py_str(a)
                    ));
                }
            } else if !choices.contains(v) {
                errors.push(format!(
                    "Value {shown} for '{var}' expected to be one of {listed}."
                ));
            }
        }
        _ => {}
    }
    errors
}

/// What a launch's variables come to on a template with (or without) a survey.
#[derive(Debug, Default)]
pub struct Applied {
    /// The job's extra vars: the template's, then the survey's defaults, then the accepted
    /// answers and prompted variables (AWX's precedence), password answers as `$encrypted$`.
    pub extra_vars: Map<String, Value>,
    /// Password answers (and defaults) in the clear, by variable: the caller seals them.
    pub passwords: Map<String, Value>,
    /// Variables given that the template does not accept (AWX's `ignored_fields.extra_vars`).
    pub ignored: Map<String, Value>,
    /// AWX's `variables_needed_to_start` messages; a launch with any is refused.
    pub errors: Vec<String>,
}

/// AWX's `_accept_or_ignore_variables` then `_update_unified_job_kwargs` and the
/// `survey_passwords` of `create_unified_job`: `runtime` are the variables given at launch,
/// `template_vars` the template's own; `ask_variables` its `ask_variables_on_launch`.
/// Answers to the survey are accepted even when the template does not ask for variables.
pub fn apply(
    template: &Row,
    template_vars: Map<String, Value>,
    runtime: Map<String, Value>,
    ask_variables: bool,
    key: &SecretKey,
) -> Applied {
    let spec = stored(template);
    let on = template.get("survey_enabled") == Some(&json!(true)) && !spec.is_empty();
    let questions = if on { items(&spec) } else { Vec::new() };
    let mut rest = runtime.clone();
    let mut accepted = Map::new();
    let mut out = Applied::default();
    for q in &questions {
        let var = q
            .get("variable")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let errs = check(q, &runtime, true);
        if !errs.is_empty() {
            out.errors.extend(errs);
            if let Some(v) = rest.remove(var) {
                out.ignored.insert(var.into(), v);
            }
        } else if let Some(v) = rest.remove(var) {
            accepted.insert(var.into(), v);
        }
    }
    if ask_variables {
        accepted.append(&mut rest);
    } else {
        rest.retain(|k, v| template_vars.get(k) != Some(v));
        out.ignored.append(&mut rest);
    }
    let open = |v: &Value| match v.as_str() {
        Some(s) if rawx_model::secret::is_sealed(s) => key.open(s).ok().map(Value::String),
        _ => Some(v.clone()),
    };
    let mut vars = template_vars;
    let mut passwords = Map::new();
    for q in &questions {
        let var = q
            .get("variable")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let password = q.get("type") == Some(&json!("password"));
        if password && accepted.get(var) == Some(&json!(ENCRYPTED)) {
            accepted.remove(var);
        }
        let Some(default) = q.get("default").filter(|d| !d.is_null()) else {
            continue;
        };
        let Some(plain) = (if password {
            open(default)
        } else {
            Some(default.clone())
        }) else {
            continue;
        };
        let data: Map<String, Value> = [(var.to_string(), plain.clone())].into_iter().collect();
        if check(q, &data, true).is_empty() {
            vars.insert(var.into(), plain.clone());
            if password {
                passwords.insert(var.into(), plain);
            }
        }
    }
    for (k, v) in accepted {
        let password = questions.iter().any(|q| {
            q.get("variable") == Some(&json!(k)) && q.get("type") == Some(&json!("password"))
        });
        if password {
            passwords.insert(k.clone(), v.clone());
        } else {
            passwords.remove(&k);
        }
        vars.insert(k, v);
    }
    for k in passwords.keys() {
        vars.insert(k.clone(), json!(ENCRYPTED));
    }
    out.extra_vars = vars;
    out.passwords = passwords;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_bytes(&[7u8; 32]).unwrap()
    }

    fn template(spec: Value) -> Row {
        let mut r = Row::new();
        r.insert("survey_enabled".into(), json!(true));
        r.insert(SPEC_FIELD.into(), json!(spec.to_string()));
        r
    }

    fn q(var: &str, t: &str, extra: Value) -> Value {
        let mut m = json!({"question_name": var, "variable": var, "type": t, "required": true});
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m
    }

    #[test]
    fn spec_errors_are_awx_messages() {
        let k = key();
        let e = |v: Value| validate_spec(&v, &Map::new(), &k).unwrap_err();
        assert_eq!(e(json!({})), "Field 'spec' is missing from survey spec.");
        assert_eq!(
            e(json!({"name": "", "description": "", "spec": {}})),
            "Expected list of items for field 'spec', received dict type."
        );
        assert_eq!(
            e(json!({"name": "", "description": "", "spec": []})),
            "'spec' doesn't contain any items."
        );
        let one = |item: Value| e(json!({"name": "", "description": "", "spec": [item]}));
        assert_eq!(one(json!(1)), "Survey question 0 is not a json object.");
        assert_eq!(
            one(json!({"type": "text", "question_name": "q", "variable": "v"})),
            "'required' missing from survey question 0"
        );
        assert_eq!(
            one(q("v", "bogus", json!({}))),
            "'bogus' in survey question 0 is not one of 'text, textarea, password, multiplechoice, multiselect, integer, float' allowed question types."
        );
        assert_eq!(
            one(q("v", "integer", json!({"default": "x"}))),
            "Default value x in survey question 0 expected to be integer."
        );
        assert_eq!(
            one(q("v", "multiplechoice", json!({}))),
            "Survey question 0 of type multiplechoice must specify choices."
        );
        assert_eq!(
            one(q(
                "v",
                "multiplechoice",
                json!({"choices": "a\nb", "default": "c"})
            )),
            "Default choice must be answered from the choices listed."
        );
        assert_eq!(
            one(q("v", "password", json!({"default": "$encrypted$"}))),
            "$encrypted$ is a reserved keyword, may not be used for new default in position 0."
        );
    }

    #[test]
    fn password_default_sealed_shown_encrypted_and_kept() {
        let k = key();
        let spec = json!({"name": "s", "description": "", "spec": [q("pw", "password", json!({"default": "hunter2"}))]});
        let stored_spec = validate_spec(&spec, &Map::new(), &k).unwrap();
        let d = stored_spec["spec"][0]["default"].as_str().unwrap();
        assert!(rawx_model::secret::is_sealed(d));
        let shown = display(stored_spec.as_object().unwrap());
        assert_eq!(shown["spec"][0]["default"], json!("$encrypted$"));
        // Posting back what GET showed keeps the stored secret.
        let again = validate_spec(&shown, stored_spec.as_object().unwrap(), &k).unwrap();
        assert_eq!(again["spec"][0]["default"], json!(d));
    }

    #[test]
    fn answers_validated_and_passwords_apart() {
        let k = key();
        let spec = json!({"name": "s", "description": "", "spec": [
            q("n", "integer", json!({"min": 1, "max": 5})),
            q("c", "multiselect", json!({"choices": "a\nb", "required": false})),
            q("t", "text", json!({"max": 3, "required": false, "default": "ab"})),
            q("pw", "password", json!({})),
        ]});
        let stored_spec = validate_spec(&spec, &Map::new(), &k).unwrap();
        let jt = template(stored_spec);
        let run = |v: Value| apply(&jt, Map::new(), v.as_object().unwrap().clone(), false, &k);
        let bad = run(json!({"n": 9, "c": ["z"], "t": "abcd"}));
        assert_eq!(
            bad.errors,
            vec![
                "'n' value 9 is too large (must be no more than 5).",
                "Value z for 'c' expected to be one of ['a', 'b'].",
                "'t' value abcd is too large (must be no more than 3).",
                "'pw' value missing",
            ]
        );
        let ok = run(json!({"n": 2, "pw": "s3cret", "other": 1}));
        assert!(ok.errors.is_empty());
        assert_eq!(ok.extra_vars["n"], json!(2));
        assert_eq!(ok.extra_vars["t"], json!("ab"));
        assert_eq!(ok.extra_vars["pw"], json!("$encrypted$"));
        assert_eq!(ok.passwords["pw"], json!("s3cret"));
        assert_eq!(ok.ignored["other"], json!(1));
        assert_eq!(variables_needed(&jt), vec!["n", "pw"]);
    }
}
