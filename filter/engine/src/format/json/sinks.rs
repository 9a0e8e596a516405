//! Sinks for the scanner's decisions inside JSON: a string with escapes (through the raw map), a
//! string that arrived whole without escapes, a number (notes whether anything was replaced).
//!
//! # Invariants
//! - Kept bytes are the raw bytes of the input; replacements are escaped for a JSON string.

use super::lex::escape_into;
use crate::format::rawmap::RawMap;
use crate::search::scan::Sink;

/// A sink for a string value: unchanged bytes come from the raw map, replacements are escaped.
pub(super) struct StrSink<'a> {
    pub(super) map: &'a mut RawMap,
    pub(super) out: &'a mut Vec<u8>,
}

impl Sink for StrSink<'_> {
    fn keep(&mut self, bytes: &[u8]) {
        self.map.consume(bytes.len(), true, self.out);
    }
    fn replace(&mut self, original: &[u8], replacement: &[u8]) {
        self.map.consume(original.len(), false, self.out);
        escape_into(replacement, self.out);
    }
    fn written(&self) -> usize {
        self.out.len()
    }
}

/// A sink for a string value that arrived whole and without escapes: kept bytes are its raw bytes.
pub(super) struct PlainStrSink<'a> {
    pub(super) out: &'a mut Vec<u8>,
}

impl Sink for PlainStrSink<'_> {
    fn keep(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
    fn replace(&mut self, _original: &[u8], replacement: &[u8]) {
        escape_into(replacement, self.out);
    }
    fn written(&self) -> usize {
        self.out.len()
    }
}

/// A sink that records whether anything was replaced (numbers). Its output is written to the
/// body's output later, at `at`.
pub(super) struct NumSink<'a> {
    pub(super) out: &'a mut Vec<u8>,
    pub(super) replaced: bool,
    pub(super) at: usize,
}

impl Sink for NumSink<'_> {
    fn keep(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
    fn replace(&mut self, _original: &[u8], replacement: &[u8]) {
        self.replaced = true;
        self.out.extend_from_slice(replacement);
    }
    fn written(&self) -> usize {
        // a value inside a number starts where the number does
        self.at
    }
}
