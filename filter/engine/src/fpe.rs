//! Format-preserving, reversible encryption of the digits of a value (`"type": "fpe"`).
//!
//! FF1 (NIST SP 800-38G Rev. 1) with AES-256 over the digits that are not kept, radix 10, from the
//! `fpe` and `aes` crates. Letters, separators and the kept digits stay where they are, so the
//! value keeps its length and format. The key is derived from the policy's tokenization key
//! (`HMAC-SHA256(secret, "fpe-key" 0x00 "0" | "1")`, 32 bytes), so HMAC tokens and FPE values never
//! share a key. The tweak binds the key id, the rule's name and the kept digits, so equal middles
//! under different prefixes do not share a codebook.
//!
//! Validity is kept by cycle-walking: the free digits are encrypted again until the whole value
//! is one its detector accepts (a card keeps a valid Luhn check and its issuer prefix, an SSN stays
//! outside the never-issued ranges, a phone number stays in a listed form). FF1 is a permutation
//! of the free digits, so walking on until the first valid value is a permutation of the valid
//! values, and decryption walks back the same way. An IBAN's two check digits are not encrypted
//! but recomputed (mod 97) from the encrypted rest, so it walks at most once.
//!
//! # Invariants
//! - `transform` never returns the value's digits unencrypted: fewer than 6 free digits (FF1's
//!   minimum domain, 10^6), more than [`MAX_DIGITS`], digits of another script, a value its
//!   detector does not accept on its own, or no valid value within [`MAX_WALK`] steps gives
//!   `None`, and the `fpe` action then writes its fallback's output (`[REDACTED]` without one).
//!   Walking only from accepted values keeps the walk a permutation of them (so decryption is
//!   exact) and bounds its cost.
//! - `decrypt(encrypt(v)) == v` for every value the rule's detector accepts whose encryption did
//!   not fall back; both are pure functions of key, rule name and value.

use crate::detect::Verdict;
use aes::Aes256;
use fpe::ff1::{FlexibleNumeralString, FF1};
use std::fmt;
use std::sync::Arc;

/// The fewest digits FF1 encrypts in radix 10 (a domain of at least 10^6).
pub const MIN_FREE_DIGITS: usize = 6;

/// Steps a cycle-walk may take before the value falls back (a valid card is found in about 10).
pub const MAX_WALK: usize = 400;

/// Values with more digits than this are not encrypted (they get the fallback): FF1's arithmetic
/// grows with the square of the length.
pub const MAX_DIGITS: usize = 64;

/// An FF1 key, derived from a tokenization key.
pub struct FpeKey {
    id: String,
    ff1: FF1<Aes256>,
}

impl fmt::Debug for FpeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FpeKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl FpeKey {
    /// The FPE key of a tokenization key (same id, a key of its own).
    pub fn derive(token: &crate::token::TokenKey) -> Option<FpeKey> {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&token.mac128(b"fpe-key", b"0"));
        key[16..].copy_from_slice(&token.mac128(b"fpe-key", b"1"));
        FpeKey::from_raw(token.id(), &key)
    }

    /// A key from 32 raw bytes (the NIST sample vectors use these).
    pub fn from_raw(id: &str, key: &[u8; 32]) -> Option<FpeKey> {
        let ff1 = FF1::<Aes256>::new(key, 10).ok()?;
        Some(FpeKey {
            id: id.to_string(),
            ff1,
        })
    }

    /// The key id (the tokenization key's).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// FF1-encrypts (or decrypts) decimal digits (values 0-9). `None` when FF1 refuses them (fewer
    /// than 6).
    pub fn crypt(&self, tweak: &[u8], digits: &[u16], decrypt: bool) -> Option<Vec<u16>> {
        let ns = FlexibleNumeralString::from(digits.to_vec());
        let r = if decrypt {
            self.ff1.decrypt(tweak, &ns)
        } else {
            self.ff1.encrypt(tweak, &ns)
        };
        r.ok().map(Vec::from)
    }
}

/// What keeps an encrypted value valid.
#[derive(Clone, Copy)]
pub enum Validity {
    /// Any digits (field rules, patterns).
    Any,
    /// The detector's validator must accept the whole value.
    Detector(fn(&[u8], usize, usize) -> Verdict),
    /// A card: the validator, and the Luhn check over all the digits (the validator also accepts
    /// overlapping readings that are cards only in part).
    Card(fn(&[u8], usize, usize) -> Verdict),
    /// An IBAN: check digits recomputed, then the validator.
    Iban(fn(&[u8], usize, usize) -> Verdict),
}

impl fmt::Debug for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Validity::Any => "Any",
            Validity::Detector(_) => "Detector",
            Validity::Card(_) => "Card",
            Validity::Iban(_) => "Iban",
        })
    }
}

