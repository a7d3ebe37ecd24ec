//! The one error a domain parser returns: which field, and what is wrong with it.

/// A value from outside failed a rule. `field` names the JSON field or CSV
/// column so the API can report it under `details`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct DomainError {
    pub field: &'static str,
    pub problem: String,
}

impl DomainError {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}
