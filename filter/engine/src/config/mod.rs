//! The rule set: parsed once from its JSON form, validated, and compiled into immutable runtime
//! types that every stream shares. It holds what finds and masks values (rules, field rules,
//! tokenization keys, secret keys, the JSON bounds) and nothing about HTTP: the proxy's policy
//! wraps a rule set with its directions, content types, rollout and header rules.
//!
//! # Errors
//! [`Ruleset::from_json`] and [`Ruleset::compile`] report every problem they find, each with the
//! JSON path of the offending value and, where one is known, the fix:
//! `rules[2].pattern: unbounded repetition ...`.
//!
//! # Invariants
//! - Compiled once, never mutated: streams share it through an `Arc`.
//! - `rules` holds the user's rules (or every detector), then the rules derived from key-based
//!   field rules and the secrets-by-key rule; every rule counts under its `label` (see `labels`).
//! - Defaults live in one place each: detector actions in `detect`, limits in [`Limits::DEFAULT`],
//!   the rule set of `{}` in `compile`.

mod compile;
mod error;
mod fields;
pub mod labels;
pub mod wire;

pub use error::{parse_json, parse_value, PolicyError, PolicyErrors};
pub(crate) use fields::PathSeg;
pub use labels::{Label, Labels, MetaHits};

use crate::action::Action;
use crate::detect::{Normalize, Validate};
use crate::search::pattern::{self, Pattern};
use crate::token::TokenKey;
use aho_corasick::AhoCorasick;
use std::sync::Arc;

/// Bounds on JSON nesting and field values.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// JSON nesting deeper than this falls back to text rules.
    pub max_depth: usize,
    /// A field value longer than this is redacted whole.
    pub max_field_value_bytes: usize,
}

impl Limits {
    /// The defaults (see SECURITY.md for why each).
    pub const DEFAULT: Limits = Limits {
        max_depth: 256,
        max_field_value_bytes: 4096,
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

impl Rule {
    /// Whether a match opens a region masked as it streams (a private key, a secret value).
    pub(crate) fn opens_region(&self) -> bool {
        self.region_end.is_some() || self.value_region
    }
}

/// A compiled field rule.
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) action: Action,
}

/// A bulk-exposure guard: a cap on the values one body may hold (`max_values_per_stream`), for
/// one rule or field rule, or for every value of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The rule's or field rule's label; `None`: every value of the body.
    pub label: Option<Label>,
    /// Values allowed in one body; one more crosses the guard.
    pub max: u64,
    /// `on_exceed: "block"` (otherwise `"report"`).
    pub block: bool,
}

impl Budget {
    /// Reads `max_values_per_stream` and `on_exceed` as written at `path` (`None` when neither
    /// is set). `Err` carries the key's path and what is wrong.
    pub fn from_wire(
        path: &str,
        max: Option<u64>,
        on_exceed: Option<&str>,
    ) -> Result<Option<(u64, bool)>, (String, String)> {
        let block = match on_exceed {
            None | Some("report") => false,
            Some("block") => true,
            Some(other) => {
                return Err((
                    format!("{path}on_exceed"),
                    format!("unknown value {other:?}; use \"report\" or \"block\""),
                ))
            }
        };
        match max {
            Some(m) if m > MAX_BUDGET => Err((format!("{path}max_values_per_stream"), format!("use 0-{MAX_BUDGET}"))),
            Some(m) => Ok(Some((m, block))),
            None if on_exceed.is_some() => Err((
                format!("{path}on_exceed"),
                "has no effect without \"max_values_per_stream\"".to_string(),
            )),
            None => Ok(None),
        }
    }
}

/// The largest `max_values_per_stream` accepted.
pub const MAX_BUDGET: u64 = 1 << 40;

