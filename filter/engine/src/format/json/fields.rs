//! Field rules in JSON: which rule covers the value that starts now (its key, its path, an
//! enclosing field's value, a secret key name), the context `near` keywords see, and the one place
//! a field value is replaced, counted and escaped.
//!
//! # Invariants
//! - A value under a field rule is never scanned by the other rules: it is replaced whole (or by
//!   the action's redaction text when it is too long to capture), and counted once under the field.

use super::lex::escape_into;
use super::{JsonMasker, StrKind};
use crate::config::{PathSeg, Ruleset};
use crate::search::scan::Stats;

/// How much of the key rules with `near` keywords see as context before a value.
const SEED_KEY: usize = 64;

impl JsonMasker {
    /// The field rule that covers the value starting now, if any.
    ///
    /// An enclosing field covers everything inside it, except that a value inside the built-in
    /// `secret_keys` field still gets the user's own field rule when its key or path names one
    /// (the user's action as written: their replacement text, booleans replaced too).
    #[inline]
    pub(super) fn field_for_value(&mut self, p: &Ruleset) -> Option<usize> {
        let top = self.stack.last()?;
        let inherited = top.field;
        if let Some(f) = inherited {
            if Some(f) != p.secret_field {
                return Some(f);
            }
        }
        // what the key names: the user's field by key, else the secret-key field (most keys are
        // refused by their last two letters, without a lookup)
        let key = match self.keys.get(top.key_start..top.key_start + top.key_len) {
            Some(k) if top.obj && top.key_ok => Some(k),
            _ => None,
        };
        let may_name = key.is_some_and(|k| p.name_pairs.may_name(k));
        if !may_name && inherited.is_none() && p.field_paths.is_empty() {
            return None;
        }
        self.field_for_key(p, may_name, inherited)
    }

    /// [`field_for_value`](Self::field_for_value) past its shortcuts: the key looked up (when its
    /// last letters allow a match), then the paths.
    #[inline(never)]
    fn field_for_key(&mut self, p: &Ruleset, may_name: bool, inherited: Option<usize>) -> Option<usize> {
        let named = match self.stack.last() {
            Some(top) if may_name => self
                .keys
                .get(top.key_start..top.key_start + top.key_len)
                .and_then(|key| self.memo.lookup(p, key)),
            _ => None,
        };
        let by_key = named.filter(|&f| Some(f) != p.secret_field);
        if let Some(f) = by_key.or_else(|| self.field_by_path(p)) {
            return Some(f);
        }
        inherited.or(named)
    }

    /// The user's field rule naming the value that starts now by its path.
    fn field_by_path(&self, p: &Ruleset) -> Option<usize> {
        'paths: for (segs, fi) in &p.field_paths {
            if segs.len() != self.stack.len() {
                continue;
            }
            for (seg, f) in segs.iter().zip(&self.stack) {
                let ok = match seg {
                    PathSeg::AnyKey => f.obj,
                    PathSeg::AnyIndex => !f.obj,
                    PathSeg::Index(n) => !f.obj && f.index == *n,
                    PathSeg::Key(k) => f.obj && f.key_ok && **k == self.keys[f.key_start..f.key_start + f.key_len],
                };
                if !ok {
                    continue 'paths;
                }
            }
            return Some(*fi);
        }
        None
    }

    /// Starts the scanner on a new value at `tok_start`; rules with `near` keywords see the tail of
    /// the value's key, then `": "`, as context before it.
    #[inline]
    pub(super) fn reset_scanner(&mut self) {
        self.scan_pending = None;
        self.seed.clear();
        if self.has_near {
            if let Some(top) = self.stack.last() {
                if top.obj && top.key_ok {
                    let key = &self.keys[top.key_start..top.key_start + top.key_len];
                    self.seed.extend_from_slice(&key[key.len().saturating_sub(SEED_KEY)..]);
                    self.seed.extend_from_slice(b": ");
                }
            }
        }
        self.scanner.reset_at(&self.seed, self.tok_start);
    }

    /// Writes the replacement for a field value that cannot be captured whole (too long, or cut by
    /// malformed JSON): the redaction text of its action, or `[REDACTED]`.
    pub(super) fn overflow(&mut self, p: &Ruleset, fi: usize, stats: &mut Stats, out: &mut Vec<u8>) {
        stats.hit_field(p, fi, self.tok_start, &self.capture);
        stats.mark(out.len());
        let repl: &[u8] = match p.fields.get(fi).map(|f| &f.action) {
            Some(crate::action::Action::Redact { replacement }) => replacement,
            _ => b"[REDACTED]",
        };
        escape_into(repl, out);
        self.capture.clear();
        self.kind = StrKind::Overflow;
    }

    /// Replaces a field value captured whole (`value`, or the capture when `None`): writes the
    /// action's result as the inside of a JSON string (the caller writes the quotes), counts it
    /// under the field and clears the capture.
    pub(super) fn write_field(
        &mut self,
        p: &Ruleset,
        fi: usize,
        value: Option<&[u8]>,
        stats: &mut Stats,
        out: &mut Vec<u8>,
    ) {
        let value = value.unwrap_or(&self.capture);
        self.tmp.clear();
        if let Some(f) = p.fields.get(fi) {
            f.action.apply(value, &mut self.tmp);
        }
        stats.hit_field(p, fi, self.tok_start, value);
        stats.mark(out.len());
        escape_into(&self.tmp, out);
        self.capture.clear();
    }
}

