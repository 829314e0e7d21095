//! ansible-playbook arguments from a job's template options, in the order AWX builds them
//! (`RunJob.build_args`), and their quoting into the `env/cmdline` string the worker
//! `shlex.split`s back.

use crate::RunnerError;

/// The job fields that change the command line. `Default` is "no option set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdlineOptions {
    /// job_type `check`: `--check`.
    pub check: bool,
    /// `-u USER`. AWX always sends one (the machine credential's user, else `root`); `None`
    /// leaves ansible's default.
    pub user: Option<String>,
    /// `--ask-pass` (answer it through env/passwords).
    pub ask_pass: bool,
    pub become_enabled: bool,
    pub diff_mode: bool,
    pub become_method: Option<String>,
    pub become_user: Option<String>,
    /// `--ask-become-pass`.
    pub ask_become_pass: bool,
    /// `--ask-vault-pass` for an unnamed vault password.
    pub ask_vault_pass: bool,
    /// `--vault-id ID@prompt` each.
    pub vault_ids: Vec<String>,
    /// `--forks=N` when non-zero.
    pub forks: u32,
    pub force_handlers: bool,
    pub limit: Option<String>,
    /// `-v`…`-vvvvv` (capped at 5).
    pub verbosity: u8,
    /// `-t TAGS`.
    pub job_tags: Option<String>,
    pub skip_tags: Option<String>,
    pub start_at_task: Option<String>,
    /// Ad hoc commands: the hosts as `ansible`'s positional pattern, last (AWX puts the limit,
    /// or `all`, there).
    pub host_pattern: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// AWX refuses Jinja in the user and become fields (they end up in ansible's templated
/// connection variables).
fn no_jinja(field: &str, v: &str) -> Result<(), RunnerError> {
    if v.contains("{{") || v.contains("{%") {
        return Err(RunnerError::InvalidInput(format!(
            "{field} {v:?} contains a Jinja template ('{{{{' or '{{%'), which is not allowed"
        )));
    }
    Ok(())
}

/// The argument list, AWX's order.
pub fn build_args(o: &CmdlineOptions) -> Result<Vec<String>, RunnerError> {
    let mut a: Vec<String> = Vec::new();
    if o.check {
        a.push("--check".into());
    }
    if let Some(u) = non_empty(&o.user) {
        no_jinja("user", u)?;
        a.extend(["-u".into(), u.into()]);
    }
    if o.ask_pass {
        a.push("--ask-pass".into());
    }
    if o.become_enabled {
        a.push("--become".into());
    }
    if o.diff_mode {
        a.push("--diff".into());
    }
    if let Some(m) = non_empty(&o.become_method) {
        no_jinja("become_method", m)?;
        a.extend(["--become-method".into(), m.into()]);
    }
    if let Some(u) = non_empty(&o.become_user) {
        no_jinja("become_user", u)?;
        a.extend(["--become-user".into(), u.into()]);
    }
    if o.ask_become_pass {
        a.push("--ask-become-pass".into());
    }
    if o.ask_vault_pass {
        a.push("--ask-vault-pass".into());
    }
    for id in &o.vault_ids {
        a.extend(["--vault-id".into(), format!("{id}@prompt")]);
    }
    if o.forks > 0 {
        a.push(format!("--forks={}", o.forks));
    }
    if o.force_handlers {
        a.push("--force-handlers".into());
    }
    if let Some(l) = non_empty(&o.limit) {
        a.extend(["-l".into(), l.into()]);
    }
    if o.verbosity > 0 {
        a.push(format!("-{}", "v".repeat(o.verbosity.min(5) as usize)));
    }
    if let Some(t) = non_empty(&o.job_tags) {
        a.extend(["-t".into(), t.into()]);
    }
    if let Some(t) = non_empty(&o.skip_tags) {
        a.push(format!("--skip-tags={t}"));
    }
    if let Some(t) = non_empty(&o.start_at_task) {
        a.push(format!("--start-at-task={t}"));
    }
    if let Some(p) = non_empty(&o.host_pattern) {
        a.push(p.into());
    }
    Ok(a)
}

/// The `env/cmdline` string: [`build_args`] quoted and joined.
pub fn build_cmdline(o: &CmdlineOptions) -> Result<String, RunnerError> {
    Ok(args_to_cmdline(&build_args(o)?))
}

/// ansible-runner's `args2cmdline`: each argument shell-quoted, joined by spaces.
pub fn args_to_cmdline<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Python's `shlex.quote`: unchanged when made only of `[A-Za-z0-9_@%+=:,./-]`, otherwise
/// single-quoted with each `'` written as `'"'"'`; `''` for the empty string.
pub fn quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if s.chars().all(safe) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_python_shlex() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("web1:web2,db-1/x@y%z+=."), "web1:web2,db-1/x@y%z+=.");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\"'\"'s'");
        assert_eq!(quote("é"), "'é'");
        assert_eq!(quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn every_option_in_awx_order() {
        let o = CmdlineOptions {
            check: true,
            user: Some("deploy".into()),
            ask_pass: true,
            become_enabled: true,
            diff_mode: true,
            become_method: Some("sudo".into()),
            become_user: Some("root".into()),
            ask_become_pass: true,
            ask_vault_pass: true,
            vault_ids: vec!["prod".into()],
            forks: 5,
            force_handlers: true,
            limit: Some("web1 web2".into()),
            verbosity: 9,
            job_tags: Some("setup,deploy".into()),
            skip_tags: Some("slow".into()),
            start_at_task: Some("Install the app".into()),
            host_pattern: None,
        };
        assert_eq!(
            build_cmdline(&o).unwrap(),
            "--check -u deploy --ask-pass --become --diff --become-method sudo --become-user root \
             --ask-become-pass --ask-vault-pass --vault-id prod@prompt --forks=5 --force-handlers \
             -l 'web1 web2' -vvvvv -t setup,deploy --skip-tags=slow '--start-at-task=Install the app'"
        );
        assert_eq!(build_cmdline(&CmdlineOptions::default()).unwrap(), "");
        let jinja = CmdlineOptions {
            user: Some("{{ x }}".into()),
            ..Default::default()
        };
        assert!(build_cmdline(&jinja).is_err());
    }
}
