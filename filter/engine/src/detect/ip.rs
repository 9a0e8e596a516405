//! `ipv4` and `ipv6` addresses. IPv4 needs four octets of at most 255 without leading zeros and
//! nothing dotted or alphanumeric glued on either side (`v1.2.3.4` and `1.2.3.4.5` are versions).
//!
//! IPv6 is whatever the standard library parses, with at least two groups (an embedded IPv4
//! address counts as two; two hexadecimal groups need at least six characters, so `1::2` is not
//! found), in any of the RFC 4291 / RFC 5952 text forms. The regex finds a run of
//! colon-separated hexadecimal groups; every reading of it that starts and ends on a group
//! boundary is tried, leftmost then longest, so an address written next to a colon-separated
//! token (`AKIA…:2001:db8::1`, `2001:db8:::next`) is still found. Not found: `::1` and `::`
//! (loopback and unspecified: they identify nobody, and `::1` shapes are common in code), zone
//! suffixes (`%eth0`) are left as they are.
//!
//! # Invariants
//! - An IPv4 value is the whole candidate; an IPv6 value is a reading inside the candidate that
//!   `Ipv6Addr` parses, at most `V6_MAX` (45) bytes, with no letter, digit, `_` or non-ASCII byte
//!   next to it, no `.` before it and no `.` and digit after it (a `:` is allowed, but not `::`
//!   right before it).
//! - When the IPv6 regex stopped at its group bound with a `:` right after it, no reading that
//!   could run past the candidate is decided: the search resumes where such readings start.
//! - `v6_run_ok` refuses only runs without `::` and with fewer than six colons, which hold no
//!   address `v6_ok` accepts.

use super::{boundary, Verdict};
use std::net::Ipv6Addr;
use std::str::FromStr;

pub(crate) const V4_PATTERN: &str = r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}";
pub(crate) const V6_PATTERN: &str = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,15}(?:\.[0-9]{1,3}){0,3}";

/// The longest IPv6 text form (`ffff:…:255.255.255.255`).
const V6_MAX: usize = 45;

fn octets_ok(v: &[u8]) -> bool {
    v.split(|&b| b == b'.').all(|o| {
        !o.is_empty()
            && o.len() <= 3
            && !(o.len() > 1 && o[0] == b'0')
            && o.iter().fold(0u32, |a, &b| a * 10 + u32::from(b - b'0')) <= 255
    })
}

pub(crate) fn validate_v4(hay: &[u8], s: usize, e: usize) -> Verdict {
    let reject = Verdict::Reject { resume: e };
    let glued_before = matches!(boundary::before(hay, s), Some(b) if b.is_ascii_alphanumeric() || b == b'.');
    let glued_after = match boundary::after(hay, e) {
        Some(b) if b.is_ascii_alphanumeric() => true,
        Some(b'.') => matches!(boundary::after(hay, e + 1), Some(d) if d.is_ascii_alphanumeric()),
        _ => false,
    };
    if glued_before || glued_after || !octets_ok(&hay[s..e]) {
        return reject;
    }
    Verdict::Accept(s, e)
}

/// Whether `t` is an address worth masking: it parses, and has at least two groups.
fn v6_ok(t: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(t) else {
        return false;
    };
    let groups: usize = text
        .split(':')
        .filter(|g| !g.is_empty())
        .map(|g| if g.contains('.') { 2 } else { 1 })
        .sum();
    groups >= 2 && !(groups < 3 && text.len() < 6 && !text.contains('.')) && Ipv6Addr::from_str(text).is_ok()
}

/// Whether a run of the regex's bytes can hold an address: every text form has `::` or at least
/// six colons (seven groups and a dotted IPv4 tail, or eight groups). Times (`12:00:00`) have neither.
pub(crate) fn v6_run_ok(run: &[u8]) -> bool {
    let mut colons = 0;
    let mut prev = 0u8;
    for &b in run {
        if b == b':' {
            if prev == b':' {
                return true;
            }
            colons += 1;
        }
        prev = b;
    }
    colons >= 6
}

pub(crate) fn validate_v6(hay: &[u8], s: usize, e: usize) -> Verdict {
    // reading starts: the candidate start and every position after a colon; ends: the candidate
    // end and every colon (an address may end in `::`, so also after a `::`)
    let v = &hay[s..e];
    let starts = std::iter::once(s).chain((s..e).filter(|&i| hay[i] == b':').map(|i| i + 1));
    // the regex stopped at its group bound while more groups follow: readings from the last
    // `V6_MAX` bytes may run past the candidate
    let cut = boundary::after(hay, e) == Some(b':');
    for a in starts {
        if cut && a + V6_MAX > e {
            // readings from here may run past the candidate: search again from here
            return Verdict::Reject { resume: a.max(s + 1) };
        }
        if a >= e {
            break;
        }
        let before_ok = match boundary::before(hay, a) {
            // after `::` the reading would cut an address whose groups the `::` stands for
            Some(b':') => a < 2 || hay[a - 2] != b':',
            None => true,
            Some(_) if boundary::escape_before(hay, a) => true,
            Some(b) => !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b >= 0x80),
        };
        if !before_ok {
            continue;
        }
        let ends = (a + 1..=e)
            .rev()
            .filter(|&b| b == e || hay[b] == b':' || (b >= a + 2 && &hay[b - 2..b] == b"::" && b < e));
        for b in ends {
            if b - a > V6_MAX {
                continue;
            }
            let after_ok = match boundary::after(hay, b) {
                None | Some(b':') => true,
                Some(x) => {
                    !(x.is_ascii_alphanumeric()
                        || x == b'_'
                        || x >= 0x80
                        || (x == b'.' && matches!(boundary::after(hay, b + 1), Some(d) if d.is_ascii_digit())))
                }
            };
            if after_ok && v6_ok(&hay[a..b]) {
                return Verdict::Accept(a, b);
            }
        }
    }
    let _ = v;
    Verdict::Reject { resume: e }
}
