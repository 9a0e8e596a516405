//! Credentials with a recognisable shape: JSON Web Tokens and the API keys of well-known services.
//! Each token must stand alone (no letter, digit, `_` or `-` glued to it), so identifiers that
//! merely contain a prefix such as `AKIA` are left alone.
//!
//! # Invariants
//! - `validate_isolated` and `validate_jwt` accept the candidate exactly as matched, and only when
//!   nothing glues to it: no letter, digit, `_` or `-` (for a JWT also no `.`) on either side, a
//!   letter that ends an escape such as `\n` excepted.
//! - The other validators narrow, never widen: `validate_aws_secret` keeps the last 40 bytes (with
//!   upper- and lower-case letters, no base64 byte after them, no word byte before the key id);
//!   `validate_url_password` keeps the non-empty password between the userinfo's `:` and the `@`,
//!   and only when a host byte follows the `@` and no letter or digit stands before the scheme.
//! - `url_run_ok` refuses only runs without `://` and a later `@`, which every match holds.

use super::{boundary, Verdict};

pub(crate) const JWT: &str = r"eyJ[A-Za-z0-9_\-]{8,1024}\.eyJ[A-Za-z0-9_\-]{8,8192}\.[A-Za-z0-9_\-]{0,1024}";
pub(crate) const AWS_ACCESS_KEY_ID: &str =
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}";
pub(crate) const GITHUB_TOKEN: &str = r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,242}";
/// Bot, user, app-level, configuration and legacy tokens, refresh tokens (`xoxe-1-`) and rotating
/// access tokens (`xoxe.xoxp-1-`), each redacted whole.
pub(crate) const SLACK_TOKEN: &str =
    r"xox(?:[abposr]|e(?:\.xox[abposr])?)-[A-Za-z0-9\-]{10,250}|xapp-[0-9]-[A-Za-z0-9\-]{10,250}";
/// An AWS secret access key (40 base64 characters) written next to its access key id:
/// `AKIA…:secret`, `AKIA…,secret` (CSV), `AKIA… secret`. Next to its name
/// (`aws_secret_access_key=…`) the secret is found by `secret_keys`.
pub(crate) const AWS_SECRET_NEXT_TO_ID: &str =
    r#"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}["']?[ \t]{0,8}[:=,;| \t][ \t"']{0,8}[A-Za-z0-9/+]{40}"#;
/// A URL with a password in its userinfo: `scheme://user:password@host`.
pub(crate) const URL_PASSWORD: &str =
    r#"[A-Za-z][A-Za-z0-9+.\-]{1,30}://(?-u:[^\s:/?#\[\]@"'<>]){0,128}:(?-u:[^\s/?#\[\]@"'<>]){1,256}@"#;

/// Whether a run can hold a URL with a password: `://` and a later `@` (the runs are long, as the
/// userinfo class takes almost every byte, and most never hold a URL).
pub(crate) fn url_run_ok(run: &[u8]) -> bool {
    memchr::memmem::find(run, b"://").is_some_and(|i| memchr::memchr(b'@', &run[i + 3..]).is_some())
}

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
    let glued_left = boundary::before(hay, s).is_some_and(word) && !boundary::escape_before(hay, s);
    if glued_left || boundary::after(hay, e).is_some_and(word) {
        Verdict::Reject { resume: e }
    } else {
        Verdict::Accept(s, e)
    }
}

/// Narrows a key id and secret pair to the secret (the last 40 characters), which must be a whole
/// token with upper- and lower-case letters (real keys are random base64).
pub(crate) fn validate_aws_secret(hay: &[u8], s: usize, e: usize) -> Verdict {
    let reject = Verdict::Reject { resume: e };
    let a = e.saturating_sub(40);
    let secret = &hay[a..e];
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+' || b == b'=';
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if (boundary::before(hay, s).is_some_and(word) && !boundary::escape_before(hay, s))
        || boundary::after(hay, e).is_some_and(b64)
        || !secret.iter().any(u8::is_ascii_lowercase)
        || !secret.iter().any(u8::is_ascii_uppercase)
    {
        return reject;
    }
    Verdict::Accept(a, e)
}

/// Narrows `scheme://user:password@` to the password; a host must follow the `@`.
pub(crate) fn validate_url_password(hay: &[u8], s: usize, e: usize) -> Verdict {
    let reject = Verdict::Reject { resume: e };
    let Some(slashes) = memchr::memmem::find(&hay[s..e], b"://").map(|i| s + i + 3) else {
        return reject;
    };
    let Some(colon) = memchr::memchr(b':', &hay[slashes..e]).map(|i| slashes + i) else {
        return reject;
    };
    let host_ok = boundary::after(hay, e).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'[' || b >= 0x80);
    if boundary::before(hay, s).is_some_and(|b| b.is_ascii_alphanumeric()) || !host_ok || colon + 1 >= e - 1 {
        return reject;
    }
    Verdict::Accept(colon + 1, e - 1)
}
