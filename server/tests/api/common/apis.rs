//! Downstream APIs for the tests: Weather APIs on free ports (the default one and a second,
//! "EU" one with its own registration), an API that echoes what it received, and the page
//! script's calls to the proxy.

use std::{sync::Arc, time::Duration};

use axum::{Json, Router, extract::Request, response::IntoResponse as _, routing::any};
use emulator::{RunningEmulator, World, well_known as wk};
use reqwest::RequestBuilder;
use serde_json::{Value, json};

use super::{ADELE, TestApp};

/// A second Weather API, for another region: its own registration and App ID URI.
pub const EU_API_CLIENT_ID: &str = "4c7d2e91-5a3b-4f60-8d12-7e9b0c3a6f58";
pub const EU_API_ID_URI: &str = "api://4c7d2e91-5a3b-4f60-8d12-7e9b0c3a6f58";

/// The EU API's scope.
pub fn eu_scope() -> String {
    format!("{EU_API_ID_URI}/Weather.Read")
}

/// The well-known world plus the EU Weather API (a copy of the Weather API's registration,
/// opted in to `xms_cc` like it), which Adele consented to.
pub fn world_with_eu_api() -> World {
    let mut world = World::well_known();
    let contoso = &mut world.tenants[0];
    let mut eu = contoso.app(wk::WEATHER_API_CLIENT_ID).unwrap().clone();
    eu.app_id = EU_API_CLIENT_ID.into();
    eu.display_name = "Weather API (EU)".into();
    eu.identifier_uris = vec![EU_API_ID_URI.into()];
    contoso.applications.push(eu);
    let mut consent = contoso
        .consents
        .iter()
        .find(|c| c.resource_app_id == wk::WEATHER_API_CLIENT_ID)
        .unwrap()
        .clone();
    consent.resource_app_id = EU_API_CLIENT_ID.into();
    consent.principal = Some(ADELE.into());
    contoso.consents.push(consent);
    world
}

/// A Weather API on a free port accepting tokens for `client_id` / `id_uri`, requiring the
/// authentication context `context` when given.
pub async fn weather_api(
    emulator: &RunningEmulator,
    client_id: &str,
    id_uri: &str,
    context: Option<&str>,
) -> String {
    let validator = weather_api::BearerValidator::discover(
        reqwest::Client::new(),
        weather_api::ValidatorConfig {
            authority_host: url::Url::parse(emulator.base_url()).unwrap(),
            tenant_id: wk::TENANT_ID.into(),
            audiences: vec![client_id.into(), id_uri.into()],
            required_scope: "Weather.Read".into(),
            clock_skew: Duration::from_secs(300),
            required_auth_context: context.map(str::to_owned),
        },
    )
    .await
    .unwrap();
    serve(weather_api::router(Arc::new(validator))).await
}

/// An API that answers with what it received (method, path, query, headers, body), and
/// tries to set a cookie; with `?redirect_to=<url>` it answers a 307 there instead.
pub async fn echo_api() -> String {
    let echo = |request: Request| async move {
        let (parts, body) = request.into_parts();
        let redirect = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "redirect_to")
                .map(|(_, v)| v.into_owned())
        });
        if let Some(to) = redirect {
            return (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [("location", to)],
            )
                .into_response();
        }
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let headers: serde_json::Map<String, Value> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        (
            [
                ("set-cookie", "api-session=1; Path=/"),
                ("content-security-policy", "frame-ancestors *"),
                ("access-control-allow-origin", "*"),
                ("www-authenticate", "Basic realm=\"api\""),
                ("x-api-version", "7"),
            ],
            Json(json!({
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "query": parts.uri.query(),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            })),
        )
            .into_response()
    };
    serve(Router::new().fallback(any(echo))).await
}

/// Serves `router` on a free loopback port: its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

impl TestApp {
    /// `request` as this app's page script sends it: the anti-CSRF header and fetch
    /// metadata of a same-origin call from the Call API page.
    pub fn as_page(&self, request: RequestBuilder) -> RequestBuilder {
        request
            .header("x-csrf", "1")
            .header("sec-fetch-site", "same-origin")
            .header("origin", &self.base)
            .header("referer", self.url("/call-api"))
    }

    /// The Call API page's GET of the downstream API `name` (it must answer 200): the claims
    /// of the token it sent.
    pub async fn named_api_token(&self, name: &str) -> serde_json::Map<String, Value> {
        let response = self
            .as_page(self.client.post(self.url("/api/call-named-api")))
            .form(&[("name", name)])
            .send()
            .await
            .unwrap();
        let call: Value = response.json().await.unwrap();
        assert_eq!(call["status"], 200, "{call}");
        super::claim_map(&call["token"])
    }

    /// A GET through the proxy (`/api/downstream/...`) from the page.
    pub async fn proxied(&self, path: &str) -> reqwest::Response {
        self.as_page(self.client.get(self.url(path)))
            .send()
            .await
            .unwrap()
    }
}
