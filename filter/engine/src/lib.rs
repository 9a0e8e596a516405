//! # streammask-engine
//!
//! Masks sensitive values (card numbers, emails, national IDs, secrets) in HTTP bodies **as they
//! stream**: push a chunk, get output bytes, finish at end of stream. The output never depends on
//! how the body was cut into chunks, clean bytes come out byte-identical, and only the bytes that
//! could still be part of a match are held back.
//!
//! The engine is pure: no proxy, no I/O, no clock. The proxy-wasm filter and the `streammask`
//! command-line tool are thin layers over it.
//!
//! ```
//! use std::sync::Arc;
//! use streammask_engine::{Format, Masker, Ruleset};
//!
//! let policy = Arc::new(Ruleset::from_json(r#"{"rules":[{"detector":"credit_card"}]}"#, &|_| None).unwrap());
//! let mut m = Masker::new(policy, Format::Text);
//! let mut out = Vec::new();
//! m.push(b"card 4111 1111 ", &mut out);   // the card may continue: held back
//! m.push(b"1111 1111 thanks\n", &mut out);
//! m.finish(&mut out);
//! assert_eq!(out, b"card 4111 11** **** 1111 thanks\n");
//! ```
//!
//! ## Limits
//! - Memory per stream: the policy's longest possible match ([`Ruleset::max_hold_back`]) plus a
//!   bounded JSON nesting stack (`limits.max_depth`) and field capture (`limits.max_field_value_bytes`).
//! - Patterns must have a bounded length and cannot match the empty string; they are compiled with
//!   size limits, and the regex engine runs in time linear in the input.
//! - What no pattern can find (names, street addresses) is not masked.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod action;
pub mod config;
pub mod detect;
mod format;
pub mod fpe;
mod masker;
mod search;
mod token;

pub use action::Action;
pub use config::{Budget, Label, Labels, Limits, MetaHits, PolicyError, PolicyErrors, Ruleset};
pub use format::sniff::sniff_format;
pub use format::websocket::{write_frame, WsCounts, WsMasker, CUT_MARKER as WS_CUT_MARKER};
pub use format::{parse_media_type, Format, FormatRouter, Route};
pub use masker::{mask_all, Masker};
pub use search::scan::{Finding, Stats, MAX_FINDINGS};
pub use token::TokenKey;