/// The `fpe` action of one rule.
#[derive(Debug)]
pub struct Fpe {
    pub keep_first: usize,
    pub keep_last: usize,
    pub key: Arc<FpeKey>,
    /// The rule's name (part of the tweak).
    pub rule: Box<str>,
    pub validity: Validity,
    /// Reverse (the `detokenize` command); never set in a proxy.
    pub decrypt: bool,
}

/// Whether the validator accepts all of `v` as one value.
fn accepts(v: fn(&[u8], usize, usize) -> Verdict, value: &[u8]) -> bool {
    matches!(v(value, 0, value.len()), Verdict::Accept(0, e) | Verdict::AcceptThen(0, e, _) if e == value.len())
}

/// The Luhn check over every digit of `value`.
fn luhn_all(value: &[u8]) -> bool {
    let digits: Vec<u8> = value.iter().copied().filter(u8::is_ascii_digit).collect();
    crate::detect::luhn::valid(&digits)
}

/// Sets an IBAN's check digits (the first two digits, after the country code) from the rest.
fn set_iban_check(value: &mut [u8], digit_at: &[usize]) {
    let (Some(&c1), Some(&c2)) = (digit_at.first(), digit_at.get(1)) else {
        return;
    };
    let alnum: Vec<u8> = value
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_uppercase)
        .collect();
    if let Some(check) = crate::detect::iban::check_digits(&alnum) {
        value[c1] = b'0' + (check / 10) as u8;
        value[c2] = b'0' + (check % 10) as u8;
    }
}

impl Fpe {
    /// The value with its free digits encrypted (or, with `decrypt`, decrypted); `None` when it
    /// cannot be (fewer than 6 free digits, no valid value within the walk): the caller then
    /// writes the fallback, never the value.
    pub fn transform(&self, value: &[u8]) -> Option<Vec<u8>> {
        // digits of other scripts would pass as they are: not a value to encrypt
        if std::str::from_utf8(value).is_ok_and(|v| v.chars().any(|c| c.is_numeric() && !c.is_ascii_digit())) {
            return None;
        }
        // the walk stays inside the detector's valid values: a value it does not accept alone (a
        // span joined with another rule's value) is not walked at all
        let valid_alone = match self.validity {
            Validity::Any => true,
            Validity::Detector(f) | Validity::Iban(f) => accepts(f, value),
            Validity::Card(f) => accepts(f, value) && luhn_all(value),
        };
        let digit_at: Vec<usize> = (0..value.len()).filter(|&i| value[i].is_ascii_digit()).collect();
        let n = digit_at.len();
        if !valid_alone || n > MAX_DIGITS {
            return None;
        }
        // an IBAN's check digits are recomputed, never kept or encrypted
        let skip = if matches!(self.validity, Validity::Iban(_)) {
            2
        } else {
            0
        };
        let (lo, hi) = (skip + self.keep_first, n.checked_sub(self.keep_last)?);
        if hi < lo || hi - lo < MIN_FREE_DIGITS {
            return None;
        }
        let free = &digit_at[lo..hi];
        let mut tweak = Vec::with_capacity(64);
        tweak.extend_from_slice(self.key.id().as_bytes());
        tweak.push(0);
        tweak.extend_from_slice(self.rule.as_bytes());
        tweak.push(0);
        tweak.extend(digit_at[skip..lo].iter().map(|&i| value[i]));
        tweak.push(b'|');
        tweak.extend(digit_at[hi..].iter().map(|&i| value[i]));
        let mut cur: Vec<u16> = free.iter().map(|&i| u16::from(value[i] - b'0')).collect();
        let mut v = value.to_vec();
        for _ in 0..MAX_WALK {
            cur = self.key.crypt(&tweak, &cur, self.decrypt)?;
            for (&i, &d) in free.iter().zip(&cur) {
                v[i] = b'0' + d as u8;
            }
            let ok = match self.validity {
                Validity::Any => true,
                Validity::Detector(f) => accepts(f, &v),
                Validity::Card(f) => accepts(f, &v) && luhn_all(&v),
                Validity::Iban(f) => {
                    set_iban_check(&mut v, &digit_at);
                    accepts(f, &v)
                }
            };
            if ok {
                return Some(v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn digits(s: &str) -> Vec<u16> {
        s.bytes().map(|b| u16::from(b - b'0')).collect()
    }

    /// NIST SP 800-38G FF1 samples 7 and 8 (AES-256, radix 10), both ways.
    #[test]
    fn nist_ff1_aes256_radix10_samples() {
        let key: [u8; 32] = hex("2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94")
            .try_into()
            .unwrap();
        let k = FpeKey::from_raw("nist", &key).unwrap();
        for (tweak, pt, ct) in [
            ("", "0123456789", "6657667009"),
            ("39383736353433323130", "0123456789", "1001623463"),
        ] {
            let t = hex(tweak);
            assert_eq!(k.crypt(&t, &digits(pt), false).unwrap(), digits(ct), "tweak {tweak}");
            assert_eq!(k.crypt(&t, &digits(ct), true).unwrap(), digits(pt));
        }
    }
}
