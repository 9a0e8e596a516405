//! The public streaming API: push chunks, get output, finish at end of stream.
//!
//! # Invariants
//! - [`Masker::push`] and [`Masker::finish`] only append to `out`; for any split of a body, the
//!   concatenated output equals [`mask_all`] of the whole body, and after `finish` nothing is held.
//! - Every route gets a masker that keeps that contract: multipart bodies nest at most
//!   `multipart::MAX_DEPTH` deep and a deeper one is scanned as text, never passed; only
//!   [`Route::Pass`] (and a sniffed body of no known format) lets bytes through unscanned.
//! - [`Ruleset::mask_value`] and [`Ruleset::mask_named_value`] keep no state between calls and
//!   return `None` when the value is unchanged (nothing found, or an empty named value), so a
//!   caller rewrites a header or parameter only when something was masked.

use crate::config::Ruleset;
use crate::format::body::BodyStream;
use crate::format::form::FormMasker;
use crate::format::json::{Framing, JsonMasker};
use crate::format::multipart::MultipartMasker;
use crate::format::sniff::SniffMasker;
use crate::format::sse::SseMasker;
use crate::format::text::TextMasker;
use crate::format::{Format, FormatRouter, Route};
use crate::search::scan::Stats;
use std::sync::Arc;

/// The masker of one body (or one part of a multipart body), by format. Every variant keeps the
/// streaming contract of [`Masker`].
pub(crate) enum BodyMasker {
    Text(Box<TextMasker>),
    Json(Box<JsonMasker>),
    Sse(Box<SseMasker>),
    Form(Box<FormMasker>),
    Multipart(Box<MultipartMasker>),
    Sniff(Box<SniffMasker>),
    /// Bytes pass unchanged (a route that is not scanned, e.g. a binary part).
    Pass,
}

impl BodyMasker {
    /// A masker for a body of this format.
    pub(crate) fn of_format(policy: &Ruleset, format: Format) -> BodyMasker {
        match format {
            Format::Text => BodyMasker::Text(Box::new(TextMasker::new(policy))),
            Format::Json => BodyMasker::Json(Box::new(JsonMasker::new(policy, Framing::Document))),
            Format::Ndjson => BodyMasker::Json(Box::new(JsonMasker::new(policy, Framing::Lines))),
            Format::Sse => BodyMasker::Sse(Box::new(SseMasker::new(policy))),
            Format::Form => BodyMasker::Form(Box::new(FormMasker::new(policy))),
        }
    }

    /// A masker for a body routed this way; `depth` counts enclosing multipart bodies.
    pub(crate) fn of_route(
        policy: &Ruleset,
        route: &Route,
        router: &Arc<dyn FormatRouter>,
        depth: usize,
    ) -> BodyMasker {
        match route {
            Route::Scan(f) => BodyMasker::of_format(policy, *f),
            Route::Multipart(boundary) if depth < crate::format::multipart::MAX_DEPTH => {
                BodyMasker::Multipart(Box::new(MultipartMasker::new(
                    policy,
                    boundary,
                    router.clone(),
                    depth + 1,
                    BodyMasker::boxed_route,
                )))
            }
            // a multipart body nested deeper than that: its text is still scanned
            Route::Multipart(_) => BodyMasker::of_format(policy, Format::Text),
            Route::Sniff => BodyMasker::Sniff(Box::new(SniffMasker::new(BodyMasker::boxed_format))),
            Route::Pass => BodyMasker::Pass,
        }
    }

    /// [`BodyMasker::of_route`], boxed: the [`crate::format::body::NewBody`] nested bodies are built with.
    fn boxed_route(
        policy: &Ruleset,
        route: &Route,
        router: &Arc<dyn FormatRouter>,
        depth: usize,
    ) -> Box<dyn BodyStream> {
        Box::new(BodyMasker::of_route(policy, route, router, depth))
    }

    /// [`BodyMasker::of_format`], boxed (`None`: pass): the [`crate::format::body::NewFormat`] of sniffed bodies.
    fn boxed_format(policy: &Ruleset, format: Option<Format>) -> Box<dyn BodyStream> {
        Box::new(format.map_or(BodyMasker::Pass, |f| BodyMasker::of_format(policy, f)))
    }
}

impl BodyStream for BodyMasker {
    fn push(&mut self, p: &Ruleset, input: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        match self {
            BodyMasker::Text(t) => t.push(p, input, stats, out),
            BodyMasker::Json(j) => j.push(p, input, stats, out),
            BodyMasker::Sse(s) => s.push(p, input, stats, out),
            BodyMasker::Form(f) => f.push(p, input, stats, out),
            BodyMasker::Multipart(m) => m.push(p, input, stats, out),
            BodyMasker::Sniff(s) => s.push(p, input, stats, out),
            BodyMasker::Pass => out.extend_from_slice(input),
        }
    }

    fn finish(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        match self {
            BodyMasker::Text(t) => t.finish(p, stats, out),
            BodyMasker::Json(j) => j.finish(p, stats, out),
            BodyMasker::Sse(s) => s.finish(p, stats, out),
            BodyMasker::Form(f) => f.finish(p, stats, out),
            BodyMasker::Multipart(m) => m.finish(p, stats, out),
            BodyMasker::Sniff(s) => s.finish(p, stats, out),
            BodyMasker::Pass => {}
        }
    }

