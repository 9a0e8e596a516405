//! The Luhn (mod 10) checksum used by payment card numbers.
//!
//! # Invariants
//! - `valid` is a pure function of its input and never panics: a byte that is not an ASCII digit
//!   makes it false, and the empty slice passes (callers check the length first: cards need 12).

/// True when `digits` (ASCII digits only) pass the Luhn check.
pub(crate) fn valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d.wrapping_sub(b'0'));
        if v > 9 {
            return false;
        }
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_numbers_pass_and_one_changed_digit_fails() {
        assert!(super::valid(b"4111111111111111"));
        assert!(super::valid(b"79927398713"));
        assert!(!super::valid(b"4111111111111112"));
        assert!(!super::valid(b"79927398710"));
    }
}
