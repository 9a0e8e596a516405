//! Compiling a [`RulesetWire`] into a [`Ruleset`]: rules, field rules, keys, and the tables the
//! scanner uses. Every problem is collected (with its JSON path) so one run reports them all.
//!
//! # Invariants
//! - A [`Ruleset`] is returned only when no error was pushed; a rule is built only when its own
//!   checks pushed none, and every `Ruleset` (even `compile_empty`) comes out of `assemble`, so the
//!   scanner's tables (`trigger_table`, `clusters`, `min_len`/`max_len`, `lookbehind`) always match
//!   its `rules`.
//! - `rules` is ordered: the user's rules as written (or every detector in `detect::DETECTORS`
//!   order), then one derived text rule per field with usable `keys` (keys holding `"` or `\` are
//!   left out), then the secrets-by-key rule; derived rules count under their field's label.
//! - Names of rules, fields, `secret_keys` and the host's labels are valid and unique together;
//!   every token key has a valid id and a secret of at least `MIN_SECRET_BYTES`, and the findings
//!   fingerprint key is the one named by `fingerprint_key_id`, else the active key.
//! - A private-key rule (`region_end`) only gets an action that [`Action::streams`]; the
//!   secrets-by-key rule is not checked so (its text values stream whatever the action: see
//!   `detect::secret_keys`). `tokenize` is only compiled when a key loaded.

use super::error::{self, Errors, PolicyErrors};
use super::wire::{self, ActionWire, RulesetWire};
use super::{fields, valid_name, Budget, Eligible, Field, Label, Labels, Limits, Rule, Ruleset, SECRET_KEYS_LABEL};
use crate::action::Action;
use crate::detect::{self, Normalize};
use crate::fpe::Validity;
use crate::search::pattern;
use crate::token::{TokenKey, MIN_SECRET_BYTES};
use aho_corasick::AhoCorasick;
use std::collections::HashSet;
use std::sync::Arc;

const DEFAULT_WITHIN: usize = 32;

/// A guard as written on a rule: `max_values_per_stream` and whether it blocks.
type Guard = (u64, bool);
const MAX_WITHIN: usize = 1024;

/// What `compile` found valid, before the scanner's tables are derived from it.
struct Parts<'a> {
    rules: Vec<Rule>,
    user_rules: usize,
    fields: Vec<Field>,
    secret_field: Option<usize>,
    secret_terms: Vec<Vec<u8>>,
    field_keys: Vec<(Box<[u8]>, usize)>,
    field_paths: Vec<(Vec<fields::PathSeg>, usize)>,
    host_labels: &'a [(String, String)],
    /// Bulk-exposure guards per user rule and per field rule, in their order.
    budgets: (Vec<Option<Guard>>, Vec<Option<Guard>>),
    findings_log: bool,
    token_key: Option<Arc<TokenKey>>,
    fingerprint_key: Option<Arc<TokenKey>>,
    tokenize_section: bool,
    limits: Limits,
}

