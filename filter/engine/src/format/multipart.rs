//! Multipart bodies (`multipart/form-data`, `multipart/mixed`): each part is masked by its own
//! headers.
//!
//! - Delimiters (`--boundary` at the start of a line), the close delimiter, part header blocks and
//!   line breaks come out byte-identical, except a header line whose value a header rule rewrote
//!   (written again as `name: value`); the preamble and the epilogue are scanned as text.
//! - Part headers go through the policy's header rules (by header name, either direction).
//! - A part whose `content-disposition` name is a field rule's key, or names a secret
//!   (`password`, `api_key`, ...), is replaced whole by the field's action.
//! - Every other part is routed by its `content-type` (and whether it carries a file name) through
//!   the [`FormatRouter`]: text, JSON, NDJSON, form and nested multipart parts are scanned, binary
//!   parts pass. A part without a type is text by default (RFC 7578; the router decides, so the
//!   proxy may sniff it or, with `scan_missing_content_type` off, pass it).
//!
//! # Streaming and limits
//! A delimiter may be cut anywhere by a chunk boundary: from a line break that may begin one, at
//! most the delimiter's length is held. Header blocks are held until complete, at most
//! [`MAX_HEADERS`] bytes; a longer one is scanned as text. A body that ends without its close
//! delimiter ends its last part there. Nesting is limited to [`MAX_DEPTH`] levels.
//!
//! # Invariants
//! - A delimiter is recognised only at the very start of the body or right after a line break;
//!   bytes that may begin one (a line break and a prefix of `--boundary`, or a final `\r`) wait in
//!   `carry`, so where parts end does not depend on chunking, and a part's masker never sees the
//!   line break that belongs to the delimiter after it.
//! - Every part gets a fresh masker (or a field capture) that is finished at its delimiter or at
//!   the end of the body: no masker state crosses a part boundary. A field part is never scanned;
//!   past `max_field_value_bytes` its redaction text goes out and the rest is dropped.
//! - Held back at any time: `carry` (less than the delimiter plus a line break), a header block
//!   (at most [`MAX_HEADERS`] + 1 bytes), a delimiter line (at most `MAX_DELIM_LINE` bytes), a
//!   field capture, and what the current part's masker holds.

use crate::config::Ruleset;
use crate::format::body::{BodyStream, NewBody, PassBody};
use crate::format::text::TextMasker;
use crate::format::{FormatRouter, Route};
use crate::search::scan::Stats;
use std::sync::Arc;

/// Multipart bodies nested deeper than this are scanned as text.
pub(crate) const MAX_DEPTH: usize = 3;
/// A part's header block longer than this is scanned as text.
pub(crate) const MAX_HEADERS: usize = 16 << 10;
/// The rest of a delimiter line (transport padding) longer than this ends the line anyway.
const MAX_DELIM_LINE: usize = 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Before the first delimiter (scanned as text).
    Preamble,
    /// After `--boundary`: the rest of the line, or `--` that closes the body.
    DelimLine,
    /// A part's header block.
    Headers,
    /// A part's content.
    Body,
    /// After the close delimiter (scanned as text).
    Epilogue,
}

enum PartMode {
    Masker(Box<dyn BodyStream>),
    /// A field rule's part: captured (bounded), then replaced whole.
    Field {
        fi: usize,
        capture: Vec<u8>,
        over: bool,
    },
}

/// Masks a multipart body.
pub(crate) struct MultipartMasker {
    /// `--` and the boundary.
    delim: Vec<u8>,
    state: State,
    /// Nothing has been read yet: the first delimiter may stand without a line break before it.
    at_start: bool,
    /// Bytes that may be the start of a delimiter (a line break and a prefix of `--boundary`).
    carry: Vec<u8>,
    text: TextMasker,
    headers: Vec<u8>,
    line: Vec<u8>,
    part: PartMode,
    router: Arc<dyn FormatRouter>,
    depth: usize,
    /// Builds the masker of a part.
    new_body: NewBody,
}

/// Where the content before a delimiter ends (the delimiter's line break included in the
/// delimiter), or where bytes must be held because a delimiter may begin there.
enum Cut {
    /// A delimiter: content is `..lb`, the delimiter (line break and `--boundary`) ends at `end`.
    Delim { lb: usize, end: usize },
    /// No delimiter yet; bytes from `at` on may begin one.
    Hold { at: usize },
}

impl MultipartMasker {
    pub(crate) fn new(
        policy: &Ruleset,
        boundary: &[u8],
        router: Arc<dyn FormatRouter>,
        depth: usize,
        new_body: NewBody,
    ) -> MultipartMasker {
        let mut delim = b"--".to_vec();
        delim.extend_from_slice(boundary);
        MultipartMasker {
            delim,
            state: State::Preamble,
            at_start: true,
            carry: Vec::new(),
            text: TextMasker::new(policy),
            headers: Vec::new(),
            line: Vec::new(),
            part: PartMode::Masker(Box::new(PassBody)),
            router,
            depth,
            new_body,
        }
    }