/// A compiled rule set, shared by every stream of a proxy VM.
pub struct Ruleset {
    /// Whether findings (label, offset, keyed fingerprint) are recorded per stream (opt-in).
    pub findings_log: bool,
    pub(crate) fingerprint_key: Option<Arc<TokenKey>>,
    /// The active tokenization key (actions compiled later, e.g. by the proxy, use it too).
    token_key: Option<Arc<TokenKey>>,
    /// Whether the JSON form had a `tokenize` section (so a missing key is explained there).
    tokenize_section: bool,
    /// The user's rules, then the rules derived from key-based field rules.
    pub(crate) rules: Vec<Rule>,
    /// Metric labels (rules, field rules, then the host's own): see `labels`.
    pub(crate) labels: Labels,
    /// How many of `rules` are the user's (the rest are derived from fields).
    pub(crate) user_rules: usize,
    /// The rules' and field rules' bulk-exposure guards (the proxy adds the body-wide one).
    pub(crate) budgets: Vec<Budget>,
    /// Shortest match of any rule (a shorter value cannot match anything).
    pub(crate) min_len: usize,
    /// Longest match of any rule.
    pub(crate) max_len: usize,
    pub(crate) fields: Vec<Field>,
    /// The field that holds values under credential-bearing keys, and its key terms.
    pub(crate) secret_field: Option<usize>,
    pub(crate) secret_terms: crate::detect::secret_keys::KeyTerms,
    pub(crate) field_keys: Vec<(Box<[u8]>, usize)>,
    /// The last two letters of every key name `field_for_name` can select (the field keys and,
    /// when `secret_field` is on, the secret terms): most keys are answered by one lookup.
    pub(crate) name_pairs: crate::detect::secret_keys::Pairs,
    pub(crate) field_paths: Vec<(Vec<PathSeg>, usize)>,
    /// Bytes of context the scanner keeps before a possible match.
    pub(crate) lookbehind: usize,
    /// Whether some rule can match across a newline (then text is decided line by line).
    pub(crate) newline_matches: bool,
    /// For each byte, the rules (bit `r % 64`) whose trigger set holds it.
    pub(crate) trigger_table: Box<[u64; 256]>,
    /// Every rule has a trigger set: a value without any trigger byte cannot match anything.
    pub(crate) all_triggered: bool,
    /// The rules (bits as in `trigger_table`) a value with so many digits, or bytes, may hold.
    pub(crate) eligible: Eligible,
    /// The digit-based rules searched through shared digit clusters (see `search::scan`), if any.
    pub(crate) clusters: Option<pattern::ClusterSpec>,
    /// Whether rule searches and values skip what cannot match (trigger masks, runs, clusters,
    /// values no rule can match); off only in tests, where the plain search is the oracle.
    pub(crate) prefilter: bool,
    /// Bounds on JSON nesting and field values.
    pub limits: Limits,
    /// Key id of the active tokenization key, if any (never the secret).
    pub token_key_id: Option<String>,
}

