//! When: schedules launch a job template at the occurrences of an iCalendar RRULE. The rule
//! is checked with AWX's rules and messages, and its occurrences computed with the `rrule`
//! crate (RFC 5545, time zones from `chrono-tz`).

use super::{fk, DESCRIPTION, NAME, VERBOSITY};
use crate::schema::{Default as D, Field, Kind, Relation, Resource, Scope, Sub, SubList};
use chrono::TimeZone;
use rrule::{Frequency, RRuleSet, Tz};

const fn computed(name: &'static str, label: &'static str, help: &'static str) -> Field {
    Field::new(name, label, Kind::DateTime)
        .help(help)
        .read_only()
        .nullable()
}

pub static SCHEDULES: Resource = Resource {
    key: "schedules",
    type_name: "schedule",
    verbose: "Schedule",
    fields: &[
        Field::new("rrule", "Rrule", Kind::Text)
            .help("A value representing the schedules iCal recurrence rule.")
            .required(),
        NAME,
        DESCRIPTION,
        // Any kind of template (AWX's `UnifiedJobTemplate`): a job or workflow template, a
        // project, an inventory source; they share one id space.
        fk("unified_job_template", "Unified job template", "unified_job_templates").required(),
        Field::new("enabled", "Enabled", Kind::Bool)
            .help("Enables processing of this schedule.")
            .default(D::Bool(true)),
        computed(
            "dtstart",
            "Dtstart",
            "The first occurrence of the schedule occurs on or after this time.",
        ),
        computed(
            "dtend",
            "Dtend",
            "The last occurrence of the schedule occurs before this time, aftewards the schedule expires.",
        ),
        computed(
            "next_run",
            "Next run",
            "The next time that the scheduled action will run.",
        ),
        Field::new("timezone", "Timezone", Kind::Text)
            .help("The timezone this schedule runs in. This field is extracted from the RRULE. If the timezone in the RRULE is a link to another timezone, the link will be reflected in this field.")
            .read_only()
            .default(D::Str("")),
        Field::new("until", "Until", Kind::Text)
            .help("The date this schedule will end. This field is computed from the RRULE. If the schedule does not end an empty string will be returned")
            .read_only()
            .default(D::Str("")),
        Field::new("extra_data", "Extra data", Kind::Json).default(D::EmptyObject),
        // The prompts a launch accepts (`jobs.rs`' PROMPTS); null leaves the template's value.
        fk("inventory", "Inventory", "inventories")
            .help("Inventory applied as a prompt, assuming job template prompts for inventory")
            .nullable(),
        Field::new("limit", "Limit", Kind::Text).nullable(),
        Field::new(
            "job_type",
            "Job type",
            Kind::Choice(&[("run", "Run"), ("check", "Check")]),
        )
        .nullable(),
        Field::new("job_tags", "Job tags", Kind::Text).nullable(),
        Field::new("skip_tags", "Skip tags", Kind::Text).nullable(),
        Field::new("verbosity", "Verbosity", Kind::IntChoice(VERBOSITY)).nullable(),
        Field::new("diff_mode", "Diff mode", Kind::Bool).nullable(),
        Field::new("scm_branch", "Scm branch", Kind::Str { max: 1024 }).nullable(),
        Field::new(
            "forks",
            "Forks",
            Kind::Int {
                min: Some(0),
                max: Some(2147483647),
            },
        )
        .nullable(),
        Field::new(
            "timeout",
            "Timeout",
            Kind::Int {
                min: Some(-2147483648),
                max: Some(2147483647),
            },
        )
        .nullable(),
    ],
    name_field: Some("name"),
    unique: &[&["unified_job_template", "name"]],
    scope: Scope::Via(&["unified_job_template", "organization"]),
    // `jobs/` lists the jobs of every kind it launched: the schedules module's own route.
    subs: &[
        Sub {
            name: "credentials",
            list: SubList::Linked {
                relation: &SCHEDULE_CREDENTIALS,
                from_left: true,
            },
        },
        Sub {
            name: "labels",
            list: SubList::Linked {
                relation: &SCHEDULE_LABELS,
                from_left: true,
            },
        },
        Sub {
            name: "instance_groups",
            list: SubList::Linked {
                relation: &SCHEDULE_INSTANCE_GROUPS,
                from_left: true,
            },
        },
    ],
    order: "-next_run",
    search_fields: &["name", "description"],
    named_url_parents: &[],
    read_only_api: false,
};

