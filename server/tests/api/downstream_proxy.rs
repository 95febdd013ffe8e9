//! Named downstream APIs behind the proxy `/api/downstream/{name}/{*path}`: each API gets its
//! own On-Behalf-Of token, and the proxy forwards only what it may and never the browser's
//! credentials. An API's claims challenge is `step_up.rs`'s.

use emulator::{Emulator, RunningEmulator, well_known as wk};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{
    ADELE, Seen, TestApp,
    apis::{EU_API_CLIENT_ID, EU_API_ID_URI, echo_api, eu_scope, weather_api, world_with_eu_api},
    contains_jwt, problem_of, spawn_app,
};

/// The BFF, and the emulator it signs in with (kept running as long as this lives).
struct Setup {
    app: TestApp,
    _emulator: RunningEmulator,
}

/// The BFF with three named APIs: `weather` (the default entry), `eu` (the second Weather
/// API, `/weatherforecast` only) and `echo` (GET and POST, under `/things`, with the EU
/// API's scope).
async fn setup() -> Setup {
    let emulator = Emulator::builder()
        .world(world_with_eu_api())
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let weather = weather_api(
        &emulator,
        wk::WEATHER_API_CLIENT_ID,
        wk::WEATHER_API_ID_URI,
        None,
    )
    .await;
    let eu = weather_api(&emulator, EU_API_CLIENT_ID, EU_API_ID_URI, None).await;
    let echo = echo_api().await;
    let eu_scope = eu_scope();
    let app = spawn_app(&[
        ("AZURE_AD_TENANT_ID", wk::TENANT_ID),
        ("AZURE_AD_AUTHORITY_HOST", emulator.base_url()),
        ("AZURE_AD_CLIENT_ID", wk::WEB_APP_CLIENT_ID),
        ("AZURE_AD_CLIENT_SECRET", wk::WEB_APP_SECRET),
        ("GRAPH_BASE_URL", &emulator.graph_base_url()),
        ("SESSION_STORE", "memory"),
        ("DOWNSTREAM_API_URL", &weather),
        ("DOWNSTREAM_API__EU__BASE_URL", &eu),
        ("DOWNSTREAM_API__EU__SCOPES", &eu_scope),
        ("DOWNSTREAM_API__EU__ALLOWED_PATHS", "/weatherforecast"),
        ("DOWNSTREAM_API__ECHO__BASE_URL", &format!("{echo}/base")),
        ("DOWNSTREAM_API__ECHO__SCOPES", &eu_scope),
        ("DOWNSTREAM_API__ECHO__ALLOWED_PATHS", "/things"),
        ("DOWNSTREAM_API__ECHO__ALLOWED_METHODS", "GET,POST"),
    ])
    .await;
    Setup {
        app,
        _emulator: emulator,
    }
}

