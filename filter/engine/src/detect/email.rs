//! `email`: an address `local@domain.tld`.
//!
//! - Local part: up to 64 letters, digits and `.` `_` `%` `+` `-`; letters may be any Unicode
//!   letters (RFC 6531 internationalised addresses: `用户@例子.广告`). Quoted local parts
//!   (`"john doe"@example.com`) are not found.
//! - Domain: up to nine labels of letters, digits and inner `-`, Unicode letters included
//!   (`jane@exämple.de`), ending in a top-level domain of at least two letters or an A-label
//!   (`xn--p1ai`). Dotless domains (`user@localhost`) and IP-literal domains are not found.
//! - Not an email: the `user:password@host` part of a URL (`postgres://admin:S3cret@db.example.com`),
//!   where `url_password` finds the password and the host stays readable.
//!
//! # Invariants
//! - An accepted value lies inside the candidate and ends where it ends: its start only moves
//!   forward (to a UTF-8 character boundary, past leading dots), and it is valid UTF-8 whose
//!   non-ASCII characters are all letters or digits.
//! - The validator looks back at most `boundary::LOOK_BEHIND` bytes (for a URL's `://`) and one
//!   byte ahead (a following `@` refuses the value), within what the scanner keeps.
//! - The top-level domain is at least two letters of any script, or an `xn--` A-label.

use super::{boundary, Verdict};

/// Bytes, not characters: a non-ASCII byte stands for part of a letter (the validator checks the
/// value is UTF-8 and its non-ASCII characters are letters or digits). Local part up to 64 bytes,
/// labels up to 63 (the DNS limit).
pub(crate) const PATTERN: &str = r"(?-u)[A-Za-z0-9._%+\-\x80-\xFF]{1,64}@[A-Za-z0-9\x80-\xFF](?:[A-Za-z0-9\-\x80-\xFF]{0,61}[A-Za-z0-9\x80-\xFF])?(?:\.[A-Za-z0-9\x80-\xFF](?:[A-Za-z0-9\-\x80-\xFF]{0,61}[A-Za-z0-9\x80-\xFF])?){1,8}";

/// A top-level domain: letters only (any script), or an A-label `xn--` followed by letters,
/// digits and dashes.
fn tld_ok(tld: &[u8]) -> bool {
    if tld.len() >= 5 && tld[..4].eq_ignore_ascii_case(b"xn--") {
        return tld[4..].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-');
    }
    match std::str::from_utf8(tld) {
        Ok(t) => t.chars().count() >= 2 && t.chars().all(char::is_alphabetic),
        Err(_) => false,
    }
}

/// Whether the local part starting at `s` is the password of a URL's userinfo
/// (`scheme://user:password@host`): a `:` right before it and `://` before that, with no
/// whitespace, `/` or `@` in between.
fn url_userinfo(hay: &[u8], s: usize) -> bool {
    if boundary::before(hay, s) != Some(b':') {
        return false;
    }
    let lo = s.saturating_sub(boundary::LOOK_BEHIND);
    let mut i = s - 1;
    while i > lo {
        match hay[i - 1] {
            b'/' => return i >= 3 && &hay[i - 3..i] == b"://",
            b'@' | b'"' | b'\'' | b'<' | b'>' => return false,
            b if b.is_ascii_whitespace() => return false,
            _ => i -= 1,
        }
    }
    false
}

pub(crate) fn validate(hay: &[u8], s: usize, e: usize) -> Verdict {
    // a local part longer than 64 bytes of non-ASCII text: start at a character boundary
    let mut s = s;
    while s < e && hay[s] & 0xC0 == 0x80 {
        s += 1;
    }
    let v = &hay[s..e];
    let Ok(text) = std::str::from_utf8(v) else {
        return Verdict::Reject { resume: e };
    };
    if !text.chars().all(|c| c.is_ascii() || c.is_alphanumeric()) {
        return Verdict::Reject { resume: e };
    }
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
        && tld_ok(tld)
        && !matches!(boundary::after(hay, e), Some(b'@'))
        && !url_userinfo(hay, s + ls);
    if ok {
        Verdict::Accept(s + ls, e)
    } else {
        Verdict::Reject { resume: e }
    }
}
