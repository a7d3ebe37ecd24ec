//! `StoreError`: what can go wrong below the API, with driver errors mapped
//! once so handlers never inspect `sqlx` types.

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
    #[error("invalid store configuration: {0}")]
    Config(String),
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound("row"),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
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
