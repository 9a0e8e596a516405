//! The raw-byte map of a value whose bytes were decoded before scanning (a JSON string's escapes,
//! a form value's `%XX` and `+`): which decoded bytes came from which raw bytes.
//!
//! # Invariants
//! - The decoded bytes handed to the scanner are exactly the concatenation of the pieces pushed.
//! - `consume(n, emit)` walks `n` decoded bytes in order: a literal piece maps byte to byte, so
//!   it can be cut anywhere; an escape is copied (or dropped) whole when its first decoded byte
//!   is consumed, and the rest of its decoded bytes are owed (`debt`) and skipped later. So bytes
//!   the scanner keeps come out exactly as they came in, escapes included, and a replacement that
//!   starts or ends inside an escape takes the whole escape.
//! - Memory: the raw bytes not yet consumed, compacted every 4 KiB.

use std::collections::VecDeque;

/// Raw bytes of the current string that are not emitted yet, and how they map to decoded bytes.
#[derive(Default)]
pub(crate) struct RawMap {
    raw: Vec<u8>,
    pos: usize,
    /// (raw length, decoded length, is a literal run)
    pieces: VecDeque<(u32, u32, bool)>,
    /// Decoded bytes already emitted as part of an escape that a boundary cut through.
    debt: usize,
}

impl RawMap {
    pub(crate) fn reset(&mut self) {
        self.raw.clear();
        self.pos = 0;
        self.pieces.clear();
        self.debt = 0;
    }

    pub(crate) fn push_literal(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.raw.extend_from_slice(bytes);
        let n = bytes.len() as u32;
        match self.pieces.back_mut() {
            Some((r, d, true)) => {
                *r += n;
                *d += n;
            }
            _ => self.pieces.push_back((n, n, true)),
        }
    }

    pub(crate) fn push_escape(&mut self, raw: &[u8], decoded_len: usize) {
        self.raw.extend_from_slice(raw);
        self.pieces.push_back((raw.len() as u32, decoded_len as u32, false));
    }

    /// Consumes `n` decoded bytes, copying their raw form to `out` when `emit`.
    pub(crate) fn consume(&mut self, mut n: usize, emit: bool, out: &mut Vec<u8>) {
        let d = self.debt.min(n);
        self.debt -= d;
        n -= d;
        while n > 0 {
            let Some(front) = self.pieces.front_mut() else {
                break;
            };
            let (r, dl, lit) = *front;
            if lit {
                let k = n.min(dl as usize);
                if emit {
                    out.extend_from_slice(&self.raw[self.pos..self.pos + k]);
                }
                self.pos += k;
                n -= k;
                if k == dl as usize {
                    self.pieces.pop_front();
                } else {
                    *front = (r - k as u32, dl - k as u32, true);
                }
            } else {
                if emit {
                    out.extend_from_slice(&self.raw[self.pos..self.pos + r as usize]);
                }
                self.pos += r as usize;
                self.pieces.pop_front();
                if (dl as usize) > n {
                    self.debt = dl as usize - n;
                    n = 0;
                } else {
                    n -= dl as usize;
                }
            }
        }
        if self.pos > 4096 || self.pieces.is_empty() {
            self.raw.drain(..self.pos);
            self.pos = 0;
        }
    }
}