    fn held_back(&self) -> usize {
        match self {
            BodyMasker::Text(t) => t.held_back(),
            BodyMasker::Json(j) => j.held_back(),
            BodyMasker::Sse(s) => s.held_back(),
            BodyMasker::Form(f) => f.held_back(),
            BodyMasker::Multipart(m) => m.held_back(),
            BodyMasker::Sniff(s) => s.held_back(),
            BodyMasker::Pass => 0,
        }
    }
}

/// Masks one body as it streams.
///
/// For every input and every way to split it into chunks, the concatenated output of
/// [`push`](Masker::push) and [`finish`](Masker::finish) is the same as masking the whole input at
/// once. Only bytes that could still be part of a match are held back between calls.
pub struct Masker {
    policy: Arc<Ruleset>,
    inner: BodyMasker,
    stats: Stats,
    bytes_in: u64,
    /// Bytes appended to the outputs so far.
    bytes_out: u64,
    /// Where the value that crossed a watched guard starts, as an offset in the whole output.
    cut: Option<u64>,
}

impl Masker {
    /// A masker for one body of the given format.
    pub fn new(policy: Arc<Ruleset>, format: Format) -> Masker {
        let inner = BodyMasker::of_format(&policy, format);
        Masker::with_inner(policy, inner)
    }

    /// A masker for a body routed by [`FormatRouter::route`]: a format, a multipart body (whose
    /// parts `router` routes by their own content types), a body whose format is sniffed from its
    /// first bytes, or one that passes unchanged.
    pub fn for_route(policy: Arc<Ruleset>, route: &Route, router: Arc<dyn FormatRouter>) -> Masker {
        let inner = BodyMasker::of_route(&policy, route, &router, 0);
        Masker::with_inner(policy, inner)
    }

    fn with_inner(policy: Arc<Ruleset>, inner: BodyMasker) -> Masker {
        let stats = Stats::for_policy(&policy);
        Masker {
            policy,
            inner,
            stats,
            bytes_in: 0,
            bytes_out: 0,
            cut: None,
        }
    }

    /// Masks the next chunk, appending whatever is decided to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.bytes_in += input.len() as u64;
        let start = out.len();
        self.inner.push(&self.policy, input, &mut self.stats, out);
        self.after(start, out.len());
    }

    /// Ends the stream: everything still held back is decided and appended to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        self.inner.finish(&self.policy, &mut self.stats, out);
        self.after(start, out.len());
    }

    /// Counts the output of a call that appended `out[start..end]`, and turns a cut recorded in
    /// it (an index into that output vector) into an offset in the whole output.
    fn after(&mut self, start: usize, end: usize) {
        if self.cut.is_none() {
            if let Some(c) = self.stats.cut() {
                self.cut = Some(self.bytes_out + c.saturating_sub(start) as u64);
            }
        }
        self.bytes_out += end.saturating_sub(start) as u64;
    }

    /// Bytes appended to the outputs of `push` and `finish` so far.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// Where the value that crossed a guard given to [`Masker::watch`] starts, as an offset in the
    /// whole output (everything before it is what the body may show); `None` while none was crossed.
    pub fn cut(&self) -> Option<u64> {
        self.cut
    }

    /// Records where in the output the value that crosses one of these bulk-exposure guards
    /// starts ([`Stats::cut`]), so a host can stop the body right there.
    pub fn watch(&mut self, budgets: &[crate::config::Budget]) {
        self.stats.watch(budgets.iter().map(|b| (b.label, b.max)).collect());
    }

    /// What was found so far (per label: a field rule's text form counts for the field).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Bytes pushed so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Bytes currently held back (waiting for more input to be decided).
    pub fn held_back(&self) -> usize {
        self.inner.held_back()
    }
}

impl Ruleset {
    /// Runs the detectors over one value (a header value, a query parameter): the masked value and
    /// what was found per label, or `None` when nothing was.
    pub fn mask_value(&self, value: &[u8]) -> Option<(Vec<u8>, crate::config::MetaHits)> {
        if self.cannot_match(value) {
            return None;
        }
        let mut t = TextMasker::new(self);
        let mut stats = Stats::for_policy(self);
        let mut out = Vec::with_capacity(value.len());
        t.push(self, value, &mut stats, &mut out);
        t.finish(self, &mut stats, &mut out);
        let mut hits = crate::config::MetaHits::default();
        for (label, _) in self.labels().iter() {
            hits.add(label, stats.hits_of(label));
        }
        (hits.total() > 0).then_some((out, hits))
    }

    /// A value known by name (a query parameter): masked whole, and counted, when a field rule
    /// lists the name among its keys or the name is a secret key (`password`, `api_key`, ...).
    pub fn mask_named_value(&self, name: &[u8], value: &[u8]) -> Option<(Vec<u8>, crate::config::MetaHits)> {
        let fi = self.field_for_name(name)?;
        let field = self.fields.get(fi)?;
        if value.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(value.len());
        field.action.apply(value, &mut out);
        let mut hits = crate::config::MetaHits::default();
        hits.add(self.labels.field(fi), 1);
        Some((out, hits))
    }
}

/// Masks a whole body at once (the reference the streaming output must equal).
pub fn mask_all(policy: &Arc<Ruleset>, format: Format, input: &[u8]) -> (Vec<u8>, Stats) {
    let mut m = Masker::new(policy.clone(), format);
    let mut out = Vec::with_capacity(input.len());
    m.push(input, &mut out);
    m.finish(&mut out);
    let stats = m.stats().clone();
    (out, stats)
}
