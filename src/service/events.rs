//! The event log as clients see it: append one event, read, list.

use super::{Service, ServiceResult};
use crate::domain::{Event, Id, NewEvent};
use crate::store::{EventFilter, Page, RowStream};

impl Service {
    pub async fn create_event(&self, new: &NewEvent) -> ServiceResult<Event> {
        Ok(self.store.create_event(new).await?)
    }

    pub async fn get_event(&self, id: Id) -> ServiceResult<Event> {
        Ok(self.store.get_event(id).await?)
    }

    pub fn list_events(&self, filter: EventFilter, page: Page) -> RowStream<Event> {
        self.store.list_events(filter, page)
    }
}
