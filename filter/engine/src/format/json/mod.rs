//! JSON bodies: a streaming tokenizer (no parse tree, no whole-body buffer).
//!
//! - Field rules mask the whole value under a key or path: a string or number is replaced by the
//!   action's result as a JSON string; inside an object or array every scalar is (keys stay).
//! - Rules run over every string (keys included) after unescaping, so `\u0040` cannot hide an `@`;
//!   bytes that are not replaced are copied exactly as they came, escapes and all.
//! - A number that contains a match (a card sent as a number) becomes a JSON string.
//! - Malformed JSON, or nesting deeper than `limits.max_depth`, switches to text rules: for the rest
//!   of the body (a document) or until the end of the line (NDJSON, SSE `data:` lines). Never less
//!   protection than text mode.
//!
//! # Layout
//! - `lex`: byte classes, the number grammar, escapes in and out.
//! - `sinks`: where the scanner's decisions go (raw bytes through the raw map, or escaped).
//! - `fields`: which field rule covers a value, and the one place a field value is replaced.
//! - this file: the state machine (`St`), its stack of frames, numbers held until the next token,
//!   and the fall back to text.
//!
//! # Invariants
//! - Bytes of a string that no rule replaces are written exactly as they came (escapes included):
//!   the scanner sees decoded bytes, the `RawMap` maps them back to raw ones.
//! - Memory is bounded: keys to `MAX_KEY`, numbers to `MAX_NUMBER` (longer ones stream as
//!   strings), field values to `limits.max_field_value_bytes`, nesting to `limits.max_depth`, a
//!   held number's trailing whitespace to 4 KiB.
//! - Every byte is decided once: either by the JSON path or, after `fail`, by the text masker.

mod fields;
mod lex;
mod sinks;

use crate::config::Ruleset;
use crate::format::rawmap::RawMap;
use crate::format::text::TextMasker;
use crate::search::scan::{Poll, Scanner, Stats};
use lex::{escape_into, is_num_byte, is_ws, valid_number, Esc};
use sinks::{NumSink, PlainStrSink, StrSink};

/// Keys longer than this are scanned but never match a field rule.
const MAX_KEY: usize = 256;
/// Numbers longer than this are streamed as strings.
const MAX_NUMBER: usize = 64;

/// Whether the body is one document or one value per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Document,
    Lines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Value,
    ArrFirst,
    ObjFirst,
    ObjKey,
    Colon,
    After,
    Str,
    Num,
    Lit,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrKind {
    Key,
    Value,
    Field(usize),
    Overflow,
}

struct Frame {
    obj: bool,
    index: u32,
    key_start: usize,
    key_len: usize,
    key_ok: bool,
    field: Option<usize>,
}

/// Masks a JSON (or NDJSON) stream.
pub(crate) struct JsonMasker {
    framing: Framing,
    st: St,
    stack: Vec<Frame>,
    keys: Vec<u8>,
    kind: StrKind,
    esc: Esc,
    scanner: Scanner,
    map: RawMap,
    keybuf: Vec<u8>,
    key_over: bool,
    memo: fields::KeyMemo,
    capture: Vec<u8>,
    /// Numbers: field index, or streaming as a long number.
    num_field: Option<usize>,
    num_long: bool,
    num_over: bool,
    lit: &'static [u8],
    lit_pos: usize,
    lit_field: Option<usize>,
    text: TextMasker,
    tmp: Vec<u8>,
    has_near: bool,
    /// The context `near` keywords see before a value (see `reset_scanner`).
    seed: Vec<u8>,
    /// A finished number's output (and raw form), held until the next token shows the JSON goes on
    /// (`4111 1111 ...` is not four numbers: on an error the raw bytes go to text rules).
    num_out: Vec<u8>,
    num_raw: Vec<u8>,
    /// Nothing of the current string has been fed to the scanner yet.
    str_fresh: bool,
    /// The scanner (and raw map) still hold the previous string: they are reset for the current
    /// one only when it is scanned (most values are passed whole by the fast path, unscanned).
    scan_pending: Option<Pending>,
    /// Body bytes before the current `push`, the body offset of the byte being decided, and of the
    /// current token's start (findings report offsets).
    consumed: u64,
    at: u64,
    tok_start: u64,
}

