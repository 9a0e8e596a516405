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
//! next blank or `&`, `;`, `,`, quote, `<`, `>`, `}`, `]` or `)`; unquoted after `key:` or a
//! spaced `key = `, up to the end of the line or the next `,`, `;`, `}`, `]`, quote, `<` or `>`
//! (so `Authorization: Bearer abc` loses `Bearer abc`, and `password = my secret phrase` loses the
//! whole phrase). The value is masked while it streams, whatever its length, with
//! `Action::apply_streaming`: `compile` does not refuse an action that does not stream here (as
//! it does for private keys), so in text `mask` ignores `keep_last` and `tokenize` writes
//! `[REDACTED]` (JSON, form, multipart and query values are captured whole, up to
//! `max_field_value_bytes` for bodies, and get the action as written).
//!
//! # Invariants
//! - Key matching is by suffix of the normalised key (ASCII lower case, `_`, `-`, `.` and spaces
//!   dropped); `KeyTerms::matches` refuses a key of more than `MAX_KEY` (128) normalised bytes,
//!   and a term that normalises to nothing is dropped.
//! - `KeyTerms::ends_at` and `KeyTerms::matches` compare the key in place (no copy): `pairs`
//!   only ever refuses keys no term can match, so the lookup is a shortcut, not a filter.
//! - In text, `validate_value` narrows a match to the value's first byte and `ValueEnd` finds
//!   its end from the bytes alone (carrying only a pending backslash between calls), so the value
//!   is masked as it streams, never held back, and the byte that ends it is kept.

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

/// A set of key terms, searched from the end of a key: a key matches when its normalised form
/// ends with a term's. Terms are kept reversed and sorted, so only the terms that end with the
/// key's last letter are compared, each from the end without normalising the key first.
#[derive(Debug, Clone)]
pub(crate) struct KeyTerms {
    rev: Vec<Vec<u8>>,
    /// `rev[start[b]..start[b + 1]]` are the terms that end with byte `b`.
    start: Box<[u16; 257]>,
    /// The last two bytes of the terms: most keys are refused by one lookup.
    pairs: Pairs,
}

/// The last two bytes of a set of normalised names: bit `last * 256 + second_last` is set when a
/// name ends with those two bytes, or is the one byte `last` (then every bit of `last` is set).
/// A key whose last two letters (lower case, separators skipped, as [`KeyTerms::ends_at`] reads
/// them) have no bit can end with none of the names, and so cannot equal one either.
#[derive(Debug, Clone)]
pub(crate) struct Pairs {
    bits: Box<[u64; 1024]>,
    /// A name with no letters was added: every key may match.
    all: bool,
}

impl Default for Pairs {
    fn default() -> Pairs {
        Pairs {
            bits: Box::new([0; 1024]),
            all: false,
        }
    }
}

impl Pairs {
    /// Adds a name, as written (it is normalised here; one too long to normalise lets every key
    /// through).
    pub(crate) fn add(&mut self, name: &[u8]) {
        let mut buf = [0u8; MAX_KEY];
        let Some(n) = normalize(name, &mut buf) else {
            self.all = true;
            return;
        };
        let Some(&last) = n.last() else {
            self.all = true;
            return;
        };
        let hi = usize::from(last) * 256;
        match n.len().checked_sub(2).and_then(|k| n.get(k)) {
            Some(&b) => self.bits[(hi + usize::from(b)) / 64] |= 1 << ((hi + usize::from(b)) % 64),
            None => self.bits[hi / 64..(hi + 256) / 64].fill(u64::MAX),
        }
    }

    /// Whether the key `key` (as written) may name one of the names: [`may_end`](Self::may_end)
    /// at its end once trailing separators are dropped. A key whose last two bytes are no
    /// separators (most keys) costs one lookup.
    #[inline]
    pub(crate) fn may_name(&self, key: &[u8]) -> bool {
        if let [.., a, b] = *key {
            if !is_sep(a) && !is_sep(b) {
                let bit = usize::from(b.to_ascii_lowercase()) * 256 + usize::from(a.to_ascii_lowercase());
                return self.all || self.bits[bit / 64] & (1 << (bit % 64)) != 0;
            }
        }
        self.may_end(key, trimmed_end(key))
    }

    /// Whether `buf[..i]` may end with one of the names (see [`Pairs`]).
    #[inline]
    pub(crate) fn may_end(&self, buf: &[u8], i: usize) -> bool {
        if self.all {
            return true;
        }
        let Some(&last) = i.checked_sub(1).and_then(|j| buf.get(j)) else {
            return false;
        };
        let b = usize::from(last.to_ascii_lowercase());
        let mut j = i - 1;
        while j > 0 && is_sep(buf[j - 1]) {
            j -= 1;
        }
        let b2 = j.checked_sub(1).map_or(0, |k| usize::from(buf[k].to_ascii_lowercase()));
        let bit = b * 256 + b2;
        self.bits[bit / 64] & (1 << (bit % 64)) != 0
    }
}

