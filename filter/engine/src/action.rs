//! Actions: what replaces a matched value (`mask`, `redact`, `tokenize`).
//!
//! # Invariants
//! - Applying an action only appends to `out`; it never reads or changes bytes already there.
//! - `mask` keeps every non-alphanumeric character as it is and writes one `mask_char` per masked
//!   unit (a letter or digit of any script, or an invalid UTF-8 byte), so separators stay in place;
//!   if `keep_first + keep_last` reaches the number of units, every unit is masked.
//! - `apply_streaming` never looks at a value's end: `mask` honours `keep_first` only (unlike
//!   `apply`, a value with no more than `keep_first` units keeps them all), `redact` writes its
//!   replacement once, for the first piece, and a `tokenize` that reaches it (a `secret_keys`
//!   value in text) writes `[REDACTED]` once rather than the value.

use crate::detect::Normalize;
use crate::token::TokenKey;
use std::sync::Arc;

/// A compiled action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Replace letters and digits with `mask_char`, keeping `keep_first` and `keep_last` of them and
    /// every separator, so length and format stay. If the kept characters would be all of them,
    /// everything is masked.
    Mask {
        keep_first: usize,
        keep_last: usize,
        mask_char: Box<str>,
    },
    /// Replace the whole value.
    Redact { replacement: Box<[u8]> },
    /// Replace the value with a keyed token.
    Tokenize { normalize: Normalize, key: Arc<TokenKey> },
    /// Encrypt the digits, format-preserving and reversible (see `fpe`); `fallback` for values
    /// that cannot be (fewer than 6 free digits), `[REDACTED]` without one.
    Fpe {
        fpe: Arc<crate::fpe::Fpe>,
        fallback: Option<Box<Action>>,
    },
    /// Leave the value as it is (what `detokenize` does with every other rule).
    Keep,
}

/// A maskable unit: a letter or digit (any script), or an invalid UTF-8 byte.
fn for_each_unit(value: &[u8], mut f: impl FnMut(&[u8], bool)) {
    if value.is_ascii() {
        // every byte is a character: no decoding (cards, phones, IBANs)
        for b in value.chunks(1) {
            f(b, b[0].is_ascii_alphanumeric());
        }
        return;
    }
    for_each_decoded_unit(value, f);
}

/// [`for_each_unit`] for any bytes, decoding UTF-8.
fn for_each_decoded_unit(value: &[u8], mut f: impl FnMut(&[u8], bool)) {
    for chunk in value.utf8_chunks() {
        let mut buf = [0u8; 4];
        for ch in chunk.valid().chars() {
            f(ch.encode_utf8(&mut buf).as_bytes(), ch.is_alphanumeric());
        }
        for b in chunk.invalid() {
            f(std::slice::from_ref(b), true);
        }
    }
}

/// `mask` for an ASCII value and a one-byte mask character: every byte is a unit.
fn mask_ascii(value: &[u8], keep_first: usize, keep_last: usize, mask: u8, out: &mut Vec<u8>) {
    let total = value.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    let (kf, kl) = if keep_first + keep_last >= total {
        (0, 0)
    } else {
        (keep_first, keep_last)
    };
    out.reserve(value.len());
    let mut i = 0usize;
    for &b in value {
        if !b.is_ascii_alphanumeric() {
            out.push(b);
            continue;
        }
        out.push(if i < kf || i >= total - kl { b } else { mask });
        i += 1;
    }
}

impl Action {
    /// Writes the replacement for `value` to `out`.
    pub fn apply(&self, value: &[u8], out: &mut Vec<u8>) {
        match self {
            Action::Mask {
                keep_first,
                keep_last,
                mask_char,
            } => {
                if let (true, &[m]) = (value.is_ascii(), mask_char.as_bytes()) {
                    mask_ascii(value, *keep_first, *keep_last, m, out);
                    return;
                }
                let mut total = 0usize;
                for_each_unit(value, |_, m| total += usize::from(m));
                let (kf, kl) = if keep_first + keep_last >= total {
                    (0, 0)
                } else {
                    (*keep_first, *keep_last)
                };
                let mut i = 0usize;
                for_each_unit(value, |bytes, maskable| {
                    if !maskable {
                        out.extend_from_slice(bytes);
                        return;
                    }
                    if i < kf || i >= total - kl {
                        out.extend_from_slice(bytes);
                    } else {
                        out.extend_from_slice(mask_char.as_bytes());
                    }
                    i += 1;
                });
            }
            Action::Redact { replacement } => out.extend_from_slice(replacement),
            Action::Tokenize { normalize, key } => key.token(*normalize, value, out),
            Action::Fpe { fpe, fallback } => match fpe.transform(value) {
                Some(v) => out.extend_from_slice(&v),
                // reversing: a value that was never encrypted stays as it is
                None if fpe.decrypt => out.extend_from_slice(value),
                None => match fallback {
                    Some(a) => a.apply(value, out),
                    None => out.extend_from_slice(b"[REDACTED]"),
                },
            },
            Action::Keep => out.extend_from_slice(value),
        }
    }

