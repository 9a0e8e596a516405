//! Form bodies (`application/x-www-form-urlencoded`): `name=value&name=value`.
//!
//! - Names and values are decoded (`+` is a space, `%XX` a byte; a `%` not followed by two hex
//!   digits is just a `%`) before the rules see them, so `jane%40example.com` and
//!   `4111+1111+1111+1111` are found.
//! - Unchanged bytes come out exactly as they came in (their escapes too); replacements are
//!   form-encoded afresh, so the body stays valid form encoding and re-parses to the same names.
//! - Field rules by key and the secrets-by-key rule apply to form names: the whole value is
//!   replaced (bounded by `limits.max_field_value_bytes`; a longer one is redacted whole).
//! - Streaming: a name, a value or an escape may be cut anywhere by a chunk boundary; an escape
//!   split across chunks waits (at most two bytes) for the rest.
//!
//! # Invariants
//! - The `&` and `=` that split pairs are copied as they are and every name and value is its own
//!   scanner value (reset at each, polled with `Poll::End` at its end), so no match crosses a
//!   separator and the output has the same pairs in the same order.
//! - A field value (its decoded name, at most `MAX_NAME` bytes, names a field or a secret key) is
//!   never seen by the rules: it is captured decoded, replaced and counted once under the field at
//!   `&` or the end of the body; past `max_field_value_bytes` the redaction text goes out at once
//!   and the rest of the value is dropped.
//! - Held back at any time: the scanner's held-back bytes, one field capture (bounded as above) and
//!   at most two bytes of an escape.

use crate::config::Ruleset;
use crate::format::rawmap::RawMap;
use crate::search::scan::{Poll, Scanner, Sink, Stats};

/// Decoded name bytes kept to match field rules (and to give `near` keywords context).
const MAX_NAME: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    Name,
    Value,
    /// The value of a field rule: captured whole, then replaced.
    Field(usize),
    /// A field value longer than the limit: its redaction is out, the rest is dropped.
    Overflow,
}

/// A `%` escape in progress (the raw bytes seen so far).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pct {
    None,
    Percent,
    One(u8),
}

/// Masks a form body.
pub(crate) struct FormMasker {
    part: Part,
    pct: Pct,
    scanner: Scanner,
    map: RawMap,
    name: Vec<u8>,
    name_over: bool,
    capture: Vec<u8>,
    /// Body offset of the current name or value (findings).
    at: u64,
    consumed: u64,
}

