//! Context checks shared by detectors: what may stand right before and after a value.
//!
//! The regex crate has no look-around, so detectors check their neighbours here.
//!
//! # Invariants (what keeps the scanner chunk-invariant)
//! - A validator looks at most [`LOOK_BEHIND`] bytes before a candidate and at most
//!   [`LOOK_AHEAD`] bytes after it, and never past a newline after it. The scanner keeps that much
//!   context before every candidate and decides a candidate only when that much follows it (or a
//!   newline, or the end of the value), so a validator sees the same bytes however the body was cut.
//! - A missing byte (`None`) means the value ends there: the end of the body, of a JSON string,
//!   or the start of a value whose context was not kept.
//!
//! # What "glued" means
//! A value is glued to its neighbour when the two read as one token: a letter, digit or `_`
//! touching it (`v4111…`, `4111…b`, `id_123-45-6789`), a decimal point between digits
//! (`0.4111…`), or a `-`/`.`/`_` joining it to a hexadecimal token that holds letters and digits
//! (the groups of a UUID or a hash: `67cb419c-8609-4837-9241-c661a547cbdf`). Anything else (spaces,
//! commas, colons, slashes, a `-` after a word without digits) separates two values, so two values
//! written side by side are both found.

/// How far back a validator may look (the scanner keeps at least this much context).
pub(crate) const LOOK_BEHIND: usize = 128;
/// How far ahead a validator may look (the scanner waits for this much, a newline, or the end).
pub(crate) const LOOK_AHEAD: usize = 40;

/// The byte before `s`, if any.
#[inline]
pub(crate) fn before(hay: &[u8], s: usize) -> Option<u8> {
    s.checked_sub(1).and_then(|i| hay.get(i).copied())
}

/// The byte at `e` (right after a value ending at `e`), if any.
#[inline]
pub(crate) fn after(hay: &[u8], e: usize) -> Option<u8> {
    hay.get(e).copied()
}

/// A byte that continues a word: ASCII letter or digit, `_`, or part of a non-ASCII character.
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Whether the token of `[0-9A-Za-z]` bytes is a hexadecimal identifier part: only hex digits,
/// at least one letter and one digit (`67cb419c`, `c661a547cbdf`), so words such as `ref` or
/// `face` do not count.
fn hex_id(tok: &[u8]) -> bool {
    !tok.is_empty()
        && tok.iter().all(u8::is_ascii_hexdigit)
        && tok.iter().any(u8::is_ascii_digit)
        && tok.iter().any(u8::is_ascii_alphabetic)
}

/// The alphanumeric token that ends right before `i` (bounded).
fn token_ending_at(hay: &[u8], i: usize) -> &[u8] {
    let lo = i.saturating_sub(36);
    let mut a = i;
    while a > lo && hay[a - 1].is_ascii_alphanumeric() {
        a -= 1;
    }
    &hay[a..i]
}

/// The alphanumeric token that starts at `i` (bounded, never past a newline).
fn token_starting_at(hay: &[u8], i: usize) -> &[u8] {
    let hi = (i + 36).min(hay.len());
    let mut b = i;
    while b < hi && hay[b].is_ascii_alphanumeric() {
        b += 1;
    }
    &hay[i.min(b)..b]
}

/// Whether the byte before `s` ends a JSON/C escape such as `\n` or `\t` (the letter is then a
/// separator, not part of a word: `"note\n4111…"` in a log line that quotes JSON).
#[inline]
pub(crate) fn escape_before(hay: &[u8], s: usize) -> bool {
    matches!(before(hay, s), Some(b'n' | b't' | b'r' | b'b' | b'f'))
        && s >= 2
        && hay[s - 2] == b'\\'
        && !(s >= 3 && hay[s - 3] == b'\\')
}

/// The byte before `s` as a word character, unless it ends an escape sequence.
#[inline]
pub(crate) fn word_before(hay: &[u8], s: usize) -> bool {
    before(hay, s).is_some_and(is_word) && !escape_before(hay, s)
}

