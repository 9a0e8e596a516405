//! Keyed, deterministic tokens: `tok_<key id>_<26 base32 characters>`, the first 128 bits of
//! HMAC-SHA256 over `"token"`, a zero byte and the normalised value (the domain tag keeps
//! tokens apart from findings fingerprints). The same value and key give the same token in every
//! stream, on every proxy worker and replica; without the key a token cannot be reversed or
//! brute-forced (unlike an unkeyed hash of a 9-digit SSN).
//!
//! # Invariants
//! - A token depends only on the key id, the secret, the normalisation and the value: the MAC is
//!   over `b"token" || 0x00 || normalize(value)` (the domain keeps it apart from other uses of
//!   `mac128`), and no state is kept between calls.
//! - A token is `tok_`, the key id, `_`, then 26 lower-case RFC 4648 base32 characters (`a`-`z`,
//!   `2`-`7`, no padding) encoding the first 16 bytes of the MAC.
//! - The secret never leaves the HMAC state: `Debug` shows the id only.

use crate::detect::Normalize;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// One keyed token generator. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct TokenKey {
    id: String,
    mac: HmacSha256,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl TokenKey {
    /// Builds a key. The caller has checked `secret.len() >= MIN_SECRET_BYTES`.
    pub fn new(id: &str, secret: &[u8]) -> Option<TokenKey> {
        let mac = HmacSha256::new_from_slice(secret).ok()?;
        Some(TokenKey {
            id: id.to_string(),
            mac,
        })
    }

    /// The key id carried in every token.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The first 16 bytes of HMAC-SHA256(secret, domain || 0x00 || value).
    pub fn mac128(&self, domain: &[u8], value: &[u8]) -> [u8; 16] {
        let mut m = self.mac.clone();
        m.update(domain);
        m.update(&[0]);
        m.update(value);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// Writes the token for `value` (normalised with `norm`) to `out`.
    pub fn token(&self, norm: Normalize, value: &[u8], out: &mut Vec<u8>) {
        let normalized = normalize(norm, value);
        let mac = self.mac128(b"token", &normalized);
        out.extend_from_slice(b"tok_");
        out.extend_from_slice(self.id.as_bytes());
        out.push(b'_');
        let enc = data_encoding::BASE32_NOPAD.encode(&mac);
        out.extend(enc.bytes().map(|b| b.to_ascii_lowercase()));
    }
}

/// Applies a normalisation.
pub fn normalize(norm: Normalize, value: &[u8]) -> Vec<u8> {
    match norm {
        Normalize::None => value.to_vec(),
        Normalize::Digits => value.iter().copied().filter(u8::is_ascii_digit).collect(),
        Normalize::Lowercase => value.to_ascii_lowercase(),
        Normalize::UpperCompact => value
            .iter()
            .filter(|b| !b.is_ascii_whitespace())
            .map(u8::to_ascii_uppercase)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, fill: u8) -> TokenKey {
        TokenKey::new(id, &[fill; 32]).unwrap()
    }

    #[test]
    fn token_has_key_id_and_26_base32_chars() {
        let mut out = Vec::new();
        key("k1", 7).token(Normalize::None, b"x", &mut out);
        let s = String::from_utf8(out).unwrap();
        let rest = s.strip_prefix("tok_k1_").unwrap();
        assert_eq!(rest.len(), 26);
        assert!(rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
    }

    #[test]
    fn formatting_does_not_change_a_card_token_but_the_key_does() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        key("k1", 7).token(Normalize::Digits, b"4111 1111 1111 1111", &mut a);
        key("k1", 7).token(Normalize::Digits, b"4111-1111-1111-1111", &mut b);
        key("k1", 8).token(Normalize::Digits, b"4111111111111111", &mut c);
        assert_eq!(a, b);
        assert_ne!(a[7..], c[7..]);
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let k = TokenKey::new("k9", b"super-secret-value-that-is-32-bytes!!").unwrap();
        let d = format!("{k:?}");
        assert!(d.contains("k9") && !d.contains("super-secret"));
    }
}
