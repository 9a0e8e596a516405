//! `iban`: an International Bank Account Number with the length its country uses and a valid
//! ISO 7064 mod-97 check, written compact or in groups separated by single spaces or dashes
//! (`DE89 3704 0044 0532 0130 00`, `AL47-2121-1009-0000-0002-3569-8741`). Upper-case only.
//!
//! # Invariants
//! - An accepted value starts at the candidate start and ends on its last alphanumeric, after
//!   exactly the country's length of letters and digits (separators not counted), never on a
//!   separator; it passes mod-97 and no word byte stands before it nor alphanumeric after it.
//! - A rejected candidate resumes one byte after its start, not at its end, so an IBAN that
//!   starts inside it (after an AWS key id, say) is still found.
//! - Around the value the validator reads at most three bytes before it (`word_before`: an escape
//!   such as `\n` is not a word) and one after it, within what the scanner keeps.

use super::{boundary, Verdict};

pub(crate) const PATTERN: &str = r"[A-Z]{2}[0-9]{2}(?:[ \-]?[A-Z0-9]){11,30}";

/// IBAN length by country (SWIFT IBAN registry).
fn country_len(cc: &[u8]) -> Option<usize> {
    const TABLE: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BI", 27),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DJ", 27),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FK", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MN", 20),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NI", 28),
        (b"NL", 18),
        (b"NO", 15),
        (b"OM", 23),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"RU", 33),
        (b"SA", 24),
        (b"SC", 31),
        (b"SD", 18),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"SO", 23),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
        (b"YE", 30),
    ];
    TABLE.iter().find(|(c, _)| c.as_slice() == cc).map(|&(_, n)| n)
}

/// ISO 7064 mod 97-10 of these characters (digits, upper-case letters as 10-35); `None` for any
/// other byte.
fn mod97(chars: impl Iterator<Item = u8>) -> Option<u32> {
    let mut r: u32 = 0;
    for c in chars {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    Some(r)
}

/// ISO 7064 mod 97-10 over the rearranged IBAN (country code and check digits moved to the end).
fn mod97_ok(alnum: &[u8]) -> bool {
    alnum.len() >= 5 && mod97(alnum[4..].iter().chain(&alnum[..4]).copied()) == Some(1)
}

/// The two check digits an IBAN (letters and digits only, upper case) must have for the rest of
/// it: 98 minus mod 97 of the BBAN, the country code and `00`.
pub(crate) fn check_digits(alnum: &[u8]) -> Option<u32> {
    if alnum.len() < 5 {
        return None;
    }
    mod97(alnum[4..].iter().chain(&alnum[..2]).chain(b"00").copied()).map(|r| 98 - r)
}

pub(crate) fn validate(hay: &[u8], s: usize, e: usize) -> Verdict {
    // An IBAN may start inside a rejected candidate (`AKIAI44QH8… CY17 0020 …`, where the
    // candidate began at `AI44`): search again from the next byte.
    let reject = Verdict::Reject { resume: s + 1 };
    if boundary::word_before(hay, s) {
        return reject;
    }
    let Some(want) = country_len(&hay[s..s + 2]) else {
        return reject;
    };
    // Take exactly `want` alphanumerics; the IBAN ends there.
    let mut alnum = [0u8; 34];
    let (mut n, mut end) = (0usize, s);
    for (i, &c) in hay[s..e].iter().enumerate() {
        if c == b' ' || c == b'-' {
            continue;
        }
        if n == want || n == alnum.len() {
            break;
        }
        alnum[n] = c;
        n += 1;
        end = s + i + 1;
    }
    if n != want || !mod97_ok(&alnum[..n]) {
        return reject;
    }
    if matches!(boundary::after(hay, end), Some(b) if b.is_ascii_alphanumeric()) {
        return reject;
    }
    Verdict::Accept(s, end)
}
