//! `email`: an ASCII address `local@domain.tld` (local part up to 64, labels up to 63, an
//! alphabetic top-level domain of at least two letters).

use super::{boundary, Verdict};

pub(crate) const PATTERN: &str = r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?){1,8}";

pub(crate) fn validate(hay: &[u8], s: usize, e: usize) -> Verdict {
    let v = &hay[s..e];
    let Some(at) = memchr::memchr(b'@', v) else {
        return Verdict::Reject { resume: e };
    };
    // Trim dots the local part may not start with (a sentence like "...john@x.com").
    let mut ls = 0;
    while ls < at && v[ls] == b'.' {
        ls += 1;
    }
    let local = &v[ls..at];
    let tld = v.rsplit(|&b| b == b'.').next().unwrap_or_default();
    let ok = !local.is_empty()
        && !local.ends_with(b".")
        && tld.len() >= 2
        && tld.iter().all(u8::is_ascii_alphabetic)
        && !matches!(boundary::after(hay, e), Some(b) if b == b'@');
    if ok {
        Verdict::Accept(s + ls, e)
    } else {
        Verdict::Reject { resume: e }
    }
}