impl Ruleset {
    /// Compiles an already parsed rule set. `host_labels` are the host's own metric labels
    /// (`(JSON path, name)`: a proxy's header and query rules), placed after the rule set's; their
    /// names must be valid and unique among all names.
    ///
    /// # Errors
    /// Every problem found, each with its JSON path.
    pub fn compile(
        w: RulesetWire,
        env: &dyn Fn(&str) -> Option<String>,
        host_labels: &[(String, String)],
    ) -> Result<Ruleset, PolicyErrors> {
        let mut errs = Errors::default();

        // Keys first: actions need to know whether tokenization is possible.
        if w.tokenize.is_some() {
            errs.1 = error::TokenizeSection::Present;
        }
        let (key, fingerprint_key) = match compile_keys(w.tokenize.as_ref(), env, &mut errs) {
            Some((k, f)) => (Some(k), f),
            None => (None, None),
        };
        let has_key = key.is_some();

        let mut names = HashSet::new();
        let mut rules: Vec<Rule> = Vec::new();
        let wires: Vec<(String, wire::RuleWire)> = match w.rules {
            Some(r) => r
                .into_iter()
                .enumerate()
                .map(|(i, r)| (format!("rules[{i}]"), r))
                .collect(),
            None => detect::DETECTORS
                .iter()
                .map(|d| {
                    let r = wire::RuleWire {
                        name: None,
                        detector: Some(d.name.to_string()),
                        pattern: None,
                        action: None,
                        near: None,
                        within: None,
                        max_values_per_stream: None,
                        on_exceed: None,
                    };
                    (format!("(default rule {})", d.name), r)
                })
                .collect(),
        };
        // bulk-exposure guards, one per compiled rule (then per field rule)
        let mut rule_budgets: Vec<Option<Guard>> = Vec::new();
        for (path, r) in wires {
            let budget = budget_of(
                &format!("{path}."),
                r.max_values_per_stream,
                r.on_exceed.as_deref(),
                &mut errs,
            );
            if let Some(rule) = compile_rule(&path, r, key.as_ref(), has_key, &mut names, &mut errs) {
                rules.push(rule);
                rule_budgets.push(budget);
            }
        }

        let mut fields = Vec::new();
        let mut field_budgets: Vec<Option<Guard>> = Vec::new();
        let mut field_keys = Vec::new();
        let mut field_paths = Vec::new();
        for (i, f) in w.fields.into_iter().enumerate() {
            let path = format!("fields[{i}]");
            if !valid_name(&f.name) {
                errs.push(
                    format!("{path}.name"),
                    "use 1-64 letters, digits, '_' or '-' (the name appears in metric names)",
                );
            } else if !names.insert(f.name.clone()) {
                errs.push(
                    format!("{path}.name"),
                    format!("duplicate name {:?}; rule and field names must be unique", f.name),
                );
            }
            if f.keys.is_empty() && f.paths.is_empty() {
                errs.push(path.clone(), "a field needs \"keys\" or \"paths\"");
            }
            let idx = fields.len();
            for k in &f.keys {
                field_keys.push((k.as_bytes().to_vec().into_boxed_slice(), idx));
            }
            for (j, p) in f.paths.iter().enumerate() {
                match fields::parse_path(p) {
                    Ok(segs) => field_paths.push((segs, idx)),
                    Err(m) => errs.push(format!("{path}.paths[{j}]"), m),
                }
            }
            let action = f.action.unwrap_or(ActionWire::Redact { replacement: None });
            let target = FpeTarget {
                rule: &f.name,
                validity: Validity::Any,
                min_digits: None,
            };
            let action = compile_action_for(
                &format!("{path}.action"),
                &action,
                Normalize::None,
                key.as_ref(),
                Some(&target),
                &mut errs,
            );
            let budget = budget_of(
                &format!("{path}."),
                f.max_values_per_stream,
                f.on_exceed.as_deref(),
                &mut errs,
            );
            if let Some(action) = action {
                fields.push(Field { name: f.name, action });
                field_budgets.push(budget);
            }
        }

        // Secrets by key name: a field of its own (label `secret_keys`), matched by normalised key.
        let sk = w.secret_keys.unwrap_or_default();
        let mut secret_field = None;
        let mut secret_terms = Vec::new();
        if sk.enabled.unwrap_or(true) {
            secret_terms = detect::secret_keys::SECRET_KEYS
                .iter()
                .map(|t| detect::secret_keys::normalized_term(t))
                .collect();
            for (i, t) in sk.extra.iter().enumerate() {
                let n = detect::secret_keys::normalized_term(t);
                if n.is_empty() || n.len() > 64 || !n.iter().all(u8::is_ascii_alphanumeric) {
                    errs.push(
                        format!("secret_keys.extra[{i}]"),
                        "use 1-64 letters and digits (with optional '_', '-' or '.' between words)",
                    );
                } else {
                    secret_terms.push(n);
                }
            }
            if !names.insert(SECRET_KEYS_LABEL.to_string()) {
                errs.push(
                    "secret_keys",
                    format!("the name {SECRET_KEYS_LABEL:?} is taken by a rule or field; rename that one"),
                );
            }
            let wire = sk.action.clone().unwrap_or(ActionWire::Redact { replacement: None });
            if let Some(action) = compile_action("secret_keys.action", &wire, Normalize::None, key.as_ref(), &mut errs)
            {
                secret_field = Some(fields.len());
                fields.push(Field {
                    name: SECRET_KEYS_LABEL.to_string(),
                    action,
                });
            }
        } else if !sk.extra.is_empty() || sk.action.is_some() {
            errs.push(
                "secret_keys",
                "\"extra\" and \"action\" have no effect while \"enabled\" is false",
            );
        }

        // Key-based field rules also apply where JSON structure is gone (text bodies, malformed
        // JSON, JSON inside strings): `"key": value` is matched as text and only the value masked.
        let user_rules = rules.len();
        for (fi, field) in fields.iter().enumerate() {
            let keys: Vec<&[u8]> = field_keys
                .iter()
                .filter(|(_, i)| *i == fi)
                .map(|(k, _)| &**k)
                .filter(|k| !k.contains(&b'"') && !k.contains(&b'\\'))
                .collect();
            if keys.is_empty() {
                continue;
            }
            match derived_field_rule(&field.name, &keys, field.action.clone(), fi) {
                Ok(r) => rules.push(r),
                Err(m) => errs.push(format!("fields[{fi}].keys"), m),
            }
        }

        if let Some(fi) = secret_field {
            let written = detect::secret_keys::SECRET_KEYS
                .iter()
                .copied()
                .chain(sk.extra.iter().map(String::as_str));
            match secret_keys_rule(written, fields[fi].action.clone(), fi) {
                Ok(r) => rules.push(r),
                Err(m) => errs.push("secret_keys.extra", m),
            }
        }

        let d = Limits::DEFAULT;
        let l = &w.limits;
        let limits = Limits {
            max_depth: l.max_depth.unwrap_or(d.max_depth),
            max_field_value_bytes: l.max_field_value_bytes.unwrap_or(d.max_field_value_bytes),
        };
        if !(1..=4096).contains(&limits.max_depth) {
            errs.push("limits.max_depth", "use 1-4096");
        }
        if !(16..=(1 << 20)).contains(&limits.max_field_value_bytes) {
            errs.push("limits.max_field_value_bytes", "use 16-1048576");
        }
        for (path, name) in host_labels {
            if !valid_name(name) {
                errs.push(
                    path.clone(),
                    "use 1-64 letters, digits, '_' or '-' (the name appears in metric names)",
                );
            } else if !names.insert(name.clone()) {
                errs.push(
                    path.clone(),
                    format!("duplicate name {name:?}; rule, field and header names must be unique"),
                );
            }
        }
        let findings_log = w.findings_log.unwrap_or(false);
        if findings_log && key.is_none() {
            errs.push(
                "findings_log",
                "findings carry keyed fingerprints: add a \"tokenize\" key (fingerprints never use an unkeyed hash)",
            );
        }
        if !errs.0.is_empty() {
            return Err(PolicyErrors(errs.0));
        }
        let tokenize_section = errs.1 == error::TokenizeSection::Present;
        Ok(Ruleset::assemble(Parts {
            rules,
            user_rules,
            fields,
            secret_field,
            secret_terms,
            field_keys,
            field_paths,
            host_labels,
            budgets: (rule_budgets, field_budgets),
            findings_log,
            token_key: key,
            fingerprint_key,
            tokenize_section,
            limits,
        }))
    }