/// Keys up to this long are remembered by [`KeyMemo`].
const MEMO_KEY: usize = 24;
/// Slots of [`KeyMemo`] (a power of two).
const MEMO_SLOTS: usize = 64;

/// What a key name selects ([`Ruleset::field_for_name`]), for the key names seen last. API bodies
/// repeat a handful of keys, so most values cost a few word loads and compares instead of a pass
/// over the field keys and the secret terms. Each key has two candidate slots (two hashes), so a
/// dozen keys rarely evict each other; a slot holds one key, compared whole, so a collision only
/// costs a recompute.
pub(super) struct KeyMemo {
    slots: Box<[MemoSlot; MEMO_SLOTS]>,
}

/// A key of at most [`MEMO_KEY`] bytes as three words: its first eight bytes, its last eight and
/// bytes 8..16 (zero-padded below eight bytes; overlapping words are fine, the length is kept). Two
/// keys of the same length are equal exactly when their words are.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct KeyWords {
    len: usize,
    w: [u64; 3],
}

impl KeyWords {
    /// `None` for the empty key and keys longer than [`MEMO_KEY`].
    #[inline]
    fn of(key: &[u8]) -> Option<KeyWords> {
        let len = key.len();
        let word = |at: usize| -> u64 {
            key.get(at..at + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_le_bytes)
        };
        let byte = |at: usize| u64::from(key.get(at).copied().unwrap_or(0));
        let half = |at: usize| -> u64 {
            key.get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
        };
        // fixed loads only (no loop over the bytes): short keys are covered by overlapping reads
        let w = match len {
            0 => return None,
            1..=3 => [byte(0) | byte(len / 2) << 8 | byte(len - 1) << 16, 0, 0],
            4..=7 => [half(0) | half(len - 4) << 32, 0, 0],
            8..=16 => [word(0), word(len - 8), 0],
            17..=MEMO_KEY => [word(0), word(len - 8), word(8)],
            _ => return None,
        };
        Some(KeyWords { len, w })
    }

    /// The two slots for these words.
    #[inline]
    fn slots(&self) -> (usize, usize) {
        let h = (self.w[0] ^ self.w[1].rotate_left(29) ^ self.w[2].rotate_left(43) ^ self.len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let bits = MEMO_SLOTS.trailing_zeros();
        let mask = MEMO_SLOTS - 1;
        ((h >> (64 - bits)) as usize, (h >> (64 - 2 * bits)) as usize & mask)
    }
}

#[derive(Clone, Copy, Default)]
struct MemoSlot {
    /// `len` 0: empty.
    key: KeyWords,
    field: Option<u32>,
}

impl Default for KeyMemo {
    fn default() -> KeyMemo {
        KeyMemo {
            slots: Box::new([MemoSlot::default(); MEMO_SLOTS]),
        }
    }
}

impl KeyMemo {
    /// [`Ruleset::field_for_name`] of `key`, remembered.
    pub(super) fn lookup(&mut self, p: &Ruleset, key: &[u8]) -> Option<usize> {
        let Some(words) = KeyWords::of(key) else {
            return p.field_for_name(key);
        };
        let (a, b) = words.slots();
        for k in [a, b] {
            if let Some(slot) = self.slots.get(k).filter(|s| s.key == words) {
                return slot.field.map(|f| f as usize);
            }
        }
        self.miss(p, key, words, a, b)
    }

    /// Looks `key` up in the policy and remembers it (out of line: the hit path stays small).
    #[cold]
    #[inline(never)]
    fn miss(&mut self, p: &Ruleset, key: &[u8], words: KeyWords, a: usize, b: usize) -> Option<usize> {
        let field = p.field_for_name(key);
        // remembered unless the field index does not fit (never, for a policy that compiles)
        let Ok(stored) = field.map(u32::try_from).transpose() else {
            return field;
        };
        // into the first slot when it is empty or the second is taken, else the second
        let k =
            if self.slots.get(a).is_some_and(|s| s.key.len == 0) || self.slots.get(b).is_some_and(|s| s.key.len != 0) {
                a
            } else {
                b
            };
        if let Some(slot) = self.slots.get_mut(k) {
            *slot = MemoSlot {
                key: words,
                field: stored,
            };
        }
        field
    }
}

#[cfg(test)]
mod tests {
    use super::KeyWords;
    use proptest::prelude::*;

    proptest! {
        /// The memo's words tell keys apart exactly as a byte comparison does.
        #[test]
        fn key_words_are_equal_exactly_when_keys_are(a in proptest::collection::vec(any::<u8>(), 0..30),
                                                   b in proptest::collection::vec(any::<u8>(), 0..30),
                                                   flip in any::<usize>()) {
            // also a near miss of `a`: one byte changed
            let mut c = a.clone();
            if !c.is_empty() {
                let k = flip % c.len();
                c[k] ^= 1 << (flip % 8);
            }
            for other in [&b, &c, &a] {
                if let (Some(x), Some(y)) = (KeyWords::of(&a), KeyWords::of(other)) {
                    prop_assert_eq!(x == y, a == *other);
                } else {
                    prop_assert!(a.is_empty() || a.len() > super::MEMO_KEY || other.is_empty() || other.len() > super::MEMO_KEY);
                }
            }
        }
    }
}
