//! Credentials with a recognisable shape: JSON Web Tokens and the API keys of well-known services.
//! Each must stand alone (no letter, digit, `_` or `-` glued to it), so identifiers that merely
//! contain a prefix such as `AKIA` are left alone.

use super::{boundary, Verdict};

pub(crate) const JWT: &str = r"eyJ[A-Za-z0-9_\-]{8,1024}\.eyJ[A-Za-z0-9_\-]{8,8192}\.[A-Za-z0-9_\-]{0,1024}";
pub(crate) const AWS_ACCESS_KEY_ID: &str =
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}";
pub(crate) const GITHUB_TOKEN: &str = r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,242}";
pub(crate) const SLACK_TOKEN: &str = r"xox[abposr]-[A-Za-z0-9\-]{10,250}|xapp-[0-9]-[A-Za-z0-9\-]{10,250}";
pub(crate) const STRIPE_KEY: &str = r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,247}|whsec_[A-Za-z0-9]{24,64}";
pub(crate) const GOOGLE_API_KEY: &str = r"AIza[0-9A-Za-z_\-]{35}";

/// Shared validator: the token must not be glued to other word characters.
pub(crate) fn validate_isolated(hay: &[u8], s: usize, e: usize) -> Verdict {
    if boundary::token_isolated(hay, s, e) {
        Verdict::Accept(s, e)
    } else {
        Verdict::Reject { resume: e }
    }
}

/// JWTs end with `.` plus an optional signature; a dot right after means it is something else.
pub(crate) fn validate_jwt(hay: &[u8], s: usize, e: usize) -> Verdict {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.';
    if boundary::before(hay, s).is_some_and(word) || boundary::after(hay, e).is_some_and(word) {
        Verdict::Reject { resume: e }
    } else {
        Verdict::Accept(s, e)
    }
}
