//! `StoreError`: what can go wrong below the API, with driver errors mapped
//! once so handlers never inspect `sqlx` types.
//!
//! The rule for "unavailable" (503 with `Retry-After`, safe to retry): the
//! database could not be reached or dropped the connection, whatever layer
//! noticed it: no pool connection in time, a closed pool, an I/O, TLS or
//! protocol error, a crashed connection worker, a PostgreSQL SQLSTATE of
//! class 08 (connection exception), 53300 (too many connections) or 57P01..03
//! (shutdown, crash, still starting), or SQLite busy/locked. Every other
//! driver error is a 500.

/// Which unique rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictField {
    Id,
    Username,
    Email,
    ShortCode,
}

impl ConflictField {
    pub fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Username => "username",
            Self::Email => "email",
            Self::ShortCode => "short_code",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing addressed does not exist; the string names it ("user", "url").
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{} already taken", .0.name())]
    Conflict(ConflictField),
    /// The database cannot be reached or timed out handing out a connection.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A stored value breaks a rule kurz always keeps (data edited by hand).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(&'static str),
    #[error("invalid store configuration: {0}")]
    Config(String),
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound("row"),
            _ if is_unavailable(&err) => {
                if matches!(
                    err,
                    sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_)
                ) {
                    super::statement_pool::note_connection_failure();
                }
                Self::Unavailable(err)
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                // Postgres names the index; SQLite names the columns
                // ("UNIQUE constraint failed: users.email_key").
                let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
                Self::Conflict(conflict_field(&text))
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => Self::NotFound("user"),
            _ => Self::Other(err),
        }
    }
}

/// See the module documentation for the rule.
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// SQLSTATEs (PostgreSQL) and result codes (SQLite) that mean "not now".
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || matches!(code, "53300" | "57P01" | "57P02" | "57P03")
        // SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
        || matches!(code, "5" | "6" | "261" | "262" | "517" | "773")
}

fn conflict_field(text: &str) -> ConflictField {
    if text.contains("email") {
        ConflictField::Email
    } else if text.contains("username") {
        ConflictField::Username
    } else if text.contains("code") {
        ConflictField::ShortCode
    } else {
        ConflictField::Id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_trouble_is_unavailable_and_other_failures_are_not() {
        for code in ["08006", "08001", "57P01", "57P03", "53300", "5", "517"] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["23505", "42P01", "22P02", "19", "1"] {
            assert!(!unavailable_code(code), "{code}");
        }
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::WorkerCrashed));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn names_the_field_from_either_engines_message() {
        assert_eq!(
            conflict_field("users_email_key duplicate key"),
            ConflictField::Email
        );
        assert_eq!(
            conflict_field(" UNIQUE constraint failed: users.email_key"),
            ConflictField::Email
        );
        assert_eq!(
            conflict_field(" UNIQUE constraint failed: users.username"),
            ConflictField::Username
        );
        assert_eq!(
            conflict_field("short_codes_pkey x"),
            ConflictField::ShortCode
        );
        assert_eq!(conflict_field("users_pkey x"), ConflictField::Id);
    }
}
