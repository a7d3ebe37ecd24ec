//! The event log as clients see it. A user's key sees the events of its own
//! user and appends events only about itself and its own links.

use super::{Service, ServiceResult};
use crate::domain::{Caller, Event, Id, NewEvent};
use crate::store::{EventFilter, Page, RowStream, StoreError};

impl Service {
    pub async fn create_event(&self, caller: Caller, new: &NewEvent) -> ServiceResult<Event> {
        let mut new = new.clone();
        if let Caller::User(me) = caller {
            if new.user_id.is_some_and(|id| id != me) {
                return Err(StoreError::NotFound("user").into());
            }
            if let Some(url_id) = new.url_id {
                let url = self.store.get_url(url_id).await?;
                if url.user_id != me {
                    return Err(StoreError::NotFound("url").into());
                }
            }
            new.user_id = Some(me);
        }
        Ok(self.store.create_event(&new).await?)
    }

    pub async fn get_event(&self, caller: Caller, id: Id) -> ServiceResult<Event> {
        let event = self.store.get_event(id).await?;
        match caller {
            Caller::User(me) if event.user_id != Some(me.get()) => {
                Err(StoreError::NotFound("event").into())
            }
            _ => Ok(event),
        }
    }

    /// A user's key lists only its own user's events.
    pub fn list_events(
        &self,
        caller: Caller,
        mut filter: EventFilter,
        page: Page,
    ) -> RowStream<Event> {
        if let Caller::User(me) = caller {
            filter.user_id = match filter.user_id {
                Some(asked) if asked != me.get() => Some(0),
                _ => Some(me.get()),
            };
        }
        self.store.list_events(filter, page)
    }
}