/// Writes `s` form-encoded (space as `+`, everything but `A-Za-z0-9*-._` as `%XX`).
pub(crate) fn form_encode(s: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s {
        match b {
            b' ' => out.push(b'+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b),
            _ => {
                out.push(b'%');
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Kept bytes from the raw map, replacements form-encoded.
struct FormSink<'a> {
    map: &'a mut RawMap,
    out: &'a mut Vec<u8>,
}

impl Sink for FormSink<'_> {
    fn keep(&mut self, bytes: &[u8]) {
        self.map.consume(bytes.len(), true, self.out);
    }
    fn replace(&mut self, original: &[u8], replacement: &[u8]) {
        self.map.consume(original.len(), false, self.out);
        form_encode(replacement, self.out);
    }
    fn written(&self) -> usize {
        self.out.len()
    }
}

impl FormMasker {
    pub(crate) fn new(policy: &Ruleset) -> FormMasker {
        let mut scanner = Scanner::new(policy);
        scanner.reset(&[]);
        FormMasker {
            part: Part::Name,
            pct: Pct::None,
            scanner,
            map: RawMap::default(),
            name: Vec::new(),
            name_over: false,
            capture: Vec::new(),
            at: 0,
            consumed: 0,
        }
    }

    /// Bytes held back.
    pub(crate) fn held_back(&self) -> usize {
        self.scanner.held_back() + self.capture.len() + usize::from(self.pct != Pct::None) * 2
    }

    pub(crate) fn push(&mut self, p: &Ruleset, input: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            // an escape cut by the previous chunk
            if self.pct != Pct::None {
                i += self.continue_escape(p, input[i], stats, out);
                continue;
            }
            // a run of literal bytes
            let run = input[i..]
                .iter()
                .position(|&b| matches!(b, b'&' | b'=' | b'+' | b'%'))
                .unwrap_or(input.len() - i);
            if run > 0 {
                self.literal(p, &input[i..i + run], stats, out);
                i += run;
                continue;
            }
            match input[i] {
                b'&' => {
                    self.end_pair(p, stats, out);
                    out.push(b'&');
                    self.at = self.consumed + i as u64 + 1;
                }
                b'=' if self.part == Part::Name => self.end_name(p, stats, out),
                b'=' => self.literal(p, b"=", stats, out),
                b'+' => self.decoded(p, b" ", b"+", stats, out),
                _ => self.pct = Pct::Percent,
            }
            i += 1;
        }
        self.consumed += input.len() as u64;
        if matches!(self.part, Part::Name | Part::Value) {
            let mut sink = FormSink {
                map: &mut self.map,
                out,
            };
            self.scanner.poll(p, Poll::Partial, stats, &mut sink);
        }
    }

    /// The next byte of a `%` escape; returns the input bytes used (1, or 0 when the escape
    /// turned out invalid and the byte must be looked at again).
    fn continue_escape(&mut self, p: &Ruleset, b: u8, stats: &mut Stats, out: &mut Vec<u8>) -> usize {
        match (self.pct, hex(b)) {
            (Pct::Percent, Some(_)) => {
                self.pct = Pct::One(b);
                1
            }
            (Pct::One(h), Some(l)) => {
                self.pct = Pct::None;
                let byte = hex(h).unwrap_or(0) * 16 + l;
                self.decoded(p, &[byte], &[b'%', h, b], stats, out);
                1
            }
            // not an escape: the `%` (and a hex digit after it) are plain text
            (Pct::Percent, None) => {
                self.pct = Pct::None;
                self.literal(p, b"%", stats, out);
                0
            }
            (Pct::One(h), None) => {
                self.pct = Pct::None;
                self.literal(p, &[b'%', h], stats, out);
                0
            }
            (Pct::None, _) => 0,
        }
    }

    fn literal(&mut self, p: &Ruleset, bytes: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        match self.part {
            Part::Name | Part::Value => {
                if self.part == Part::Name {
                    self.keep_name(bytes);
                }
                self.map.push_literal(bytes);
                self.scanner.feed(bytes);
            }
            Part::Field(fi) => self.capture_field(p, fi, bytes, stats, out),
            Part::Overflow => {}
        }
    }

    fn decoded(&mut self, p: &Ruleset, decoded: &[u8], raw: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        match self.part {
            Part::Name | Part::Value => {
                if self.part == Part::Name {
                    self.keep_name(decoded);
                }
                self.map.push_escape(raw, decoded.len());
                self.scanner.feed(decoded);
            }
            Part::Field(fi) => self.capture_field(p, fi, decoded, stats, out),
            Part::Overflow => {}
        }
    }

    fn keep_name(&mut self, bytes: &[u8]) {
        if self.name.len() + bytes.len() <= MAX_NAME {
            self.name.extend_from_slice(bytes);
        } else {
            self.name_over = true;
        }
    }

    /// Adds decoded bytes to a field value; past `max_field_value_bytes` writes the redaction text
    /// once (counted) and drops the rest of the value (`Part::Overflow`).
    fn capture_field(&mut self, p: &Ruleset, fi: usize, bytes: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        self.capture.extend_from_slice(bytes);
        if self.capture.len() > p.limits.max_field_value_bytes {
            stats.hit_field(p, fi, self.at, &[]);
            stats.mark(out.len());
            let repl: &[u8] = match p.fields.get(fi).map(|f| &f.action) {
                Some(crate::action::Action::Redact { replacement }) => replacement,
                _ => b"[REDACTED]",
            };
            form_encode(repl, out);
            self.capture.clear();
            self.part = Part::Overflow;
        }
    }

    /// `=` after a name: the name is decided, and the value is scanned or is a field's.
    fn end_name(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        let mut sink = FormSink {
            map: &mut self.map,
            out,
        };
        self.scanner.poll(p, Poll::End, stats, &mut sink);
        out.push(b'=');
        self.at = self.consumed;
        let field = if self.name_over {
            None
        } else {
            p.field_for_name(&self.name)
        };
        match field {
            Some(fi) => {
                self.part = Part::Field(fi);
                self.capture.clear();
            }
            None => {
                self.part = Part::Value;
                // `near` keywords see the name as context, as they see a JSON key
                let seed_from = self.name.len().saturating_sub(64);
                let mut seed = self.name[seed_from..].to_vec();
                seed.extend_from_slice(b"=");
                self.scanner.reset_at(&seed, self.at);
                self.map.reset();
            }
        }
    }

    /// `&` or the end of the body: the current name or value is decided.
    fn end_pair(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        match self.part {
            Part::Name | Part::Value => {
                let mut sink = FormSink {
                    map: &mut self.map,
                    out,
                };
                self.scanner.poll(p, Poll::End, stats, &mut sink);
            }
            Part::Field(fi) => {
                let mut repl = Vec::new();
                if let Some(f) = p.fields.get(fi) {
                    f.action.apply(&self.capture, &mut repl);
                }
                stats.hit_field(p, fi, self.at, &self.capture);
                stats.mark(out.len());
                form_encode(&repl, out);
                self.capture.clear();
            }
            Part::Overflow => {}
        }
        self.part = Part::Name;
        self.name.clear();
        self.name_over = false;
        self.scanner.reset_at(&[], self.consumed);
        self.map.reset();
    }

    pub(crate) fn finish(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        match self.pct {
            Pct::Percent => self.literal(p, b"%", stats, out),
            Pct::One(h) => self.literal(p, &[b'%', h], stats, out),
            Pct::None => {}
        }
        self.pct = Pct::None;
        self.end_pair(p, stats, out);
    }
}
