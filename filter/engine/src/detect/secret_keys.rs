//! Secrets by name: the values stored under keys that hold credentials (`password`,
//! `client_secret`, `api_key`, `Authorization`, ...), whatever the value looks like.
//!
//! A key matches when, after lower-casing and dropping `_`, `-`, `.` and spaces, it *ends with*
//! one of [`SECRET_KEYS`] (so `DB_PASSWORD`, `clientSecret`, `x-api-key` and `new_password` all
//! match, and `password_hint` or `passwords` do not). The policy's `secret_keys.extra` adds terms;
//! `secret_keys.enabled: false` turns the whole rule off.
//!
//! Where it applies: JSON object keys (JSON, NDJSON, SSE `data:` payloads: the whole value is
//! redacted, booleans and `null` stay), `key: value`, `key = value` and `key=value` text (YAML,
//! INI, logs, `.env` files, query strings inside bodies, JSON that fell back to text), form fields
//! and query parameters of the request (when the policy has a `query` rule).
//!
//! In text the value is, when quoted, what is inside the quotes; unquoted after `key=`, up to the
//! next space or `&`, `;`, `,`; unquoted after `key:` or a spaced `key = `, up to the end of the
//! line or the next `,`, `;`, `}`, `]`, quote or `<` (so `Authorization: Bearer abc` loses
//! `Bearer abc`, and `password = my secret phrase` loses the whole phrase).

use super::Verdict;

/// The built-in terms, as they are usually written. A key matches when its normalised form ends
/// with the normalised form of one of these.
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "api_secret",
    "app_secret",
    "secret_key",
    "private_key",
    "access_token",
    "refresh_token",
    "id_token",
    "auth_token",
    "session_token",
    "bearer_token",
    "api_token",
    "access_key_secret",
    "aws_secret_access_key",
    "secret_access_key",
    "aws_session_token",
    "authorization",
    "proxy_authorization",
    "client_assertion",
    "cvv",
    "cvv2",
    "cvc",
    "cvc2",
    "card_security_code",
];

/// Keys longer than this (normalised) never match.
const MAX_KEY: usize = 128;

/// Lower-cases `key` and drops `_`, `-`, `.` and spaces into `out`; `None` if it is too long.
pub(crate) fn normalize<'a>(key: &[u8], out: &'a mut [u8; MAX_KEY]) -> Option<&'a [u8]> {
    let mut n = 0;
    for &b in key {
        if matches!(b, b'_' | b'-' | b'.' | b' ') {
            continue;
        }
        if n == MAX_KEY {
            return None;
        }
        out[n] = b.to_ascii_lowercase();
        n += 1;
    }
    Some(&out[..n])
}

/// The normalised form of a term.
pub(crate) fn normalized_term(term: &str) -> Vec<u8> {
    let mut buf = [0u8; MAX_KEY];
    normalize(term.as_bytes(), &mut buf)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// Whether `key` names a secret: its normalised form ends with one of `terms` (normalised).
pub(crate) fn matches(key: &[u8], terms: &[Vec<u8>]) -> bool {
    let mut buf = [0u8; MAX_KEY];
    let Some(k) = normalize(key, &mut buf) else {
        return false;
    };
    terms.iter().any(|t| !t.is_empty() && k.ends_with(t))
}

/// The words of a term as it is written: split at `_`, `-`, `.`, spaces and lower-to-upper case
/// changes (`client_secret`, `clientSecret` and `client-secret` are `client` + `secret`).
fn words(term: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in term.chars() {
        if matches!(c, '_' | '-' | '.' | ' ') {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The regex that finds `key: value` / `key=value` text for these terms (as written: words may
/// be joined by `_`, `-`, `.`, a space or nothing, in any case).
pub(crate) fn text_pattern<'a>(terms: impl Iterator<Item = &'a str>) -> String {
    let mut alts: Vec<String> = terms
        .map(|t| {
            words(t)
                .iter()
                .map(|w| regex_syntax::escape(w))
                .collect::<Vec<_>>()
                .join(r"[_\-. ]?")
        })
        .filter(|a| !a.is_empty())
        .collect();
    alts.sort();
    alts.dedup();
    let quoted = r#""(?:[^"\\\r\n]|\\[^\r\n]){1,1024}"|'[^'\r\n]{1,1024}'"#;
    let tight = r#"[^\s&;,"'<>}\])]{1,1024}"#;
    let loose = r#"[^\r\n,;}\]"'<>]{1,1024}"#;
    format!(
        r#"(?i-u)(?:{})["']?(?:=(?:{quoted}|{tight})|[ \t]{{0,16}}[:=][ \t]{{0,16}}(?:{quoted}|{loose}))"#,
        alts.join("|")
    )
}

/// Narrows a `key: value` match to the value: inside its quotes when quoted, without trailing
/// blanks otherwise.
pub(crate) fn validate_value(hay: &[u8], s: usize, e: usize) -> Verdict {
    let reject = Verdict::Reject { resume: e };
    let Some(sep) = hay[s..e].iter().position(|&b| b == b':' || b == b'=').map(|i| s + i) else {
        return reject;
    };
    let mut v = sep + 1;
    while v < e && matches!(hay[v], b' ' | b'\t') {
        v += 1;
    }
    if v >= e {
        return reject;
    }
    let (a, mut b) = if matches!(hay[v], b'"' | b'\'') && e >= v + 2 && hay[e - 1] == hay[v] {
        (v + 1, e - 1)
    } else {
        (v, e)
    };
    while b > a && matches!(hay[b - 1], b' ' | b'\t') {
        b -= 1;
    }
    if b > a {
        Verdict::Accept(a, b)
    } else {
        reject
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> Vec<Vec<u8>> {
        SECRET_KEYS.iter().map(|t| normalized_term(t)).collect()
    }

    #[test]
    fn keys_match_by_suffix_in_any_case_and_spelling() {
        let t = terms();
        for k in [
            "password",
            "DB_PASSWORD",
            "clientSecret",
            "x-api-key",
            "new_password",
            "Authorization",
            "SecretAccessKey",
        ] {
            assert!(matches(k.as_bytes(), &t), "{k}");
        }
        for k in ["password_hint", "passwords", "user", "tokens", "secretary"] {
            assert!(!matches(k.as_bytes(), &t), "{k}");
        }
    }
}
