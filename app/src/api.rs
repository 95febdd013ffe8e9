//! Server functions: the only way the browser gets data. Each one is thin: it finds the
//! server's [`port::Bff`] in context and calls it with the request.
//!
//! Every call carries the anti-CSRF header [`CSRF_HEADER`] (added by [`CsrfClient`]); the
//! server refuses server-function requests without it, or from another origin, with a 403.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{
        ApiCall, Diagnostics, DownstreamApiInfo, NamedApiCall, Profile, SessionInfo, TokenReport,
    },
};

/// The static header every server-function request carries. A cross-site form cannot set
/// a custom header, and a cross-site `fetch` that sets one needs a CORS preflight this
/// server never grants (OAuth 2.0 for Browser-Based Applications, BFF section).
pub const CSRF_HEADER: (&str, &str) = ("x-csrf", "1");

/// Where server functions are served.
pub const API_PREFIX: &str = "/api";

/// The sign-in link that comes back to `return_to` (a path of this app) afterwards: the one
/// way this app builds it, in pages and in the server's problems alike.
pub fn sign_in_url(return_to: &str) -> String {
    format!("/auth/login?return_to={}", urlencode(return_to))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters and `/` pass through).
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[server(prefix = "/api", endpoint = "session", client = CsrfClient)]
pub async fn get_session() -> Result<SessionInfo, AppError> {
    let (bff, request) = ssr::context()?;
    ssr::with_status(&request, bff.session_info(&request).await)
}

#[server(prefix = "/api", endpoint = "profile", client = CsrfClient)]
pub async fn get_profile() -> Result<Profile, AppError> {
    let (bff, request) = ssr::context()?;
    ssr::with_status(&request, bff.profile(&request).await)
}

#[server(prefix = "/api", endpoint = "tokens", client = CsrfClient)]
pub async fn get_tokens() -> Result<TokenReport, AppError> {
    let (bff, request) = ssr::context()?;
    ssr::with_status(&request, bff.tokens(&request).await)
}

#[server(prefix = "/api", endpoint = "call-api", client = CsrfClient)]
pub async fn call_downstream_api() -> Result<ApiCall, AppError> {
    let (bff, request) = ssr::context()?;
    ssr::with_status(&request, bff.call_api(&request).await)
}

#[server(prefix = "/api", endpoint = "downstream-apis", client = CsrfClient)]
pub async fn list_downstream_apis() -> Result<Vec<DownstreamApiInfo>, AppError> {
    let (bff, request) = ssr::context()?;
    ssr::with_status(&request, bff.downstream_apis(&request).await)
}

#[server(prefix = "/api", endpoint = "call-named-api", client = CsrfClient)]
pub async fn call_named_api(name: String) -> Result<NamedApiCall, AppError> {
    let (bff, request) = ssr::context()?;
    ssr::with_status(&request, bff.call_named_api(&request, &name).await)
}

#[server(prefix = "/api", endpoint = "diagnostics", client = CsrfClient)]
pub async fn get_diagnostics() -> Result<Diagnostics, AppError> {
    let (bff, request) = ssr::context()?;
    ssr::with_status(&request, bff.diagnostics(&request).await)
}

/// The browser's server-function client, plus the anti-CSRF header.
pub struct CsrfClient;

mod client {
    use leptos::server_fn::{
        client::{Client, browser::BrowserClient},
        error::FromServerFnError,
        request::browser::BrowserRequest,
        response::browser::BrowserResponse,
    };

    use super::{CSRF_HEADER, CsrfClient};

    impl<E, IS, OS> Client<E, IS, OS> for CsrfClient
    where
        E: FromServerFnError + Send,
        IS: FromServerFnError,
        OS: FromServerFnError,
    {
        type Request = BrowserRequest;
        type Response = BrowserResponse;

        fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
            req.headers().set(CSRF_HEADER.0, CSRF_HEADER.1);
            <BrowserClient as Client<E, IS, OS>>::send(req)
        }

        fn open_websocket(
            path: &str,
        ) -> impl Future<
            Output = Result<
                (
                    impl futures::Stream<Item = Result<bytes::Bytes, bytes::Bytes>> + Send + 'static,
                    impl futures::Sink<bytes::Bytes> + Send + 'static,
                ),
                E,
            >,
        > + Send {
            <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
        }

        fn spawn(future: impl Future<Output = ()> + Send + 'static) {
            <BrowserClient as Client<E, IS, OS>>::spawn(future)
        }
    }
}

/// The server side of the port: what the server crate implements and provides as context.
#[cfg(feature = "ssr")]
pub mod port {
    use http::request::Parts;

    use crate::{
        error::AppError,
        model::{
            ApiCall, Diagnostics, DownstreamApiInfo, NamedApiCall, Profile, SessionInfo,
            TokenReport,
        },
    };

    /// The BFF's services, as server functions need them. The server crate implements this
    /// (sessions, tokens, On-Behalf-Of, Graph) so that this crate holds no OAuth code.
    #[async_trait::async_trait]
    pub trait Bff: Send + Sync + 'static {
        async fn session_info(&self, request: &Parts) -> Result<SessionInfo, AppError>;
        async fn profile(&self, request: &Parts) -> Result<Profile, AppError>;
        async fn tokens(&self, request: &Parts) -> Result<TokenReport, AppError>;
        /// Calls the downstream API with a token obtained On-Behalf-Of the user.
        async fn call_api(&self, request: &Parts) -> Result<ApiCall, AppError>;
        /// The configured downstream APIs (signed-in users only).
        async fn downstream_apis(
            &self,
            request: &Parts,
        ) -> Result<Vec<DownstreamApiInfo>, AppError>;
        /// GETs the sample path of the downstream API `name` On-Behalf-Of the user.
        async fn call_named_api(
            &self,
            request: &Parts,
            name: &str,
        ) -> Result<NamedApiCall, AppError>;
        /// Checks the live configuration (no sign-in needed).
        async fn diagnostics(&self, request: &Parts) -> Result<Diagnostics, AppError>;
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use std::sync::Arc;

    use http::request::Parts;
    use leptos::prelude::use_context;

    use super::port::Bff;
    use crate::error::AppError;

    pub fn context() -> Result<(Arc<dyn Bff>, Parts), AppError> {
        let bff = use_context::<Arc<dyn Bff>>()
            .ok_or_else(|| AppError::Internal("the BFF service is not in context".into()))?;
        let parts = use_context::<Parts>()
            .ok_or_else(|| AppError::Internal("the request is not in context".into()))?;
        Ok((bff, parts))
    }

    /// Gives a failed server-function call an HTTP status that says what happened (401 not
    /// signed in, 502/503 the identity provider failed, ...), rather than a bare 500. Only
    /// for server-function requests: during server rendering the status is the page's.
    pub fn with_status<T>(request: &Parts, result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(err) = &result
            && request.uri.path().starts_with(super::API_PREFIX)
            && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        {
            response.set_status(err.status());
        }
        result
    }
}
