//! The plugin configuration as it is written: the rule set's keys (the engine's wire types) next to
//! the HTTP settings, all at the top level. Every struct denies unknown fields, so a typo is an
//! error with its JSON path instead of a silently ignored setting. Names here are the public
//! contract: extend, never rename.
//!
//! # Invariants
//! - The rule-set keys use the engine's own wire types at the same paths, and `split_ruleset` is
//!   the one place they are handed to the engine (`limits.max_depth` and
//!   `limits.max_field_value_bytes` included); what is left is the proxy's.
//! - Only shape lives here: defaults and ranges are applied by `policy::HttpPolicy::compile`, which
//!   also refuses `routes` and `policies` anywhere but the top level.
//! - `policies` stays raw JSON, in written order (`preserve_order`), so each named policy is
//!   parsed on its own with its `policies.<name>.` path prefix.

use serde::Deserialize;
use std::collections::BTreeMap;
use streammask_engine::config::wire::{
    ActionWire, FieldWire, LimitsWire as RulesetLimitsWire, RuleWire, RulesetWire, SecretKeysWire, TokenizeWire,
};

/// One policy: the whole plugin configuration, or one of its named `policies`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyWire {
    /// Detection rules. Absent: every built-in detector with its default action.
    pub rules: Option<Vec<RuleWire>>,
    /// JSON fields whose whole value is masked.
    #[serde(default)]
    pub fields: Vec<FieldWire>,
    /// Keys for the `tokenize` action.
    pub tokenize: Option<TokenizeWire>,
    /// Opt-in structured findings log (rule, offset, keyed fingerprint; never the value).
    pub findings_log: Option<bool>,
    /// Opt-in per-stream debug lines (how each body is scanned, what was found per label; never
    /// a value). Off by default: they would be formatted on every request.
    pub debug_log: Option<bool>,
    /// Values under credential-bearing keys (`password`, `api_key`, ...): on by default.
    pub secret_keys: Option<SecretKeysWire>,
    /// Which bodies to scan: `["request", "response"]` (the default).
    pub directions: Option<Vec<String>>,
    /// Media types to scan (`text/*`, `application/*+json`, ...). Absent: the textual ones.
    pub content_types: Option<Vec<String>>,
    /// Body format per media type, for types the built-in table does not know.
    #[serde(default)]
    pub formats: BTreeMap<String, String>,
    /// `"enforce"` (default) or `"report"`.
    pub mode: Option<String>,
    /// `"block"` (default) or `"pass"`.
    pub on_error: Option<String>,
    /// Percentage of streams that are enforced when `mode` is `enforce` (rollout); the rest report.
    pub enforce_percent: Option<u8>,
    /// Bounds on memory, decoding and hold-back (and the rule set's JSON bounds).
    #[serde(default)]
    pub limits: LimitsWire,
    /// Whether a body without a `content-type` is scanned as text (default true; with `sniff`
    /// on its format is sniffed instead).
    pub scan_missing_content_type: Option<bool>,
    /// Whether bodies typed `application/octet-stream`, untyped, or with conflicting
    /// `content-type` headers are sniffed (JSON, NDJSON, form, UTF-8 text) (default true).
    pub sniff: Option<bool>,
    /// Whether WebSocket messages are masked after an upgrade, where the host delivers frames to
    /// the filter (Envoy) (default true).
    pub websocket: Option<bool>,
    /// Whether binary WebSocket messages are scanned with the text rules too (default false:
    /// they pass unchanged).
    pub websocket_binary: Option<bool>,
    /// Multipart bodies: `{"file_parts": "text" | "all" | "none"}`.
    #[serde(default)]
    pub multipart: MultipartWire,
    /// Whether the request's `accept-encoding` is removed so upstreams answer uncompressed.
    pub strip_accept_encoding: Option<bool>,
    /// Rules applied to header values.
    #[serde(default)]
    pub headers: Vec<HeaderRuleWire>,
    /// Rules applied to query-string parameters of the request path.
    pub query: Option<QueryWire>,
    /// Per-route policies; the first match wins, otherwise this policy applies.
    #[serde(default)]
    pub routes: Vec<RouteWire>,
    /// Named policies that routes refer to (each has the same shape as this object), in order.
    #[serde(default)]
    pub policies: serde_json::Map<String, serde_json::Value>,
}

impl PolicyWire {
    /// The rule set's part (the engine compiles it), and what is left for the proxy.
    pub(crate) fn split_ruleset(&mut self) -> RulesetWire {
        RulesetWire {
            rules: self.rules.take(),
            fields: std::mem::take(&mut self.fields),
            tokenize: self.tokenize.clone(),
            findings_log: self.findings_log,
            secret_keys: self.secret_keys.take(),
            limits: RulesetLimitsWire {
                max_depth: self.limits.max_depth,
                max_field_value_bytes: self.limits.max_field_value_bytes,
            },
        }
    }
}

/// Multipart settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultipartWire {
    /// Parts with a file name: `"text"` (default: scanned when their type is one the policy
    /// scans), `"all"` (also untyped and `application/octet-stream` ones, sniffed), `"none"`.
    pub file_parts: Option<String>,
}

/// Resource bounds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsWire {
    /// JSON nesting deeper than this falls back to text rules for the rest of the body.
    pub max_depth: Option<usize>,
    /// A field value longer than this is redacted whole (never passed through).
    pub max_field_value_bytes: Option<usize>,
    /// Upper bound on the bytes a stream keeps paused in the proxy (Envoy trailers support).
    pub max_paused_bytes: Option<usize>,
    /// Bytes one WebSocket text message may hold back before they are decided early.
    pub max_ws_held_bytes: Option<usize>,
    /// Decoded bytes one compressed body may inflate to.
    pub max_decoded_bytes: Option<u64>,
    /// Decoded bytes per compressed byte, once the first MiB is decoded.
    pub max_expansion_ratio: Option<u64>,
    /// Decoded bytes one body chunk (one host callback) may inflate to.
    pub max_decoded_bytes_per_chunk: Option<u64>,
    /// Largest back-reference window a brotli or zstd body may ask for.
    pub max_decode_window_bytes: Option<u64>,
    /// Memory the filter may hold in one VM (all streams); a stream that would pass it is blocked.
    pub max_memory_bytes: Option<u64>,
    /// Bulk-exposure guard: more values than this in one body (any rule) crosses it.
    pub max_values_per_stream: Option<u64>,
    /// What crossing `max_values_per_stream` does: `"report"` (default) or `"block"`.
    pub on_exceed: Option<String>,
}

/// A header rule: the listed headers' values go through the detectors, or are masked whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRuleWire {
    pub name: String,
    pub headers: Vec<String>,
    /// `"request"`, `"response"`, or both when absent.
    pub direction: Option<String>,
    /// Mask the whole value with this action; absent: run the detectors over the value.
    pub action: Option<ActionWire>,
}

/// Query-string rules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryWire {
    /// Metric label for values masked by `params` (default `query`).
    pub name: Option<String>,
    /// Parameters whose whole value is masked.
    #[serde(default)]
    pub params: Vec<String>,
    pub action: Option<ActionWire>,
    /// Run the detectors over every parameter value (default true).
    pub detect: Option<bool>,
}

/// A per-route policy selector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteWire {
    pub name: Option<String>,
    pub host: Option<String>,
    pub path_prefix: Option<String>,
    pub path_regex: Option<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    pub policy: String,
}
