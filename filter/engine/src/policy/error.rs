//! Configuration errors that name the JSON path of the offending value.

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
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
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