#[tokio::test]
async fn each_named_api_gets_its_own_obo_token_through_the_proxy() {
    let running = setup().await;
    let app = &running.app;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    app.reset_emulator_stats().await;

    for name in ["weather", "eu"] {
        let response = app
            .proxied(&format!("/api/downstream/{name}/weatherforecast"))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let forecasts: Vec<Value> = response.json().await.unwrap();
        assert_eq!(forecasts.len(), 5, "{name}");
    }
    assert_eq!(app.emulator_stats().await["obo"], 2, "one exchange per API");
    // Cached per API: the same calls again make no exchange.
    for name in ["weather", "eu"] {
        let response = app
            .proxied(&format!("/api/downstream/{name}/weatherforecast"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(app.emulator_stats().await["obo"], 2);
    // Each token is for its own API.
    assert_eq!(
        app.named_api_token("weather").await["aud"],
        wk::WEATHER_API_CLIENT_ID
    );
    assert_eq!(app.named_api_token("eu").await["aud"], EU_API_CLIENT_ID);

    // The Call API page lists them all.
    let listed = app
        .as_page(app.client.post(app.url("/api/downstream-apis")))
        .send()
        .await
        .unwrap();
    let listed: Vec<Value> = listed.json().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["weather", "echo", "eu"]);
}

#[tokio::test]
async fn the_proxy_forwards_method_query_and_body_but_never_the_browsers_credentials() {
    let running = setup().await;
    let app = &running.app;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    let response = app
        .as_page(
            app.client
                .post(app.url("/api/downstream/echo/things/42?color=blue&size=L")),
        )
        .header("content-type", "application/json")
        .header("authorization", "Bearer from-the-browser")
        .header("x-forwarded-for", "203.0.113.9")
        .header("connection", "x-secret-hop")
        .header("x-secret-hop", "1")
        .header("x-request-id", "abc-123")
        .header("x-http-method-override", "DELETE")
        .header("x-original-url", "/admin")
        .header("x-real-ip", "203.0.113.9")
        .body(r#"{"name":"a thing"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The API's own headers pass; none that would change how the browser treats this app.
    assert_eq!(response.headers()["x-api-version"], "7");
    for withheld in [
        "set-cookie",
        "access-control-allow-origin",
        "www-authenticate",
    ] {
        assert!(
            response.headers().get(withheld).is_none(),
            "{withheld} was passed on"
        );
    }
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert_eq!(
        response.headers()["content-security-policy"],
        "frame-ancestors 'none'"
    );
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/base/things/42");
    assert_eq!(seen["query"], "color=blue&size=L");
    assert_eq!(seen["body"], r#"{"name":"a thing"}"#);
    let headers = &seen["headers"];
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-request-id"], "abc-123");
    let bearer = headers["authorization"].as_str().unwrap();
    assert!(
        bearer.starts_with("Bearer ") && contains_jwt(bearer),
        "{bearer}"
    );
    for stripped in [
        "cookie",
        "x-csrf",
        "origin",
        "referer",
        "sec-fetch-site",
        "x-forwarded-for",
        "x-secret-hop",
        "x-http-method-override",
        "x-original-url",
        "x-real-ip",
    ] {
        assert!(
            headers.get(stripped).is_none(),
            "{stripped} was forwarded: {headers}"
        );
    }
}

#[tokio::test]
async fn the_proxy_refuses_what_it_must_not_forward() {
    let running = setup().await;
    let app = &running.app;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;

    // A path outside the API's allowed list, an unknown API, a path that climbs out.
    let outside = app.proxied("/api/downstream/eu/admin/users").await;
    assert_eq!(outside.status(), StatusCode::FORBIDDEN);
    let problem = problem_of(outside).await;
    assert!(
        problem
            .title
            .contains("/admin/users is not an allowed path"),
        "{problem:?}"
    );
    assert_eq!(
        app.proxied("/api/downstream/hr/people").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        // (An encoded `..` is resolved by any URL parser before it is sent; a `%2f` is not.)
        app.proxied("/api/downstream/eu/weatherforecast%2f..%2fadmin")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    // A method the API does not allow.
    let put = app
        .as_page(app.client.put(app.url("/api/downstream/echo/things/1")))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(put.headers()["allow"], "GET, POST");

    // Cross-site: without the anti-CSRF header, or with it from another site.
    let no_header = app.get("/api/downstream/weather/weatherforecast").await;
    assert_eq!(no_header.status(), StatusCode::FORBIDDEN);
    let cross_site = app
        .client
        .post(app.url("/api/downstream/echo/things"))
        .header("x-csrf", "1")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);

    // Signed out: 401, and nothing reaches the API.
    let stranger = app.other_browser();
    let anonymous = stranger
        .proxied("/api/downstream/weather/weatherforecast")
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Nor does a stranger learn which APIs, paths or methods exist.
    for path in ["/api/downstream/hr/people", "/api/downstream/eu/admin"] {
        assert_eq!(
            stranger.proxied(path).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn an_apis_redirect_is_a_502_never_passed_to_the_browser() {
    let running = setup().await;
    let app = &running.app;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    // The browser's fetch would follow it with the method, body and x-csrf header, e.g.
    // into this app's sign-out or another API's proxy route.
    for to in [
        "/auth/logout",
        "/api/downstream/weather/weatherforecast",
        "https://evil.example/",
    ] {
        let path = format!("/api/downstream/echo/things?redirect_to={}", urlencode(to));
        let response = app.proxied(&path).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{to}");
        assert!(response.headers().get("location").is_none(), "{to}");
        let problem = problem_of(response).await;
        assert!(problem.title.contains("redirect"), "{problem:?}");
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
