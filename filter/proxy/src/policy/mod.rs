//! The HTTP policy: a rule set (the engine's) and what the proxy decides per stream around it:
//! which directions and media types are scanned and as what format, enforce or report (and the
//! rollout share), what happens on an error, the pause and decoding bounds, and the header and
//! query-string rules.
//!
//! # Invariants
//! - One plugin configuration is parsed once into a [`PolicySet`] (the top level and its named
//!   policies); every stream shares it.
//! - Every problem is reported with the JSON path of the offending value: the rule set's problems
//!   keep the engine's paths (the rule set's keys sit at the policy's top level), the proxy's own
//!   are added here, and a named policy's are prefixed with `policies.NAME.`.
//! - Metric labels: the rule set's, then one per header rule, then the query rule (the rule set
//!   is compiled with these as its host labels, so [`streammask_engine::Labels`] owns the order).

mod meta;
mod set;
pub mod wire;

pub use set::PolicySet;

use std::sync::Arc;
use streammask_engine::config::parse_json;
use streammask_engine::{
    parse_media_type, Budget, Format, FormatRouter, MetaHits, PolicyError, PolicyErrors, Route, Ruleset,
};
use wire::PolicyWire;

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

/// The proxy's resource bounds (the rule set has its own: JSON depth and field size).
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Upper bound on bytes a stream keeps paused in the proxy.
    pub max_paused_bytes: usize,
    /// Bytes one WebSocket text message may hold back (past it: decided early, the rest cut).
    pub max_ws_held_bytes: usize,
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

impl HttpLimits {
    /// The defaults (see SECURITY.md for why each).
    pub const DEFAULT: HttpLimits = HttpLimits {
        max_paused_bytes: 32 << 10,
        max_ws_held_bytes: 64 << 10,
        max_decoded_bytes: 1 << 30,
        max_expansion_ratio: 100,
        max_decoded_bytes_per_chunk: 32 << 20,
        max_decode_window_bytes: 8 << 20,
        max_memory_bytes: 128 << 20,
    };
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

/// A compiled policy.
pub struct HttpPolicy {
    /// What finds and masks values.
    pub ruleset: Arc<Ruleset>,
    /// Scan request bodies.
    pub request: bool,
    /// Scan response bodies.
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
    pub limits: HttpLimits,
    /// Scan bodies without a content type as text.
    pub scan_missing_content_type: bool,
    /// Sniff the format of untyped, `application/octet-stream` and conflicting-typed bodies.
    pub sniff: bool,
    /// Mask WebSocket messages after an upgrade (where the host delivers frames).
    pub websocket: bool,
    /// Scan binary WebSocket messages with the text rules too.
    pub websocket_binary: bool,
    /// Which multipart parts with a file name are scanned.
    pub file_parts: FileParts,
    /// Remove `accept-encoding` from requests.
    pub strip_accept_encoding: bool,
    /// Write the per-stream debug lines (formatted only when on).
    pub debug_log: bool,
    /// Bulk-exposure guards: the rule set's (per rule and field rule), then the body-wide one
    /// (`limits.max_values_per_stream`, label `None`).
    pub budgets: Vec<Budget>,
    header_rules: Vec<meta::HeaderRule>,
    query: Option<meta::QueryRule>,
}

impl std::fmt::Debug for HttpPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPolicy")
            .field("ruleset", &self.ruleset)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Collects the proxy's own problems, each with its JSON path.
#[derive(Default)]
struct Problems(Vec<PolicyError>);

impl Problems {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(PolicyError::new(path, message));
    }
}