/// The reset a string's scan still needs: a key's (no context, starting at this body offset) or a
/// value's (its key as context, see `reset_scanner`).
#[derive(Clone, Copy)]
enum Pending {
    Key(u64),
    Value,
}

impl JsonMasker {
    pub(crate) fn new(policy: &Ruleset, framing: Framing) -> JsonMasker {
        JsonMasker {
            framing,
            st: St::Value,
            stack: Vec::new(),
            keys: Vec::new(),
            kind: StrKind::Value,
            esc: Esc::None,
            scanner: Scanner::new(policy),
            map: RawMap::default(),
            keybuf: Vec::new(),
            key_over: false,
            memo: fields::KeyMemo::default(),
            capture: Vec::new(),
            num_field: None,
            num_long: false,
            num_over: false,
            lit: b"",
            lit_pos: 0,
            lit_field: None,
            text: TextMasker::new(policy),
            tmp: Vec::new(),
            has_near: policy.rules.iter().any(|r| r.near.is_some()),
            seed: Vec::new(),
            num_out: Vec::new(),
            num_raw: Vec::new(),
            str_fresh: false,
            scan_pending: None,
            consumed: 0,
            at: 0,
            tok_start: 0,
        }
    }

    /// Back to the start state (a new line in NDJSON or SSE).
    pub(crate) fn reset(&mut self) {
        self.st = St::Value;
        self.stack.clear();
        self.keys.clear();
        self.esc = Esc::None;
    }

    /// Bytes held back (the undecided part of the current token and a finished number).
    pub(crate) fn held_back(&self) -> usize {
        self.scanner.held_back() + self.capture.len() + self.text.held_back() + self.num_raw.len()
    }

    /// Resets the scanner for the current string, if that is still to be done (see `scan_pending`).
    #[inline]
    fn start_scan(&mut self) {
        match self.scan_pending.take() {
            None => {}
            Some(Pending::Value) => {
                self.reset_scanner();
                self.map.reset();
            }
            Some(Pending::Key(origin)) => {
                self.scanner.reset_at(&[], origin);
                self.map.reset();
            }
        }
    }

    /// Decides what the scanner can of the current string (or long number) into `out`.
    fn poll_str(&mut self, p: &Ruleset, mode: Poll, stats: &mut Stats, out: &mut Vec<u8>) {
        self.start_scan();
        let mut sink = StrSink {
            map: &mut self.map,
            out,
        };
        self.scanner.poll(p, mode, stats, &mut sink);
    }

    /// Whitespace between tokens: after a held number it is held too.
    fn ws_out(&mut self, ws: &[u8], out: &mut Vec<u8>) {
        if self.num_raw.is_empty() {
            out.extend_from_slice(ws);
            return;
        }
        self.num_out.extend_from_slice(ws);
        self.num_raw.extend_from_slice(ws);
        if self.num_raw.len() > 4096 {
            // a number followed by pages of blanks: stop holding (bounded memory)
            self.release(out);
        }
    }

    /// Releases a held number.
    fn release(&mut self, out: &mut Vec<u8>) {
        if !self.num_raw.is_empty() || !self.num_out.is_empty() {
            out.extend_from_slice(&self.num_out);
            self.num_out.clear();
            self.num_raw.clear();
        }
    }

