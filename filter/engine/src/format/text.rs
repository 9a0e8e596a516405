//! Text bodies: rules over the bytes, decided line by line (a complete line is never held back).
//!
//! # Invariants
//! - Every newline is a decision point (`Poll::Line` up to it): no match crosses a line end, so
//!   only bytes of the last, unfinished line can be held; a private-key region alone stays open
//!   across lines (its bytes are masked as they come, not held).
//! - When no rule's class holds `\n` (`newline_matches` is false), one `Poll::Line` at the last
//!   newline of a slice decides the same as one per line, and input is fed in slices of at most
//!   [`SLICE`] bytes, so the scanner's buffer stays bounded however large the host's chunks are.
//! - The output for a body does not depend on how it was cut into `push` calls.

use crate::config::Ruleset;
use crate::search::scan::{Poll, Scanner, Stats, VecSink};

/// Input is scanned in slices of at most this many bytes (bounds memory per stream).
pub(crate) const SLICE: usize = 16 << 10;

/// Masks a text stream.
pub(crate) struct TextMasker {
    scanner: Scanner,
}

impl TextMasker {
    pub(crate) fn new(policy: &Ruleset) -> TextMasker {
        let mut scanner = Scanner::new(policy);
        scanner.reset(&[]);
        TextMasker { scanner }
    }

    /// Starts over (a new NDJSON line that fell back to text, say).
    pub(crate) fn reset(&mut self) {
        self.scanner.reset(&[]);
    }

    pub(crate) fn push(&mut self, policy: &Ruleset, input: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        if !policy.newline_matches {
            // No rule can match across a newline, so a line end already decides everything before
            // it (a newline can neither start nor continue a match): per slice, one final poll up
            // to its last line end and a partial one for the rest. Slices bound the scanner's
            // buffer however large the host's chunks are.
            for slice in input.chunks(SLICE) {
                let whole = memchr::memrchr(b'\n', slice).map_or(0, |i| i + 1);
                if whole > 0 {
                    self.scanner.feed(&slice[..whole]);
                    self.scanner.poll(policy, Poll::Line, stats, &mut VecSink(out));
                }
                if whole < slice.len() {
                    self.scanner.feed(&slice[whole..]);
                    self.scanner.poll(policy, Poll::Partial, stats, &mut VecSink(out));
                }
            }
            return;
        }
        let mut rest = input;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            self.scanner.feed(&rest[..=i]);
            self.scanner.poll(policy, Poll::Line, stats, &mut VecSink(out));
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            self.scanner.feed(rest);
            self.scanner.poll(policy, Poll::Partial, stats, &mut VecSink(out));
        }
    }

    pub(crate) fn finish(&mut self, policy: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        self.scanner.poll(policy, Poll::End, stats, &mut VecSink(out));
    }

    /// Bytes held back.
    pub(crate) fn held_back(&self) -> usize {
        self.scanner.held_back()
    }
}