impl std::fmt::Debug for Ruleset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ruleset")
            .field("rules", &self.rule_names().collect::<Vec<_>>())
            .field("fields", &self.field_names().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The metric label (and reserved name) of the secrets-by-key-name rule.
pub const SECRET_KEYS_LABEL: &str = "secret_keys";

/// Whether `s` may name a rule, field, key or policy: 1-64 letters, digits, `_` or `-` (names
/// appear in metric names and tokens).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Ruleset {
    /// Parses and compiles a rule set. `env` looks up environment variables (for `secret_env`); it
    /// is the only way the engine reaches outside, so tests and the proxy decide what it sees.
    ///
    /// # Errors
    /// Every problem found, each with its JSON path.
    pub fn from_json(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Ruleset, PolicyErrors> {
        let wire: wire::RulesetWire = parse_json(text)?;
        Self::compile(wire, env, &[])
    }

    /// The rule set of `{}`: every built-in detector with its default action.
    pub fn builtin_default() -> Ruleset {
        Self::compile(wire::RulesetWire::default(), &|_| None, &[]).unwrap_or_else(|_| Self::compile_empty())
    }

    /// The same rule set with every value scanned and every rule searched by its plain regex over
    /// all bytes (no trigger masks, runs, clusters or "no rule can match" shortcuts): slower, and
    /// the oracle that tests compare the fast paths with. Not for production use.
    #[doc(hidden)]
    pub fn without_prefilters(mut self) -> Ruleset {
        self.prefilter = false;
        self.clusters = None;
        self
    }

    /// This rule set turned around for key holders (`streammask detokenize`): every `fpe` action
    /// (of the rule or field rule named `only`, or all) decrypts, every other action keeps the
    /// value as it is. The values are found the way they were masked: `fpe` keeps each value one
    /// its detector accepts.
    pub fn into_detokenizer(mut self, only: Option<&str>) -> Ruleset {
        let reverse = |a: &mut crate::action::Action, name: &str| {
            *a = match a {
                crate::action::Action::Fpe { fpe: f, .. } if only.is_none_or(|o| o == name) => {
                    crate::action::Action::Fpe {
                        fpe: Arc::new(crate::fpe::Fpe {
                            keep_first: f.keep_first,
                            keep_last: f.keep_last,
                            key: f.key.clone(),
                            rule: f.rule.clone(),
                            validity: f.validity,
                            decrypt: true,
                        }),
                        fallback: None,
                    }
                }
                _ => crate::action::Action::Keep,
            };
        };
        for r in &mut self.rules {
            let name = self.labels.name(r.label).to_string();
            reverse(&mut r.action, &name);
        }
        for f in &mut self.fields {
            let name = f.name.clone();
            reverse(&mut f.action, &name);
        }
        self
    }

    /// Names of the rules and field rules whose action is `fpe`.
    pub fn fpe_rules(&self) -> Vec<&str> {
        let rules = self.rules[..self.user_rules]
            .iter()
            .filter(|r| matches!(r.action, crate::action::Action::Fpe { .. }))
            .map(|r| r.name.as_str());
        let fields = self
            .fields
            .iter()
            .filter(|f| matches!(f.action, crate::action::Action::Fpe { .. }))
            .map(|f| f.name.as_str());
        rules.chain(fields).collect()
    }

    /// The rules' and field rules' bulk-exposure guards (`max_values_per_stream`), in label order.
    pub fn budgets(&self) -> &[Budget] {
        &self.budgets
    }

    /// The rule set's metric labels (its rules, field rules, and the host labels it was compiled with).
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

    /// Whether no body can change under this rule set: no rule and no field rule (secret keys,
    /// when enabled, bring one of each). A body then need not be read at all.
    pub fn finds_nothing(&self) -> bool {
        self.rules.is_empty() && self.fields.is_empty()
    }

    /// The longest a stream holds back for a pending match, in bytes.
    pub fn max_hold_back(&self) -> usize {
        self.max_len + self.lookbehind
    }

    /// Compiles an action written at `path` (a host's own rule, such as a header rule), with this
    /// rule set's tokenization key.
    ///
    /// # Errors
    /// What is wrong with the action, at `path`.
    pub fn compile_action(&self, path: &str, action: &wire::ActionWire) -> Result<Action, PolicyErrors> {
        let mut errs = error::Errors::default();
        if self.tokenize_section {
            errs.1 = error::TokenizeSection::Present;
        }
        compile::compile_action(path, action, Normalize::None, self.token_key.as_ref(), &mut errs)
            .filter(|_| errs.0.is_empty())
            .ok_or(PolicyErrors(errs.0))
    }

    /// The rules whose trigger bytes occur in `bytes` (bit `r % 64`), and the ASCII digits in it.
    #[inline]
    pub(crate) fn triggers_and_digits(&self, bytes: &[u8]) -> (u64, usize) {
        let t = &self.trigger_table;
        if bytes.len() < 32 {
            // most JSON values: one plain loop costs less than setting up the wide one
            let (mut m, mut d) = (0u64, 0usize);
            for &x in bytes {
                m |= t[usize::from(x)];
                d += usize::from(x.wrapping_sub(b'0') < 10);
            }
            return (m, d);
        }
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
        (a | b | c | d, count_digits(bytes))
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

    /// Whether no rule can match in bytes whose trigger mask is `mask`, with `digits` digits and
    /// `len` bytes (rules without a trigger are not considered: see `all_triggered`).
    #[inline]
    pub(crate) fn none_eligible(&self, mask: u64, digits: usize, len: usize) -> bool {
        mask & self.eligible.by_digits(digits) & self.eligible.by_len(len) == 0
    }

    /// The field rule for a value under `name` (a form field, a multipart part): a field rule
    /// listing the name among its `keys`, else the secrets-by-key rule when the name is one.
    pub(crate) fn field_for_name(&self, name: &[u8]) -> Option<usize> {
        if !self.name_pairs.may_name(name) {
            return None;
        }
        if let Some((_, fi)) = self.field_keys.iter().find(|(k, _)| &**k == name) {
            return Some(*fi);
        }
        let fi = self.secret_field?;
        self.secret_terms.matches(name).then_some(fi)
    }
}

/// For a count of digits (or of bytes), the rules (bit `r % 64`) whose matches can have that few:
/// one lookup instead of a loop over the rules for every JSON value. Counts past the last entry
/// look up the last, which holds every rule (never claims too few).
#[derive(Clone)]
pub(crate) struct Eligible {
    digits: [u64; Eligible::DIGITS + 1],
    len: [u64; Eligible::LEN + 1],
}

impl Eligible {
    const DIGITS: usize = 32;
    const LEN: usize = 64;

    /// From each rule's least digits and bytes.
    pub(crate) fn new(mins: impl Iterator<Item = (usize, usize)>) -> Eligible {
        let mut e = Eligible {
            digits: [0; Eligible::DIGITS + 1],
            len: [0; Eligible::LEN + 1],
        };
        for (r, (min_digits, min_len)) in mins.enumerate() {
            let bit = 1u64 << (r % 64);
            for (d, m) in e.digits.iter_mut().enumerate() {
                if d >= min_digits || d == Eligible::DIGITS {
                    *m |= bit;
                }
            }
            for (l, m) in e.len.iter_mut().enumerate() {
                if l >= min_len || l == Eligible::LEN {
                    *m |= bit;
                }
            }
        }
        e
    }

    #[inline]
    fn by_digits(&self, digits: usize) -> u64 {
        self.digits[digits.min(Eligible::DIGITS)]
    }

    #[inline]
    fn by_len(&self, len: usize) -> u64 {
        self.len[len.min(Eligible::LEN)]
    }
}

/// The ASCII digits in `bytes`. Counted per block of at most 255 bytes in a `u8`, which the
/// compiler turns into byte-wide vector adds (a `usize` count per byte costs ~4 instructions a
/// byte, more than the rest of the trigger pass).
#[inline]
pub(crate) fn count_digits(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|block| {
            let n = block
                .iter()
                .fold(0u8, |acc, &x| acc.wrapping_add(u8::from(x.wrapping_sub(b'0') < 10)));
            usize::from(n)
        })
        .sum()
}

#[cfg(test)]
mod tests;
