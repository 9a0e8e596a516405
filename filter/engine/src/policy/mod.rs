//! The policy: parsed once from the plugin JSON, validated, and compiled into immutable runtime
//! types that every stream shares.
//!
//! # Errors
//! [`Policy::from_json`] reports every problem it finds, each with the JSON path of the offending
//! value and, where one is known, the fix: `rules[2].pattern: unbounded repetition ...`.

mod error;
mod fields;
pub mod labels;
pub(crate) mod meta;
pub(crate) mod pattern;
mod set;
pub mod wire;

pub use error::{PolicyError, PolicyErrors};
pub(crate) use fields::PathSeg;
pub use labels::{Label, Labels};
pub use meta::MetaHits;
pub use set::PolicySet;

use crate::action::Action;
use crate::detect::{self, Normalize, Validate};
use crate::format::Format;
use crate::token::{TokenKey, MIN_SECRET_BYTES};
use aho_corasick::AhoCorasick;
use error::Errors;
use pattern::Pattern;
use std::collections::HashSet;
use std::sync::Arc;
use wire::{ActionWire, PolicyWire};

/// Whether matches are replaced or only counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Replace every match (the default).
    Enforce,
    /// Count what would be replaced; change nothing.
    Report,
}

/// What happens to a stream when the filter cannot do its job (unsupported encoding, internal error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Stop the stream: a local reply while headers are still ours, otherwise end it (the default).
    Block,
    /// Let the stream through unmasked and count it. Only for users who accept that risk.
    Pass,
}

/// Which multipart parts that carry a file name are scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileParts {
    /// Parts whose type the policy scans (text, JSON, form, ...); others pass.
    Text,
    /// Also untyped and `application/octet-stream` parts, whose format is sniffed.
    All,
    /// None: every file part passes.
    None,
}

/// Resource bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// JSON nesting deeper than this falls back to text rules.
    pub max_depth: usize,
    /// A field value longer than this is redacted whole.
    pub max_field_value_bytes: usize,
    /// Upper bound on bytes a stream keeps paused in the proxy.
    pub max_paused_bytes: usize,
    /// Decoded bytes one compressed body may inflate to.
    pub max_decoded_bytes: u64,
    /// Decoded bytes per compressed byte, once the first MiB is decoded.
    pub max_expansion_ratio: u64,
    /// Decoded bytes one body chunk may inflate to (its output leaves in one host call).
    pub max_decoded_bytes_per_chunk: u64,
    /// Largest brotli or zstd window a compressed body may ask for.
    pub max_decode_window_bytes: u64,
    /// Memory the filter may hold in one VM.
    pub max_memory_bytes: u64,
}

impl Limits {
    /// The defaults (see SECURITY.md for why each).
    pub const DEFAULT: Limits = Limits {
        max_depth: 256,
        max_field_value_bytes: 4096,
        max_paused_bytes: 32 << 10,
        max_decoded_bytes: 1 << 30,
        max_expansion_ratio: 100,
        max_decoded_bytes_per_chunk: 32 << 20,
        max_decode_window_bytes: 8 << 20,
        max_memory_bytes: 128 << 20,
    };
}

/// A compiled rule.
pub(crate) struct Rule {
    pub(crate) name: String,
    pub(crate) pattern: Pattern,
    pub(crate) validate: Option<Validate>,
    pub(crate) near: Option<(AhoCorasick, usize)>,
    pub(crate) action: Action,
    /// For region detectors: the pattern that closes the region.
    pub(crate) region_end: Option<Pattern>,
    /// What the rule's values count under: its own label, or (a field rule's text form) the field's.
    pub(crate) label: Label,
    /// The match is the first byte of a secret value that is masked as it streams until its end
    /// (see `detect::secret_keys::ValueEnd`).
    pub(crate) value_region: bool,
    /// How values are normalised for fingerprints (the detector's, else none).
    pub(crate) normalize: Normalize,
}

/// A compiled field rule.
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) action: Action,
}

