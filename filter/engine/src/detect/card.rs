//! `credit_card`: 12-19 digits, optionally grouped by single spaces or dashes, with a known issuer
//! prefix and a valid Luhn checksum.
//!
//! The regex finds a whole run of digit groups (up to 64 digits); the validator then looks for the
//! leftmost, longest sub-run that starts and ends on group boundaries and is a card. So a card glued
//! to a following group (`4111 1111 1111 1111 2024`) is still found, while a digit run glued to a
//! letter (a UUID or hex digest) is not.

use super::{boundary, luhn, Verdict};

pub(crate) const PATTERN: &str = r"[0-9](?:[ \-]?[0-9]){11,63}";

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

pub(crate) fn validate(hay: &[u8], s: usize, e: usize) -> Verdict {
    if !boundary::number_starts_clean(hay, s) {
        return Verdict::Reject { resume: e };
    }
    let run = &hay[s..e];
    if run.len() > 255 {
        return Verdict::Reject { resume: e };
    }
    // Group starts (offsets of a digit after a separator, plus 0) and group ends; offsets fit in a
    // byte (the regex bounds a run to 127 bytes).
    let mut starts = [0u8; 64];
    let mut ends = [0u8; 64];
    let (mut ns, mut ne) = (1usize, 0usize);
    for i in 1..run.len() {
        let sep = !run[i].is_ascii_digit();
        if sep {
            if ne < 64 {
                ends[ne] = i as u8;
                ne += 1;
            }
            if ns < 64 && i + 1 < run.len() {
                starts[ns] = (i + 1) as u8;
                ns += 1;
            }
        }
    }
    // The run's own end is a group end unless the regex stopped inside a longer digit run.
    if !matches!(boundary::after(hay, e), Some(b) if b.is_ascii_digit()) && ne < 64 {
        ends[ne] = run.len() as u8;
        ne += 1;
    }
    let mut digits = [0u8; 64];
    for &a in &starts[..ns] {
        let a = usize::from(a);
        for &b in ends[..ne].iter().rev() {
            let b = usize::from(b);
            if b <= a {
                continue;
            }
            let mut n = 0;
            for &c in &run[a..b] {
                if c.is_ascii_digit() {
                    if n == 64 {
                        break;
                    }
                    digits[n] = c;
                    n += 1;
                }
            }
            if !(12..=19).contains(&n) {
                continue;
            }
            let d = &digits[..n];
            if issuer_ok(d) && luhn::valid(d) {
                let end_ok = b < run.len() || boundary::number_ends_clean(hay, e);
                if end_ok {
                    return Verdict::Accept(s + a, s + b);
                }
            }
        }
    }
    Verdict::Reject { resume: e }
}
