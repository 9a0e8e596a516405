//! JSON lexical pieces: whitespace and number bytes, the RFC 8259 number grammar, the escape state
//! of a string being read, and escaping of replacement text.
//!
//! # Invariants
//! - `escape_into` always writes valid JSON string content: control bytes escaped, invalid UTF-8
//!   replaced by U+FFFD.

/// Where the reader is in an escape sequence.
#[derive(Clone, Copy)]
pub(super) enum Esc {
    None,
    Backslash,
    Unicode { n: u8, val: u32, raw: [u8; 6] },
}

/// Writes `s` as the inside of a JSON string.
pub(crate) fn escape_into(s: &[u8], out: &mut Vec<u8>) {
    if s.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        // printable ASCII without a quote or backslash (most replacements): as it is
        out.extend_from_slice(s);
        return;
    }
    escape_each(s, out);
}

/// [`escape_into`], byte by byte.
fn escape_each(s: &[u8], out: &mut Vec<u8>) {
    for chunk in s.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0..=0x1f | 0x7f => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 15)]);
                }
                _ => out.push(b),
            }
        }
        // Invalid UTF-8 cannot appear in a JSON string; write U+FFFD instead.
        for _ in chunk.invalid() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(super) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

pub(super) fn is_num_byte(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// RFC 8259 number grammar.
pub(super) fn valid_number(n: &[u8]) -> bool {
    // most numbers are plain integers
    match n {
        [b'0'] => return true,
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => return true,
        _ => {}
    }
    let mut i = 0;
    if n.get(i) == Some(&b'-') {
        i += 1;
    }
    match n.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while n.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if n.get(i) == Some(&b'.') {
        match digits_after(n, i + 1) {
            Some(j) => i = j,
            None => return false,
        }
    }
    if matches!(n.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(n.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        match digits_after(n, i) {
            Some(j) => i = j,
            None => return false,
        }
    }
    i == n.len()
}

/// The end of the run of at least one digit starting at `i`, or `None` when no digit is there.
fn digits_after(n: &[u8], i: usize) -> Option<usize> {
    let len = n.get(i..)?.iter().take_while(|b| b.is_ascii_digit()).count();
    (len > 0).then_some(i + len)
}

#[cfg(test)]
mod tests {
    use super::{escape_each, escape_into, valid_number};
    use proptest::prelude::*;

    proptest! {
        /// The printable-ASCII shortcut writes what the byte-by-byte escape writes.
        #[test]
        fn escape_shortcut_is_the_byte_by_byte_escape(
            s in prop_oneof![
                proptest::collection::vec(0x20u8..0x7f, 0..40),
                proptest::collection::vec(any::<u8>(), 0..40),
            ]
        ) {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            escape_into(&s, &mut a);
            escape_each(&s, &mut b);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn number_grammar_follows_rfc_8259() {
        for ok in ["0", "-0", "12", "1.5", "-1.5e10", "2E-3", "4111111111111111"] {
            assert!(valid_number(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "1e+", "--1", "1-2"] {
            assert!(!valid_number(bad.as_bytes()), "{bad}");
        }
    }
}