/// A separator inside a key name (dropped when names are compared).
#[inline]
fn is_sep(b: u8) -> bool {
    SEP[usize::from(b)]
}

/// `is_sep` as a table: one load instead of four compares (it runs for every JSON key).
static SEP: [bool; 256] = {
    let mut t = [false; 256];
    t[b'_' as usize] = true;
    t[b'-' as usize] = true;
    t[b'.' as usize] = true;
    t[b' ' as usize] = true;
    t
};

/// Where `key` ends once trailing separators are dropped.
#[inline]
pub(crate) fn trimmed_end(key: &[u8]) -> usize {
    key.iter().rposition(|&b| !is_sep(b)).map_or(0, |p| p + 1)
}

impl Default for KeyTerms {
    fn default() -> KeyTerms {
        KeyTerms::new(&[])
    }
}

impl KeyTerms {
    /// The set of these normalised terms (empty ones are dropped).
    pub(crate) fn new(terms: &[Vec<u8>]) -> KeyTerms {
        let mut rev: Vec<Vec<u8>> = terms
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| t.iter().rev().copied().collect())
            .collect();
        rev.sort();
        rev.dedup();
        let mut start = Box::new([0u16; 257]);
        for (b, slot) in start.iter_mut().enumerate() {
            let n = rev.partition_point(|t| usize::from(t[0]) < b);
            *slot = u16::try_from(n).unwrap_or(u16::MAX);
        }
        let mut pairs = Pairs::default();
        for t in terms {
            if !t.is_empty() {
                pairs.add(t);
            }
        }
        KeyTerms { rev, start, pairs }
    }

    /// Whether `key` names a secret: its normalised form ends with one of the terms.
    pub(crate) fn matches(&self, key: &[u8]) -> bool {
        if key.len() > MAX_KEY && key.iter().filter(|&&b| !is_sep(b)).count() > MAX_KEY {
            return false;
        }
        self.ends_at(key, trimmed_end(key))
    }

    /// Whether `buf[..i]` ends with a term: its last byte is a letter or digit and, comparing in
    /// lower case and skipping `_`, `-`, `.` and spaces, the bytes before spell a term.
    pub(crate) fn ends_at(&self, buf: &[u8], i: usize) -> bool {
        let Some(&last) = i.checked_sub(1).and_then(|j| buf.get(j)) else {
            return false;
        };
        if !self.pairs.may_end(buf, i) {
            return false;
        }
        let b = usize::from(last.to_ascii_lowercase());
        let (lo, hi) = (usize::from(self.start[b]), usize::from(self.start[b + 1]));
        self.rev
            .get(lo..hi)
            .is_some_and(|terms| terms.iter().any(|t| ends_with_reversed(buf, i, t)))
    }
}

/// Whether `buf[..i]` ends with the term whose bytes, reversed, are `rt`.
fn ends_with_reversed(buf: &[u8], mut i: usize, rt: &[u8]) -> bool {
    for &c in rt {
        loop {
            let Some(j) = i.checked_sub(1) else {
                return false;
            };
            let b = buf[j];
            i = j;
            if b.to_ascii_lowercase() == c {
                break;
            }
            if !matches!(b, b'_' | b'-' | b'.' | b' ') {
                return false;
            }
        }
    }
    true
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

/// The regex that finds where a secret value starts in text: a key ending with one of these
/// terms (written with `_`, `-`, `.`, a space or nothing between its words, in any case), an
/// optional quote, `=` or `:` (with blanks around it), an optional opening quote, and the first
/// byte of the value. The value itself is masked as it streams (see [`ValueEnd`]): it has no
/// length limit and is never held back.
///
/// Also returns the longest key term a match can hold, in bytes.
pub(crate) fn text_pattern<'a>(terms: impl Iterator<Item = &'a str>) -> (String, usize) {
    let mut longest = 0;
    let mut alts: Vec<String> = terms
        .map(|t| {
            let w = words(t);
            // the words and a separator between each two
            longest = longest.max(w.iter().map(String::len).sum::<usize>() + w.len().saturating_sub(1));
            w.iter()
                .map(|w| regex_syntax::escape(w))
                .collect::<Vec<_>>()
                .join(r"[_\-. ]?")
        })
        .filter(|a| !a.is_empty())
        .collect();
    alts.sort();
    alts.dedup();
    let pattern = format!(
        r#"(?i-u)(?:{})["']?(?:=(?:"[^"\r\n]|'[^'\r\n]|[^\s&;,"'<>}}\])])|[ \t]{{0,16}}[:=][ \t]{{0,16}}(?:"[^"\r\n]|'[^'\r\n]|[^\s,;}}\]"'<>]))"#,
        alts.join("|")
    );
    (pattern, longest)
}

