//! `us_ssn`: `AAA-GG-SSSS` (or with spaces), excluding areas 000, 666 and 900-999, group 00 and
//! serial 0000, which the Social Security Administration never issues.
//!
//! Two numbers side by side (`219-09-9999 219-09-9999`, `…6789,4111…`) are read as two values;
//! one glued to a letter, a digit, a decimal point or a hexadecimal identifier is not an SSN.
//!
//! # Invariants
//! - The validator accepts the candidate exactly as matched (always 11 bytes, one kind of
//!   separator) or rejects it and resumes at its end; it never narrows it.
//! - It reads the candidate and only the context `boundary::glued_before`, `glued_after` and
//!   `in_uuid` read, within what the scanner keeps around a candidate.

use super::{boundary, Verdict};

pub(crate) const PATTERN: &str = r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}";

pub(crate) fn validate(hay: &[u8], s: usize, e: usize) -> Verdict {
    let v = &hay[s..e];
    let num = |r: std::ops::Range<usize>| v[r].iter().fold(0u32, |a, &b| a * 10 + u32::from(b.wrapping_sub(b'0')));
    let (area, group, serial) = (num(0..3), num(4..6), num(7..11));
    let ok = area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !boundary::glued_before(hay, s)
        && !boundary::glued_after(hay, e)
        && !boundary::in_uuid(hay, s, e);
    if ok {
        Verdict::Accept(s, e)
    } else {
        Verdict::Reject { resume: e }
    }
}