    pub(crate) fn held_back(&self) -> usize {
        let part = match &self.part {
            PartMode::Masker(m) => m.held_back(),
            PartMode::Field { capture, .. } => capture.len(),
        };
        self.carry.len() + self.text.held_back() + self.headers.len() + self.line.len() + part
    }

    /// The first delimiter in `data`, or where one may begin at its end.
    fn find_delim(&self, data: &[u8]) -> Cut {
        let d = &self.delim[..];
        if self.at_start {
            let n = data.len().min(d.len());
            if data[..n] == d[..n] {
                return if n == d.len() {
                    Cut::Delim { lb: 0, end: n }
                } else {
                    Cut::Hold { at: 0 }
                };
            }
        }
        let mut from = 0;
        while let Some(k) = memchr::memchr(b'\n', &data[from..]).map(|k| from + k) {
            let lb = if k > 0 && data[k - 1] == b'\r' { k - 1 } else { k };
            let rest = &data[k + 1..];
            let n = rest.len().min(d.len());
            if rest[..n] == d[..n] {
                if n == d.len() {
                    return Cut::Delim { lb, end: k + 1 + n };
                }
                return Cut::Hold { at: lb };
            }
            from = k + 1;
        }
        // a carriage return at the very end may begin `\r\n--boundary`
        Cut::Hold {
            at: if data.last() == Some(&b'\r') {
                data.len() - 1
            } else {
                data.len()
            },
        }
    }

    pub(crate) fn push(&mut self, p: &Ruleset, input: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        if self.carry.is_empty() {
            self.process(p, input, stats, out);
        } else {
            let mut data = std::mem::take(&mut self.carry);
            data.extend_from_slice(input);
            self.process(p, &data, stats, out);
        }
    }

    fn process(&mut self, p: &Ruleset, mut data: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        while !data.is_empty() {
            match self.state {
                State::Preamble | State::Body => match self.find_delim(data) {
                    Cut::Delim { lb, end } => {
                        self.content(p, &data[..lb], stats, out);
                        self.end_content(p, stats, out);
                        out.extend_from_slice(&data[lb..end]);
                        self.at_start = false;
                        self.state = State::DelimLine;
                        self.line.clear();
                        data = &data[end..];
                    }
                    Cut::Hold { at } => {
                        if at > 0 {
                            self.at_start = false;
                        }
                        self.content(p, &data[..at], stats, out);
                        self.carry.extend_from_slice(&data[at..]);
                        return;
                    }
                },
                State::DelimLine => {
                    // `--` right after the delimiter closes the body
                    if self.line.len() < 2 {
                        let take = (2 - self.line.len()).min(data.len());
                        self.line.extend_from_slice(&data[..take]);
                        data = &data[take..];
                        if self.line.len() < 2 {
                            return;
                        }
                        if self.line == b"--" {
                            out.extend_from_slice(b"--");
                            self.line.clear();
                            self.text.reset();
                            self.state = State::Epilogue;
                            continue;
                        }
                    }
                    // the line may have ended within the two bytes looked at (the rest of them
                    // starts the header block)
                    let ended_in_line = memchr::memchr(b'\n', &self.line);
                    match memchr::memchr(b'\n', data).filter(|_| ended_in_line.is_none()) {
                        _ if ended_in_line.is_some() => {
                            let k = ended_in_line.unwrap_or(0);
                            out.extend_from_slice(&self.line[..=k]);
                            self.headers.clear();
                            self.headers.extend_from_slice(&self.line[k + 1..]);
                            self.line.clear();
                            self.state = State::Headers;
                            if !self.headers.is_empty() {
                                // those bytes may already end an (empty) header block
                                if let Some(end) = header_block_end(&self.headers, 0) {
                                    let mut rest = self.headers.split_off(end);
                                    self.start_part(p, stats, out);
                                    rest.extend_from_slice(data);
                                    self.process(p, &rest, stats, out);
                                    return;
                                }
                            }
                        }
                        Some(k) => {
                            out.extend_from_slice(&self.line);
                            out.extend_from_slice(&data[..=k]);
                            self.line.clear();
                            self.headers.clear();
                            self.state = State::Headers;
                            data = &data[k + 1..];
                        }
                        None => {
                            self.line.extend_from_slice(data);
                            if self.line.len() > MAX_DELIM_LINE {
                                out.append(&mut self.line);
                                self.headers.clear();
                                self.state = State::Headers;
                            }
                            return;
                        }
                    }
                }
                State::Headers => {
                    let before = self.headers.len();
                    let take = data.len().min(MAX_HEADERS + 1 - before.min(MAX_HEADERS));
                    self.headers.extend_from_slice(&data[..take]);
                    match header_block_end(&self.headers, before) {
                        Some(end) => {
                            let rest_from = end - before;
                            self.headers.truncate(end);
                            self.start_part(p, stats, out);
                            data = &data[rest_from..];
                        }
                        None if self.headers.len() > MAX_HEADERS => {
                            // not a header block: what came is the text of a part
                            let block = std::mem::take(&mut self.headers);
                            let mut m =
                                (self.new_body)(p, &Route::Scan(crate::format::Format::Text), &self.router, self.depth);
                            m.push(p, &block, stats, out);
                            self.part = PartMode::Masker(m);
                            self.state = State::Body;
                            data = &data[take..];
                        }
                        None => return,
                    }
                }
                State::Epilogue => {
                    self.text.push(p, data, stats, out);
                    return;
                }
            }
        }
    }

