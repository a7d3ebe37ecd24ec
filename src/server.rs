//! The HTTP/1 server under the router, with the edge limits axum's own
//! `serve` does not offer: a listen backlog for bursts, TCP_NODELAY on every
//! accepted socket (no Nagle/delayed-ACK stall on multi-segment answers), a
//! cap on open connections, a deadline for reading a request head (against
//! slowloris; hyper also applies it while a kept-alive connection waits for
//! its next request, so idle connections close after it), and a limit on
//! the size of a request head (431 above it). Graceful: on `shutdown` it
//! stops accepting and waits for open connections to finish their requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tower::Service;

/// Limits on connections, from the settings.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Pending connections the kernel queues before `accept`.
    pub listen_backlog: u32,
    /// Open connections at most; more wait in the backlog.
    pub max_connections: usize,
    /// Time to receive a whole request head (and longest idle keep-alive).
    pub header_read_timeout: Duration,
    /// Largest request head (request line + headers) in bytes, at least 8192.
    pub max_header_bytes: usize,
}

/// Smallest head buffer hyper accepts.
pub const MIN_HEADER_BYTES: usize = 8192;

/// Binds `address` with the configured backlog (tokio's default is 1024).
pub fn bind(address: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(backlog)
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits for
/// the open connections to finish (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) {
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let service = match make_service.call(peer).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .max_buf_size(settings.max_header_bytes.max(MIN_HEADER_BYTES))
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
