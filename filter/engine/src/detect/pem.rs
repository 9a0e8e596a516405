//! `private_key`: a PEM private key block. The `-----BEGIN ... PRIVATE KEY-----` line starts a
//! region that is masked while it streams, line by line, up to and including the matching
//! `-----END ... PRIVATE KEY-----` line (or the end of the value if it never comes), so the key is
//! never buffered whole.

pub(crate) const BEGIN: &str = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----";
pub(crate) const END: &str = r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----";
