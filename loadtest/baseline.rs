//! The "hardware limit" every redirect benchmark is measured against: the
//! smallest axum program that answers `GET /{code}` with a 302 from an
//! in-memory map. No logging, no metrics, no events, no cache tiers.
//!
//! Run: `cargo run --release --example baseline -- 127.0.0.1:9000 codes.txt`
//! (one short code per line; each redirects to `https://example.com/<code>`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

type Targets = Arc<HashMap<String, String>>;

async fn follow(State(targets): State<Targets>, Path(code): Path<String>) -> Response {
    match targets.get(&code) {
        Some(target) => (StatusCode::FOUND, [(header::LOCATION, target.clone())]).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:9000".into())
        .parse()?;
    let codes = match args.next() {
        Some(path) => std::fs::read_to_string(path)?,
        None => String::new(),
    };
    let targets: Targets = Arc::new(
        codes
            .lines()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| (c.to_owned(), format!("https://example.com/{c}")))
            .collect(),
    );
    let app = Router::new()
        .route("/{code}", get(follow))
        .with_state(targets);
    let listener = tokio::net::TcpListener::bind(bind).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
