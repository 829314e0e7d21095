//! The shape of an import: which sections and fields rawx knows, the steps in awxkit's order,
//! and how objects and API errors are named in the output. Pure: no store, no API.

use rawx_api::admin::Answer;
use rawx_model::resources::ALL;
use rawx_model::schema::{Kind, Resource, SubList};
use serde_json::{json, Map, Value};

/// `awx export`'s sections rawx imports, in the order objects are created (awxkit's dependency
/// order: what a section refers to comes before it).
pub(super) const ORDER: &[(&str, &str)] = &[
    ("organizations", "organizations"),
    ("users", "users"),
    ("teams", "teams"),
    ("credential_types", "credential_types"),
    ("credentials", "credentials"),
    ("notification_templates", "notification_templates"),
    ("projects", "projects"),
    ("inventory", "inventories"),
    ("job_templates", "job_templates"),
    ("workflow_job_templates", "workflow_job_templates"),
    ("schedules", "schedules"),
];

pub(super) fn served(key: &str) -> Option<&'static Resource> {
    rawx_model::resources::by_key(key).filter(|r| r.is_public())
}

/// A natural key as text, the same whatever order its fields come in.
pub(super) fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&o[k])))
                        .collect(),
                )
            }
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

pub(super) fn resource_of_type(type_name: &str) -> Option<&'static Resource> {
    ALL.iter()
        .copied()
        .find(|r| r.type_name == type_name && r.is_public())
}

/// `credential "key" (organization "Ops")`: how an object is named in the output.
pub(super) fn describe(key: &Value) -> String {
    let ty = key["type"].as_str().unwrap_or("object");
    let name = ["name", "username", "hostname"]
        .iter()
        .find_map(|k| key[*k].as_str())
        .unwrap_or_default();
    let parents: Vec<String> = key
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| v.is_object())
                .map(|(_, v)| describe(v))
                .collect()
        })
        .unwrap_or_default();
    if parents.is_empty() {
        format!("{ty} {name:?}")
    } else {
        format!("{ty} {name:?} ({})", parents.join(", "))
    }
}

/// An API error body as `field: message` lines (`inputs.password: …`, `detail: …`).
pub(super) fn messages(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                messages(v, &p, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| messages(v, prefix, out)),
        Value::String(s) if prefix.is_empty() => out.push(s.clone()),
        Value::String(s) => out.push(format!("{prefix}: {s}")),
        other => out.push(format!("{prefix}: {other}")),
    }
}

pub(super) fn refusal(a: &Answer) -> String {
    let mut out = Vec::new();
    messages(&a.body, "", &mut out);
    format!("{} ({})", out.join("; "), a.status)
}

/// One thing to do, in the order awxkit does it: objects of each section, then what each
/// object's `related` holds (objects created under it, then links to existing ones).
pub(super) enum Step<'a> {
    Object {
        res: &'static Resource,
        obj: &'a Map<String, Value>,
        /// For an object listed under another one: its foreign key to that one.
        parent: Option<(&'static str, &'a Value)>,
    },
    Link {
        res: &'static Resource,
        owner: &'a Value,
        sub: &'static str,
        members: &'a [Value],
    },
}

/// The steps of a document, checked for shape: every section and field is one rawx knows.
pub(super) fn plan(doc: &Value) -> Result<Vec<Step<'_>>, String> {
    let Some(sections) = doc.as_object() else {
        return Err("the file is not a JSON object of sections (what `awx export` writes)".into());
    };
    for (name, v) in sections {
        if ORDER.iter().any(|(s, k)| s == name && served(k).is_some()) {
            continue;
        }
        if name == "execution_environments" {
            // The default ones describe the environment of the installation that exported
            // them (their image is its path), and every job here runs in this node's own
            // environment whichever it names: not data to carry over.
            if let Some(n) = v.as_array().map(Vec::len).filter(|n| *n > 0) {
                println!("skipped   {n} execution environment(s): rawx runs jobs in its own");
            }
            continue;
        }
        // Inventory sources are exported (as `awx export` does) but not imported yet: an empty
        // section passes, objects are refused by name.
        if rawx_api::ABSENT_RESOURCES.iter().any(|(k, ..)| k == name)
            || ORDER.iter().any(|(s, _)| s == name)
            || name == "inventory_sources"
        {
            if v.is_null() || v.as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            if name == "inventory_sources" {
                return Err(
                    "section \"inventory_sources\": rawx does not import inventory sources yet; \
                     remove them from the file and make them with `awx inventory_sources create`"
                        .into(),
                );
            }
            return Err(format!(
                "section {name:?}: rawx has no {}; remove them from the file",
                name.replace('_', " ")
            ));
        }
        return Err(format!("unknown section {name:?}"));
    }
    let mut steps = Vec::new();
    let mut queue = Vec::new();
    for (section, key) in ORDER {
        let Some(res) = served(key) else { continue };
        let list = match sections.get(*section) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(a)) => a,
            Some(_) => return Err(format!("section {section:?} is not a list")),
        };
        for o in list {
            objects(res, o, None, &mut steps, &mut queue)?;
        }
    }
    // Related sets come after every section, as in awxkit, so links find their members;
    // objects created there may queue more.
    while !queue.is_empty() {
        for (res, owner, related) in std::mem::take(&mut queue) {
            related_steps(res, owner, related, &mut steps, &mut queue)?;
        }
    }
    Ok(steps)
}

