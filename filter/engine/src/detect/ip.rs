//! `ipv4` and `ipv6` addresses. IPv4 needs four octets of at most 255 without leading zeros and
//! nothing dotted or alphanumeric glued on either side (`v1.2.3.4` and `1.2.3.4.5` are versions);
//! IPv6 is whatever the standard library parses, with at least two groups.

use super::{boundary, Verdict};
use std::net::Ipv6Addr;
use std::str::FromStr;

pub(crate) const V4_PATTERN: &str = r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}";
pub(crate) const V6_PATTERN: &str = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}";

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

pub(crate) fn validate_v6(hay: &[u8], s: usize, e: usize) -> Verdict {
    let reject = Verdict::Reject { resume: e };
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b':' || b == b'.' || b == b'_';
    if boundary::before(hay, s).is_some_and(word)
        || boundary::after(hay, e).is_some_and(|b| b.is_ascii_alphanumeric() || b == b':')
    {
        return reject;
    }
    let v = &hay[s..e];
    let Ok(text) = std::str::from_utf8(v) else {
        return reject;
    };
    let groups = text.split(':').filter(|g| !g.is_empty()).count();
    if groups < 2 || (groups < 3 && text.len() < 6) || Ipv6Addr::from_str(text).is_err() {
        return reject;
    }
    Verdict::Accept(s, e)
}