/// Narrows a `key: v` match to the first byte of the value, where masking starts.
pub(crate) fn validate_value(_hay: &[u8], s: usize, e: usize) -> Verdict {
    if e > s {
        Verdict::Accept(e - 1, e)
    } else {
        Verdict::Reject { resume: e }
    }
}

/// Where a secret value in text ends (the byte that ends it stays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueEnd {
    /// At the closing quote (a backslash escapes it), or at the end of the line.
    Quote(u8),
    /// After `key=`: at a blank, `&`, `;`, `,`, a quote, `<`, `>`, `}`, `]` or `)`.
    Tight,
    /// After `key:` or `key = `: at the end of the line, `,`, `;`, `}`, `]`, a quote, `<` or `>`.
    Loose,
}

impl ValueEnd {
    /// How the value whose first byte is at `v` ends, from what stands before it.
    pub(crate) fn of(hay: &[u8], v: usize) -> ValueEnd {
        match v.checked_sub(1).map(|i| hay[i]) {
            Some(q @ (b'"' | b'\'')) => ValueEnd::Quote(q),
            Some(b'=') if !matches!(v.checked_sub(2).map(|i| hay[i]), Some(b' ' | b'\t')) => ValueEnd::Tight,
            _ => ValueEnd::Loose,
        }
    }

    /// The first byte of `bytes` that ends the value; `escaped` carries a pending backslash
    /// across calls (quoted values).
    pub(crate) fn find(self, bytes: &[u8], escaped: &mut bool) -> Option<usize> {
        match self {
            ValueEnd::Quote(q) => {
                for (i, &b) in bytes.iter().enumerate() {
                    if *escaped {
                        *escaped = false;
                    } else if b == b'\\' {
                        *escaped = true;
                    } else if b == q || b == b'\n' || b == b'\r' {
                        return Some(i);
                    }
                }
                None
            }
            ValueEnd::Tight => bytes.iter().position(|&b| {
                b.is_ascii_whitespace()
                    || matches!(b, b'&' | b';' | b',' | b'"' | b'\'' | b'<' | b'>' | b'}' | b']' | b')')
            }),
            ValueEnd::Loose => bytes.iter().position(|&b| {
                matches!(
                    b,
                    b'\r' | b'\n' | b',' | b';' | b'}' | b']' | b'"' | b'\'' | b'<' | b'>'
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The two-letter filter never refuses a key that equals one of its names or ends with
        /// one of its terms (so the shortcut in `field_for_name` changes no answer).
        #[test]
        fn pairs_never_refuse_a_key_that_matches(
            names in proptest::collection::vec("[a-zA-Z0-9_. -]{0,12}", 1..6),
            keys in proptest::collection::vec("[a-zA-Z0-9_. -]{0,16}", 1..20),
        ) {
            let mut pairs = Pairs::default();
            names.iter().for_each(|n| pairs.add(n.as_bytes()));
            let terms = KeyTerms::new(&names.iter().map(|n| normalized_term(n)).collect::<Vec<_>>());
            // keys built from the names too: equal, with a prefix, with separators after
            let derived = names.iter().flat_map(|n| [n.clone(), format!("x_{n}"), format!("{n}__"), n.to_uppercase()]);
            for k in keys.iter().cloned().chain(derived) {
                let k = k.as_bytes();
                // the one-lookup path answers what the general one does, for every key
                prop_assert_eq!(pairs.may_name(k), pairs.may_end(k, trimmed_end(k)), "{:?}", String::from_utf8_lossy(k));
                if names.iter().any(|n| n.as_bytes() == k) || terms.matches(k) {
                    prop_assert!(pairs.may_end(k, trimmed_end(k)), "refused {:?}", String::from_utf8_lossy(k));
                }
            }
        }
    }

    fn terms() -> KeyTerms {
        KeyTerms::new(&SECRET_KEYS.iter().map(|t| normalized_term(t)).collect::<Vec<_>>())
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
            assert!(t.matches(k.as_bytes()), "{k}");
        }
        for k in ["password_", "pass-word", "API KEY", "cvv2"] {
            assert!(t.matches(k.as_bytes()), "{k}");
        }
        for k in [
            "password_hint",
            "passwords",
            "user",
            "tokens",
            "secretary",
            "",
            "_",
            "2",
        ] {
            assert!(!t.matches(k.as_bytes()), "{k}");
        }
    }
}
