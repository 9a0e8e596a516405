//! The rule set as it is written: serde types, nothing compiled yet.
//!
//! Every struct denies unknown fields, so a typo (`"keep_frist"`) is an error with its JSON path
//! instead of a silently ignored setting. Names here are the public contract: extend, never rename.
//!
//! # Invariants
//! - Every struct and the `ActionWire` enum (tagged by `type`) deny unknown fields; a missing
//!   optional key is `None` or empty here, and its default is applied once, in `compile`.
//! - These types only describe what was written: nothing here validates values (ranges, names,
//!   keys), so a `RulesetWire` that parsed may still fail to compile.
//! - `ActionWire::from(DefaultAction)` is the one bridge from a detector's default action to the
//!   wire form (detectors know no wire type).

use serde::Deserialize;

/// The rule set as it is written: the detection part of the plugin configuration. The proxy's
/// policy holds these keys at its top level next to its HTTP settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesetWire {
    /// Detection rules. Absent: every built-in detector with its default action.
    pub rules: Option<Vec<RuleWire>>,
    /// JSON fields whose whole value is masked.
    #[serde(default)]
    pub fields: Vec<FieldWire>,
    /// Keys for the `tokenize` action.
    pub tokenize: Option<TokenizeWire>,
    /// Bounds on JSON nesting and field values.
    #[serde(default)]
    pub limits: LimitsWire,
    /// Opt-in structured findings (rule, offset, keyed fingerprint; never the value).
    pub findings_log: Option<bool>,
    /// Values under credential-bearing keys (`password`, `api_key`, ...): on by default.
    pub secret_keys: Option<SecretKeysWire>,
}

/// One detection rule: a built-in detector or a user regex, and what to do with a match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleWire {
    pub name: Option<String>,
    pub detector: Option<String>,
    pub pattern: Option<String>,
    pub action: Option<ActionWire>,
    pub near: Option<Vec<String>>,
    pub within: Option<usize>,
    /// Bulk-exposure guard for this rule alone: more values than this in one body crosses it.
    pub max_values_per_stream: Option<u64>,
    /// What crossing `max_values_per_stream` does: `"report"` (default) or `"block"`.
    pub on_exceed: Option<String>,
}

/// Secrets by key name (see `detect::secret_keys`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeysWire {
    /// `false` turns the rule off (default on).
    pub enabled: Option<bool>,
    /// More key terms (a key matches when it ends with a term, case and `_`/`-`/`.` ignored).
    #[serde(default)]
    pub extra: Vec<String>,
    /// What replaces the value (default: redact).
    pub action: Option<ActionWire>,
}

/// A JSON field rule: the whole value under these keys or paths is masked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldWire {
    pub name: String,
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    pub action: Option<ActionWire>,
    /// Bulk-exposure guard for this field rule alone (see [`RuleWire::max_values_per_stream`]).
    pub max_values_per_stream: Option<u64>,
    /// `"report"` (default) or `"block"`.
    pub on_exceed: Option<String>,
}

/// What happens to a matched value.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionWire {
    Mask {
        keep_first: Option<usize>,
        keep_last: Option<usize>,
        mask_char: Option<String>,
    },
    Redact {
        replacement: Option<String>,
    },
    Tokenize {
        normalize: Option<String>,
    },
    /// Format-preserving, reversible encryption of the digits (FF1, see `fpe`).
    Fpe {
        keep_first: Option<usize>,
        keep_last: Option<usize>,
        /// For values with fewer than 6 digits left to encrypt.
        fallback: Option<Box<ActionWire>>,
    },
}

/// Tokenization keys: one inline or from the environment, or several with one active.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeWire {
    pub key_id: Option<String>,
    pub secret: Option<String>,
    pub secret_env: Option<String>,
    #[serde(default)]
    pub keys: Vec<TokenKeyWire>,
    pub active: Option<String>,
    /// Id of the key (among `keys`) for findings fingerprints; default: the active token key. A
    /// separate key lets fingerprints stay comparable across a rotation of the token key.
    pub fingerprint_key_id: Option<String>,
}

/// One tokenization key in a rotation set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKeyWire {
    pub id: String,
    pub secret: Option<String>,
    pub secret_env: Option<String>,
}

/// Bounds on JSON nesting and field values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsWire {
    /// JSON nesting deeper than this falls back to text rules for the rest of the body.
    pub max_depth: Option<usize>,
    /// A field value longer than this is redacted whole (never passed through).
    pub max_field_value_bytes: Option<usize>,
}

impl From<crate::detect::DefaultAction> for ActionWire {
    fn from(a: crate::detect::DefaultAction) -> ActionWire {
        use crate::detect::DefaultAction as D;
        match a {
            D::Mask { keep_first, keep_last } => ActionWire::Mask {
                keep_first: Some(keep_first),
                keep_last: Some(keep_last),
                mask_char: None,
            },
            D::Redact => ActionWire::Redact { replacement: None },
            D::Tokenize => ActionWire::Tokenize { normalize: None },
        }
    }
}