    /// A rule set with no rule, field or key (the fallback if `{}` ever failed to compile).
    pub(super) fn compile_empty() -> Ruleset {
        Ruleset::assemble(Parts {
            rules: Vec::new(),
            user_rules: 0,
            fields: Vec::new(),
            secret_field: None,
            secret_terms: Vec::new(),
            field_keys: Vec::new(),
            field_paths: Vec::new(),
            host_labels: &[],
            budgets: (Vec::new(), Vec::new()),
            findings_log: false,
            token_key: None,
            fingerprint_key: None,
            tokenize_section: false,
            limits: Limits::DEFAULT,
        })
    }

    /// The one constructor: derives the scanner's tables and the labels from what was compiled.
    fn assemble(mut p: Parts<'_>) -> Ruleset {
        let user_rules = p.user_rules;
        let host_labels = p.host_labels;
        let rules = &p.rules;
        // context kept before a candidate: `near` keywords, and what validators look at
        let lookbehind = rules
            .iter()
            .map(|r| r.near.as_ref().map_or(0, |n| n.1))
            .max()
            .unwrap_or(0)
            .max(detect::boundary::LOOK_BEHIND)
            + 8;
        let min_len = rules.iter().map(|r| r.pattern.min_len).min().unwrap_or(usize::MAX);
        let max_len = rules.iter().map(|r| r.pattern.max_len).max().unwrap_or(0);
        let newline_matches = rules.iter().any(|r| r.pattern.class.has_newline());
        let trigger_table = trigger_table(rules);
        let all_triggered = rules.iter().all(|r| r.pattern.trigger.is_some());
        let eligible = Eligible::new(rules.iter().map(|r| (r.pattern.min_digits, r.pattern.min_len)));
        let clusters = pattern::ClusterSpec::new(rules.iter().map(|r| &r.pattern));
        let labels = Labels::new(
            p.rules[..user_rules].iter().map(|r| r.name.as_str()),
            p.fields.iter().map(|f| f.name.as_str()),
            host_labels.iter().map(|(_, n)| n.as_str()),
        );
        // user rules count under their own label; a field's text form (its `label` holds the
        // field's index until now) under the field's
        for (r, rule) in p.rules.iter_mut().enumerate() {
            rule.label = if r < user_rules {
                labels.rule(r)
            } else {
                labels.field(rule.label.index())
            };
        }
        let by_rule = p.budgets.0.iter().enumerate().map(|(r, b)| (labels.rule(r), *b));
        let by_field = p.budgets.1.iter().enumerate().map(|(f, b)| (labels.field(f), *b));
        let budgets = by_rule
            .chain(by_field)
            .filter_map(|(l, b)| {
                b.map(|(max, block)| Budget {
                    label: Some(l),
                    max,
                    block,
                })
            })
            .collect();
        Ruleset {
            labels,
            findings_log: p.findings_log,
            fingerprint_key: p.fingerprint_key,
            token_key_id: p.token_key.as_ref().map(|k| k.id().to_string()),
            token_key: p.token_key,
            tokenize_section: p.tokenize_section,
            rules: p.rules,
            user_rules,
            budgets,
            min_len,
            max_len,
            newline_matches,
            trigger_table,
            all_triggered,
            eligible,
            clusters,
            prefilter: true,
            fields: p.fields,
            secret_field: p.secret_field,
            secret_terms: detect::secret_keys::KeyTerms::new(&p.secret_terms),
            name_pairs: {
                let mut pairs = detect::secret_keys::Pairs::default();
                if p.secret_field.is_some() {
                    p.secret_terms.iter().for_each(|t| pairs.add(t));
                }
                p.field_keys.iter().for_each(|(k, _)| pairs.add(k));
                pairs
            },
            field_keys: p.field_keys,
            field_paths: p.field_paths,
            lookbehind,
            limits: p.limits,
        }
    }
}

