//! Configuration errors that name the JSON path of the offending value.
//!
//! # Invariants
//! - Every error has a non-empty path: `.` stands for the document itself, and `prefixed` and
//!   `parse_value` turn it into the prefix without its trailing dot (`policies.audit`).
//! - [`parse_json`] and [`parse_value`] report only the first problem serde meets; compiling
//!   collects into `Errors` so that one run reports every problem, and the engine and the proxy
//!   build a [`PolicyErrors`] only from a non-empty list.
//! - Empty (or all-blank) text parses as `{}`: an empty plugin configuration is the default one.

use std::fmt;

/// One problem in a policy: where it is (`rules[2].pattern`) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// JSON path of the offending value, e.g. `rules[2].pattern`; `.` for the document itself.
    pub path: String,
    /// What is wrong, in lower case, with the fix when one is known.
    pub message: String,
}

impl PolicyError {
    /// An error at `path` (a JSON path such as `rules[2].pattern`).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for PolicyError {}

/// All problems found in a policy (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

impl PolicyErrors {
    /// The same errors with `prefix` (such as `policies.audit.`) before every path.
    pub fn prefixed(self, prefix: &str) -> Vec<PolicyError> {
        self.0
            .into_iter()
            .map(|x| {
                let path = if x.path == "." {
                    prefix.trim_end_matches('.').to_string()
                } else {
                    format!("{prefix}{}", x.path)
                };
                PolicyError::new(path, x.message)
            })
            .collect()
    }
}

/// Parses JSON text (empty text is `{}`) into a configuration type, or names the path of the
/// first problem: `rules[2].action.type: unknown variant ...`.
///
/// # Errors
/// The first problem, with its JSON path (`.` for the document itself).
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PolicyErrors> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        // serde's message carries "at line L column C"; keep it, it helps in a long config.
        PolicyErrors(vec![PolicyError::new(
            if path.is_empty() { ".".into() } else { path },
            e.inner().to_string(),
        )])
    })
}

/// Deserializes one JSON value into a configuration type, or names the path of the first problem
/// below `prefix` (for values inside a larger document, such as a named policy).
///
/// # Errors
/// The first problem, with its path after `prefix`.
pub fn parse_value<T: serde::de::DeserializeOwned>(value: serde_json::Value, prefix: &str) -> Result<T, PolicyErrors> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = format!("{prefix}{}", e.path());
        PolicyErrors(vec![PolicyError::new(
            path.trim_end_matches('.').to_string(),
            e.inner().to_string(),
        )])
    })
}

/// Collects errors while compiling, so one run reports every problem.
#[derive(Default)]
pub(crate) struct Errors(pub Vec<PolicyError>, pub(crate) TokenizeSection);

/// Whether the policy has a `tokenize` section (so a missing key is explained there, and actions
/// that need it should not suggest adding it).
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenizeSection {
    #[default]
    Absent,
    Present,
}

impl Errors {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(PolicyError::new(path, message));
    }
}
