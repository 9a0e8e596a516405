//! The public streaming API: push chunks, get output, finish at end of stream.

use crate::format::json::{Framing, JsonMasker};
use crate::format::sse::SseMasker;
use crate::format::text::TextMasker;
use crate::format::Format;
use crate::policy::Policy;
use crate::scan::Stats;
use std::sync::Arc;

enum Inner {
    Text(Box<TextMasker>),
    Json(Box<JsonMasker>),
    Sse(Box<SseMasker>),
}

/// Masks one body as it streams.
///
/// For every input and every way to split it into chunks, the concatenated output of
/// [`push`](Masker::push) and [`finish`](Masker::finish) is the same as masking the whole input at
/// once. Only bytes that could still be part of a match are held back between calls.
pub struct Masker {
    policy: Arc<Policy>,
    inner: Inner,
    stats: Stats,
    bytes_in: u64,
}

impl Masker {
    /// A masker for one body of the given format.
    pub fn new(policy: Arc<Policy>, format: Format) -> Masker {
        let inner = match format {
            Format::Text => Inner::Text(Box::new(TextMasker::new(&policy))),
            Format::Json => Inner::Json(Box::new(JsonMasker::new(&policy, Framing::Document))),
            Format::Ndjson => Inner::Json(Box::new(JsonMasker::new(&policy, Framing::Lines))),
            Format::Sse => Inner::Sse(Box::new(SseMasker::new(&policy))),
        };
        let stats = Stats::for_policy(&policy);
        Masker {
            policy,
            inner,
            stats,
            bytes_in: 0,
        }
    }

    /// Masks the next chunk, appending whatever is decided to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.bytes_in += input.len() as u64;
        let p = &*self.policy;
        match &mut self.inner {
            Inner::Text(t) => t.push(p, input, &mut self.stats, out),
            Inner::Json(j) => j.push(p, input, &mut self.stats, out),
            Inner::Sse(s) => s.push(p, input, &mut self.stats, out),
        }
    }

    /// Ends the stream: everything still held back is decided and appended to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let p = &*self.policy;
        match &mut self.inner {
            Inner::Text(t) => t.finish(p, &mut self.stats, out),
            Inner::Json(j) => j.finish(p, &mut self.stats, out),
            Inner::Sse(s) => s.finish(p, &mut self.stats, out),
        }
    }

    /// What was found so far (values found by the text form of a field rule count for the field).
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        let n = self.policy.user_rules;
        for (r, rule) in self.policy.rules.iter().enumerate().skip(n) {
            if let (Some(f), Some(&h)) = (rule.field, self.stats.rule_hits.get(r)) {
                if let Some(x) = s.field_hits.get_mut(f) {
                    *x += h;
                }
            }
        }
        s.rule_hits.truncate(n);
        s
    }

    /// Bytes pushed so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Bytes currently held back (waiting for more input to be decided).
    pub fn held(&self) -> usize {
        match &self.inner {
            Inner::Text(t) => t.pending(),
            Inner::Json(j) => j.pending(),
            Inner::Sse(s) => s.pending(),
        }
    }

    /// The policy this masker applies.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }
}

/// Masks a whole body at once (the reference the streaming output must equal).
pub fn mask_all(policy: &Arc<Policy>, format: Format, input: &[u8]) -> (Vec<u8>, Stats) {
    let mut m = Masker::new(policy.clone(), format);
    let mut out = Vec::with_capacity(input.len());
    m.push(input, &mut out);
    m.finish(&mut out);
    let stats = m.stats();
    (out, stats)
}