/// A compiled policy, shared by every stream of a proxy VM.
pub struct Policy {
    pub(crate) header_rules: Vec<meta::HeaderRule>,
    pub(crate) query: Option<meta::QueryRule>,
    /// Whether a findings line is logged per stream (opt-in).
    pub findings_log: bool,
    pub(crate) fingerprint_key: Option<Arc<TokenKey>>,
    /// The user's rules, then the rules derived from key-based field rules.
    pub(crate) rules: Vec<Rule>,
    /// Metric labels (rules, fields, header rules, query rule): see `labels`.
    pub(crate) labels: Labels,
    /// How many of `rules` are the user's (the rest are derived from fields).
    pub(crate) user_rules: usize,
    /// Shortest match of any rule (a shorter value cannot match anything).
    pub(crate) min_len: usize,
    /// Longest match of any rule.
    pub(crate) max_len: usize,
    pub(crate) fields: Vec<Field>,
    /// The field that holds values under credential-bearing keys, and its key terms (normalised).
    pub(crate) secret_field: Option<usize>,
    pub(crate) secret_terms: detect::secret_keys::KeyTerms,
    pub(crate) field_keys: Vec<(Box<[u8]>, usize)>,
    pub(crate) field_paths: Vec<(Vec<PathSeg>, usize)>,
    /// Bytes of context the scanner keeps before a possible match.
    pub(crate) lookbehind: usize,
    /// Whether some rule can match across a newline (then text is decided line by line).
    pub(crate) newline_matches: bool,
    /// For each byte, the rules (bit `r % 64`) whose trigger set holds it.
    pub(crate) trigger_table: Box<[u64; 256]>,
    /// Every rule has a trigger set: a value without any trigger byte cannot match anything.
    pub(crate) all_triggered: bool,
    /// The digit-based rules searched through shared digit clusters (see `scan`), if any.
    pub(crate) clusters: Option<pattern::ClusterSpec>,
    /// Whether rule searches and values skip what cannot match (trigger masks, runs, clusters,
    /// values no rule can match); off only in tests, where the plain search is the oracle.
    pub(crate) prefilter: bool,
    /// Body directions to scan.
    pub request: bool,
    /// Body directions to scan.
    pub response: bool,
    content_types: Vec<String>,
    formats: Vec<(String, Format)>,
    /// `enforce` or `report`.
    pub mode: Mode,
    /// `block` or `pass`.
    pub on_error: OnError,
    /// Share of enforced streams (0-100) during a rollout.
    pub enforce_percent: u8,
    /// Resource bounds.
    pub limits: Limits,
    /// Scan bodies without a content type as text.
    pub scan_missing_content_type: bool,
    /// Sniff the format of untyped, `application/octet-stream` and conflicting-typed bodies.
    pub sniff: bool,
    /// Which multipart parts with a file name are scanned.
    pub file_parts: FileParts,
    /// Remove `accept-encoding` from requests.
    pub strip_accept_encoding: bool,
    /// Key id of the active tokenization key, if any (never the secret).
    pub token_key_id: Option<String>,
}