/// True when a number-like value starting at `s` is glued to what precedes it.
pub(crate) fn glued_before(hay: &[u8], s: usize) -> bool {
    match before(hay, s) {
        None => false,
        Some(_) if escape_before(hay, s) => false,
        Some(b) if is_word(b) => true,
        Some(b'.') if matches!(before(hay, s - 1), Some(d) if d.is_ascii_digit()) => true,
        Some(b'-' | b'.') => hex_id(token_ending_at(hay, s - 1)),
        Some(_) => false,
    }
}

/// True when a number-like value ending at `e` is glued to what follows it.
pub(crate) fn glued_after(hay: &[u8], e: usize) -> bool {
    match after(hay, e) {
        None => false,
        Some(b) if is_word(b) => true,
        Some(b'.') if matches!(after(hay, e + 1), Some(d) if d.is_ascii_digit()) => true,
        Some(b'-' | b'.') => hex_id(token_starting_at(hay, e + 1)),
        Some(_) => false,
    }
}

/// True when `[s, e)` lies inside a UUID-shaped token (`8-4-4-4-12` hexadecimal groups), even one
/// made of digits only: a UUID is an identifier, never a card or a phone number.
pub(crate) fn in_uuid(hay: &[u8], s: usize, e: usize) -> bool {
    let hexish = |b: u8| b.is_ascii_hexdigit() || b == b'-';
    // a UUID holds only hex digits and dashes
    if hay.get(s..e).is_none_or(|v| !v.iter().all(|&c| hexish(c))) {
        return false;
    }
    let lo = s.saturating_sub(36);
    let mut a = s;
    while a > lo && hexish(hay[a - 1]) {
        a -= 1;
    }
    let hi = (e + 36).min(hay.len());
    let mut b = e;
    while b < hi && hexish(hay[b]) {
        b += 1;
    }
    if b - a < 36 {
        return false;
    }
    // The token may hold more than one UUID-shaped window (dashes around it): try each start.
    let tok = &hay[a..b];
    (0..tok.len()).any(|i| {
        let w = &tok[i..];
        w.len() >= 36 && i <= s - a && i + 36 >= e - a && uuid_shape(&w[..36]) && {
            // not part of a longer hex run on either side
            let left_ok = i == 0 || tok[i - 1] == b'-';
            let right_ok = i + 36 == tok.len() || tok[i + 36] == b'-';
            left_ok && right_ok
        }
    })
}

fn uuid_shape(w: &[u8]) -> bool {
    w.len() == 36
        && w.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// True when no letter, digit, `_` or `-` touches the token on either side (a letter that ends
/// an escape such as `\n` does not count).
pub(crate) fn token_isolated(hay: &[u8], s: usize, e: usize) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let glued_left = before(hay, s).is_some_and(word) && !escape_before(hay, s);
    !glued_left && !after(hay, e).is_some_and(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_do_not_glue_but_words_decimals_and_hex_ids_do() {
        let h = b"x 4111,5555:6666/7777 a8888 9.9999 c661a547cbdf-1234 ref-5678";
        let at = |needle: &str| h.windows(needle.len()).position(|w| w == needle.as_bytes()).unwrap();
        assert!(!glued_before(h, at("4111")));
        assert!(!glued_before(h, at("5555")));
        assert!(!glued_before(h, at("6666")));
        assert!(!glued_before(h, at("7777")));
        assert!(glued_before(h, at("8888")));
        assert!(glued_before(h, at("9999")));
        assert!(glued_before(h, at("1234")));
        assert!(!glued_before(h, at("5678")));
        assert!(!glued_after(h, at("4111") + 4));
        assert!(glued_after(b"4111.5", 4));
        assert!(!glued_after(b"4111. Next", 4));
        assert!(glued_after(b"1234-c661a547cbdf", 4));
        // an escape sequence in quoted JSON separates
        assert!(!glued_before(b"x\\n4111", 3));
        assert!(glued_before(b"x\\\\n4111", 4));
    }

    #[test]
    fn uuid_groups_are_inside_a_uuid() {
        let u = b"id 67cb419c-8609-4837-9241-c661a547cbdf end";
        assert!(in_uuid(u, 12, 26));
        let d = b"12345678-1234-1234-1234-123456789012";
        assert!(in_uuid(d, 9, 36));
        assert!(!in_uuid(b"4111-1111-1111-1111", 0, 19));
    }
}
