//! HTTP only: the router, one module per resource, one error type.
//!
//! Handlers parse input into domain types (each body is one wire struct,
//! see `body`), make ONE call to the `Service`, and map the result to a
//! wire shape (`wire`); no SQL, cache logic or retries here. The OpenAPI
//! document is generated from the same structs (`openapi`). Every answer that is not
//! a success is JSON, including unknown routes (404), wrong methods (405,
//! with `Allow`), oversized bodies (413) and panics (500).

mod auth;
mod body;
mod edge;
mod error;
mod events;
mod extract;
mod health;
mod keys;
mod limits;
mod list;
mod openapi;
mod qr;
mod redirect;
mod stats;
mod urls;
mod users;
mod wire;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{delete, get, post};
use axum::Router;
use utoipa_swagger_ui::SwaggerUi;

pub use error::{ApiError, ApiResult};
pub use limits::LimitSettings;
pub use openapi::openapi_document;

use crate::state::AppState;

/// The whole HTTP surface, ready to serve. Routes that need an API key
/// (when keys are on) are one router behind `auth::require_key`; the
/// redirects, health checks and the docs page are outside it.
pub fn router(state: AppState, limits: &LimitSettings) -> Router {
    let json_limit = state.json_body_limit;
    let csv_limit = state.csv_body_limit;
    let protected = Router::new()
        .route("/metrics", get(health::metrics))
        .route("/users", get(users::list).post(users::create))
        .route(
            "/users/bulk",
            post(users::bulk).layer(DefaultBodyLimit::max(csv_limit)),
        )
        .route(
            "/users/{id}",
            get(users::get).put(users::update).delete(users::delete),
        )
        .route("/users/{id}/keys", get(keys::list).post(keys::create))
        .route("/users/{id}/keys/{key_id}", delete(keys::revoke))
        .route("/urls", get(urls::list).post(urls::create))
        .route(
            "/urls/{id}",
            get(urls::get).put(urls::update).delete(urls::delete),
        )
        .route("/urls/{id}/qr", get(qr::qr_code))
        .route("/urls/{id}/stats", get(stats::link_stats))
        .route("/users/{id}/stats", get(stats::user_stats))
        .route("/events", get(events::list).post(events::create))
        .route("/events/{id}", get(events::get))
        .route("/openapi.json", get(openapi::serve))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    Router::new()
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/urls/{id}/redirect", get(redirect::follow_legacy))
        .route("/{code}", get(redirect::follow))
        .merge(protected)
        .merge(crate::web::routes())
        // The docs page loads its own copy of the document (public, like the
        // page); `/openapi.json` itself is behind the key.
        .merge(SwaggerUi::new("/docs").url(
            "/docs/openapi.json",
            openapi::document_for(state.service.auth_is_off()),
        ))
        .fallback(unknown_route)
        // One `layer` call: each one boxes every route once more.
        .layer(
            tower::ServiceBuilder::new()
                .layer(edge::EdgeLayer::new(
                    state.metrics.is_some(),
                    limits::Limits::new(limits),
                ))
                .layer(DefaultBodyLimit::max(json_limit)),
        )
        .with_state(state)
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such route".into())
}
