//! `phone_number`: international numbers written with `+` (E.164, optionally grouped) and common
//! national forms that use parentheses or separators (`(415) 555-2671`, `415-555-2671`,
//! `020 7946 0958`, `06 12 34 56 78`). A bare run of digits (an order number, a millisecond
//! timestamp) is never a phone number, and neither is a dotted quad that is an IPv4 address or a
//! dashed `AAA-GG-SSSS` (an SSN shape).

use super::{boundary, Verdict};

pub(crate) const PATTERN: &str = concat!(
    r"\+[1-9][0-9]{0,3}(?:[ .\-]?\(?[0-9]{1,5}\)?){1,6}",
    r"|\([0-9]{2,5}\)[ .\-]?[0-9]{2,4}(?:[ .\-]?[0-9]{2,5}){1,3}",
    r"|[0-9]{2,5}[ .\-][0-9]{2,4}[ .\-][0-9]{3,5}(?:[ .\-][0-9]{2,4})?",
    r"|0[0-9](?:[ .\-][0-9]{2}){4}"
);

pub(crate) fn validate(hay: &[u8], s: usize, e: usize) -> Verdict {
    let reject = Verdict::Reject { resume: e };
    let v = &hay[s..e];
    let digits = v.iter().filter(|b| b.is_ascii_digit()).count();
    let opens = v.iter().filter(|&&b| b == b'(').count();
    let closes = v.iter().filter(|&&b| b == b')').count();
    if !(7..=15).contains(&digits) || opens != closes || opens > 1 {
        return reject;
    }
    // A phone number never ends in a separator or opening parenthesis.
    if !v.last().is_some_and(u8::is_ascii_digit) {
        return reject;
    }
    if v[0] != b'+' && v[0] != b'(' {
        let seps = v.len() - digits;
        let dots = v.iter().filter(|&&b| b == b'.').count();
        // dotted quads are addresses or versions, AAA-GG-SSSS is an SSN shape
        if seps == 3 && dots == 3 {
            return reject;
        }
        if v.len() == 11 && v[3] == b'-' && v[6] == b'-' {
            return reject;
        }
        // dates such as 2024-11-30 or 30.11.2024 have two separators and eight digits
        if seps == 2 && digits == 8 {
            return reject;
        }
    }
    let start_ok = if v[0] == b'+' || v[0] == b'(' {
        !matches!(boundary::before(hay, s), Some(b) if b.is_ascii_alphanumeric())
    } else {
        boundary::number_starts_clean(hay, s)
    };
    if !start_ok || !boundary::number_ends_clean(hay, e) {
        return reject;
    }
    if matches!((boundary::after(hay, e), boundary::after(hay, e + 1)), (Some(b'-' | b'.'), Some(d)) if d.is_ascii_digit())
    {
        return reject;
    }
    Verdict::Accept(s, e)
}
