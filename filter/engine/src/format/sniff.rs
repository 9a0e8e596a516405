//! Bodies whose type says nothing (`application/octet-stream`, no `content-type`, two conflicting
//! ones): the format is decided from the first bytes, then the body is masked as that format.
//!
//! - JSON (`{` or `[` first), NDJSON (several lines that start with `{` or `[`), a form
//!   (`name=value&…` with no blanks), UTF-8 text (no control bytes but tab, line feed, carriage
//!   return and form feed): scanned as that format. Anything else (images, archives, protobuf)
//!   passes unchanged.
//! - Up to [`SNIFF_BYTES`] bytes are held until the decision (or the whole body if it is
//!   shorter); then they and everything after go through the chosen masker.
//!
//! # Invariants
//! - The format is decided once, from exactly the first [`SNIFF_BYTES`] bytes (or the whole
//!   shorter body at `finish`), so the decision does not depend on how the body was cut.
//! - Every byte goes, in order, through the one masker built for that decision by the
//!   dispatcher's `NewFormat` (a pass-through when the format is `None`); nothing is dropped.
//! - A UTF-8 character cut by the end of the head does not make a body binary unless the body
//!   ended there; a leading BOM and whitespace are skipped before deciding, and an empty or
//!   all-blank body is text.

use crate::config::Ruleset;
use crate::format::body::{BodyStream, NewFormat};
use crate::format::Format;
use crate::search::scan::Stats;

/// Bytes looked at before deciding.
pub(crate) const SNIFF_BYTES: usize = 1024;

/// Masks a body whose format is sniffed.
pub(crate) struct SniffMasker {
    head: Vec<u8>,
    decided: Option<Box<dyn BodyStream>>,
    /// Builds the masker once the format is known.
    new_format: NewFormat,
}

/// The format of a body that starts with `head` (`complete`: `head` is the whole body), or
/// `None` when it is none of the formats scanned.
pub fn sniff_format(head: &[u8], complete: bool) -> Option<Format> {
    let mut h = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    while let Some((&b, rest)) = h.split_first() {
        if !b.is_ascii_whitespace() {
            break;
        }
        h = rest;
    }
    if h.is_empty() {
        return Some(Format::Text);
    }
    if !text_like(h, complete) {
        return None;
    }
    if matches!(h[0], b'{' | b'[') {
        // NDJSON: a second line that starts a JSON value
        let lines_start_json = h
            .split(|&b| b == b'\n')
            .skip(1)
            .map(|l| l.trim_ascii_start())
            .filter(|l| !l.is_empty())
            .take(2)
            .all(|l| matches!(l[0], b'{' | b'['));
        let two_lines = h.split(|&b| b == b'\n').filter(|l| !l.trim_ascii().is_empty()).count() >= 2;
        return Some(if two_lines && lines_start_json {
            Format::Ndjson
        } else {
            Format::Json
        });
    }
    if form_like(h) {
        return Some(Format::Form);
    }
    Some(Format::Text)
}

/// UTF-8 (a character cut by the end of `h` is fine unless the body ended) without control bytes
/// other than tab, line feed, carriage return and form feed.
fn text_like(h: &[u8], complete: bool) -> bool {
    if h.iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c) || b == 0x7f)
    {
        return false;
    }
    match std::str::from_utf8(h) {
        Ok(_) => true,
        Err(e) => !complete && e.error_len().is_none(),
    }
}

/// `name=value&name=value`: no blanks inside, names of URL-safe bytes.
fn form_like(h: &[u8]) -> bool {
    let h = h.trim_ascii_end();
    if h.iter().any(|b| b.is_ascii_whitespace()) || !h.contains(&b'=') {
        return false;
    }
    h.split(|&b| b == b'&').all(|pair| {
        let name = pair.split(|&b| b == b'=').next().unwrap_or(b"");
        !name.is_empty()
            && name.iter().all(|&b| {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'%' | b'*' | b'+' | b'[' | b']')
            })
    })
}

impl SniffMasker {
    pub(crate) fn new(new_format: NewFormat) -> SniffMasker {
        SniffMasker {
            head: Vec::new(),
            decided: None,
            new_format,
        }
    }

    pub(crate) fn held_back(&self) -> usize {
        self.head.len() + self.decided.as_ref().map_or(0, |m| m.held_back())
    }

    fn decide(&mut self, p: &Ruleset, complete: bool, stats: &mut Stats, out: &mut Vec<u8>) {
        let format = sniff_format(&self.head, complete);
        if format.is_some() {
            stats.sniffed = format;
        }
        let mut m = (self.new_format)(p, format);
        let head = std::mem::take(&mut self.head);
        m.push(p, &head, stats, out);
        self.decided = Some(m);
    }

    pub(crate) fn push(&mut self, p: &Ruleset, input: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        if let Some(m) = self.decided.as_mut() {
            m.push(p, input, stats, out);
            return;
        }
        let take = (SNIFF_BYTES - self.head.len()).min(input.len());
        self.head.extend_from_slice(&input[..take]);
        if self.head.len() >= SNIFF_BYTES {
            self.decide(p, false, stats, out);
            if let Some(m) = self.decided.as_mut() {
                m.push(p, &input[take..], stats, out);
            }
        }
    }

    pub(crate) fn finish(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        if self.decided.is_none() {
            self.decide(p, true, stats, out);
        }
        if let Some(m) = self.decided.as_mut() {
            m.finish(p, stats, out);
        }
    }
}
