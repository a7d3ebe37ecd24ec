//! Reports: a link's, or all of a user's links', from the roll-ups, after
//! the same ownership check as reading the link or user itself.

use super::{Service, ServiceResult};
use crate::domain::{Caller, Id, ShortUrl, Stats, StatsRange, StatsScope, User};

impl Service {
    /// The link and its report over `range`.
    pub async fn link_stats(
        &self,
        caller: Caller,
        id: Id,
        range: StatsRange,
    ) -> ServiceResult<(ShortUrl, Stats)> {
        let url = self.get_url(caller, id).await?;
        let stats = self.store.stats(StatsScope::Link(id.get()), range).await?;
        Ok((url, stats))
    }

    /// The user and the report over every link they have.
    pub async fn user_stats(
        &self,
        caller: Caller,
        id: Id,
        range: StatsRange,
    ) -> ServiceResult<(User, Stats)> {
        let user = self.get_user(caller, id).await?;
        let stats = self.store.stats(StatsScope::User(id.get()), range).await?;
        Ok((user, stats))
    }

    /// Human redirects of each of the user's links, all time.
    pub async fn redirect_totals(
        &self,
        caller: Caller,
        user_id: Id,
    ) -> ServiceResult<std::collections::HashMap<i64, i64>> {
        self.get_user(caller, user_id).await?;
        let totals = self.store.redirect_totals(user_id.get()).await?;
        Ok(totals.into_iter().collect())
    }
}
