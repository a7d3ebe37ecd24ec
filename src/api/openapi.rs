//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! the wire structs. The one rule utoipa's derive cannot state, "an update
//! names at least one field", is added here as `anyOf` over `required`.

use utoipa::openapi::schema::{AllOf, AnyOf, Object, Schema};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};

use super::{events, health, keys, qr, redirect, stats, urls, users, wire};
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
        qr::qr_code,
        stats::link_stats,
        stats::user_stats,
        redirect::follow,
        redirect::follow_legacy,
        events::create,
        events::list,
        events::get,
        keys::create,
        keys::list,
        keys::revoke,
    ),
    components(schemas(
        wire::User,
        wire::ShortUrl,
        wire::Event,
        wire::ErrorBody,
        stats::LinkReport,
        stats::UserReport,
        stats::Report,
        stats::SeriesBucket,
        stats::TopValue,
        users::CreateUserBody,
        users::UpdateUserBody,
        users::BulkUpload,
        urls::CreateUrlBody,
        urls::UpdateUrlBody,
        events::CreateEventBody,
        ImportReport,
        RowError,
        keys::KeyInfo,
        keys::NewKey,
    )),
    modifiers(&AtLeastOneField, &BearerKeys, &DetailsWithoutNul, &EdgeResponses),
    security(("bearer" = []))
)]
struct ApiDoc;

/// The document of a server running with keys (`KURZ_AUTH=keys`): every
/// operation but the redirects and health checks requires the bearer key.
/// `kurz openapi` prints it.
pub fn openapi_document() -> Document {
    ApiDoc::openapi()
}

/// The document as this server enforces it: without keys (the contract
/// mode) no operation requires authentication, so none is declared.
pub fn document_for(auth_off: bool) -> Document {
    let mut doc = openapi_document();
    if auth_off {
        doc.security = None;
        for operation in operations(&mut doc) {
            operation.security = None;
        }
    }
    doc
}

/// `GET /openapi.json`.
pub async fn serve(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> axum::Json<Document> {
    axum::Json(document_for(state.service.auth_is_off()))
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

/// Declares the bearer scheme. Whether it is enforced is the server's
/// `KURZ_AUTH`; the redirects, health checks and docs never need it.
struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, doc: &mut Document) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`kurz_…`) or the admin key; required when the server runs with KURZ_AUTH=keys.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Event details are any JSON object without U+0000 anywhere (PostgreSQL
/// can store NUL neither in text nor in JSONB): a recursive schema utoipa's
/// derive cannot write, so it is added here.
struct DetailsWithoutNul;

impl Modify for DetailsWithoutNul {
    fn modify(&self, doc: &mut Document) {
        let no_nul = r"^[^\u0000]*$";
        let any_json = serde_json::json!({"anyOf": [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "pattern": no_nul},
            {"type": "array", "items": {"$ref": "#/components/schemas/JsonWithoutNul"}},
            {"type": "object", "propertyNames": {"type": "string", "pattern": no_nul},
             "additionalProperties": {"$ref": "#/components/schemas/JsonWithoutNul"}},
        ]});
        let details = serde_json::json!({
            "description": "A JSON object without NUL characters; null means {}.",
            "type": ["object", "null"],
            "propertyNames": {"type": "string", "pattern": no_nul},
            "additionalProperties": {"$ref": "#/components/schemas/JsonWithoutNul"},
        });
        let (Ok(any_json), Ok(details)) = (
            serde_json::from_value::<RefOr<Schema>>(any_json),
            serde_json::from_value::<RefOr<Schema>>(details),
        ) else {
            return;
        };
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        components.schemas.insert("JsonWithoutNul".into(), any_json);
        if let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut("CreateEventBody")
        {
            body.properties.insert("details".into(), details);
        }
    }
}

/// Answers any operation can give at the edge, documented once: 429 (rate
/// limit) and 503 (deadline, database unavailable) everywhere, and 401/403
/// on every operation behind the key (public ones declare `security: []`).
struct EdgeResponses;

impl Modify for EdgeResponses {
    fn modify(&self, doc: &mut Document) {
        use utoipa::openapi::{ContentBuilder, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                "ErrorBody",
                            ))))
                            .build(),
                    )
                    .build(),
            )
        };
        for operation in operations(doc) {
            let public = operation.security.as_ref().is_some_and(|s| {
                s.iter()
                    .all(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
            });
            let responses = &mut operation.responses.responses;
            let mut add = |code: &str, description: &str| {
                responses
                    .entry(code.to_owned())
                    .or_insert_with(|| error(description));
            };
            add(
                "429",
                "rate limit exceeded (Retry-After, RateLimit-* headers)",
            );
            add(
                "503",
                "the database is unreachable or the request took too long (Retry-After)",
            );
            if !public {
                add("401", "no valid API key (with KURZ_AUTH=keys)");
                add("403", "the key may not do this (admin only)");
            }
        }
    }
}

/// Every operation of the document, whatever its method.
fn operations(doc: &mut Document) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.head,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    })
}
