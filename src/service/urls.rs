//! Short links: every write that changes what a code resolves to ends with
//! `Links` dropping that code on every replica before the call returns.

use super::{Service, ServiceResult};
use crate::domain::{Id, NewShortUrl, ShortUrl, UrlPatch};
use crate::store::{Page, RowStream, UrlFilter};

impl Service {
    pub async fn create_url(&self, new: &NewShortUrl) -> ServiceResult<ShortUrl> {
        let url = self.store.create_url(new).await?;
        self.links
            .created(&url.short_code, new.alias.is_some())
            .await;
        Ok(url)
    }

    pub async fn get_url(&self, id: Id) -> ServiceResult<ShortUrl> {
        Ok(self.store.get_url(id).await?)
    }

    pub fn list_urls(&self, filter: UrlFilter, page: Page) -> RowStream<ShortUrl> {
        self.store.list_urls(filter, page)
    }

    pub async fn update_url(&self, id: Id, patch: &UrlPatch) -> ServiceResult<ShortUrl> {
        let change = self.store.update_url(id, patch).await?;
        if change.changed {
            self.links.invalidate(&change.url.short_code).await;
        }
        Ok(change.url)
    }

    pub async fn delete_url(&self, id: Id) -> ServiceResult<()> {
        let url = self.store.delete_url(id).await?;
        self.links.invalidate(&url.short_code).await;
        Ok(())
    }
}
