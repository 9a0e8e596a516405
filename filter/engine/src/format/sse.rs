//! Server-sent events: each line is routed on its own. A `data:` line whose payload starts with `{`
//! or `[` goes through the JSON masker (a bad payload falls back to text rules for that line); every
//! other line goes through text rules. Each line is emitted as soon as it is complete.
//!
//! # Invariants
//! - A line's route is decided from its first bytes alone (at most `data: ` and one more byte,
//!   held until then), so it does not depend on where chunks were cut.
//! - A JSON line's `data:` prefix (and one space) is copied unchanged; the JSON masker is reset
//!   before the payload and finished at the newline, so no JSON state crosses a line end.
//! - Held back at any time: at most seven bytes of a line head, plus what the current line's
//!   masker holds; the newline of a line decides the line.

use crate::config::Ruleset;
use crate::format::json::{Framing, JsonMasker};
use crate::format::text::TextMasker;
use crate::search::scan::Stats;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Start of a line: collecting up to `data: {` to decide.
    Undecided,
    Text,
    Json,
}

/// Masks an SSE stream.
pub(crate) struct SseMasker {
    route: Route,
    head: Vec<u8>,
    text: TextMasker,
    json: JsonMasker,
}

const DATA: &[u8] = b"data:";

impl SseMasker {
    pub(crate) fn new(policy: &Ruleset) -> SseMasker {
        SseMasker {
            route: Route::Undecided,
            head: Vec::with_capacity(8),
            text: TextMasker::new(policy),
            json: JsonMasker::new(policy, Framing::Lines),
        }
    }

    pub(crate) fn held_back(&self) -> usize {
        self.head.len() + self.text.held_back() + self.json.held_back()
    }

    pub(crate) fn push(&mut self, p: &Ruleset, input: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            match self.route {
                Route::Undecided => {
                    let b = input[i];
                    i += 1;
                    self.head.push(b);
                    match self.decide(b == b'\n') {
                        None => {}
                        Some(Route::Json) => {
                            self.route = Route::Json;
                            let head = std::mem::take(&mut self.head);
                            self.start_json(p, &head, stats, out);
                            self.head = head;
                            self.head.clear();
                        }
                        Some(_) if b == b'\n' => self.text_piece(p, &[], stats, out),
                        // the head is masked with the rest of its line (one push per line)
                        Some(_) => self.route = Route::Text,
                    }
                }
                Route::Text => {
                    let rest = &input[i..];
                    let (piece, ended) = match memchr::memchr(b'\n', rest) {
                        Some(j) => (&rest[..=j], true),
                        None => (rest, false),
                    };
                    i += piece.len();
                    self.text_piece(p, piece, stats, out);
                    if !ended {
                        self.route = Route::Text;
                    }
                }
                Route::Json => {
                    let rest = &input[i..];
                    match memchr::memchr(b'\n', rest) {
                        Some(j) => {
                            self.json.push(p, &rest[..j], stats, out);
                            self.json.finish(p, stats, out);
                            self.json.reset();
                            out.push(b'\n');
                            self.route = Route::Undecided;
                            i += j + 1;
                        }
                        None => {
                            self.json.push(p, rest, stats, out);
                            i = input.len();
                        }
                    }
                }
            }
        }
    }

    /// Decides the route of the line whose first bytes are in `head`, if they are enough.
    fn decide(&self, line_ended: bool) -> Option<Route> {
        let h = &self.head[..];
        // byte by byte: a slice comparison here is a `memcmp` call for every byte of every line head
        if line_ended || !h.iter().zip(DATA).all(|(a, b)| a == b) {
            return Some(Route::Text);
        }
        if h.len() <= DATA.len() {
            return None;
        }
        let mut k = DATA.len();
        if h[k] == b' ' {
            k += 1;
            if h.len() == k {
                return None;
            }
        }
        Some(if matches!(h[k], b'{' | b'[') {
            Route::Json
        } else {
            Route::Text
        })
    }

    /// Masks the line head held so far, then `piece` (the rest of the line, or of the chunk), as
    /// text; the route goes back to undecided (a piece without a line end sets it to text again).
    fn text_piece(&mut self, p: &Ruleset, piece: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        if self.head.is_empty() {
            self.text.push(p, piece, stats, out);
        } else {
            self.head.extend_from_slice(piece);
            let line = std::mem::take(&mut self.head);
            self.text.push(p, &line, stats, out);
            self.head = line;
            self.head.clear();
        }
        self.route = Route::Undecided;
    }

    fn start_json(&mut self, p: &Ruleset, head: &[u8], stats: &mut Stats, out: &mut Vec<u8>) {
        let k = if head.get(DATA.len()) == Some(&b' ') {
            DATA.len() + 1
        } else {
            DATA.len()
        };
        out.extend_from_slice(&head[..k]);
        self.json.reset();
        self.json.push(p, &head[k..], stats, out);
    }

    pub(crate) fn finish(&mut self, p: &Ruleset, stats: &mut Stats, out: &mut Vec<u8>) {
        match self.route {
            Route::Undecided => {
                let head = std::mem::take(&mut self.head);
                self.text.push(p, &head, stats, out);
                self.text.finish(p, stats, out);
            }
            Route::Text => {
                self.text_piece(p, &[], stats, out);
                self.text.finish(p, stats, out);
            }
            Route::Json => self.json.finish(p, stats, out),
        }
        self.route = Route::Undecided;
    }
}