impl HttpPolicy {
    /// Parses and compiles one policy (no `routes` or `policies`: those belong to a [`PolicySet`]).
    ///
    /// # Errors
    /// Every problem found, each with its JSON path.
    pub fn from_json(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<HttpPolicy, PolicyErrors> {
        Self::compile(parse_json(text)?, env)
    }

    /// The policy of `{}`: every built-in detector, the default HTTP settings.
    pub fn builtin_default() -> HttpPolicy {
        let defaults = || Self::compile(PolicyWire::default(), &|_| None);
        defaults().unwrap_or_else(|_| Self::with_ruleset(Arc::new(Ruleset::builtin_default())))
    }

    /// The default HTTP settings around `ruleset` (no header or query rule).
    fn with_ruleset(ruleset: Arc<Ruleset>) -> HttpPolicy {
        HttpPolicy {
            ruleset,
            request: true,
            response: true,
            content_types: DEFAULT_CONTENT_TYPES.iter().map(|s| s.to_string()).collect(),
            formats: Vec::new(),
            mode: Mode::Enforce,
            on_error: OnError::Block,
            enforce_percent: 100,
            limits: HttpLimits::DEFAULT,
            scan_missing_content_type: true,
            sniff: true,
            websocket: true,
            websocket_binary: false,
            file_parts: FileParts::Text,
            strip_accept_encoding: true,
            debug_log: false,
            budgets: Vec::new(),
            header_rules: Vec::new(),
            query: None,
        }
    }

    /// Compiles an already parsed policy.
    ///
    /// # Errors
    /// Every problem found, each with its JSON path.
    pub fn compile(mut w: PolicyWire, env: &dyn Fn(&str) -> Option<String>) -> Result<HttpPolicy, PolicyErrors> {
        let mut errs = Problems::default();
        if !w.routes.is_empty() || !w.policies.is_empty() {
            errs.push(
                if w.routes.is_empty() { "policies" } else { "routes" },
                "routes and named policies can only be set at the top level of the plugin configuration",
            );
        }
        // header and query rules count under labels of their own, after the rule set's
        let host_labels = meta::label_names(&w);
        let ruleset = match Ruleset::compile(w.split_ruleset(), env, &host_labels) {
            Ok(r) => Some(Arc::new(r)),
            Err(e) => {
                errs.0.extend(e.0);
                None
            }
        };
        let mut p = Self::with_ruleset(ruleset.clone().unwrap_or_else(|| Arc::new(Ruleset::builtin_default())));
        p.settings(&w, &mut errs);
        if let Some(rs) = &ruleset {
            p.header_rules = meta::compile_headers(&w.headers, rs, &mut errs);
            p.query = meta::compile_query(w.query.as_ref(), rs, w.headers.len(), &mut errs);
        }
        if ruleset.is_none() || !errs.0.is_empty() {
            return Err(PolicyErrors(errs.0));
        }
        Ok(p)
    }

    /// The HTTP settings of `w` (defaults where absent).
    fn settings(&mut self, w: &PolicyWire, errs: &mut Problems) {
        if let Some(dirs) = &w.directions {
            self.request = false;
            self.response = false;
            for (i, d) in dirs.iter().enumerate() {
                match d.as_str() {
                    "request" => self.request = true,
                    "response" => self.response = true,
                    _ => errs.push(
                        format!("directions[{i}]"),
                        format!("unknown direction {d:?}; use \"request\" or \"response\""),
                    ),
                }
            }
        }
        self.mode = match w.mode.as_deref() {
            None | Some("enforce") => Mode::Enforce,
            Some("report") => Mode::Report,
            Some(m) => {
                errs.push("mode", format!("unknown mode {m:?}; use \"enforce\" or \"report\""));
                Mode::Enforce
            }
        };
        self.on_error = match w.on_error.as_deref() {
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
        // absent settings keep the defaults `with_ruleset` wrote (the one place they are written)
        self.enforce_percent = match w.enforce_percent {
            None => self.enforce_percent,
            Some(p) if p <= 100 => p,
            Some(p) => {
                errs.push("enforce_percent", format!("{p} is not a percentage; use 0-100"));
                self.enforce_percent
            }
        };
        if let Some(v) = &w.content_types {
            self.content_types = v.iter().map(|s| s.trim().to_ascii_lowercase()).collect();
            for (i, ct) in self.content_types.iter().enumerate() {
                if !ct.contains('/') {
                    errs.push(
                        format!("content_types[{i}]"),
                        format!("{ct:?} is not a media type; use e.g. \"application/json\" or \"text/*\""),
                    );
                }
            }
        }
        for (t, f) in &w.formats {
            match Format::parse(f) {
                Some(f) => self.formats.push((t.trim().to_ascii_lowercase(), f)),
                None => errs.push(
                    format!("formats.{t}"),
                    format!("unknown format {f:?}; use \"json\", \"ndjson\", \"sse\", \"form\" or \"text\""),
                ),
            }
        }
        self.file_parts = match w.multipart.file_parts.as_deref() {
            None => self.file_parts,
            Some("text") => FileParts::Text,
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
        self.limits = limits(&w.limits, errs);
        self.budgets = self.ruleset.budgets().to_vec();
        match Budget::from_wire("limits.", w.limits.max_values_per_stream, w.limits.on_exceed.as_deref()) {
            Ok(Some(_)) if self.ruleset.labels().iter().any(|(_, n)| n == "all") => errs.push(
                "limits.max_values_per_stream",
                "the body-wide guard counts under the name \"all\", which a rule or field already has; rename that one",
            ),
            Ok(Some((max, block))) => self.budgets.push(Budget {
                label: None,
                max,
                block,
            }),
            Ok(None) => {}
            Err((path, message)) => errs.push(path, message),
        }
        self.scan_missing_content_type = w.scan_missing_content_type.unwrap_or(self.scan_missing_content_type);
        self.debug_log = w.debug_log.unwrap_or(self.debug_log);
        self.sniff = w.sniff.unwrap_or(self.sniff);
        self.websocket = w.websocket.unwrap_or(self.websocket);
        self.websocket_binary = w.websocket_binary.unwrap_or(self.websocket_binary);
        self.strip_accept_encoding = w.strip_accept_encoding.unwrap_or(self.strip_accept_encoding);
    }

    /// The body format for a `content-type` header value, or `None` when such bodies pass untouched.
    /// `None` as input (no header) gives text when `scan_missing_content_type` is set.
    pub fn format_for(&self, content_type: Option<&str>) -> Option<Format> {
        let Some(ct) = content_type else {
            return self.scan_missing_content_type.then_some(Format::Text);
        };
        let media = parse_media_type(ct).0;
        if !self.content_types.iter().any(|p| media_matches(p, &media)) {
            return None;
        }
        if let Some((_, f)) = self.formats.iter().find(|(p, _)| media_matches(p, &media)) {
            return Some(*f);
        }
        Some(Format::for_media_type(&media))
    }

    /// Metric label names, in label order (the rule set's, then header rules, then the query rule).
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.ruleset.labels().iter().map(|(_, n)| n)
    }
}

impl HttpPolicy {
    /// The name a bulk-exposure guard is reported under: its rule's or field rule's, or `all`
    /// for the body-wide one.
    pub fn budget_name(&self, b: &Budget) -> &str {
        match b.label {
            Some(l) => self.ruleset.labels().name(l),
            None => "all",
        }
    }
}

/// The proxy's bounds, each checked against its range.
fn limits(l: &wire::LimitsWire, errs: &mut Problems) -> HttpLimits {
    let d = HttpLimits::DEFAULT;
    let limits = HttpLimits {
        max_paused_bytes: l.max_paused_bytes.unwrap_or(d.max_paused_bytes),
        max_ws_held_bytes: l.max_ws_held_bytes.unwrap_or(d.max_ws_held_bytes),
        max_decoded_bytes: l.max_decoded_bytes.unwrap_or(d.max_decoded_bytes),
        max_expansion_ratio: l.max_expansion_ratio.unwrap_or(d.max_expansion_ratio),
        max_decoded_bytes_per_chunk: l.max_decoded_bytes_per_chunk.unwrap_or(d.max_decoded_bytes_per_chunk),
        max_decode_window_bytes: l.max_decode_window_bytes.unwrap_or(d.max_decode_window_bytes),
        max_memory_bytes: l.max_memory_bytes.unwrap_or(d.max_memory_bytes),
    };
    if !(1024..=(1 << 20)).contains(&limits.max_paused_bytes) {
        errs.push(
            "limits.max_paused_bytes",
            "use 1024-1048576 (keep it below the proxy's per-stream buffer limit)",
        );
    }
    if !(1024..=(1 << 20)).contains(&limits.max_ws_held_bytes) {
        errs.push(
            "limits.max_ws_held_bytes",
            "use 1024-1048576 (a WebSocket message holds at most this much while a value may go on)",
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
    limits
}

impl FormatRouter for HttpPolicy {
    fn route(&self, content_type: Option<&str>, file: bool) -> Route {
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
        let (media, boundary) = parse_media_type(ct);
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

    fn part_header(&self, name: &str, value: &str) -> Option<(String, MetaHits)> {
        // a part's header block belongs to no direction: a rule for either applies
        self.mask_header(true, name, value)
            .or_else(|| self.mask_header(false, name, value))
    }
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

#[cfg(test)]
mod tests;
