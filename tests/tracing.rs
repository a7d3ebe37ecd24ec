//! Spans through the OpenTelemetry SDK's in-memory exporter.
//!
//! Its own test binary: tracing caches, per call site, whether anyone
//! listens; other tests running beside it in one process without a
//! subscriber can race that cache. Alone here, the answer is stable.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

use kurz_testkit::{spawn_app_with, test_settings, Engine};

/// Spans reach the OpenTelemetry SDK: the request, the cache tiers, the
/// store calls and the event batch write (`store.append_redirects`). (Uses a thread-local subscriber, so the
/// app runs on this test's single thread.)
/// The two engines' span tests run one after the other: each starts a
/// server, and the SQLite one waits on spans that contention can delay.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn spans_cover_the_request_the_cache_the_store_and_the_event_batch_write(engine: Engine) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info,kurz=debug"))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let (settings, db) = test_settings(engine).await;
    let app = spawn_app_with(settings, db).await;
    let uid = app.create_user().await["id"].as_i64().unwrap();
    let url = app.create_url(uid, "https://example.com/traced").await;
    assert_eq!(
        app.get(&format!("/{}", url["short_code"].as_str().unwrap()))
            .await
            .status,
        302
    );
    app.events.flush().await;

    // A span is exported when it closes, and a parent can close a moment
    // after its children: the SQLite driver keeps a handle on the span of the
    // last command on each pooled connection until that connection runs the
    // next one. So wait for them, giving every connection work meanwhile.
    let expected = [
        "request",
        "cache.local",
        "store.find_link",
        "store.create_url",
        "store.append_redirects",
    ];
    let complete = |spans: &[opentelemetry_sdk::trace::SpanData]| {
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        expected.iter().all(|e| names.contains(e)) && nested_store_span(spans).is_some()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        if complete(&spans) {
            break;
        }
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        assert!(
            std::time::Instant::now() < deadline,
            "spans incomplete after 10 s: {names:?}"
        );
        // Commands on every pooled connection (writes and reads) make the
        // driver let go of the spans of earlier commands.
        let user = app.create_user().await;
        app.get(&format!("/users/{}", user["id"])).await;
        app.get(&format!("/urls/{}", url["id"])).await;
        app.events.flush().await;
    }
    let spans = exporter.get_finished_spans().unwrap();
    let batch = spans
        .iter()
        .find(|s| s.name == "store.append_redirects")
        .unwrap();
    assert!(
        batch
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "events"),
        "the batch span carries its size"
    );
    let (store, request) = nested_store_span(&spans).expect("a store span with its parent");
    assert_eq!(
        request.name, "request",
        "store calls nest under their request ({} did not)",
        store.name
    );
}

/// A store span whose parent has been exported too, with that parent. Any
/// one will do: which request's span the SQLite driver still holds (until
/// its pooled connection runs another command) is down to the pool.
fn nested_store_span(
    spans: &[opentelemetry_sdk::trace::SpanData],
) -> Option<(
    &opentelemetry_sdk::trace::SpanData,
    &opentelemetry_sdk::trace::SpanData,
)> {
    spans
        .iter()
        .filter(|s| s.name.starts_with("store."))
        .find_map(|store| {
            spans
                .iter()
                .find(|p| p.span_context.span_id() == store.parent_span_id)
                .map(|parent| (store, parent))
        })
}

#[tokio::test(flavor = "current_thread")]
async fn sqlite_spans_cover_the_request_the_cache_the_store_and_the_event_batch_write() {
    spans_cover_the_request_the_cache_the_store_and_the_event_batch_write(Engine::Sqlite).await
}

#[tokio::test(flavor = "current_thread")]
async fn postgres_spans_cover_the_request_the_cache_the_store_and_the_event_batch_write() {
    spans_cover_the_request_the_cache_the_store_and_the_event_batch_write(Engine::Postgres).await
}