impl Rule {
    /// Whether a match opens a region masked as it streams (a private key, a secret value).
    pub(crate) fn opens_region(&self) -> bool {
        self.region_end.is_some() || self.value_region
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("rules", &self.rule_names().collect::<Vec<_>>())
            .field("fields", &self.field_names().collect::<Vec<_>>())
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// The media types scanned when the policy does not list any.
pub const DEFAULT_CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/*+json",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
    "application/json-seq",
    "text/*",
    "application/xml",
    "application/*+xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/mixed",
    "application/javascript",
    "application/graphql",
];

const DEFAULT_WITHIN: usize = 32;
const MAX_WITHIN: usize = 1024;

pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Policy {
    /// Parses and compiles a policy. `env` looks up environment variables (for `secret_env`); it is
    /// the only way the engine reaches outside, so tests and the proxy decide what it sees.
    ///
    /// # Errors
    /// Every problem found, each with its JSON path.
    pub fn from_json(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Policy, PolicyErrors> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        let de = &mut serde_json::Deserializer::from_str(text);
        let wire: PolicyWire = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.inner().to_string();
            // serde's message carries "at line L column C"; keep it, it helps in a long config.
            PolicyErrors(vec![PolicyError::new(
                if path.is_empty() { ".".into() } else { path },
                msg,
            )])
        })?;
        Self::compile(wire, env)
    }

    /// Compiles an already parsed policy.
    ///
    /// # Errors
    /// Every problem found, each with its JSON path.
    pub fn compile(w: PolicyWire, env: &dyn Fn(&str) -> Option<String>) -> Result<Policy, PolicyErrors> {
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
                    };
                    (format!("(default rule {})", d.name), r)
                })
                .collect(),
        };
        for (path, r) in wires {
            if let Some(rule) = compile_rule(&path, r, key.as_ref(), has_key, &mut names, &mut errs) {
                rules.push(rule);
            }
        }

        let mut fields = Vec::new();
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
            let action = compile_action(
                &format!("{path}.action"),
                &action,
                Normalize::None,
                key.as_ref(),
                &mut errs,
            );
            if let Some(action) = action {
                fields.push(Field { name: f.name, action });
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

        let (mut request, mut response) = (true, true);
        if let Some(dirs) = &w.directions {
            request = false;
            response = false;
            for (i, d) in dirs.iter().enumerate() {
                match d.as_str() {
                    "request" => request = true,
                    "response" => response = true,
                    _ => errs.push(
                        format!("directions[{i}]"),
                        format!("unknown direction {d:?}; use \"request\" or \"response\""),
                    ),
                }
            }
        }
        let mode = match w.mode.as_deref() {
            None | Some("enforce") => Mode::Enforce,
            Some("report") => Mode::Report,
            Some(m) => {
                errs.push("mode", format!("unknown mode {m:?}; use \"enforce\" or \"report\""));
                Mode::Enforce
            }
        };
        let on_error = match w.on_error.as_deref() {
            None | Some("block") => OnError::Block,
            Some("pass") => OnError::Pass,
            Some(m) => {
                errs.push(
                    "on_error",
                    format!("unknown value {m:?}; use \"block\" (default) or \"pass\""),
                );
                OnError::Block
            }
        };
        let enforce_percent = match w.enforce_percent {
            None => 100,
            Some(p) if p <= 100 => p,
            Some(p) => {
                errs.push("enforce_percent", format!("{p} is not a percentage; use 0-100"));
                100
            }
        };
        let content_types: Vec<String> = match &w.content_types {
            None => DEFAULT_CONTENT_TYPES.iter().map(|s| s.to_string()).collect(),
            Some(v) => v.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        };
        for (i, ct) in content_types.iter().enumerate() {
            if w.content_types.is_some() && !ct.contains('/') {
                errs.push(
                    format!("content_types[{i}]"),
                    format!("{ct:?} is not a media type; use e.g. \"application/json\" or \"text/*\""),
                );
            }
        }
        let mut formats = Vec::new();
        for (t, f) in &w.formats {
            match Format::parse(f) {
                Some(f) => formats.push((t.trim().to_ascii_lowercase(), f)),
                None => errs.push(
                    format!("formats.{t}"),
                    format!("unknown format {f:?}; use \"json\", \"ndjson\", \"sse\", \"form\" or \"text\""),
                ),
            }
        }
        let file_parts = match w.multipart.file_parts.as_deref() {
            None | Some("text") => FileParts::Text,
            Some("all") => FileParts::All,
            Some("none") => FileParts::None,
            Some(x) => {
                errs.push(
                    "multipart.file_parts",
                    format!("unknown value {x:?}; use \"text\" (default), \"all\" or \"none\""),
                );
                FileParts::Text
            }
        };
        let d = Limits::DEFAULT;
        let l = &w.limits;
        let limits = Limits {
            max_depth: l.max_depth.unwrap_or(d.max_depth),
            max_field_value_bytes: l.max_field_value_bytes.unwrap_or(d.max_field_value_bytes),
            max_paused_bytes: l.max_paused_bytes.unwrap_or(d.max_paused_bytes),
            max_decoded_bytes: l.max_decoded_bytes.unwrap_or(d.max_decoded_bytes),
            max_expansion_ratio: l.max_expansion_ratio.unwrap_or(d.max_expansion_ratio),
            max_decoded_bytes_per_chunk: l.max_decoded_bytes_per_chunk.unwrap_or(d.max_decoded_bytes_per_chunk),
            max_decode_window_bytes: l.max_decode_window_bytes.unwrap_or(d.max_decode_window_bytes),
            max_memory_bytes: l.max_memory_bytes.unwrap_or(d.max_memory_bytes),
        };
        if !(1..=4096).contains(&limits.max_depth) {
            errs.push("limits.max_depth", "use 1-4096");
        }
        if !(16..=(1 << 20)).contains(&limits.max_field_value_bytes) {
            errs.push("limits.max_field_value_bytes", "use 16-1048576");
        }
        if !(1024..=(1 << 20)).contains(&limits.max_paused_bytes) {
            errs.push(
                "limits.max_paused_bytes",
                "use 1024-1048576 (keep it below the proxy's per-stream buffer limit)",
            );
        }
        if !((1 << 20)..=(1 << 40)).contains(&limits.max_decoded_bytes) {
            errs.push("limits.max_decoded_bytes", "use 1 MiB to 1 TiB (1048576-1099511627776)");
        }
        if !(2..=100_000).contains(&limits.max_expansion_ratio) {
            errs.push("limits.max_expansion_ratio", "use 2-100000");
        }
        if !((64 << 10)..=(1 << 30)).contains(&limits.max_decoded_bytes_per_chunk) {
            errs.push(
                "limits.max_decoded_bytes_per_chunk",
                "use 64 KiB to 1 GiB (65536-1073741824)",
            );
        }
        if !((32 << 10)..=(128 << 20)).contains(&limits.max_decode_window_bytes) {
            errs.push(
                "limits.max_decode_window_bytes",
                "use 32 KiB to 128 MiB (32768-134217728)",
            );
        }
        if !((1 << 20)..=(4 << 30)).contains(&limits.max_memory_bytes) {
            errs.push(
                "limits.max_memory_bytes",
                "use 1 MiB to 4 GiB, well below the VM's memory cap",
            );
        }
        let header_rules = meta::compile_headers(&w.headers, &mut names, key.as_ref(), &mut errs);
        let query = meta::compile_query(w.query.as_ref(), &mut names, key.as_ref(), &mut errs);
        let findings_log = w.findings_log.unwrap_or(false);
        if findings_log && key.is_none() {
            errs.push(
                "findings_log",
                "findings carry keyed fingerprints: add a \"tokenize\" key (fingerprints never use an unkeyed hash)",
            );
        }
        if !w.routes.is_empty() || !w.policies.is_empty() {
            errs.push(
                if w.routes.is_empty() { "policies" } else { "routes" },
                "routes and named policies can only be set at the top level of the plugin configuration",
            );
        }

        if !errs.0.is_empty() {
            return Err(PolicyErrors(errs.0));
        }
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
        let trigger_table = trigger_table(&rules);
        let all_triggered = rules.iter().all(|r| r.pattern.trigger.is_some());
        let clusters = pattern::ClusterSpec::new(rules.iter().map(|r| &r.pattern));
        let labels = Labels::new(
            rules[..user_rules].iter().map(|r| r.name.as_str()),
            fields.iter().map(|f| f.name.as_str()),
            header_rules.iter().map(|h| h.name.as_str()),
            query.as_ref().map(|q| q.name.as_str()),
        );
        // user rules count under their own label; a field's text form (its `label` holds the
        // field's index until now) under the field's
        for (r, rule) in rules.iter_mut().enumerate() {
            rule.label = if r < user_rules {
                labels.rule(r)
            } else {
                labels.field(rule.label.index())
            };
        }
        Ok(Policy {
            labels,
            header_rules,
            query,
            findings_log,
            fingerprint_key,
            rules,
            user_rules,
            min_len,
            max_len,
            newline_matches,
            trigger_table,
            all_triggered,
            clusters,
            prefilter: true,
            fields,
            secret_field,
            secret_terms: detect::secret_keys::KeyTerms::new(&secret_terms),
            field_keys,
            field_paths,
            lookbehind,
            request,
            response,
            content_types,
            formats,
            mode,
            on_error,
            enforce_percent,
            limits,
            scan_missing_content_type: w.scan_missing_content_type.unwrap_or(true),
            sniff: w.sniff.unwrap_or(true),
            file_parts,
            strip_accept_encoding: w.strip_accept_encoding.unwrap_or(true),
            token_key_id: key.map(|k| k.id().to_string()),
        })
    }

    /// The default policy (`{}`): every built-in detector with its default action.
    pub fn builtin_default() -> Policy {
        // `{}` always compiles; fall back to an empty rule set rather than panic if it ever did not.
        Policy::from_json("{}", &|_| None).unwrap_or_else(|_| Policy::empty())
    }

    fn empty() -> Policy {
        Policy {
            header_rules: Vec::new(),
            query: None,
            findings_log: false,
            fingerprint_key: None,
            rules: Vec::new(),
            user_rules: 0,
            labels: Labels::default(),
            min_len: usize::MAX,
            max_len: 0,
            fields: Vec::new(),
            secret_field: None,
            secret_terms: detect::secret_keys::KeyTerms::default(),
            field_keys: Vec::new(),
            field_paths: Vec::new(),
            lookbehind: 8,
            newline_matches: false,
            trigger_table: Box::new([0; 256]),
            all_triggered: true,
            clusters: None,
            prefilter: true,
            request: true,
            response: true,
            content_types: Vec::new(),
            formats: Vec::new(),
            mode: Mode::Enforce,
            on_error: OnError::Block,
            enforce_percent: 100,
            limits: Limits::DEFAULT,
            scan_missing_content_type: true,
            sniff: true,
            file_parts: FileParts::Text,
            strip_accept_encoding: true,
            token_key_id: None,
        }
    }

    /// The rules whose trigger bytes occur in `bytes` (bit `r % 64`), and the ASCII digits in it.
    #[inline]
    pub(crate) fn triggers_and_digits(&self, bytes: &[u8]) -> (u64, usize) {
        let t = &self.trigger_table;
        // four accumulators break the OR dependency chain; the digit count vectorises on its own
        let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
        let mut quads = bytes.chunks_exact(4);
        for q in &mut quads {
            a |= t[usize::from(q[0])];
            b |= t[usize::from(q[1])];
            c |= t[usize::from(q[2])];
            d |= t[usize::from(q[3])];
        }
        for &x in quads.remainder() {
            a |= t[usize::from(x)];
        }
        let digits = bytes.iter().filter(|x| x.wrapping_sub(b'0') < 10).count();
        (a | b | c | d, digits)
    }

    /// Whether no rule can match anywhere in `value`: for every rule, a trigger byte is missing, or
    /// the value has fewer digits than any match of it, or it is shorter than any match.
    #[inline]
    pub(crate) fn cannot_match(&self, value: &[u8]) -> bool {
        if !self.all_triggered || !self.prefilter {
            return false;
        }
        let (m, digits) = self.triggers_and_digits(value);
        self.none_eligible(m, digits, value.len())
    }

    /// The same policy with every value scanned and every rule searched by its plain regex over all
    /// bytes (no trigger masks, runs, clusters or "no rule can match" shortcuts): slower, and the
    /// oracle that tests compare the fast paths with. Not for production use.
    #[doc(hidden)]
    pub fn without_prefilters(mut self) -> Policy {
        self.prefilter = false;
        self.clusters = None;
        self
    }

    /// Whether no rule can match in bytes whose trigger mask is `mask`, with `digits` digits and
    /// `len` bytes (rules without a trigger are not considered: see `all_triggered`).
    #[inline]
    pub(crate) fn none_eligible(&self, mask: u64, digits: usize, len: usize) -> bool {
        mask == 0
            || self.rules.iter().enumerate().all(|(r, rule)| {
                mask & (1u64 << (r % 64)) == 0 || digits < rule.pattern.min_digits || len < rule.pattern.min_len
            })
    }

    /// The field rule for a value under `name` (a form field, a multipart part): a field rule
    /// listing the name among its `keys`, else the secrets-by-key rule when the name is one.
    pub(crate) fn field_for_name(&self, name: &[u8]) -> Option<usize> {
        if let Some((_, fi)) = self.field_keys.iter().find(|(k, _)| &**k == name) {
            return Some(*fi);
        }
        let fi = self.secret_field?;
        self.secret_terms.matches(name).then_some(fi)
    }

    /// The policy's metric labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Names of the rules, in order (metric labels).
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules[..self.user_rules].iter().map(|r| r.name.as_str())
    }

    /// Names of the field rules, in order (metric labels).
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.name.as_str())
    }

    /// The longest a stream holds back for a pending match, in bytes.
    pub fn max_hold_back(&self) -> usize {
        self.max_len + self.lookbehind
    }

    /// The body format for a `content-type` header value, or `None` when such bodies pass untouched.
    /// `None` as input (no header) gives text when `scan_missing_content_type` is set.
    pub fn format_for(&self, content_type: Option<&str>) -> Option<Format> {
        let Some(ct) = content_type else {
            return self.scan_missing_content_type.then_some(Format::Text);
        };
        let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if !self.content_types.iter().any(|p| media_matches(p, &media)) {
            return None;
        }
        if let Some((_, f)) = self.formats.iter().find(|(p, _)| media_matches(p, &media)) {
            return Some(*f);
        }
        Some(Format::for_media_type(&media))
    }
}

/// The metric label (and reserved name) of the secrets-by-key-name rule.
pub const SECRET_KEYS_LABEL: &str = "secret_keys";

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

impl crate::format::FormatRouter for Policy {
    fn route(&self, content_type: Option<&str>, file: bool) -> crate::format::Route {
        use crate::format::Route;
        let sniff_or = |otherwise: Route| if self.sniff { Route::Sniff } else { otherwise };
        if file && self.file_parts == FileParts::None {
            return Route::Pass;
        }
        let untyped = |file: bool| match (file, self.file_parts) {
            (true, FileParts::All) => Route::Sniff,
            (true, _) => Route::Pass,
            // a body without a type; a form field part is text/plain (RFC 7578)
            (false, _) => sniff_or(if self.scan_missing_content_type {
                Route::Scan(Format::Text)
            } else {
                Route::Pass
            }),
        };
        let Some(ct) = content_type else {
            return untyped(file);
        };
        let (media, boundary) = crate::format::parse_media_type(ct);
        if media.is_empty() {
            return untyped(file);
        }
        if media == "application/octet-stream" && (file || self.sniff) {
            return untyped(file);
        }
        if !self.content_types.iter().any(|p| media_matches(p, &media)) {
            return Route::Pass;
        }
        if media.starts_with("multipart/") {
            // without a boundary the parts cannot be told apart: the text is still scanned
            return boundary.map_or(Route::Scan(Format::Text), Route::Multipart);
        }
        if let Some((_, f)) = self.formats.iter().find(|(p, _)| media_matches(p, &media)) {
            return Route::Scan(*f);
        }
        Route::Scan(Format::for_media_type(&media))
    }
}

/// `"key": value` for the keys of one field rule, as a text rule whose validator keeps only the value.
fn derived_field_rule(name: &str, keys: &[&[u8]], action: Action, field: usize) -> Result<Rule, String> {
    let alts: Vec<String> = keys
        .iter()
        .map(|k| regex_syntax::escape(&String::from_utf8_lossy(k)))
        .collect();
    let pat = format!(
        r#""(?:{})"[ \t]{{0,16}}:[ \t]{{0,16}}(?:"(?-u:[^"\\\n]|\\[^\n]){{1,4096}}"|-?[0-9][0-9.eE+\-]{{0,63}}|true|false)"#,
        alts.join("|")
    );
    let hir = pattern::parse_with(&pat, false, usize::MAX, false)?;
    let compiled = pattern::compile(&hir)?;
    Ok(Rule {
        name: name.to_string(),
        pattern: compiled,
        validate: Some(field_value_only),
        near: None,
        action,
        region_end: None,
        label: Label(field as u32),
        value_region: false,
        normalize: Normalize::None,
    })
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

/// `text/*`, `application/*+json`, `*/*` or an exact type.
fn media_matches(pattern: &str, media: &str) -> bool {
    let (Some((pt, ps)), Some((mt, ms))) = (pattern.split_once('/'), media.split_once('/')) else {
        return false;
    };
    if pt != "*" && pt != mt {
        return false;
    }
    if ps == "*" {
        return true;
    }
    if let Some(suffix) = ps.strip_prefix("*+") {
        return ms.rsplit_once('+').is_some_and(|(_, s)| s == suffix);
    }
    ps == ms
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

pub(crate) fn compile_action(
    path: &str,
    a: &ActionWire,
    normalize: Normalize,
    key: Option<&Arc<TokenKey>>,
    errs: &mut Errors,
) -> Option<Action> {
    match a {
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
    let mut compiled = match pattern::compile(&hir) {
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
        (None, Some(d)) => d.default_action(has_key),
        (None, None) => ActionWire::Redact { replacement: None },
    };
    let normalize = det.map_or(Normalize::None, |d| d.normalize);
    let action = compile_action(&format!("{path}.action"), &action_wire, normalize, key, errs)?;
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
mod tests;
