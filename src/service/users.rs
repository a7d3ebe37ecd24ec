//! Users: a user's key sees and changes only its own user; creating users
//! and bulk imports are the admin's. A delete also drops the cached links
//! and keys of the user, on every replica, before it returns.

use futures_util::StreamExt;

use super::auth::require_admin;
use super::{Service, ServiceResult};
use crate::domain::{Caller, Id, NewUser, User, UserPatch};
use crate::store::{Page, RowStream, StoreError};

/// Someone else's user answers like a missing one.
fn visible(caller: Caller, id: Id) -> ServiceResult<()> {
    if caller.acts_for(id) {
        Ok(())
    } else {
        Err(StoreError::NotFound("user").into())
    }
}

impl Service {
    pub async fn create_user(&self, caller: Caller, new: &NewUser) -> ServiceResult<User> {
        require_admin(caller, "only the admin key can create users")?;
        Ok(self.store.create_user(new).await?)
    }

    pub async fn get_user(&self, caller: Caller, id: Id) -> ServiceResult<User> {
        visible(caller, id)?;
        Ok(self.store.get_user(id).await?)
    }

    /// Every user for the admin; a user's key lists only itself.
    pub fn list_users(&self, caller: Caller, page: Page) -> RowStream<User> {
        let rows = self.store.list_users(page);
        match caller {
            Caller::Admin => rows,
            Caller::User(me) => Box::pin(rows.filter(move |row| {
                std::future::ready(row.as_ref().map_or(true, |user| user.id == me))
            })),
        }
    }

    /// Users are not cached: an update touches only the store.
    pub async fn update_user(
        &self,
        caller: Caller,
        id: Id,
        patch: &UserPatch,
    ) -> ServiceResult<User> {
        visible(caller, id)?;
        Ok(self.store.update_user(id, patch).await?)
    }

    pub async fn delete_user(&self, caller: Caller, id: Id) -> ServiceResult<()> {
        visible(caller, id)?;
        let prefixes = self.store.key_prefixes(id).await?;
        let removed = self.store.delete_user(id).await?;
        let codes: Vec<String> = removed.into_iter().map(|url| url.short_code).collect();
        self.links.invalidate_all(&codes).await;
        self.links.invalidate_keys(&prefixes).await;
        Ok(())
    }

    /// `POST /users/bulk`: a CSV of users (see `import`).
    pub async fn import_users(
        &self,
        caller: Caller,
        csv: &[u8],
    ) -> ServiceResult<super::ImportReport> {
        require_admin(caller, "only the admin key can import users")?;
        super::import::import_users(&self.store, csv).await
    }
}
