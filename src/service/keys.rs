//! API keys of a user: create (the secret shown once), list, revoke. The
//! admin or the user's own key may manage them. A revocation drops the key's
//! credential on every replica before it returns.

use super::{Service, ServiceResult};
use crate::domain::{ApiKey, Caller, Id, NewToken};
use crate::store::StoreError;

/// A new key and its secret, which is never shown again.
pub struct CreatedKey {
    pub key: ApiKey,
    pub token: String,
}

fn visible(caller: Caller, user_id: Id) -> ServiceResult<()> {
    if caller.acts_for(user_id) {
        Ok(())
    } else {
        Err(StoreError::NotFound("user").into())
    }
}

impl Service {
    pub async fn create_key(&self, caller: Caller, user_id: Id) -> ServiceResult<CreatedKey> {
        visible(caller, user_id)?;
        let token = NewToken::generate();
        let key = self.store.create_key(user_id, &token).await?;
        Ok(CreatedKey {
            key,
            token: token.token,
        })
    }

    pub async fn list_keys(&self, caller: Caller, user_id: Id) -> ServiceResult<Vec<ApiKey>> {
        visible(caller, user_id)?;
        self.store.get_user(user_id).await?;
        Ok(self.store.list_keys(user_id).await?)
    }

    pub async fn revoke_key(&self, caller: Caller, user_id: Id, key_id: Id) -> ServiceResult<()> {
        visible(caller, user_id)?;
        let key = self.store.revoke_key(user_id, key_id).await?;
        self.links.invalidate_keys(&[key.prefix]).await;
        Ok(())
    }
}
