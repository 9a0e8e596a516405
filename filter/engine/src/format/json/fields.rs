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
    pub(super) fn field_for_value(&self, p: &Ruleset) -> Option<usize> {
        let top = self.stack.last()?;
        let inherited = top.field;
        if let Some(f) = inherited {
            if Some(f) != p.secret_field {
                return Some(f);
            }
        }
        if let Some(f) = self.user_field_for_value(p, top) {
            return Some(f);
        }
        if inherited.is_some() {
            return inherited;
        }
        if let Some(fi) = p.secret_field {
            if top.obj && top.key_ok {
                let key = &self.keys[top.key_start..top.key_start + top.key_len];
                if p.secret_terms.matches(key) {
                    return Some(fi);
                }
            }
        }
        None
    }

    /// The user's field rule naming the value that starts now by its key or its path.
    fn user_field_for_value(&self, p: &Ruleset, top: &super::Frame) -> Option<usize> {
        if top.obj && top.key_ok {
            let key = &self.keys[top.key_start..top.key_start + top.key_len];
            if let Some((_, fi)) = p.field_keys.iter().find(|(k, _)| &**k == key) {
                return Some(*fi);
            }
        }
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

    /// Context for `near` keywords: the tail of the current key, then `": "`.
    pub(super) fn seed(&self) -> Vec<u8> {
        let mut seed = Vec::new();
        if !self.has_near {
            return seed;
        }
        if let Some(top) = self.stack.last() {
            if top.obj && top.key_ok {
                let key = &self.keys[top.key_start..top.key_start + top.key_len];
                seed.extend_from_slice(&key[key.len().saturating_sub(SEED_KEY)..]);
                seed.extend_from_slice(b": ");
            }
        }
        seed
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
