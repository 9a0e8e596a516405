//! Context checks shared by detectors: what may stand right before and after a match.
//!
//! The regex crate has no look-behind, so detectors check their neighbours here. `hay` always holds
//! the bytes before the match that the scanner keeps as context; a missing byte after the match means
//! the value ends there (end of body, end of JSON string).

/// The byte before `s`, if any.
#[inline]
pub(crate) fn before(hay: &[u8], s: usize) -> Option<u8> {
    s.checked_sub(1).and_then(|i| hay.get(i).copied())
}

/// The byte at `e` (right after a match ending at `e`), if any.
#[inline]
pub(crate) fn after(hay: &[u8], e: usize) -> Option<u8> {
    hay.get(e).copied()
}

/// True when the match starting at `s` is not glued to a preceding number or word:
/// no letter or digit before it, no decimal point or thousands separator after a digit,
/// and no `-`/space directly after a digit (that would make it the tail of a longer number).
pub(crate) fn number_starts_clean(hay: &[u8], s: usize) -> bool {
    match before(hay, s) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() => false,
        Some(b'.' | b',' | b'-' | b' ' | b'/' | b':') => !matches!(before(hay, s - 1), Some(d) if d.is_ascii_digit()),
        Some(_) => true,
    }
}

/// True when the match ending at `e` is not glued to a following number or word
/// (`.5` or `,5` after it counts as glued: a decimal or grouped number).
pub(crate) fn number_ends_clean(hay: &[u8], e: usize) -> bool {
    match after(hay, e) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() => false,
        Some(b'.' | b',') => !matches!(after(hay, e + 1), Some(d) if d.is_ascii_digit()),
        Some(_) => true,
    }
}

/// True when no letter, digit, `_` or `-` touches the token on either side.
pub(crate) fn token_isolated(hay: &[u8], s: usize, e: usize) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    !before(hay, s).is_some_and(word) && !after(hay, e).is_some_and(word)
}