    pub(crate) fn push(&mut self, p: &Ruleset, input: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            match self.st {
                St::Text => {
                    i = self.text_push(p, input, i, stats, out);
                    continue;
                }
                St::Str => {
                    i = self.string_push(p, input, i, stats, out);
                    continue;
                }
                St::Num => {
                    i = self.number_push(p, input, i, stats, out);
                    continue;
                }
                St::Lit => {
                    i = self.literal_push(p, input, i, stats, out);
                    continue;
                }
                _ => {}
            }
            let b = input[i];
            self.at = self.consumed + i as u64;
            if is_ws(b) {
                let run = input[i..].iter().take_while(|&&c| is_ws(c)).count();
                let ws = &input[i..i + run];
                let top_level = self.stack.is_empty() && matches!(self.st, St::Value | St::After);
                if self.framing == Framing::Lines {
                    if let Some(nl) = memchr::memchr(b'\n', ws) {
                        if !top_level {
                            // a line ended inside a value: the line is malformed
                            self.ws_out(&ws[..nl], out);
                            i += nl;
                            self.fail(p, stats, out);
                            continue;
                        }
                        // end of a line: the next line holds a new value
                        self.release(out);
                        self.st = St::Value;
                    }
                }
                self.ws_out(ws, out);
                i += run;
                continue;
            }
            if !self.num_raw.is_empty() && matches!(b, b',' | b'}' | b']') {
                self.release(out);
            }
            let ok = match self.st {
                St::ArrFirst if b == b']' => self.close(b']', out),
                St::Value | St::ArrFirst => self.start_value(p, b, stats, out),
                St::ObjFirst if b == b'}' => self.close(b'}', out),
                St::ObjFirst | St::ObjKey if b == b'"' => {
                    self.start_key(out);
                    true
                }
                St::Colon if b == b':' => {
                    out.push(b':');
                    self.st = St::Value;
                    true
                }
                St::After => match b {
                    b',' => match self.stack.last_mut() {
                        Some(f) if f.obj => {
                            out.push(b',');
                            self.st = St::ObjKey;
                            true
                        }
                        Some(f) => {
                            f.index = f.index.saturating_add(1);
                            out.push(b',');
                            self.st = St::Value;
                            true
                        }
                        None => false,
                    },
                    b'}' | b']' => self.close(b, out),
                    // Another document after a complete one (concatenated JSON): containers and
                    // strings only; after a number the bytes go to text rules (see `num_out`).
                    b'{' | b'[' | b'"' if self.stack.is_empty() && self.num_raw.is_empty() => {
                        self.st = St::Value;
                        continue;
                    }
                    _ => false,
                },
                _ => false,
            };
            if ok {
                i += 1;
            } else {
                self.fail(p, stats, out);
            }
        }
        self.consumed += input.len() as u64;
        // Hand over what is decided in an open string or long number.
        if self.st == St::Str && matches!(self.kind, StrKind::Key | StrKind::Value)
            || (self.st == St::Num && self.num_long)
        {
            self.poll_str(p, Poll::Partial, stats, out);
        }
    }

    pub(crate) fn finish(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        self.release(out);
        match self.st {
            St::Str => match self.kind {
                StrKind::Key | StrKind::Value => {
                    self.poll_str(p, Poll::End, stats, out);
                }
                StrKind::Field(fi) => {
                    self.overflow(p, fi, stats, out);
                }
                StrKind::Overflow => {}
            },
            St::Num => {
                self.end_number(p, stats, out);
                self.release(out);
                if self.st == St::Text {
                    self.text.finish(p, stats, out);
                }
            }
            St::Lit => {
                let part = &self.lit[..self.lit_pos];
                self.text.reset();
                self.text.push(p, part, stats, out);
                self.text.finish(p, stats, out);
            }
            St::Text => self.text.finish(p, stats, out),
            _ => {}
        }
        self.st = St::After;
    }

    fn text_push(&mut self, p: &Ruleset, input: &[u8], i: usize, stats: &mut Stats, out: &mut Vec<u8>) -> usize {
        let rest = &input[i..];
        if self.framing == Framing::Lines {
            if let Some(j) = memchr::memchr(b'\n', rest) {
                self.text.push(p, &rest[..=j], stats, out);
                self.text.finish(p, stats, out);
                self.reset();
                return i + j + 1;
            }
        }
        self.text.push(p, rest, stats, out);
        input.len()
    }

    /// Malformed JSON (or too deep): flush what the current token holds and switch to text rules.
    fn fail(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        stats.json_fallbacks += 1;
        self.tmp.clear();
        self.tmp.extend_from_slice(&self.num_raw);
        self.num_out.clear();
        self.num_raw.clear();
        match self.st {
            St::Str => match self.kind {
                StrKind::Key | StrKind::Value => {
                    self.poll_str(p, Poll::End, stats, out);
                }
                StrKind::Field(fi) => self.overflow(p, fi, stats, out),
                StrKind::Overflow => {}
            },
            St::Num => {
                if let Some(fi) = self.num_field {
                    if !self.num_over {
                        out.push(b'"');
                        self.overflow(p, fi, stats, out);
                        out.push(b'"');
                    }
                } else if self.num_long {
                    self.poll_str(p, Poll::End, stats, out);
                } else {
                    self.tmp.extend_from_slice(&self.capture);
                }
            }
            St::Lit => self.tmp.extend_from_slice(&self.lit[..self.lit_pos]),
            _ => {}
        }
        self.capture.clear();
        self.st = St::Text;
        self.esc = Esc::None;
        self.text.reset();
        if !self.tmp.is_empty() {
            let pending = std::mem::take(&mut self.tmp);
            self.text.push(p, &pending, stats, out);
            self.tmp = pending;
        }
    }

    fn start_value(&mut self, p: &Ruleset, b: u8, stats: &mut Stats, out: &mut Vec<u8>) -> bool {
        match b {
            b'{' | b'[' => {
                if self.stack.len() >= p.limits.max_depth {
                    stats.depth_fallbacks += 1;
                    return false;
                }
                let field = self.field_for_value(p);
                self.stack.push(Frame {
                    obj: b == b'{',
                    index: 0,
                    key_start: self.keys.len(),
                    key_len: 0,
                    key_ok: false,
                    field,
                });
                out.push(b);
                self.st = if b == b'{' { St::ObjFirst } else { St::ArrFirst };
                true
            }
            b'"' => {
                out.push(b'"');
                self.esc = Esc::None;
                self.tok_start = self.at + 1;
                match self.field_for_value(p) {
                    Some(fi) => {
                        self.kind = StrKind::Field(fi);
                        self.capture.clear();
                    }
                    None => {
                        self.kind = StrKind::Value;
                        self.str_fresh = true;
                        self.scan_pending = Some(Pending::Value);
                    }
                }
                self.st = St::Str;
                true
            }
            b'-' | b'0'..=b'9' => {
                self.tok_start = self.at;
                self.num_field = self.field_for_value(p);
                self.num_long = false;
                self.num_over = false;
                self.capture.clear();
                self.capture.push(b);
                self.st = St::Num;
                true
            }
            b't' | b'f' | b'n' => {
                self.tok_start = self.at;
                self.lit = match b {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                self.lit_pos = 1;
                self.lit_field = self.field_for_value(p);
                self.st = St::Lit;
                true
            }
            _ => false,
        }
    }

    fn start_key(&mut self, out: &mut Vec<u8>) {
        out.push(b'"');
        self.kind = StrKind::Key;
        self.esc = Esc::None;
        self.keybuf.clear();
        self.key_over = false;
        self.str_fresh = true;
        self.scan_pending = Some(Pending::Key(self.at + 1));
        self.st = St::Str;
    }

    fn close(&mut self, b: u8, out: &mut Vec<u8>) -> bool {
        match self.stack.last() {
            Some(f) if f.obj == (b == b'}') => {
                let start = f.key_start;
                self.stack.pop();
                self.keys.truncate(start);
                out.push(b);
                self.st = St::After;
                true
            }
            _ => false,
        }
    }

    /// Appends decoded string bytes (and their raw form) to the current string.
    fn str_bytes(
        &mut self,
        p: &Ruleset,
        decoded: &[u8],
        raw: &[u8],
        literal: bool,
        stats: &mut Stats,
        out: &mut Vec<u8>,
    ) {
        match self.kind {
            StrKind::Key | StrKind::Value => {
                if self.kind == StrKind::Key {
                    if self.keybuf.len() + decoded.len() <= MAX_KEY {
                        self.keybuf.extend_from_slice(decoded);
                    } else {
                        self.key_over = true;
                    }
                }
                self.start_scan();
                self.scanner.feed(decoded);
                if literal {
                    self.map.push_literal(raw);
                } else {
                    self.map.push_escape(raw, decoded.len());
                }
            }
            StrKind::Field(fi) => {
                self.capture.extend_from_slice(decoded);
                if self.capture.len() > p.limits.max_field_value_bytes {
                    self.overflow(p, fi, stats, out);
                }
            }
            StrKind::Overflow => {}
        }
    }

    fn string_push(&mut self, p: &Ruleset, input: &[u8], mut i: usize, stats: &mut Stats, out: &mut Vec<u8>) -> usize {
        while i < input.len() {
            match self.esc {
                Esc::Backslash => {
                    self.str_fresh = false;
                    let b = input[i];
                    let d = match b {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            self.esc = Esc::Unicode {
                                n: 0,
                                val: 0,
                                raw: *b"\\u0000",
                            };
                            i += 1;
                            continue;
                        }
                        _ => {
                            self.fail(p, stats, out);
                            return i;
                        }
                    };
                    self.esc = Esc::None;
                    self.str_bytes(p, &[d], &[b'\\', b], false, stats, out);
                    i += 1;
                }
                Esc::Unicode { n, val, mut raw } => {
                    let b = input[i];
                    let Some(h) = (b as char).to_digit(16) else {
                        self.fail(p, stats, out);
                        return i;
                    };
                    raw[2 + usize::from(n)] = b;
                    let val = val * 16 + h;
                    i += 1;
                    if n < 3 {
                        self.esc = Esc::Unicode { n: n + 1, val, raw };
                        continue;
                    }
                    self.esc = Esc::None;
                    let ch = char::from_u32(val).unwrap_or('\u{fffd}');
                    let mut enc = [0u8; 4];
                    let d = ch.encode_utf8(&mut enc).len();
                    self.str_bytes(p, &enc[..d], &raw, false, stats, out);
                }
                Esc::None => {
                    let rest = &input[i..];
                    if self.str_fresh && matches!(self.kind, StrKind::Key | StrKind::Value) {
                        // Fast path: a whole string in this chunk, no escapes, no trigger byte of
                        // any rule: copy it through without scanning.
                        if let Some(j) = memchr::memchr3(b'"', b'\\', b'\n', rest) {
                            if rest[j] == b'"' {
                                let value = &rest[..j];
                                if p.cannot_match(value) {
                                    out.extend_from_slice(value);
                                } else {
                                    // whole and unescaped: raw bytes are the decoded bytes, no map needed
                                    self.start_scan();
                                    self.scanner.feed(value);
                                    let mut sink = PlainStrSink { out };
                                    self.scanner.poll(p, Poll::End, stats, &mut sink);
                                }
                                if self.kind == StrKind::Key {
                                    self.keybuf.clear();
                                    self.key_over = j > MAX_KEY;
                                    if !self.key_over {
                                        self.keybuf.extend_from_slice(value);
                                    }
                                }
                                self.finish_plain_string(out);
                                return i + j + 1;
                            }
                        }
                    }
                    self.str_fresh = false;
                    match memchr::memchr3(b'"', b'\\', b'\n', rest) {
                        None => {
                            // a long string: decide it slice by slice so memory stays bounded
                            for slice in rest.chunks(crate::format::text::SLICE) {
                                self.str_bytes(p, slice, slice, true, stats, out);
                                if matches!(self.kind, StrKind::Key | StrKind::Value) {
                                    self.poll_str(p, Poll::Partial, stats, out);
                                }
                            }
                            return input.len();
                        }
                        Some(j) => {
                            self.str_bytes(p, &rest[..j], &rest[..j], true, stats, out);
                            i += j;
                            match rest[j] {
                                b'"' => {
                                    self.end_string(p, stats, out);
                                    return i + 1;
                                }
                                b'\\' => {
                                    self.esc = Esc::Backslash;
                                    i += 1;
                                }
                                _ => {
                                    // a raw newline cannot be inside a JSON string
                                    self.fail(p, stats, out);
                                    return i;
                                }
                            }
                        }
                    }
                }
            }
        }
        i
    }

    /// The closing quote of a key or plain value string whose content is already out.
    fn finish_plain_string(&mut self, out: &mut Vec<u8>) {
        out.push(b'"');
        self.str_fresh = false;
        if self.kind == StrKind::Key {
            if let Some(top) = self.stack.last_mut() {
                self.keys.truncate(top.key_start);
                if self.key_over {
                    top.key_ok = false;
                    top.key_len = 0;
                } else {
                    self.keys.extend_from_slice(&self.keybuf);
                    top.key_ok = true;
                    top.key_len = self.keybuf.len();
                }
            }
            self.st = St::Colon;
        } else {
            self.st = St::After;
        }
    }

    fn end_string(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        match self.kind {
            StrKind::Key | StrKind::Value => {
                self.poll_str(p, Poll::End, stats, out);
                self.finish_plain_string(out);
                return;
            }
            StrKind::Field(fi) => {
                self.write_field(p, fi, None, stats, out);
                out.push(b'"');
            }
            StrKind::Overflow => out.push(b'"'),
        }
        self.st = St::After;
    }

    fn number_push(&mut self, p: &Ruleset, input: &[u8], i: usize, stats: &mut Stats, out: &mut Vec<u8>) -> usize {
        let rest = &input[i..];
        let n = rest.iter().take_while(|&&b| is_num_byte(b)).count();
        let run = &rest[..n];
        if let Some(fi) = self.num_field {
            if !self.num_over {
                self.capture.extend_from_slice(run);
                if self.capture.len() > p.limits.max_field_value_bytes.min(MAX_NUMBER * 4) {
                    out.push(b'"');
                    self.overflow(p, fi, stats, out);
                    self.num_over = true;
                }
            }
        } else if self.num_long {
            self.scanner.feed(run);
            self.map.push_literal(run);
        } else {
            self.capture.extend_from_slice(run);
            if self.capture.len() > MAX_NUMBER {
                // Too long for a number anyone sends on purpose: stream it as a string.
                self.num_long = true;
                out.push(b'"');
                self.reset_scanner();
                self.map.reset();
                self.scanner.feed(&self.capture);
                self.map.push_literal(&self.capture);
                self.capture.clear();
            }
        }
        if n < rest.len() {
            self.end_number(p, stats, out);
        }
        i + n
    }

    /// The `fpe` result of the captured number under field rule `fi` when it is a valid JSON
    /// number; `None` for other actions, or a result with a leading zero.
    fn fpe_number(&self, p: &Ruleset, fi: usize) -> Option<Vec<u8>> {
        let f = p.fields.get(fi)?;
        if !matches!(f.action, crate::action::Action::Fpe { .. }) {
            return None;
        }
        let mut n = Vec::new();
        f.action.apply(&self.capture, &mut n);
        valid_number(&n).then_some(n)
    }

    fn end_number(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        self.st = St::After;
        if let Some(fi) = self.num_field {
            if self.num_over {
                out.push(b'"');
            } else if let Some(n) = self.fpe_number(p, fi) {
                // an encrypted number that still reads as one (no leading zero) stays a number
                stats.hit_field(p, fi, self.tok_start, &self.capture);
                stats.mark(out.len());
                out.extend_from_slice(&n);
            } else {
                out.push(b'"');
                self.write_field(p, fi, None, stats, out);
                out.push(b'"');
            }
            self.capture.clear();
            return;
        }
        if self.num_long {
            self.poll_str(p, Poll::End, stats, out);
            out.push(b'"');
            return;
        }
        if !valid_number(&self.capture) {
            self.st = St::Num;
            self.fail(p, stats, out);
            return;
        }
        self.num_raw.extend_from_slice(&self.capture);
        if self.capture.len() < p.min_len || p.cannot_match(&self.capture) {
            self.num_out.extend_from_slice(&self.capture);
            self.capture.clear();
            return;
        }
        self.reset_scanner();
        self.scanner.feed(&self.capture);
        self.tmp.clear();
        let mut sink = NumSink {
            out: &mut self.tmp,
            replaced: false,
            // the number leaves after what `num_out` holds, once released to `out`
            at: out.len() + self.num_out.len(),
        };
        self.scanner.poll(p, Poll::End, stats, &mut sink);
        let replaced = sink.replaced;
        if replaced && valid_number(&self.tmp) {
            // replaced digits that still read as a number (fpe) stay a number
            self.num_out.extend_from_slice(&self.tmp);
        } else if replaced {
            self.num_out.push(b'"');
            escape_into(&self.tmp, &mut self.num_out);
            self.num_out.push(b'"');
        } else {
            self.num_out.extend_from_slice(&self.capture);
        }
        self.capture.clear();
    }

    fn literal_push(&mut self, p: &Ruleset, input: &[u8], mut i: usize, stats: &mut Stats, out: &mut Vec<u8>) -> usize {
        while i < input.len() && self.lit_pos < self.lit.len() {
            if input[i] != self.lit[self.lit_pos] {
                self.fail(p, stats, out);
                return i;
            }
            self.lit_pos += 1;
            i += 1;
        }
        if self.lit_pos == self.lit.len() {
            match self.lit_field {
                // `null` stays; a boolean is no secret (`"hasPassword": true` keeps its type)
                Some(fi) if self.lit != b"null" && Some(fi) != p.secret_field => {
                    out.push(b'"');
                    self.write_field(p, fi, Some(self.lit), stats, out);
                    out.push(b'"');
                }
                _ => out.extend_from_slice(self.lit),
            }
            self.st = St::After;
        }
        i
    }
}
