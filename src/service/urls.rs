//! Short links: a user's key creates links only for itself and sees only its
//! own. Every write that changes what a code resolves to ends with `Links`
//! dropping that code on every replica before the call returns.

use super::{Service, ServiceResult};
use crate::domain::{Caller, Id, NewShortUrl, ShortUrl, UrlPatch};
use crate::store::{Page, RowStream, StoreError, UrlFilter};

impl Service {
    pub async fn create_url(&self, caller: Caller, new: &NewShortUrl) -> ServiceResult<ShortUrl> {
        if !caller.acts_for(new.user_id) {
            return Err(StoreError::NotFound("user").into());
        }
        self.check_target(&new.target)?;
        let url = self.store.create_url(new).await?;
        self.links
            .created(&url.short_code, new.alias.is_some())
            .await;
        Ok(url)
    }

    /// The link, if the caller may see it (someone else's answers 404).
    async fn owned_url(&self, caller: Caller, id: Id) -> ServiceResult<ShortUrl> {
        let url = self.store.get_url(id).await?;
        if caller.acts_for(url.user_id) {
            Ok(url)
        } else {
            Err(StoreError::NotFound("url").into())
        }
    }

    pub async fn get_url(&self, caller: Caller, id: Id) -> ServiceResult<ShortUrl> {
        self.owned_url(caller, id).await
    }

    /// A user's key lists only its own links (another `user_id` filter
    /// gives `[]`).
    pub fn list_urls(
        &self,
        caller: Caller,
        mut filter: UrlFilter,
        page: Page,
    ) -> RowStream<ShortUrl> {
        if let Caller::User(me) = caller {
            filter.user_id = match filter.user_id {
                Some(asked) if asked != me.get() => Some(0),
                _ => Some(me.get()),
            };
        }
        self.store.list_urls(filter, page)
    }

    pub async fn update_url(
        &self,
        caller: Caller,
        id: Id,
        patch: &UrlPatch,
    ) -> ServiceResult<ShortUrl> {
        if !caller.is_admin() {
            self.owned_url(caller, id).await?;
        }
        let change = self.store.update_url(id, patch).await?;
        if change.changed {
            self.links.invalidate(&change.url.short_code).await;
        }
        Ok(change.url)
    }

    pub async fn delete_url(&self, caller: Caller, id: Id) -> ServiceResult<()> {
        if !caller.is_admin() {
            self.owned_url(caller, id).await?;
        }
        let url = self.store.delete_url(id).await?;
        self.links.invalidate(&url.short_code).await;
        Ok(())
    }
}
