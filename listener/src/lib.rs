//! The HTTP listener, and what one client may hold of it: a deadline for the request head
//! (a client dripping header bytes is cut off: slowloris), a bound on open connections, and
//! a graceful shutdown that lets requests in flight finish. The whole-request deadline is a
//! layer of the router ([`request_timeout`]).
//!
//! `axum::serve` offers none of these knobs, so connections are served with hyper-util's
//! builder directly, as axum's own `serve-with-hyper` example does. Any `axum::serve::Listener`
//! is served (plain TCP, or the emulator's TLS listener); each request carries the client's
//! address as `ConnectInfo`, as `into_make_service_with_connect_info` would give it.
//!
//! Used by the BFF, the Weather API it embeds, and the Entra emulator: one implementation.

#![warn(missing_docs)]

use std::{future::Future, sync::Arc, time::Duration};

use axum::serve::Listener;
use axum::{Router, extract::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::sync::Semaphore;
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

/// Request bodies larger than this are refused with a 413: none of these services accepts an
/// upload. (The BFF bounds its server functions' bodies far tighter.)
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
///
/// # Errors
/// None today: accept errors are retried by the listener; the result is kept for callers
/// that treat serving as fallible.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: Clone + Send + Sync + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // HTTP/1 only: TLS is terminated in front of the app, and hyper-util's protocol sniff
    // (which would tell HTTP/2 apart) waits for the first bytes without any deadline, so a
    // client that connects and says nothing would hold its slot forever.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
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
        // `Listener::accept` retries failed accepts itself (e.g. out of file descriptors).
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = hyper::service::service_fn({
            let router = router.clone();
            move |request: Request<Incoming>| {
                let mut request: Request = request.map(axum::body::Body::new);
                // The client's address, for per-client limits (as axum::serve provides it).
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer.clone()));
                router.clone().oneshot(request)
            }
        });
        let connection = builder
            .serve_connection(TokioIo::new(io), service)
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    async fn start(limits: Limits) -> std::net::SocketAddr {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let router = Router::new().route(
            "/",
            get(
                |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<
                    std::net::SocketAddr,
                >| async move { peer.ip().to_string() },
            ),
        );
        tokio::spawn(serve(tcp, router, limits, std::future::pending()));
        addr
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_head_is_cut_off_and_others_are_served() {
        let addr = start(Limits {
            header_read: Duration::from_millis(500),
            ..Limits::default()
        })
        .await;
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        let started = Instant::now();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "held open");
        assert!(started.elapsed() >= Duration::from_millis(400));

        let mut fast = tokio::net::TcpStream::connect(addr).await.unwrap();
        fast.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        fast.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.ends_with("127.0.0.1"),
            "the peer reaches handlers: {answer}"
        );
    }

    #[tokio::test]
    async fn a_client_that_connects_and_says_nothing_is_cut_off_too() {
        let addr = start(Limits {
            header_read: Duration::from_millis(500),
            ..Limits::default()
        })
        .await;
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "a silent connection was held open");
    }

    #[tokio::test]
    async fn connections_beyond_the_bound_wait_until_one_closes() {
        let addr = start(Limits {
            max_connections: 1,
            ..Limits::default()
        })
        .await;
        let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
        first
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        first.read_exact(&mut buf).await.unwrap();
        // The first connection is kept alive: a second one is not served meanwhile.
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        second
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        let waited = tokio::time::timeout(
            Duration::from_millis(300),
            second.read_to_string(&mut answer),
        )
        .await;
        assert!(waited.is_err(), "served beyond the bound: {answer}");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), second.read_to_string(&mut answer))
            .await
            .expect("served once the first closed")
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}