type Queued<'a> = (&'static Resource, &'a Value, &'a Map<String, Value>);

fn objects<'a>(
    res: &'static Resource,
    o: &'a Value,
    parent: Option<(&'static str, &'a Value)>,
    steps: &mut Vec<Step<'a>>,
    queue: &mut Vec<Queued<'a>>,
) -> Result<(), String> {
    let Some(obj) = o.as_object() else {
        return Err(format!("a {} that is not an object: {o}", res.type_name));
    };
    let Some(key) = obj.get("natural_key").filter(|k| k.is_object()) else {
        return Err(format!(
            "a {} without its natural_key: {}",
            res.type_name,
            Value::Object(obj.clone())
        ));
    };
    let who = describe(key);
    if key["type"] != json!(res.type_name) {
        return Err(format!(
            "{who}: listed among {} but its natural_key says {}",
            res.key, key["type"]
        ));
    }
    for (name, v) in obj {
        match name.as_str() {
            "natural_key" => {}
            "related" => {
                let Some(related) = v.as_object() else {
                    return Err(format!("{who}: related is not an object"));
                };
                queue.push((res, key, related));
            }
            "password" if res.key == "users" => {}
            _ => match res.field(name) {
                Some(f) if f.writable() && f.shown() => {
                    if let (Kind::Fk(_), Value::Object(_) | Value::Null) = (f.kind, v) {
                    } else if let Kind::Fk(_) = f.kind {
                        return Err(format!(
                            "{who}: field {name:?} must be a natural key (an object) or null"
                        ));
                    }
                }
                _ => return Err(format!("{who}: unknown field {name:?}")),
            },
        }
    }
    steps.push(Step::Object { res, obj, parent });
    Ok(())
}

fn related_steps<'a>(
    res: &'static Resource,
    owner: &'a Value,
    related: &'a Map<String, Value>,
    steps: &mut Vec<Step<'a>>,
    queue: &mut Vec<Queued<'a>>,
) -> Result<(), String> {
    for (name, v) in related {
        let Some(sub) = res.sub(name) else {
            return Err(format!("{}: unknown related set {name:?}", describe(owner)));
        };
        let Some(list) = v.as_array() else {
            return Err(format!(
                "{}: related {name:?} is not a list",
                describe(owner)
            ));
        };
        match sub.list {
            SubList::Children { resource, fk } => {
                let child = rawx_model::resources::by_key(resource).expect("child resource");
                for o in list {
                    objects(child, o, Some((fk, owner)), steps, queue)?;
                }
            }
            SubList::Linked { .. } if list.is_empty() => {}
            // Role grants are neither exported nor imported.
            SubList::Role { .. } | SubList::Activity => {}
            SubList::Linked {
                relation,
                from_left,
            } => {
                // Members exported in full (a template's labels) are objects of their own:
                // made or updated before the link, which then finds them by natural key.
                let other = if from_left {
                    relation.right.0
                } else {
                    relation.left.0
                };
                if list.iter().any(|m| m.get("natural_key").is_some()) {
                    let member = served(other).ok_or_else(|| {
                        format!("{}: {name:?} cannot be imported", describe(owner))
                    })?;
                    for o in list {
                        objects(member, o, None, steps, queue)?;
                    }
                }
                steps.push(Step::Link {
                    res,
                    owner,
                    sub: sub.name,
                    members: list,
                })
            }
        }
    }
    Ok(())
}
