//! Users: reads pass through; a delete also drops the cached links of
//! every link it removed, on every replica, before it returns.

use super::{Service, ServiceResult};
use crate::domain::{Id, NewUser, User, UserPatch};
use crate::store::{Page, RowStream};

impl Service {
    pub async fn create_user(&self, new: &NewUser) -> ServiceResult<User> {
        Ok(self.store.create_user(new).await?)
    }

    pub async fn get_user(&self, id: Id) -> ServiceResult<User> {
        Ok(self.store.get_user(id).await?)
    }

    pub fn list_users(&self, page: Page) -> RowStream<User> {
        self.store.list_users(page)
    }

    /// Users are not cached: an update touches only the store.
    pub async fn update_user(&self, id: Id, patch: &UserPatch) -> ServiceResult<User> {
        Ok(self.store.update_user(id, patch).await?)
    }

    pub async fn delete_user(&self, id: Id) -> ServiceResult<()> {
        let removed = self.store.delete_user(id).await?;
        let codes: Vec<String> = removed.into_iter().map(|url| url.short_code).collect();
        self.links.invalidate_all(&codes).await;
        Ok(())
    }

    /// `POST /users/bulk`: a CSV of users (see `import`).
    pub async fn import_users(&self, csv: &[u8]) -> ServiceResult<super::ImportReport> {
        super::import::import_users(&self.store, csv).await
    }
}