    /// Masks the next piece of a value that streams (a private key region, a secret value in text):
    /// letters and digits after the first `keep_first` become the mask character; `redact` writes
    /// its replacement only for the first piece. `seen` counts maskable units so far and `first`
    /// says whether this is the first piece.
    pub(crate) fn apply_streaming(&self, piece: &[u8], seen: &mut usize, first: bool, out: &mut Vec<u8>) {
        match self {
            Action::Mask {
                keep_first, mask_char, ..
            } => for_each_unit(piece, |bytes, maskable| {
                if maskable {
                    if *seen < *keep_first {
                        out.extend_from_slice(bytes);
                    } else {
                        out.extend_from_slice(mask_char.as_bytes());
                    }
                    *seen += 1;
                } else {
                    out.extend_from_slice(bytes);
                }
            }),
            Action::Redact { replacement } => {
                if first {
                    out.extend_from_slice(replacement);
                }
            }
            // Rejected at compile time for region detectors, but a secret value in text
            // (`secret_keys` with a tokenize action) streams too: redact rather than leak.
            Action::Tokenize { .. } | Action::Fpe { .. } => {
                if first {
                    out.extend_from_slice(b"[REDACTED]");
                }
            }
            Action::Keep => out.extend_from_slice(piece),
        }
    }

    /// Whether the action can be applied to a value that streams (no look at its end needed).
    pub fn streams(&self) -> bool {
        match self {
            Action::Mask { keep_last, .. } => *keep_last == 0,
            Action::Redact { .. } | Action::Keep => true,
            Action::Tokenize { .. } | Action::Fpe { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn units(v: &[u8], ascii_path: bool) -> Vec<(Vec<u8>, bool)> {
        let mut got = Vec::new();
        let f = |b: &[u8], m: bool| got.push((b.to_vec(), m));
        if ascii_path {
            for_each_unit(v, f);
        } else {
            for_each_decoded_unit(v, f);
        }
        got
    }

    proptest! {
        /// `mask` on ASCII with a one-byte mask character writes what the general path writes.
        #[test]
        fn ascii_mask_is_the_general_mask(
            v in proptest::collection::vec(0u8..0x80, 0..40), kf in 0usize..8, kl in 0usize..8,
        ) {
            let mut general = Vec::new();
            let mut i = 0usize;
            let total = v.iter().filter(|b| b.is_ascii_alphanumeric()).count();
            let (f, l) = if kf + kl >= total { (0, 0) } else { (kf, kl) };
            for_each_decoded_unit(&v, |bytes, m| {
                if !m { general.extend_from_slice(bytes); return; }
                general.extend_from_slice(if i < f || i >= total - l { bytes } else { b"#" });
                i += 1;
            });
            let mut fast = Vec::new();
            mask_ascii(&v, kf, kl, b'#', &mut fast);
            prop_assert_eq!(&fast, &general);
            let mut applied = Vec::new();
            Action::Mask { keep_first: kf, keep_last: kl, mask_char: "#".into() }.apply(&v, &mut applied);
            prop_assert_eq!(applied, general);
        }

        /// The ASCII shortcut gives the units UTF-8 decoding gives.
        #[test]
        fn ascii_units_are_the_decoded_units(v in proptest::collection::vec(0u8..0x80, 0..40)) {
            prop_assert_eq!(units(&v, true), units(&v, false));
        }
    }

    fn mask(f: usize, l: usize) -> Action {
        Action::Mask {
            keep_first: f,
            keep_last: l,
            mask_char: "*".into(),
        }
    }

    fn run(a: &Action, v: &str) -> String {
        let mut out = Vec::new();
        a.apply(v.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn mask_keeps_first_six_last_four_and_separators() {
        assert_eq!(run(&mask(6, 4), "4111 1111 1111 1111"), "4111 11** **** 1111");
        assert_eq!(run(&mask(6, 4), "4111-1111-1111-1111"), "4111-11**-****-1111");
    }

    #[test]
    fn mask_of_a_value_shorter_than_what_is_kept_masks_everything() {
        assert_eq!(run(&mask(6, 4), "12345"), "*****");
        assert_eq!(run(&mask(1, 3), "a@b.co"), "*@*.**");
    }

    #[test]
    fn mask_counts_characters_not_bytes() {
        assert_eq!(run(&mask(1, 0), "Zoë"), "Z**");
    }

    #[test]
    fn redact_writes_the_replacement() {
        let a = Action::Redact {
            replacement: b"[order]".to_vec().into(),
        };
        assert_eq!(run(&a, "ORD-1234567890"), "[order]");
    }
}
