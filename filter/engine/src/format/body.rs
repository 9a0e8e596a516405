//! The seam between formats that hold whole bodies (a multipart part, a sniffed body) and the
//! dispatcher that builds a masker for any format (`masker::BodyMasker`).
//!
//! # Invariants
//! - A nested body is built only through a [`NewBody`] or [`NewFormat`] function handed down by
//!   the dispatcher, so `multipart.rs` and `sniff.rs` never import the dispatcher: the recursion
//!   (a part may itself be multipart) is in values, not in the module graph.
//! - Every [`BodyStream`] keeps the streaming contract of `Masker`: for any split of the input,
//!   the concatenated output equals the whole body masked at once.

use crate::config::Ruleset;
use crate::format::{Format, FormatRouter, Route};
use crate::search::scan::Stats;
use std::sync::Arc;

/// One body (or part) being masked, whatever its format.
pub(crate) trait BodyStream {
    /// Masks the next bytes, appending what is decided to `out`.
    fn push(&mut self, p: &Ruleset, input: &[u8], stats: &mut Stats, out: &mut Vec<u8>);
    /// Ends the body: everything held is decided.
    fn finish(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>);
    /// Bytes held back, waiting for more input.
    fn held_back(&self) -> usize;
}

/// Builds the masker of a body routed this way; the last argument counts enclosing multipart bodies.
pub(crate) type NewBody = fn(&Ruleset, &Route, &Arc<dyn FormatRouter>, usize) -> Box<dyn BodyStream>;

/// Builds the masker of a body of this format (`None`: the bytes pass unchanged).
pub(crate) type NewFormat = fn(&Ruleset, Option<Format>) -> Box<dyn BodyStream>;

/// Bytes that pass unchanged (a route that is not scanned, e.g. a binary part).
pub(crate) struct PassBody;

impl BodyStream for PassBody {
    fn push(&mut self, _: &Ruleset, input: &[u8], _: &mut Stats, out: &mut Vec<u8>) {
        out.extend_from_slice(input);
    }

    fn finish(&mut self, _: &Ruleset, _: &mut Stats, _: &mut Vec<u8>) {}

    fn held_back(&self) -> usize {
        0
    }
}
