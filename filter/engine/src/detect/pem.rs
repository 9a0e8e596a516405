//! `private_key`: a PEM private key block. The `-----BEGIN ... PRIVATE KEY-----` line starts a
//! region that is masked while it streams, line by line, up to and including the matching
//! `-----END ... PRIVATE KEY-----` line (or the end of the value if it never comes), so the key is
//! never buffered whole.
//!
//! # Invariants
//! - Both lines are bounded regexes of upper-case letters, digits, spaces and dashes only, so they
//!   never cross a newline and the scanner can hold back the end of a region for them.
//! - The detector has no validator: the BEGIN line alone opens the region, and `compile` refuses
//!   an action for it that does not stream (`tokenize`, or `mask` with `keep_last`).

pub(crate) const BEGIN: &str = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----";
pub(crate) const END: &str = r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----";
