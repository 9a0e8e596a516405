//! `credit_card`: 12-19 digits, optionally grouped by single spaces or dashes, with a known issuer
//! prefix (at a length that issuer uses) and a valid Luhn checksum.
//!
//! A card is written compact (one group of 12-19 digits) or in the groupings cards are printed
//! in: groups of four with a last group of 1-4, 13-19 digits in all (`4111 1111 1111 1111`, 19
//! digits as `4-4-4-4-3`), or `4-6-5` and `4-6-4` (American Express, Diners Club).
//!
//! The regex finds a whole run of digit groups (up to 64 digits); every reading of the run that
//! starts and ends on group boundaries and is a card is a value (see `groups`). So a card glued to
//! a following group (`4111 1111 1111 1111 2024`) and two cards side by side
//! (`4111111111111111 5555555555554444`) are found, while a digit run glued to a letter, a decimal
//! point or a hexadecimal identifier (a UUID or a digest) is not.
//!
//! # Invariants
//! - An accepted reading starts and ends on group boundaries inside the candidate, holds 12-19
//!   digits in a printed grouping (12 digits only compact), passes `issuer_ok` and Luhn, and is
//!   not glued to its neighbours nor inside a UUID; the verdict is the first span of overlapping
//!   accepted readings (`groups::first_span`).
//! - No reading is longer than `MAX_READ` (37) bytes; when the regex was cut by its 64-digit bound,
//!   only starts whose readings fit are tried and the rule resumes at the first start left out.
//! - The validator reads only the candidate and the context `boundary` allows, so its verdict is
//!   the same however the body was cut.

use super::groups::{self, Groups};
use super::{boundary, luhn, Verdict};

pub(crate) const PATTERN: &str = r"[0-9](?:[ \-]?[0-9]){11,63}";

/// The longest reading in bytes (19 digits and 18 separators).
const MAX_READ: usize = 37;

/// Does a digit string (no separators) start with a prefix some issuer uses, at a length it uses?
fn issuer_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p = |k: usize| -> u32 { d.iter().take(k).fold(0u32, |a, &b| a * 10 + u32::from(b - b'0')) };
    match d.first() {
        Some(b'4') => matches!(n, 13 | 16 | 19),
        Some(b'5') => {
            let p2 = p(2);
            ((51..=55).contains(&p2) && n == 16) || (matches!(p2, 50 | 56..=59) && (12..=19).contains(&n))
        }
        Some(b'2') => {
            let p4 = p(4);
            ((2221..=2720).contains(&p4) && n == 16) || ((2200..=2204).contains(&p4) && (16..=19).contains(&n))
        }
        Some(b'3') => {
            let p2 = p(2);
            match p2 {
                34 | 37 => n == 15,
                35 => (16..=19).contains(&n),
                36 | 38 | 39 => (14..=19).contains(&n),
                30 => (300..=305).contains(&p(3)) || p(4) == 3095,
                _ => false,
            }
        }
        Some(b'6') => (12..=19).contains(&n),
        Some(b'8') => matches!(p(2), 81 | 82) && n == 16,
        _ => false,
    }
}

/// Per-group facts a reading needs, computed once per candidate so that each reading's digit
/// count and grouping are tested in constant time (a candidate of g groups has ~g²/2 readings).
struct Shape {
    /// Digits of group `k`.
    lens: [u8; groups::MAX_GROUPS],
    /// Digits before group `k`.
    cum: [u16; groups::MAX_GROUPS + 1],
    /// Groups of exactly four digits from group `k` on, in a row.
    fours: [u8; groups::MAX_GROUPS + 1],
}

impl Shape {
    fn new(gs: &Groups) -> Shape {
        let mut sh = Shape {
            lens: [0; groups::MAX_GROUPS],
            cum: [0; groups::MAX_GROUPS + 1],
            fours: [0; groups::MAX_GROUPS + 1],
        };
        for k in 0..gs.n {
            // a group lies within the candidate's first MAX_SPAN (255) bytes
            let d = u8::try_from(gs.get(k).digits()).unwrap_or(u8::MAX);
            sh.lens[k] = d;
            sh.cum[k + 1] = sh.cum[k] + u16::from(d);
        }
        for k in (0..gs.n).rev() {
            sh.fours[k] = if sh.lens[k] == 4 {
                sh.fours[k + 1].saturating_add(1)
            } else {
                0
            };
        }
        sh
    }

    /// Digits in groups `i..=j`.
    fn digits(&self, i: usize, j: usize) -> usize {
        usize::from(self.cum[j + 1] - self.cum[i])
    }

    /// Groups `i..=j` are one compact number or a printed card grouping.
    fn printed(&self, i: usize, j: usize) -> bool {
        let len = |k: usize| self.lens[k];
        match j - i {
            0 => true,
            2 if len(i) == 4 && len(i + 1) == 6 && matches!(len(j), 4 | 5) => true,
            // at least 13 digits in groups of four: `4-4-4` is how IBANs, orders and phone numbers
            // are written, and 12-digit cards are rare enough to be found only when compact
            d => d >= 3 && usize::from(self.fours[i]) >= d && (1..=4).contains(&len(j)),
        }
    }
}

pub(crate) fn validate(hay: &[u8], s: usize, e: usize) -> Verdict {
    let gs = Groups::parse(hay, s, e);
    let shape = Shape::new(&gs);
    let cut = groups::cut_at(hay, e, b" -");
    let (starts, resume) = gs.safe_starts(e, cut, MAX_READ);
    let mut digits = [0u8; 19];
    // no issuer's numbers start with 0, 1, 7 or 9: no reading from such a group is a card
    let start_ok = |i: usize| {
        let g = gs.get(i);
        matches!(hay[g.start], b'2'..=b'6' | b'8') && !boundary::glued_before(hay, g.start)
    };
    groups::first_span(&gs, starts, resume, e, MAX_READ, start_ok, |i, j| {
        // the grouping and the digit count first: they need no digits copied
        let n = shape.digits(i, j);
        if !(12..=digits.len()).contains(&n) || !shape.printed(i, j) {
            return false;
        }
        let mut k = 0;
        for g in gs.range(i, j) {
            digits[k..k + g.digits()].copy_from_slice(&hay[g.start..g.end]);
            k += g.digits();
        }
        let (a, b) = (gs.get(i).start, gs.get(j).end);
        issuer_ok(&digits[..n])
            && luhn::valid(&digits[..n])
            && !boundary::glued_after(hay, b)
            && !boundary::in_uuid(hay, a, b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(t: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut from = 0;
        while from < t.len() {
            match validate(t.as_bytes(), from, t.len()) {
                Verdict::Accept(a, b) | Verdict::AcceptThen(a, b, _) => {
                    out.push(&t[a..b]);
                    from = b;
                }
                Verdict::Reject { .. } => break,
            }
        }
        out
    }

    #[test]
    fn cards_side_by_side_and_inside_longer_runs_are_found() {
        assert_eq!(
            spans("4111111111111111 5555555555554444"),
            ["4111111111111111", "5555555555554444"]
        );
        assert_eq!(spans("4111 1111 1111 1111 2024"), ["4111 1111 1111 1111"]);
        assert_eq!(spans("1234 4111 1111 1111 1111"), ["4111 1111 1111 1111"]);
        assert!(spans("3714 4963 5398 434").is_empty());
        assert!(spans("12345678901234567890123").is_empty());
    }
}