/// `key: value` / `key=value` text for credential-bearing keys, as a text rule that keeps only the
/// value (see `detect::secret_keys`).
fn secret_keys_rule<'a>(
    terms: impl Iterator<Item = &'a str> + Clone,
    action: Action,
    field: usize,
) -> Result<Rule, String> {
    let normalized: Vec<Vec<u8>> = terms.clone().map(detect::secret_keys::normalized_term).collect();
    let (pat, longest_term) = detect::secret_keys::text_pattern(terms);
    let hir = pattern::parse_with(&pat, false, usize::MAX, false)?;
    let mut compiled = pattern::compile(&hir)?;
    // every match holds its `:` or `=` after the key (a term, a quote, 16 blanks) and before
    // 16 blanks, a quote and a byte of the value
    compiled.anchor = Some(pattern::Anchor::new(
        (b':', b'='),
        longest_term + 1 + 16,
        16 + 2,
        normalized,
    ));
    Ok(Rule {
        name: SECRET_KEYS_LABEL.to_string(),
        pattern: compiled,
        validate: Some(detect::secret_keys::validate_value),
        near: None,
        action,
        region_end: None,
        label: Label(field as u32),
        value_region: true,
        normalize: Normalize::None,
    })
}

/// The text form of a key-based field rule: `"key": value` (a string of at most 4096 bytes, a
/// number, `true` or `false`), narrowed to the value by `field_value_only`; counted for `field`.
fn derived_field_rule(name: &str, keys: &[&[u8]], action: Action, field: usize) -> Result<Rule, String> {
    let alts: Vec<String> = keys
        .iter()
        .map(|k| regex_syntax::escape(&String::from_utf8_lossy(k)))
        .collect();
    let pat = field_text_pattern(&alts.join("|"));
    let hir = pattern::parse_with(&pat, false, usize::MAX, false)?;
    // the regex finds the key and the value's first byte; `field_value_whole` reads the rest
    let search = pattern::parse_with(&field_text_start(&alts.join("|")), false, usize::MAX, false)?;
    let compiled = pattern::compile_searching(&hir, &search)?;
    Ok(Rule {
        name: name.to_string(),
        pattern: compiled,
        validate: Some(field_value_whole),
        near: None,
        action,
        region_end: None,
        label: Label(field as u32),
        value_region: false,
        normalize: Normalize::None,
    })
}

/// The text form of a field rule for the key alternation `alts` (escaped): the pattern whose
/// matches the rule takes.
fn field_text_pattern(alts: &str) -> String {
    format!(
        r#""(?:{alts})"[ \t]{{0,16}}:[ \t]{{0,16}}(?:"(?-u:[^"\\\n]|\\[^\n]){{1,4096}}"|-?[0-9][0-9.eE+\-]{{0,63}}|true|false)"#
    )
}

