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
/// What the scanner searches for a JWT: its first 11 bytes. `JWT` itself compiles to an NFA of
/// ~1.7 MB (its repetitions are unrolled); `validate_jwt_whole` reads the rest as `JWT` would.
pub(crate) const JWT_START: &str = r"eyJ[A-Za-z0-9_\-]{8}";
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

/// What `JWT` does from `s`, where `JWT_START` matched: `Ok(end)`, the end of its match from `s`;
/// `Err(resume)`, no match from `s` nor from any start before `resume` (the search goes on there).
///
/// `JWT`'s classes exclude `.`, so each part is the whole run of base64url bytes before the next
/// `.` (within its bounds, or there is no match) and the signature the longest run up to its
/// bound. Every start inside the same first run shares that run's end and everything after it, so
/// one failure after the run rules out the whole run, and a run too long for the first part rules
/// out every start more than 1,027 bytes before its end: each byte is read a bounded number of
/// times however many `eyJ` a hostile body holds.
fn jwt_end(hay: &[u8], s: usize) -> Result<usize, usize> {
    let b64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-';
    let run = |i: usize, max: usize| {
        hay.get(i..)
            .map_or(0, |h| h.iter().take(max).take_while(|b| b64(b)).count())
    };
    let head = s + 3;
    // the end of the first run (the buffer's end if the run reaches it: later bytes only make it
    // longer, so the starts ruled out stay ruled out)
    let r = head + run(head, usize::MAX);
    if r - head > 1024 {
        return Err((s + 1).max(r - 1027));
    }
    if hay.get(r..r + 4) != Some(b".eyJ") {
        return Err(r);
    }
    let n2 = run(r + 4, 8193);
    if !(8..=8192).contains(&n2) {
        return Err(r);
    }
    let dot2 = r + 4 + n2;
    if hay.get(dot2) != Some(&b'.') {
        return Err(r);
    }
    Ok(dot2 + 1 + run(dot2 + 1, 1024))
}

/// `validate_jwt` for a `JWT_START` match: the whole token is read on from `s` as `JWT` matches
/// it, then checked as `validate_jwt` checks a `JWT` match. No token from `s`: the search goes on
/// from where the next one can start, as a search for `JWT` would.
pub(crate) fn validate_jwt_whole(hay: &[u8], s: usize, _e: usize) -> Verdict {
    match jwt_end(hay, s) {
        Ok(end) => validate_jwt(hay, s, end),
        Err(resume) => Verdict::Reject { resume },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::pattern::{regex_of, values_of};
    use proptest::prelude::*;

    thread_local! {
        static FULL: regex_automata::meta::Regex = regex_of(JWT);
        static START: regex_automata::meta::Regex = regex_of(JWT_START);
    }

    /// Pieces of hostile JWT-like text: the markers, base64url bytes, runs just under and over
    /// each part's bounds, glue, quotes, escapes and line ends.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        let runs = [7usize, 8, 9, 1019, 1020, 1021, 1024, 1025, 8184, 8188, 8189, 8192, 8193];
        prop_oneof![
            prop::sample::select(vec![
                &b"eyJ"[..],
                b".",
                b".eyJ",
                b"a",
                b"Z",
                b"0",
                b"_",
                b"-",
                b"\"",
                b" ",
                b"\n",
                b"\\n",
                b"=",
                b"eyJhbGciOiJIUzI1NiJ9",
                b"eyJzdWIiOiIxMjM0NTY3ODkwIn0",
                b"dozjgNryP4J3jVmNHl0w5N",
            ])
            .prop_map(<[u8]>::to_vec),
            prop::sample::select(runs.to_vec()).prop_map(|n| vec![b'x'; n]),
            // a whole token with parts near their bounds
            (
                prop::sample::select(runs.to_vec()),
                prop::sample::select(runs.to_vec()),
                0usize..1100
            )
                .prop_map(|(a, b, c)| [
                    &b"eyJ"[..],
                    &vec![b'h'; a],
                    b".eyJ",
                    &vec![b'p'; b],
                    b".",
                    &vec![b's'; c]
                ]
                .concat()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Searching `JWT_START` and reading on with `validate_jwt_whole` takes exactly the
        /// values that searching the whole `JWT` with `validate_jwt` takes.
        #[test]
        fn the_short_jwt_search_takes_what_the_whole_pattern_takes(
            pieces in prop::collection::vec(piece(), 0..24),
        ) {
            let hay = pieces.concat();
            let whole = values_of(&FULL.with(|r| r.clone()), validate_jwt, &hay);
            let short = values_of(&START.with(|r| r.clone()), validate_jwt_whole, &hay);
            prop_assert_eq!(short, whole);
        }
    }

    /// A body of nothing but `eyJ` (every 3 bytes a `JWT_START` match, no token anywhere) is read
    /// a bounded number of times per byte, not once per match: the validator's resume points
    /// skip every start its reading ruled out.
    #[test]
    fn eyj_spam_is_read_in_bounded_work() {
        let start = START.with(|r| r.clone());
        for hay in [
            b"eyJ".repeat(100_000),
            [&b"eyJ".repeat(1000)[..], b".eyJ", &b"eyJ".repeat(1000)].concat(),
        ] {
            let (mut pos, mut calls) = (0, 0usize);
            while let Some(m) = start.search(&regex_automata::Input::new(&hay).range(pos..)) {
                calls += 1;
                pos = match validate_jwt_whole(&hay, m.start(), m.end()) {
                    Verdict::Accept(_, e) => e,
                    Verdict::AcceptThen(_, _, r) => r,
                    Verdict::Reject { resume } => resume,
                }
                .max(m.start() + 1);
            }
            // a reading per run, not one per `eyJ` (there are over 1,000 here)
            assert!(
                (1..=8).contains(&calls),
                "{calls} validator calls for {} bytes",
                hay.len()
            );
        }
    }

    #[test]
    fn jwt_parts_at_their_bounds_are_read_as_the_whole_pattern_reads_them() {
        let (full, start) = (regex_of(JWT), regex_of(JWT_START));
        let mut taken = 0;
        for n1 in [7usize, 8, 1024, 1025] {
            for n2 in [7usize, 8, 8192, 8193] {
                for n3 in [0usize, 1, 1024, 1025] {
                    for (pre, post) in [("", ""), (" ", "\""), ("a", ""), ("", "."), ("\\n", "-")] {
                        let hay = format!(
                            "{pre}eyJ{}.eyJ{}.{}{post}",
                            "h".repeat(n1),
                            "p".repeat(n2),
                            "s".repeat(n3)
                        );
                        let whole = values_of(&full, validate_jwt, hay.as_bytes());
                        assert_eq!(
                            values_of(&start, validate_jwt_whole, hay.as_bytes()),
                            whole,
                            "{n1} {n2} {n3} {pre:?} {post:?}"
                        );
                        taken += whole.len();
                    }
                }
            }
        }
        // the cases are not all refusals
        assert!(taken > 20, "{taken}");
    }
}