/// A schedule's own credentials (AWX's launch configuration `credentials`): each replaces the
/// template's of its type when the schedule launches.
pub static SCHEDULE_CREDENTIALS: Relation = Relation {
    table: "schedule_credentials",
    left: ("schedules", "schedule_id"),
    right: ("credentials", "credential_id"),
};

/// A schedule's labels (AWX's launch configuration `labels`), given to the jobs it launches
/// when the template asks for labels.
pub static SCHEDULE_LABELS: Relation = Relation {
    table: "schedule_labels",
    left: ("schedules", "schedule_id"),
    right: ("labels", "label_id"),
};

/// A schedule's instance groups (AWX's launch configuration `instance_groups`): the jobs it
/// launches run only in these when the template asks for instance groups.
pub static SCHEDULE_INSTANCE_GROUPS: Relation = Relation {
    table: "schedule_instance_groups",
    left: ("schedules", "schedule_id"),
    right: ("instance_groups", "instancegroup_id"),
};

/// What a schedule shows that its rule decides (AWX's `update_computed_fields`), as stored text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    /// The rule as stored: a naive `UNTIL` rewritten to UTC, as AWX does.
    pub rrule: String,
    pub next_run: Option<String>,
    pub dtstart: Option<String>,
    pub dtend: Option<String>,
    pub timezone: String,
    pub until: String,
}

/// A parsed, checked rule.
#[derive(Debug, Clone)]
pub struct Rule {
    text: String,
    set: RRuleSet,
}

fn fmt(dt: &chrono::DateTime<Tz>) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(dt.timestamp())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    crate::format_time(t)
}

fn to_tz(t: time::OffsetDateTime) -> chrono::DateTime<Tz> {
    Tz::UTC
        .timestamp_opt(t.unix_timestamp(), t.nanosecond())
        .single()
        .expect("a UTC instant is never ambiguous")
}

/// The DTSTART property (`DTSTART;TZID=Europe/Paris:20300101T090000`), if any.
fn dtstart_part(text: &str) -> Option<&str> {
    text.split_whitespace().find(|p| p.starts_with("DTSTART"))
}