/// What the scanner searches for a field's text form: the key, `:` and the first byte of the
/// value (its opening quote, its first digit, `true` or `false`). The whole pattern compiles to
/// megabytes (4,096 copies of a string unit); `field_value_whole` reads the rest.
fn field_text_start(alts: &str) -> String {
    format!(r#""(?:{alts})"[ \t]{{0,16}}:[ \t]{{0,16}}(?:"|-?[0-9]|true|false)"#)
}

/// The end of the `field_text_pattern` match whose `field_text_start` match is `s..e`, as the
/// whole pattern matches it: the value's first byte decides the branch (a quote: a string of 1 to
/// 4,096 units, a unit being a byte other than `"`, `\` and newline or a backslash and a byte other
/// than newline, then the closing quote; a digit: the longest run of number bytes up to 64 in
/// all; `true` and `false` are whole already). `None`: the whole pattern has no match from `s`.
fn field_text_end(hay: &[u8], e: usize) -> Option<usize> {
    match hay.get(e.checked_sub(1)?)? {
        b'"' => {
            let (mut i, mut units) = (e, 0usize);
            loop {
                match *hay.get(i)? {
                    b'"' => return (units >= 1).then_some(i + 1),
                    b'\n' => return None,
                    b'\\' => {
                        if matches!(hay.get(i + 1), None | Some(b'\n')) {
                            return None;
                        }
                        i += 2;
                    }
                    _ => i += 1,
                }
                units += 1;
                if units > 4096 {
                    return None;
                }
            }
        }
        b'0'..=b'9' => {
            // the first digit is at e - 1 (after an optional '-'); 63 more number bytes at most
            let more = hay[e..]
                .iter()
                .take(63)
                .take_while(|&&b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                .count();
            Some(e + more)
        }
        _ => Some(e),
    }
}

/// `field_value_only` for a `field_text_start` match: the value is read on as the whole pattern
/// reads it; no value from `s`: the search goes on from the next byte, as a search for the whole
/// pattern would.
fn field_value_whole(hay: &[u8], s: usize, e: usize) -> crate::detect::Verdict {
    match field_text_end(hay, e) {
        Some(end) => field_value_only(hay, s, end),
        None => crate::detect::Verdict::Reject { resume: s + 1 },
    }
}

/// Narrows a `"key": value` match to the value (inside its quotes for a string).
fn field_value_only(hay: &[u8], s: usize, e: usize) -> crate::detect::Verdict {
    use crate::detect::Verdict;
    let reject = Verdict::Reject { resume: e };
    let Some(key_end) = hay
        .get(s + 1..e)
        .and_then(|h| memchr::memchr(b'"', h))
        .map(|i| s + 1 + i + 1)
    else {
        return reject;
    };
    let mut v = key_end;
    while v < e && matches!(hay[v], b' ' | b'\t' | b':') {
        v += 1;
    }
    if v >= e {
        return reject;
    }
    if hay[v] == b'"' {
        if e >= v + 2 && hay[e - 1] == b'"' && e - 1 > v + 1 {
            Verdict::Accept(v + 1, e - 1)
        } else {
            reject
        }
    } else {
        Verdict::Accept(v, e)
    }
}

/// Byte → rules whose trigger holds it (bit `r % 64`; a shared bit only makes a rule search more).
fn trigger_table(rules: &[Rule]) -> Box<[u64; 256]> {
    let mut t = Box::new([0u64; 256]);
    for (r, rule) in rules.iter().enumerate() {
        if let Some(trig) = &rule.pattern.trigger {
            for b in trig.bytes() {
                t[usize::from(b)] |= 1u64 << (r % 64);
            }
        }
    }
    t
}

/// The active tokenization key and the key for findings fingerprints.
fn compile_keys(
    t: Option<&wire::TokenizeWire>,
    env: &dyn Fn(&str) -> Option<String>,
    errs: &mut Errors,
) -> Option<(Arc<TokenKey>, Option<Arc<TokenKey>>)> {
    let t = t?;
    let resolve = |path: &str, id: &str, secret: &Option<String>, secret_env: &Option<String>, errs: &mut Errors| {
        let value = match (secret, secret_env) {
            (Some(_), Some(_)) => {
                errs.push(path, "set either \"secret\" or \"secret_env\", not both");
                return None;
            }
            (Some(s), None) => s.clone(),
            (None, Some(var)) => match env(var) {
                Some(v) => v,
                None => {
                    errs.push(
                        format!("{path}.secret_env"),
                        format!("environment variable {var:?} is not set in the proxy's VM (Envoy: vm_config.environment_variables; NGINX: an `env {var};` line)"),
                    );
                    return None;
                }
            },
            (None, None) => {
                errs.push(
                    path,
                    "a tokenization key needs \"secret_env\" (recommended) or \"secret\"",
                );
                return None;
            }
        };
        if !valid_name(id) {
            errs.push(
                format!("{path}.id"),
                "use 1-64 letters, digits, '_' or '-' (it is part of every token)",
            );
            return None;
        }
        if value.len() < MIN_SECRET_BYTES {
            errs.push(
                path,
                format!(
                    "the secret is {} bytes; at least {MIN_SECRET_BYTES} are required (e.g. `openssl rand -base64 48`)",
                    value.len()
                ),
            );
            return None;
        }
        TokenKey::new(id, value.as_bytes())
    };
    let mut keys: Vec<Arc<TokenKey>> = Vec::new();
    if t.secret.is_some() || t.secret_env.is_some() || t.key_id.is_some() {
        let id = t.key_id.clone().unwrap_or_else(|| "k1".into());
        if let Some(k) = resolve("tokenize", &id, &t.secret, &t.secret_env, errs) {
            keys.push(Arc::new(k));
        }
    }
    for (i, k) in t.keys.iter().enumerate() {
        let path = format!("tokenize.keys[{i}]");
        if keys.iter().any(|x| x.id() == k.id) {
            errs.push(format!("{path}.id"), format!("duplicate key id {:?}", k.id));
            continue;
        }
        if let Some(key) = resolve(&path, &k.id, &k.secret, &k.secret_env, errs) {
            keys.push(Arc::new(key));
        }
    }
    // findings fingerprints: the key named by `fingerprint_key_id`, else the active key
    let fingerprint = match &t.fingerprint_key_id {
        Some(id) => match keys.iter().find(|k| k.id() == id) {
            Some(k) => Some(k.clone()),
            None => {
                errs.push(
                    "tokenize.fingerprint_key_id",
                    format!("no key with id {id:?}; name one of the configured keys"),
                );
                None
            }
        },
        None => None,
    };
    let active = match &t.active {
        Some(a) => match keys.iter().find(|k| k.id() == a) {
            Some(k) => Some(k.clone()),
            None => {
                errs.push("tokenize.active", format!("no key with id {a:?}"));
                None
            }
        },
        None if keys.len() > 1 => {
            errs.push(
                "tokenize.active",
                "several keys are configured; name the one that makes new tokens",
            );
            None
        }
        None => keys.first().cloned(),
    };
    if keys.is_empty() && t.secret.is_none() && t.secret_env.is_none() && t.keys.is_empty() {
        errs.push(
            "tokenize",
            "no key configured; set \"secret_env\" (and \"key_id\") or \"keys\"",
        );
    }
    let fingerprint = fingerprint.or_else(|| active.clone());
    Some((active?, fingerprint))
}

/// One action, with `normalize` as the tokenize default (the detector's). `None` only after an
/// error was pushed at `path`.
/// What an `fpe` action needs to know about the rule it belongs to.
pub(crate) struct FpeTarget<'a> {
    pub(crate) rule: &'a str,
    pub(crate) validity: Validity,
    /// The fewest digits a value of the rule holds (`None`: no bound, a field rule).
    pub(crate) min_digits: Option<usize>,
}

impl<'a> FpeTarget<'a> {
    /// The `fpe` target of a detector rule: the digit detectors only.
    fn of_detector(rule: &'a str, d: &detect::Detector) -> Option<FpeTarget<'a>> {
        let v = d.validate?;
        let (validity, min_digits) = match d.name {
            "credit_card" => (Validity::Card(v), 12),
            "us_ssn" => (Validity::Detector(v), 9),
            "phone_number" => (Validity::Detector(v), 7),
            // letters can make up most of a BBAN (BH, QA, KW): no useful lower bound
            "iban" => (Validity::Iban(v), 2),
            _ => return None,
        };
        Some(FpeTarget {
            rule,
            validity,
            min_digits: Some(min_digits),
        })
    }
}

/// An action that is not `fpe`'s (or an `fpe` refused: it has no rule to belong to).
pub(crate) fn compile_action(
    path: &str,
    a: &ActionWire,
    normalize: Normalize,
    key: Option<&Arc<TokenKey>>,
    errs: &mut Errors,
) -> Option<Action> {
    compile_action_for(path, a, normalize, key, None, errs)
}

/// The `fpe` action for `target`.
fn compile_fpe(
    path: &str,
    (keep_first, keep_last, fallback): (Option<usize>, Option<usize>, Option<&ActionWire>),
    normalize: Normalize,
    key: Option<&Arc<TokenKey>>,
    target: Option<&FpeTarget<'_>>,
    errs: &mut Errors,
) -> Option<Action> {
    let Some(t) = target else {
        errs.push(
            path,
            "fpe encrypts digits: use it on credit_card, us_ssn, iban, phone_number, a pattern rule or a field rule",
        );
        return None;
    };
    let (kf, kl) = (keep_first.unwrap_or(0), keep_last.unwrap_or(0));
    if kf > 64 || kl > 64 {
        errs.push(path, "keep_first and keep_last are at most 64");
        return None;
    }
    let Some(k) = key else {
        if errs.1 == error::TokenizeSection::Present {
            errs.push(
                path,
                "fpe needs the key of the \"tokenize\" section, which could not be loaded (see the error there)",
            );
            return None;
        }
        errs.push(
            path,
            "fpe needs a key: add \"tokenize\": {\"key_id\": \"k1\", \"secret_env\": \"STREAMMASK_TOKEN_KEY\"} (a key of its own is derived from it)",
        );
        return None;
    };
    let fallback = match fallback {
        Some(ActionWire::Fpe { .. }) => {
            errs.push(format!("{path}.fallback"), "a fallback cannot be fpe itself");
            return None;
        }
        Some(w) => Some(Box::new(compile_action(
            &format!("{path}.fallback"),
            w,
            normalize,
            key,
            errs,
        )?)),
        None => None,
    };
    // an IBAN's two check digits are recomputed, not encrypted
    let skip = if matches!(t.validity, Validity::Iban(_)) { 2 } else { 0 };
    let need = skip + kf + kl + crate::fpe::MIN_FREE_DIGITS;
    if fallback.is_none() && t.min_digits.is_none_or(|m| m < need) {
        let have = t
            .min_digits
            .map_or("any number of".to_string(), |m| format!("as few as {m}"));
        errs.push(
            path,
            format!(
                "FF1 needs at least 6 digits left to encrypt ({need} with these keep_first/keep_last), and values of this rule can have {have} digits: keep fewer, or add \"fallback\": {{\"type\": \"redact\"}} (or a mask) for those values"
            ),
        );
        return None;
    }
    let Some(fk) = crate::fpe::FpeKey::derive(k) else {
        errs.push(path, "cannot build the FF1 key");
        return None;
    };
    Some(Action::Fpe {
        fpe: Arc::new(crate::fpe::Fpe {
            keep_first: kf,
            keep_last: kl,
            key: Arc::new(fk),
            rule: t.rule.into(),
            validity: t.validity,
            decrypt: false,
        }),
        fallback,
    })
}

/// A compiled action; `target` is the rule an `fpe` action belongs to (`None`: fpe is refused).
pub(crate) fn compile_action_for(
    path: &str,
    a: &ActionWire,
    normalize: Normalize,
    key: Option<&Arc<TokenKey>>,
    target: Option<&FpeTarget<'_>>,
    errs: &mut Errors,
) -> Option<Action> {
    match a {
        ActionWire::Fpe {
            keep_first,
            keep_last,
            fallback,
        } => compile_fpe(
            path,
            (*keep_first, *keep_last, fallback.as_deref()),
            normalize,
            key,
            target,
            errs,
        ),
        ActionWire::Mask {
            keep_first,
            keep_last,
            mask_char,
        } => {
            let mask_char = mask_char.clone().unwrap_or_else(|| "*".into());
            if mask_char.chars().count() != 1 {
                errs.push(format!("{path}.mask_char"), "use exactly one character");
                return None;
            }
            let (kf, kl) = (keep_first.unwrap_or(0), keep_last.unwrap_or(0));
            if kf > 64 || kl > 64 {
                errs.push(path, "keep_first and keep_last are at most 64");
                return None;
            }
            Some(Action::Mask {
                keep_first: kf,
                keep_last: kl,
                mask_char: mask_char.into_boxed_str(),
            })
        }
        ActionWire::Redact { replacement } => Some(Action::Redact {
            replacement: replacement
                .clone()
                .unwrap_or_else(|| "[REDACTED]".into())
                .into_bytes()
                .into_boxed_slice(),
        }),
        ActionWire::Tokenize { normalize: n } => {
            let normalize = match n.as_deref() {
                None => normalize,
                Some(s) => match Normalize::parse(s) {
                    Some(n) => n,
                    None => {
                        errs.push(
                            format!("{path}.normalize"),
                            format!("unknown normalization {s:?}; use none, digits, lowercase or upper_compact"),
                        );
                        return None;
                    }
                },
            };
            match key {
                Some(k) => Some(Action::Tokenize {
                    normalize,
                    key: k.clone(),
                }),
                None if errs.1 == error::TokenizeSection::Present => {
                    errs.push(path, "tokenize needs the key of the \"tokenize\" section, which could not be loaded (see the error there)");
                    None
                }
                None => {
                    errs.push(path, "tokenize needs a key: add \"tokenize\": {\"key_id\": \"k1\", \"secret_env\": \"STREAMMASK_TOKEN_KEY\"}");
                    None
                }
            }
        }
    }
}

/// A rule's or field rule's `max_values_per_stream` / `on_exceed` (`path` ends with a dot).
fn budget_of(path: &str, max: Option<u64>, on_exceed: Option<&str>, errs: &mut Errors) -> Option<Guard> {
    match Budget::from_wire(path, max, on_exceed) {
        Ok(b) => b,
        Err((at, message)) => {
            errs.push(at, message);
            None
        }
    }
}

/// One detector or pattern rule. `None` whenever any error was pushed for it (its `label` is set
/// later, by `assemble`).
fn compile_rule(
    path: &str,
    r: wire::RuleWire,
    key: Option<&Arc<TokenKey>>,
    has_key: bool,
    names: &mut HashSet<String>,
    errs: &mut Errors,
) -> Option<Rule> {
    let before = errs.0.len();
    let det = match (&r.detector, &r.pattern) {
        (Some(_), Some(_)) => {
            errs.push(path, "set either \"detector\" or \"pattern\", not both");
            return None;
        }
        (None, None) => {
            errs.push(path, "a rule needs \"detector\" (a built-in) or \"pattern\" (a regex)");
            return None;
        }
        (Some(d), None) => match detect::find(d) {
            Some(det) => Some(det),
            None => {
                let known: Vec<&str> = detect::DETECTORS.iter().map(|d| d.name).collect();
                errs.push(
                    format!("{path}.detector"),
                    format!("unknown detector {d:?}; known: {}", known.join(", ")),
                );
                return None;
            }
        },
        (None, Some(_)) => None,
    };
    let name = match (&r.name, det) {
        (Some(n), _) => n.clone(),
        (None, Some(d)) => d.name.to_string(),
        (None, None) => {
            errs.push(
                format!("{path}.name"),
                "a pattern rule needs a name (it labels metrics)",
            );
            String::new()
        }
    };
    if !name.is_empty() {
        if !valid_name(&name) {
            errs.push(
                format!("{path}.name"),
                "use 1-64 letters, digits, '_' or '-' (the name appears in metric names)",
            );
        } else if !names.insert(name.clone()) {
            errs.push(
                format!("{path}.name"),
                format!("duplicate name {name:?}; rule and field names must be unique"),
            );
        }
    }
    let (pat_text, user) = match (det, &r.pattern) {
        (Some(d), _) => (d.pattern.to_string(), false),
        (None, Some(p)) => (p.clone(), true),
        (None, None) => return None,
    };
    let pat_path = if user {
        format!("{path}.pattern")
    } else {
        format!("{path}.detector")
    };
    let max = if user {
        pattern::MAX_USER_MATCH_BYTES
    } else {
        usize::MAX
    };
    // detector patterns may match bytes of non-ASCII text (their validators check UTF-8)
    let hir = match pattern::parse_with(&pat_text, user, max, user) {
        Ok(h) => h,
        Err(m) => {
            errs.push(pat_path, m);
            return None;
        }
    };
    let search = match det.and_then(|d| d.search) {
        Some(text) => match pattern::parse_with(text, false, usize::MAX, false) {
            Ok(h) => h,
            Err(m) => {
                errs.push(pat_path, m);
                return None;
            }
        },
        None => hir.clone(),
    };
    let mut compiled = match pattern::compile_searching(&hir, &search) {
        Ok(p) => p,
        Err(m) => {
            errs.push(pat_path, m);
            return None;
        }
    };
    if let Some(d) = det {
        // the validator's own minimum (a phone number has at least 7 digits even where its regex
        // could match two): fewer digits in a run, no value the detector would accept
        compiled.min_digits = compiled.min_digits.max(d.min_digits);
        compiled.run_ok = d.run_ok;
    }
    let region_end = match det.and_then(|d| d.region_end) {
        Some(end) => match pattern::parse(end, false, usize::MAX).and_then(|h| pattern::compile(&h)) {
            Ok(p) => Some(p),
            Err(m) => {
                errs.push(path, m);
                return None;
            }
        },
        None => None,
    };
    let action_wire = match (&r.action, det) {
        (Some(a), _) => a.clone(),
        (None, Some(d)) => ActionWire::from(d.default_action(has_key)),
        (None, None) => ActionWire::Redact { replacement: None },
    };
    let normalize = det.map_or(Normalize::None, |d| d.normalize);
    let target = match det {
        Some(d) => FpeTarget::of_detector(&name, d),
        None => Some(FpeTarget {
            rule: &name,
            validity: Validity::Any,
            min_digits: Some(compiled.min_digits),
        }),
    };
    let action = compile_action_for(
        &format!("{path}.action"),
        &action_wire,
        normalize,
        key,
        target.as_ref(),
        errs,
    )?;
    if region_end.is_some() && !action.streams() {
        errs.push(
            format!("{path}.action"),
            "a private key is masked while it streams: use \"redact\", or \"mask\" without keep_last",
        );
    }
    let near = match (&r.near, r.within) {
        (None, None) => None,
        (None, Some(_)) => {
            errs.push(format!("{path}.within"), "\"within\" needs \"near\" keywords");
            None
        }
        (Some(words), within) => {
            let within = within.unwrap_or(DEFAULT_WITHIN);
            if words.is_empty() || words.iter().any(|w| w.is_empty()) {
                errs.push(format!("{path}.near"), "list at least one non-empty keyword");
                None
            } else if !(1..=MAX_WITHIN).contains(&within) {
                errs.push(format!("{path}.within"), format!("use 1-{MAX_WITHIN} bytes"));
                None
            } else {
                match AhoCorasick::builder().ascii_case_insensitive(true).build(words) {
                    Ok(ac) => Some((ac, within)),
                    Err(e) => {
                        errs.push(format!("{path}.near"), format!("cannot build keyword matcher: {e}"));
                        None
                    }
                }
            }
        }
    };
    if errs.0.len() != before {
        return None;
    }
    Some(Rule {
        name,
        pattern: compiled,
        validate: det.and_then(|d| d.validate),
        near,
        action,
        region_end,
        label: Label(0),
        value_region: false,
        normalize,
    })
}

#[cfg(test)]
mod field_text_tests {
    use super::*;
    use crate::search::pattern::{regex_of, values_of};
    use proptest::prelude::*;

    const KEYS: &str = "user_id|userId|id";

    thread_local! {
        static FULL: regex_automata::meta::Regex = regex_of(&field_text_pattern(KEYS));
        static START: regex_automata::meta::Regex = regex_of(&field_text_start(KEYS));
    }

    /// Pieces of hostile `key: value` text: keys (also as parts of longer keys), quotes, colons,
    /// blanks, escapes, numbers, booleans, newlines, strings just under and over 4,096 units.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::sample::select(vec![
                &b"\"user_id\""[..],
                b"\"userId\"",
                b"\"id\"",
                b"\"xid\"",
                b"\"",
                b":",
                b" ",
                b"\t",
                b"\\",
                b"\\\"",
                b"\\n",
                b"\n",
                b"-",
                b"12",
                b"3.5e+7",
                b"true",
                b"false",
                b"tru",
                b"x",
                b",",
                b"{",
                b"}",
                b"\xc3\xa9",
            ])
            .prop_map(<[u8]>::to_vec),
            prop::sample::select(vec![62usize, 63, 64, 65, 4095, 4096, 4097]).prop_map(|n| vec![b'7'; n]),
            prop::sample::select(vec![4094usize, 4095, 4096, 4097])
                .prop_map(|n| [&b"\""[..], &vec![b'v'; n], b"\""].concat()),
            prop::sample::select(vec![2047usize, 2048, 2049])
                .prop_map(|n| [&b"\""[..], &b"\\\"".repeat(n), b"\""].concat()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]
        /// Searching `field_text_start` and reading on with `field_value_whole` takes exactly the
        /// values that searching the whole `field_text_pattern` with `field_value_only` takes.
        #[test]
        fn the_short_field_search_takes_what_the_whole_pattern_takes(
            pieces in prop::collection::vec(piece(), 0..24),
        ) {
            let hay = pieces.concat();
            let whole = values_of(&FULL.with(|r| r.clone()), field_value_only, &hay);
            let short = values_of(&START.with(|r| r.clone()), field_value_whole, &hay);
            prop_assert_eq!(short, whole);
        }
    }

    #[test]
    fn field_values_at_their_bounds_are_read_as_the_whole_pattern_reads_them() {
        let (full, start) = (FULL.with(|r| r.clone()), START.with(|r| r.clone()));
        let mut taken = 0;
        for value in [
            "\"\"".to_string(),
            format!("\"{}\"", "v".repeat(4096)),
            format!("\"{}\"", "v".repeat(4097)),
            format!("\"{}\"", "\\\"".repeat(4096)),
            format!("\"{}\"", "\\\"".repeat(4097)),
            "\"a\\".to_string(),
            "\"a\\\nb\"".to_string(),
            "\"ab\ncd\"".to_string(),
            format!("-{}", "9".repeat(70)),
            "9".repeat(64),
            "1.5e-3,".to_string(),
            "true".to_string(),
            "falsey".to_string(),
        ] {
            for sep in [
                ":",
                " : ",
                &format!("{}:{}", " ".repeat(16), "\t".repeat(16)),
                &format!("{}:", " ".repeat(17)),
            ] {
                let hay = format!("{{\"user_id\"{sep}{value}, \"id\": 7}}");
                let whole = values_of(&full, field_value_only, hay.as_bytes());
                assert_eq!(values_of(&start, field_value_whole, hay.as_bytes()), whole, "{hay:?}");
                taken += whole.len();
            }
        }
        assert!(taken > 30, "{taken}");
    }
}
