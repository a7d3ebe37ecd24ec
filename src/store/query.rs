//! List parameters shared by every engine: which page, which filter.

/// Which slice of a list to return, always ordered by id ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Every matching row, streamed.
    All,
    /// `page` (1-based) of `per_page` rows.
    Offset { page: u32, per_page: u32 },
    /// Keyset page: rows with id greater than `after_id`.
    After { after_id: i64, per_page: u32 },
}

impl Page {
    /// `(limit, offset, after_id)` for SQL. "No limit" is `i64::MAX`: PostgreSQL
    /// refuses SQLite's `-1`, and both take the largest integer.
    pub(crate) fn bounds(self) -> (i64, i64, i64) {
        match self {
            Page::All => (i64::MAX, 0, 0),
            Page::Offset { page, per_page } => (
                i64::from(per_page),
                i64::from(page.saturating_sub(1)) * i64::from(per_page),
                0,
            ),
            Page::After { after_id, per_page } => (i64::from(per_page), 0, after_id),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct UrlFilter {
    pub user_id: Option<i64>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub url_id: Option<i64>,
    pub user_id: Option<i64>,
    pub event_type: Option<String>,
}
