//! `us_ssn`: `AAA-GG-SSSS` (or with spaces), excluding areas 000, 666 and 900-999, group 00 and
//! serial 0000, which the Social Security Administration never issues.

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
        && boundary::number_starts_clean(hay, s)
        && boundary::number_ends_clean(hay, e)
        && !matches!((boundary::after(hay, e), boundary::after(hay, e + 1)),
            (Some(b'-' | b' '), Some(d)) if d.is_ascii_digit());
    if ok {
        Verdict::Accept(s, e)
    } else {
        Verdict::Reject { resume: e }
    }
}
