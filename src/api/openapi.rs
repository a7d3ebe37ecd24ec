//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! the wire structs. The one rule utoipa's derive cannot state, "an update
//! names at least one field", is added here as `anyOf` over `required`.

use utoipa::openapi::schema::{AllOf, AnyOf, Object, Schema};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};

use super::{events, health, redirect, urls, users, wire};
use crate::service::{ImportReport, RowError};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kurz",
        description = "A URL shortener: users, short links, redirects and their event log."
    ),
    paths(
        health::live,
        health::ready,
        health::metrics,
        users::create,
        users::list,
        users::get,
        users::update,
        users::delete,
        users::bulk,
        urls::create,
        urls::list,
        urls::get,
        urls::update,
        urls::delete,
        redirect::follow,
        redirect::follow_legacy,
        events::create,
        events::list,
        events::get,
    ),
    components(schemas(
        wire::User,
        wire::ShortUrl,
        wire::Event,
        wire::ErrorBody,
        users::CreateUserBody,
        users::UpdateUserBody,
        users::BulkUpload,
        urls::CreateUrlBody,
        urls::UpdateUrlBody,
        events::CreateEventBody,
        ImportReport,
        RowError,
    )),
    modifiers(&AtLeastOneField)
)]
struct ApiDoc;

/// The document `/openapi.json` serves and `kurz openapi` prints.
pub fn openapi_document() -> Document {
    ApiDoc::openapi()
}

struct AtLeastOneField;

impl Modify for AtLeastOneField {
    fn modify(&self, doc: &mut Document) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        for (name, fields) in [
            ("UpdateUserBody", users::UpdateUserBody::FIELDS),
            ("UpdateUrlBody", urls::UpdateUrlBody::FIELDS),
        ] {
            if let Some(RefOr::T(schema)) = components.schemas.get_mut(name) {
                let original = std::mem::replace(schema, Schema::Object(Object::new()));
                *schema = require_one_of(original, fields);
            }
        }
    }
}

/// `allOf: [schema, anyOf: [{required: [f1]}, {required: [f2]}, ...]]`.
fn require_one_of(schema: Schema, fields: &[&str]) -> Schema {
    let mut any_of = AnyOf::new();
    any_of.items = fields
        .iter()
        .map(|field| {
            let mut alternative = Object::new();
            alternative.required = vec![(*field).to_owned()];
            RefOr::T(Schema::Object(alternative))
        })
        .collect();
    let mut all_of = AllOf::new();
    all_of.items = vec![RefOr::T(schema), RefOr::T(Schema::AnyOf(any_of))];
    Schema::AllOf(all_of)
}