/// AWX accepts an `UNTIL` without `Z` and reads it in DTSTART's zone (RFC 5545 wants UTC):
/// rewrite it to UTC so the stored rule is a standard one.
fn coerce_naive_until(text: &str) -> Result<String, String> {
    let Some(start) = dtstart_part(text) else {
        return Ok(text.to_string());
    };
    let mut parts = Vec::new();
    for part in text.split_whitespace() {
        let Some(pos) = part.find("UNTIL=") else {
            parts.push(part.to_string());
            continue;
        };
        let value_at = pos + "UNTIL=".len();
        let value: String = part[value_at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if value.ends_with('Z') || !value.contains('T') {
            parts.push(part.to_string());
            continue;
        }
        // Parse DTSTART with the naive UNTIL as its start: that gives the instant in its zone.
        let probe = format!(
            "{}:{value}\nRRULE:FREQ=DAILY;COUNT=1",
            start.split(':').next().unwrap_or("DTSTART")
        );
        let local: RRuleSet = probe
            .parse()
            .map_err(|e: rrule::RRuleError| e.to_string())?;
        let utc = local.get_dt_start().with_timezone(&chrono::Utc);
        let coerced = utc.format("%Y%m%dT%H%M%SZ").to_string();
        parts.push(format!(
            "{}{coerced}{}",
            &part[..value_at],
            &part[value_at + value.len()..]
        ));
    }
    Ok(parts.join(" "))
}

/// AWX's rrule rules (`SchedulePreviewSerializer.validate_rrule`), with its messages, then
/// the parse itself. Every message goes under `rrule`.
pub fn parse_rule(text: &str) -> Result<Rule, Vec<String>> {
    let lower = text.to_lowercase();
    let mut errors = Vec::new();
    let dtstarts: Vec<&str> = text
        .split_whitespace()
        .filter(|p| p.starts_with("DTSTART") && p.contains(':'))
        .collect();
    let has_time = |p: &str| {
        let v = p.rsplit(':').next().unwrap_or("");
        v.contains('T') && v.chars().next().is_some_and(|c| c.is_ascii_digit())
    };
    if !dtstarts.iter().any(|p| has_time(p)) {
        errors.push(
            "Valid DTSTART required in rrule. Value should start with: DTSTART:YYYYMMDDTHHMMSSZ"
                .to_string(),
        );
    }
    if dtstarts
        .iter()
        .any(|p| p.starts_with("DTSTART:") && has_time(p) && !p.ends_with('Z'))
    {
        errors.push(
            "DTSTART cannot be a naive datetime.  Specify ;TZINFO= or YYYYMMDDTHHMMSSZZ."
                .to_string(),
        );
    }
    if dtstarts.len() > 1 {
        errors.push("Multiple DTSTART is not supported.".to_string());
    }
    if !lower.contains("rrule:") {
        errors.push("One or more rule required in rrule.".to_string());
    }
    if lower.contains("exdate:") {
        return Err(vec!["EXDATE not allowed in rrule.".to_string()]);
    }
    if lower.contains("rdate:") {
        return Err(vec!["RDATE not allowed in rrule.".to_string()]);
    }
    for rule in text
        .split_whitespace()
        .filter_map(|p| p.find("RULE:").map(|i| &p[i..]))
    {
        let upper = rule.to_uppercase();
        if !upper.contains("INTERVAL") {
            errors.push(format!("INTERVAL required in rrule: {rule}"));
        } else if upper.contains("SECONDLY") {
            errors.push(format!("SECONDLY is not supported: {rule}"));
        }
        if let Some(i) = upper.find("BYDAY") {
            let after = &upper[i + "BYDAY".len()..];
            if after.starts_with(['=', ':'])
                && after[1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            {
                errors.push(format!("BYDAY with numeric prefix not supported: {rule}"));
            }
        }
        if rule.contains("COUNT") && rule.contains("UNTIL") {
            errors.push(format!(
                "RRULE may not contain both COUNT and UNTIL: {rule}"
            ));
        }
        if let Some(i) = rule.find("COUNT=") {
            let n: String = rule[i + 6..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if n.parse::<u64>().is_ok_and(|n| n > 999) {
                errors.push(format!("COUNT > 999 is unsupported: {rule}"));
            }
        }
    }
    let parsed = coerce_naive_until(text).and_then(|coerced| {
        // The crate reads one property per line; AWX's rules separate them with spaces.
        let lines = coerced.split_whitespace().collect::<Vec<_>>().join("\n");
        let set: RRuleSet = lines
            .parse()
            .map_err(|e: rrule::RRuleError| e.to_string())?;
        if set.get_dt_start().timezone().is_local() {
            return Err("A valid TZID must be provided (e.g., America/New_York)".to_string());
        }
        Ok(Rule { text: coerced, set })
    });
    match parsed {
        Ok(rule) if errors.is_empty() => Ok(rule),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.push(format!("rrule parsing failed validation: {e}"));
            Err(errors)
        }
    }
}

impl Rule {
    /// A rule whose start is long past iterates from it on every question; AWX moves the start
    /// of unbounded minutely and hourly rules to a week ago (same time of day), and so does this.
    fn fast_forwarded(&self, now: time::OffsetDateTime) -> RRuleSet {
        let start = self.set.get_dt_start();
        let week_ago = to_tz(now - time::Duration::days(7));
        let unbounded_fast = self.set.get_rrule().iter().any(|r| {
            matches!(r.get_freq(), Frequency::Minutely | Frequency::Hourly)
                && r.get_count().is_none()
        });
        if *start >= week_ago || !unbounded_fast {
            return self.set.clone();
        }
        let date = week_ago
            .with_timezone(&start.timezone())
            .format("%Y%m%d")
            .to_string();
        let Some(part) = dtstart_part(&self.text) else {
            return self.set.clone();
        };
        let Some(colon) = part.rfind(':') else {
            return self.set.clone();
        };
        let moved = format!("{}:{date}{}", &part[..colon], &part[colon + 9..]);
        let lines = self
            .text
            .replacen(part, &moved, 1)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("\n");
        lines.parse().unwrap_or_else(|_| self.set.clone())
    }

    /// Up to `n` occurrences strictly after `after`, in the rule's own zone.
    fn after(&self, after: time::OffsetDateTime, n: u16) -> Vec<chrono::DateTime<rrule::Tz>> {
        let t = to_tz(after);
        self.fast_forwarded(after)
            .after(t)
            .all(n.saturating_add(1))
            .dates
            .into_iter()
            .filter(|d| *d > t)
            .take(usize::from(n))
            .collect()
    }

    /// Up to `n` occurrences strictly after `after`, as stored text (UTC).
    pub fn occurrences_after(&self, after: time::OffsetDateTime, n: u16) -> Vec<String> {
        self.after(after, n).iter().map(fmt).collect()
    }

    /// The occurrences in the rule's own zone, as AWX's preview shows them (`local`).
    pub fn local_after(&self, after: time::OffsetDateTime, n: u16) -> Vec<String> {
        self.after(after, n)
            .iter()
            .map(|d| d.to_rfc3339())
            .collect()
    }

    pub fn timezone(&self) -> String {
        match self.set.get_dt_start().timezone().name() {
            "UTC" | "Etc/UTC" | "Z" => "UTC".to_string(),
            name => name.to_string(),
        }
    }

    /// The schedule's computed fields at `now`; `enabled: false` has no next run.
    pub fn computed(&self, enabled: bool, now: time::OffsetDateTime) -> Computed {
        let next_run = if enabled {
            self.occurrences_after(now, 1).into_iter().next()
        } else {
            None
        };
        let first = self.set.clone().all(1).dates.first().map(fmt);
        let bounded = self
            .set
            .get_rrule()
            .iter()
            .all(|r| r.get_count().is_some() || r.get_until().is_some());
        // COUNT ≤ 999 (checked above) and UNTIL bound the walk; the cap is a guard.
        let dtend = if bounded {
            self.set.clone().all(u16::MAX).dates.last().map(fmt)
        } else {
            None
        };
        let start = self.set.get_dt_start();
        let until = self
            .set
            .get_rrule()
            .iter()
            .find_map(|r| r.get_until())
            .map(|u| {
                u.with_timezone(&start.timezone())
                    .naive_local()
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        Computed {
            rrule: self.text.clone(),
            next_run,
            dtstart: first,
            dtend,
            timezone: self.timezone(),
            until,
        }
    }
}

/// Every time zone name a rule's `TZID` may use, sorted (`/schedules/zoneinfo/`).
pub fn zone_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> time::OffsetDateTime {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn awx_messages_for_bad_rules() {
        let e = parse_rule("RRULE:FREQ=DAILY;INTERVAL=1").unwrap_err();
        assert!(
            e[0].starts_with("Valid DTSTART required in rrule."),
            "{e:?}"
        );
        let e = parse_rule("DTSTART:20300101T090000 RRULE:FREQ=DAILY;INTERVAL=1").unwrap_err();
        assert!(e.contains(
            &"DTSTART cannot be a naive datetime.  Specify ;TZINFO= or YYYYMMDDTHHMMSSZZ.".into()
        ));
        let e = parse_rule("DTSTART:20300101T090000Z RRULE:FREQ=SECONDLY;INTERVAL=1").unwrap_err();
        assert_eq!(
            e,
            // AWX quotes the rule from `RULE:` on (its pattern), and so does rawx.
            vec!["SECONDLY is not supported: RULE:FREQ=SECONDLY;INTERVAL=1".to_string()]
        );
        let e = parse_rule("DTSTART:20300101T090000Z RRULE:FREQ=DAILY").unwrap_err();
        assert_eq!(
            e,
            vec!["INTERVAL required in rrule: RULE:FREQ=DAILY".to_string()]
        );
        let e = parse_rule(
            "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1;COUNT=2;UNTIL=20300105T000000Z",
        )
        .unwrap_err();
        assert!(e[0].starts_with("RRULE may not contain both COUNT and UNTIL"));
        let e = parse_rule("DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1;COUNT=1000")
            .unwrap_err();
        assert!(e[0].starts_with("COUNT > 999 is unsupported"));
        let e = parse_rule("DTSTART:20300101T090000Z RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=2MO")
            .unwrap_err();
        assert!(e[0].starts_with("BYDAY with numeric prefix not supported"));
        let e = parse_rule("DTSTART;TZID=Mars/Olympus:20300101T090000 RRULE:FREQ=DAILY;INTERVAL=1")
            .unwrap_err();
        assert!(
            e[0].starts_with("rrule parsing failed validation: "),
            "{e:?}"
        );
        assert_eq!(
            parse_rule(
                "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1 EXDATE:20300102T090000Z"
            )
            .unwrap_err(),
            vec!["EXDATE not allowed in rrule.".to_string()]
        );
    }

    #[test]
    fn occurrences_in_the_rules_zone() {
        let r = parse_rule(
            "DTSTART;TZID=America/New_York:20300101T090000 RRULE:FREQ=DAILY;INTERVAL=1;COUNT=3",
        )
        .unwrap();
        let c = r.computed(true, at("2029-06-01T00:00:00Z"));
        assert_eq!(c.timezone, "America/New_York");
        assert_eq!(c.next_run.as_deref(), Some("2030-01-01T14:00:00.000000Z"));
        assert_eq!(c.dtstart.as_deref(), Some("2030-01-01T14:00:00.000000Z"));
        assert_eq!(c.dtend.as_deref(), Some("2030-01-03T14:00:00.000000Z"));
        assert_eq!(c.until, "");
        // After the first occurrence the next is a day on; after the last there is none.
        let c = r.computed(true, at("2030-01-01T14:00:00Z"));
        assert_eq!(c.next_run.as_deref(), Some("2030-01-02T14:00:00.000000Z"));
        assert_eq!(r.computed(true, at("2030-01-04T00:00:00Z")).next_run, None);
        assert_eq!(r.computed(false, at("2029-06-01T00:00:00Z")).next_run, None);
    }

    #[test]
    fn a_naive_until_is_read_in_the_start_zone() {
        let r = parse_rule(
            "DTSTART;TZID=America/New_York:20300601T120000 RRULE:FREQ=HOURLY;INTERVAL=1;UNTIL=20300601T170000",
        )
        .unwrap();
        let c = r.computed(true, at("2030-01-01T00:00:00Z"));
        assert!(c.rrule.ends_with("UNTIL=20300601T210000Z"), "{}", c.rrule);
        assert_eq!(c.until, "2030-06-01T17:00:00");
        assert_eq!(c.dtend.as_deref(), Some("2030-06-01T21:00:00.000000Z"));
    }

    #[test]
    fn an_old_minutely_rule_answers_from_a_week_ago() {
        let r = parse_rule("DTSTART:20200101T000030Z RRULE:FREQ=MINUTELY;INTERVAL=1").unwrap();
        let next = r.occurrences_after(at("2030-03-04T05:06:07Z"), 2);
        assert_eq!(
            next,
            vec![
                "2030-03-04T05:06:30.000000Z".to_string(),
                "2030-03-04T05:07:30.000000Z".to_string()
            ]
        );
    }
}