    /// Content of the preamble or of the current part.
    fn content(&mut self, p: &Ruleset, bytes: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if self.state == State::Preamble {
            self.text.push(p, bytes, stats, out);
            return;
        }
        match &mut self.part {
            PartMode::Masker(m) => m.push(p, bytes, stats, out),
            PartMode::Field { fi, capture, over } => {
                if *over {
                    return;
                }
                capture.extend_from_slice(bytes);
                if capture.len() > p.limits.max_field_value_bytes {
                    stats.hit_field(p, *fi, 0, &[]);
                    stats.mark(out.len());
                    let repl: &[u8] = match p.fields.get(*fi).map(|f| &f.action) {
                        Some(crate::action::Action::Redact { replacement }) => replacement,
                        _ => b"[REDACTED]",
                    };
                    out.extend_from_slice(repl);
                    capture.clear();
                    *over = true;
                }
            }
        }
    }

    /// The preamble or the current part ended (a delimiter, or the end of the body).
    fn end_content(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        if self.state == State::Preamble {
            self.text.finish(p, stats, out);
            return;
        }
        match std::mem::replace(&mut self.part, PartMode::Masker(Box::new(PassBody))) {
            PartMode::Masker(mut m) => m.finish(p, stats, out),
            PartMode::Field { fi, capture, over } => {
                if !over {
                    stats.hit_field(p, fi, 0, &capture);
                    stats.mark(out.len());
                    if let Some(f) = p.fields.get(fi) {
                        f.action.apply(&capture, out);
                    }
                }
            }
        }
    }

    /// A part's header block is complete: mask it, write it, route the part.
    fn start_part(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        let block = std::mem::take(&mut self.headers);
        let mut ctype: Option<String> = None;
        let mut name: Option<Vec<u8>> = None;
        let mut file = false;
        for line in block.split_inclusive(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(line);
            let body = text.trim_end_matches(['\r', '\n']);
            let eol = &text[body.len()..];
            let Some((hname, value)) = body.split_once(':') else {
                out.extend_from_slice(line);
                continue;
            };
            let lname = hname.trim().to_ascii_lowercase();
            let value_t = value.trim();
            match lname.as_str() {
                "content-type" => ctype = Some(value_t.to_string()),
                "content-disposition" => {
                    name = disposition_param(value_t, "name").map(String::into_bytes);
                    file = disposition_param(value_t, "filename").is_some()
                        || disposition_param(value_t, "filename*").is_some();
                }
                _ => {}
            }
            match self.router.part_header(&lname, value_t) {
                Some((new, hits)) => {
                    stats.add_meta(&hits);
                    stats.mark(out.len());
                    out.extend_from_slice(format!("{hname}: {new}{eol}").as_bytes());
                }
                None => out.extend_from_slice(line),
            }
        }
        self.part = match name.as_deref().and_then(|n| p.field_for_name(n)) {
            Some(fi) => PartMode::Field {
                fi,
                capture: Vec::new(),
                over: false,
            },
            None => {
                let route = self.router.route(ctype.as_deref(), file);
                let route = match route {
                    // nested multipart: only while the depth allows
                    Route::Multipart(_) if self.depth >= MAX_DEPTH => Route::Scan(crate::format::Format::Text),
                    r => r,
                };
                PartMode::Masker((self.new_body)(p, &route, &self.router, self.depth))
            }
        };
        self.state = State::Body;
    }

    pub(crate) fn finish(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        let carry = std::mem::take(&mut self.carry);
        match self.state {
            State::Preamble | State::Body => {
                // no delimiter came: what was held is content
                self.content(p, &carry, stats, out);
                self.end_content(p, stats, out);
            }
            State::DelimLine => out.append(&mut self.line),
            State::Headers => {
                // a header block cut by the end of the body: scanned as text
                let block = std::mem::take(&mut self.headers);
                self.text.reset();
                self.text.push(p, &block, stats, out);
                self.text.finish(p, stats, out);
            }
            State::Epilogue => self.text.finish(p, stats, out),
        }
    }
}

/// The end of a header block (after its empty line) in `buf`, looking from `from` on (minus the
/// bytes an earlier look could not decide).
fn header_block_end(buf: &[u8], from: usize) -> Option<usize> {
    // an empty block: the line after the delimiter line is empty
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    if buf.starts_with(b"\n") {
        return Some(1);
    }
    let start = from.saturating_sub(3);
    let mut i = start;
    while let Some(k) = memchr::memchr(b'\n', &buf[i..]).map(|k| i + k) {
        let next = &buf[k + 1..];
        if next.starts_with(b"\r\n") {
            return Some(k + 3);
        }
        if next.starts_with(b"\n") {
            return Some(k + 2);
        }
        i = k + 1;
    }
    None
}

/// A parameter of a `content-disposition` value (`form-data; name="email"; filename="a.txt"`).
fn disposition_param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}
