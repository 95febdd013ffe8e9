//! The session store's trouble as an answer, not a crash: every store call is timed and
//! counted, a failing store turns requests into 503 "session store unavailable, try again"
//! (the cookie and the stored session stay: nobody is signed out), and the next successful
//! call clears the state by itself.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use axum::{
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_sessions::{
    Session, SessionStore,
    session::{Id, Record},
    session_store::{Error, Result},
};

use tracing::Instrument as _;

use super::conditional::UpdateExisting;
use crate::metrics::Metrics;

/// Whether the last store call failed.
#[derive(Debug, Default)]
pub struct StoreHealth {
    failing: AtomicBool,
}

impl StoreHealth {
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    fn record<T>(&self, result: &Result<T>) {
        let backend_failed = matches!(result, Err(Error::Backend(_)));
        self.failing.store(backend_failed, Ordering::Relaxed);
    }
}

/// A session store whose calls are timed, counted and remembered by [`StoreHealth`].
#[derive(Clone)]
pub struct Watched<S> {
    inner: S,
    /// `redis`, `sqlite` or `memory`, for the spans.
    system: &'static str,
    health: Arc<StoreHealth>,
    metrics: Arc<Metrics>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Watched<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S> Watched<S> {
    pub fn new(
        inner: S,
        system: &'static str,
        health: Arc<StoreHealth>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            inner,
            system,
            health,
            metrics,
        }
    }

    async fn watch<T>(
        &self,
        op: &'static str,
        call: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let span = crate::telemetry::store_span(self.system, op);
        let started = Instant::now();
        let result = call.instrument(span.clone()).await;
        self.metrics
            .store_call(op, started.elapsed(), result.is_err());
        if result.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        self.health.record(&result);
        if let Err(err) = &result {
            tracing::error!(op, "session store: {err}");
        }
        result
    }
}

#[async_trait::async_trait]
impl<S: SessionStore> SessionStore for Watched<S> {
    async fn create(&self, record: &mut Record) -> Result<()> {
        self.watch("create", self.inner.create(record)).await
    }

    async fn save(&self, record: &Record) -> Result<()> {
        self.watch("save", self.inner.save(record)).await
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        self.watch("load", self.inner.load(id)).await
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.watch("delete", self.inner.delete(id)).await
    }
}

#[async_trait::async_trait]
impl<S: UpdateExisting + Sync> UpdateExisting for Watched<S> {
    async fn update_existing(&self, record: &Record) -> Result<bool> {
        self.watch("save", self.inner.update_existing(record)).await
    }
}

/// Middleware inside the session layer: a request that carries a session reads it first, so
/// that a store outage answers 503 before any page or call half-runs. Costs nothing extra:
/// the record read here is the one the handler uses. Static files never read the session
/// (the browser sends the cookie with them too).
pub async fn read_session_first(session: Session, request: Request, next: Next) -> Response {
    if session.id().is_some()
        && !crate::headers::is_static_file(request.uri().path())
        && let Err(err) = session.get_value("auth.user").await
    {
        tracing::error!("session store: {err}");
        return unavailable(request.uri().path());
    }
    next.run(request).await
}

/// Middleware outside the session layer: tower-sessions answers a failed save with an empty
/// 500; while the store is failing, that becomes the 503 that says why.
pub async fn explain_store_failures(
    State(health): State<Arc<StoreHealth>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR && health.is_failing() {
        return unavailable(&path);
    }
    response
}

pub const TITLE: &str = "The session store is unavailable";
pub const FIX: &str = "Try again in a moment: you are still signed in, and nothing was lost.";

/// The 503 for `path`: the app's problem JSON for server functions, a page otherwise.
pub fn unavailable(path: &str) -> Response {
    if path.starts_with(app::api::API_PREFIX) {
        let problem = app::error::AppError::Problem(Box::new(problem()));
        let body = serde_json::to_string(&problem).expect("an AppError serializes");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::RETRY_AFTER, "1"),
            ],
            body,
        )
            .into_response();
    }
    let mut page = crate::routes::page::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        TITLE,
        &[
            "The server could not read or save your session.".into(),
            FIX.into(),
        ],
        // A page is tried again where it was (a path of this site only: `//evil.example/`
        // would be an off-site link); an auth step from the start.
        (
            match crate::domain::ReturnTo::parse(path) {
                Some(_) if path.starts_with("/auth/") => "/",
                Some(_) => path,
                None => "/",
            },
            "Try again",
        ),
    );
    page.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    page
}

/// The problem the page shows when a server function meets the outage.
pub fn problem() -> app::model::Problem {
    app::model::Problem {
        title: TITLE.into(),
        meaning: "The server keeps your session (and your tokens) in its session store, and \
                  could not reach it."
            .into(),
        cause: "The session store (Redis or the session database) is down or too slow.".into(),
        fix: FIX.into(),
        action: app::model::ProblemAction::Retry,
        ..app::model::Problem::default()
    }
}

#[cfg(test)]
mod tests {
    use super::unavailable;

    async fn link_of(path: &str) -> String {
        let body = axum::body::to_bytes(unavailable(path).into_body(), 1 << 20)
            .await
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        let anchor = "class=\"button\" href=\"";
        let at = page.find(anchor).expect("a Try again link") + anchor.len();
        page[at..at + page[at..].find('"').unwrap()].to_owned()
    }

    #[tokio::test]
    async fn the_outage_pages_try_again_link_stays_on_this_site() {
        assert_eq!(link_of("/tokens").await, "/tokens");
        assert_eq!(link_of("/auth/callback").await, "/");
        for hostile in ["//evil.example/", "/\\evil.example/"] {
            assert_eq!(link_of(hostile).await, "/", "{hostile}");
        }
    }
}
