//! The HTTP listener, and what one client may hold of it: a deadline for the request head
//! (a client dripping header bytes is cut off: slowloris), a bound on open connections, and
//! a graceful shutdown that lets requests in flight finish. The whole-request deadline is a
//! layer of the router ([`request_timeout`]).
//!
//! `axum::serve` offers none of these knobs, so connections are served with hyper-util's
//! builder directly, as axum's own `serve-with-hyper` example does.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{Router, extract::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutLayer;

/// What a client may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send the request line and headers.
    pub header_read: Duration,
    /// Time from the request to the response head.
    pub request: Duration,
    /// Open connections at once; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            max_connections: 1024,
            drain: Duration::from_secs(20),
        }
    }
}

/// Request bodies larger than this are refused with a 413 on every route: no route of this
/// app accepts an upload. (Server functions take a few fields at most: they are bounded far
/// tighter, see `csrf::API_MAX_BODY_BYTES`.)
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The bound on request bodies ([`MAX_BODY_BYTES`]): a 413 before the body is read when its
/// length is declared.
pub fn body_limit() -> tower_http::limit::RequestBodyLimitLayer {
    tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY_BYTES)
}

/// The whole-request deadline: a handler still running then is dropped with a 408.
pub fn request_timeout(limits: &Limits) -> TimeoutLayer {
    TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, limits.request)
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors or a connection reset before accept: not fatal.
                Err(err) => {
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Nagle's algorithm delays small static-file responses by ~40 ms each.
        let _ = tcp.set_nodelay(true);
        let service = hyper::service::service_fn({
            let router = router.clone();
            move |request: Request<Incoming>| {
                let mut request: Request = request.map(axum::body::Body::new);
                // The client's address, for per-client limits (as axum::serve provides it).
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                router.clone().oneshot(request)
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client cut off (header timeout, reset) is routine, not an error to log loudly.
            if let Err(err) = connection.await {
                tracing::debug!("connection ended: {err}");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(limits.drain) => {
            tracing::warn!("shutdown: requests still in flight after {:?} were cut off", limits.drain);
        }
    }
    Ok(())
}
