//! Finding values: compiled patterns (`pattern`) and the streaming scanner that runs them over a
//! buffer (`scan`).
//!
//! # Invariants
//! - A pattern's match is bounded (`max_len`), non-empty, and lies in one run of its byte class
//!   that holds a trigger byte; every shortcut (runs, digit clusters, anchors, a detector's
//!   `run_ok`) only skips bytes where the plain regex search plus the validator would find
//!   nothing, which the oracle proptest checks (`Ruleset::without_prefilters`).
//! - The scanner's output never depends on how the input was cut into chunks.

pub(crate) mod pattern;
pub(crate) mod scan;
