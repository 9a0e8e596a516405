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
        // what the key names: the user's field by key, else the secret-key field
        let named = if top.obj && top.key_ok {
            self.memo
                .lookup(p, &self.keys[top.key_start..top.key_start + top.key_len])
        } else {
            None
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
        escape_into(&self.tmp, out);
        self.capture.clear();
    }
}

/// Keys up to this long are remembered by [`KeyMemo`].
const MEMO_KEY: usize = 24;
/// Slots of [`KeyMemo`] (a power of two).
const MEMO_SLOTS: usize = 32;

/// What a key name selects ([`Ruleset::field_for_name`]), for the key names seen last. API bodies
/// repeat a handful of keys, so most values cost one hash and one compare instead of a pass over
/// the field keys and the secret terms. Direct-mapped: a slot holds one key, compared whole, so a
/// collision only costs a recompute.
pub(super) struct KeyMemo {
    slots: Box<[MemoSlot; MEMO_SLOTS]>,
}

#[derive(Clone, Copy)]
struct MemoSlot {
    /// 0: empty.
    len: u8,
    key: [u8; MEMO_KEY],
    field: Option<usize>,
}

impl Default for KeyMemo {
    fn default() -> KeyMemo {
        let empty = MemoSlot {
            len: 0,
            key: [0; MEMO_KEY],
            field: None,
        };
        KeyMemo {
            slots: Box::new([empty; MEMO_SLOTS]),
        }
    }
}

impl KeyMemo {
    /// [`Ruleset::field_for_name`] of `key`, remembered.
    pub(super) fn lookup(&mut self, p: &Ruleset, key: &[u8]) -> Option<usize> {
        let Ok(len) = u8::try_from(key.len()) else {
            return p.field_for_name(key);
        };
        if key.is_empty() || key.len() > MEMO_KEY {
            return p.field_for_name(key);
        }
        // FNV-1a over the (short) key; its top bits pick the slot
        let h = key
            .iter()
            .fold(0x811C_9DC5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        let Some(slot) = self.slots.get_mut((h >> (32 - MEMO_SLOTS.trailing_zeros())) as usize) else {
            return p.field_for_name(key);
        };
        if slot.len == len && slot.key[..key.len()] == *key {
            return slot.field;
        }
        let field = p.field_for_name(key);
        slot.len = len;
        slot.key[..key.len()].copy_from_slice(key);
        slot.field = field;
        field
    }
}
