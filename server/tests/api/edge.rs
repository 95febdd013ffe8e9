//! The server's edge against a hostile or careless client: security headers and no caching
//! of personal pages, single-use sign-in state, no session written for forged callbacks,
//! fail-closed anti-CSRF checks, and a deadline for the request head (slowloris).

use std::time::{Duration, Instant};

use crate::common::{Seen, location, query_param, spawn_app, spawn_signed_in};
use reqwest::{StatusCode, header::HeaderValue};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_personal_ones_are_not_cached() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory")]).await;
    let responses = [
        app.get("/").await,
        app.get("/tokens").await,
        app.get("/auth/login").await,
        app.server_fn("profile").await,
        app.client
            .get(app.url("/no-such-page"))
            .send()
            .await
            .unwrap(),
    ];
    for response in &responses {
        let what = response.url().path();
        assert_eq!(
            header(response, "x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(header(response, "x-frame-options"), Some("DENY"), "{what}");
        assert!(
            header(response, "content-security-policy")
                .is_some_and(|csp| csp.contains("frame-ancestors 'none'")),
            "{what}"
        );
        assert_eq!(
            header(response, "referrer-policy"),
            Some("same-origin"),
            "{what}"
        );
        assert_eq!(
            header(response, "cache-control"),
            Some("no-store"),
            "{what}"
        );
        // Plain HTTP on localhost: no HSTS (it would pin localhost to HTTPS).
        assert_eq!(
            header(response, "strict-transport-security"),
            None,
            "{what}"
        );
    }
    // Pages: scripts only from this origin or with this response's nonce, never inline.
    let home = app.get("/").await;
    let csp = header(&home, "content-security-policy").unwrap().to_owned();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"))
        .to_owned();
    let html = home.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "{html}");
    // The 404 page is rendered like any page: its scripts need the nonce too.
    let missing = app.get("/no-such-page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        header(&missing, "content-security-policy").is_some_and(|csp| csp.contains("'nonce-")),
        "{:?}",
        header(&missing, "content-security-policy")
    );
    let again = app.get("/").await;
    assert!(
        !header(&again, "content-security-policy")
            .unwrap()
            .contains(&nonce),
        "a nonce is used once"
    );

    // Static files may be cached; they are the same for everyone.
    let asset = app.get("/favicon.svg").await;
    assert_ne!(header(&asset, "cache-control"), Some("no-store"));
    assert_eq!(header(&asset, "x-content-type-options"), Some("nosniff"));

    let https = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("APP_URL", "https://bff.example.com"),
    ])
    .await;
    let home = https.client.get(https.url("/")).send().await.unwrap();
    assert!(
        header(&home, "strict-transport-security").is_some_and(|v| v.starts_with("max-age=")),
        "HSTS over HTTPS"
    );
}

#[tokio::test]
async fn diagnostics_ask_the_identity_provider_at_most_every_few_seconds_and_tell_strangers_little()
{
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    app.reset_emulator_stats().await;
    for _ in 0..20 {
        let report = app.ok("diagnostics").await;
        for check in report["checks"].as_array().unwrap() {
            assert_eq!(check["detail"], "Sign in to see the details.", "{check}");
            assert_eq!(check["fix"], serde_json::Value::Null, "{check}");
        }
        let text = report.to_string();
        assert!(
            !text.contains(emulator::well_known::WEB_APP_CLIENT_ID),
            "{text}"
        );
        assert!(!text.contains(emulator::well_known::TENANT_ID), "{text}");
    }
    let stats = app.emulator_stats().await;
    assert!(stats["discovery"].as_u64().unwrap() <= 1, "{stats}");
    assert!(stats["jwks"].as_u64().unwrap() <= 1, "{stats}");

    // A signed-in user sees what was found.
    app.sign_in(crate::common::ADELE, "/", &mut Seen::default())
        .await;
    let check = app.diagnostic("Discovery document").await;
    assert!(
        check["detail"].as_str().unwrap().contains("issuer"),
        "{check}"
    );
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_only() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let public = app.get("/metrics").await;
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let private = reqwest::get(format!("{}/metrics", app.metrics))
        .await
        .unwrap();
    assert_eq!(private.status(), StatusCode::OK);
    assert!(
        app.metrics.starts_with("http://127.0.0.1:"),
        "{}",
        app.metrics
    );
}

#[tokio::test]
async fn a_code_the_provider_refuses_is_a_400_and_its_state_cannot_be_used_again() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let login = app.get("/auth/login").await;
    let state = query_param(&location(&login), "state");
    let callback = format!("/auth/callback?code=forged-code&state={state}");

    let first = app.get(&callback).await;
    assert_eq!(first.status(), StatusCode::BAD_REQUEST);
    let page = first.text().await.unwrap();
    assert!(page.contains("Sign-in failed"), "{page}");

    // The state (with its verifier and nonce) was spent by the first try.
    let again = app.get(&callback).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again.text().await.unwrap().contains("no longer valid"));
}

#[tokio::test]
async fn a_forged_callback_sets_no_cookie_and_stores_no_session() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let forged = app.get("/auth/callback?code=x&state=never-issued").await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(
        forged.headers().get("set-cookie").is_none(),
        "a forged callback created a session: {:?}",
        forged.headers().get("set-cookie")
    );
}

#[tokio::test]
async fn an_unreadable_origin_or_fetch_metadata_is_refused_as_cross_site() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    for name in ["origin", "sec-fetch-site"] {
        let response = app
            .client
            .post(app.url("/api/session"))
            .header("x-csrf", "1")
            .header(name, HeaderValue::from_bytes(b"same-origin\xff").unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}");
        let body = response.text().await.unwrap();
        assert!(body.contains("not readable"), "{name}: {body}");
    }
}

#[tokio::test]
async fn a_client_that_drips_its_request_head_is_cut_off() {
    let app = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("HEADER_READ_TIMEOUT_SECS", "1"),
    ])
    .await;
    let addr = app.base.trim_start_matches("http://localhost:");
    let mut slow = tokio::net::TcpStream::connect(format!("127.0.0.1:{addr}"))
        .await
        .unwrap();
    let started = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    // Never finish the head: the server must close the connection by itself.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the connection was held open for 10 s");
    assert!(started.elapsed() >= Duration::from_millis(900));
    let answer = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // Everyone else is still served.
    let ok = app.get("/").await;
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_server_function_never_redirects_to_a_foreign_referer() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let response = app
        .client
        .post(app.url("/api/session"))
        .header("x-csrf", "1")
        .header("accept", "text/html")
        .header("referer", "https://evil.example/phish")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    let target = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(!target.contains("evil.example"), "redirected to {target}");
}

#[tokio::test]
async fn oversized_and_malformed_server_function_bodies_are_4xx_with_a_plain_message() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/api/session"))
            .header("x-csrf", "1")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let big = post(
        vec![b'a'; 2 * 1024 * 1024],
        "application/x-www-form-urlencoded",
    )
    .await
    .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);

    for (body, content_type) in [
        (
            b"\xff\xfe=\xff".to_vec(),
            "application/x-www-form-urlencoded",
        ),
        (b"a[=b&&[]]=".to_vec(), "application/x-www-form-urlencoded"),
        (b"{}".to_vec(), "application/x-www-form-urlencoded"),
        (b"x".to_vec(), "text/plain"),
    ] {
        let response = post(body.clone(), content_type).await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success() || status.is_client_error(),
            "{body:?}: {status} {text}"
        );
        assert!(!text.contains("serde") && !text.contains("/src/"), "{text}");
    }
}

#[tokio::test]
async fn sign_in_requests_are_rate_limited_per_client_with_a_retry_after() {
    let app = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("AUTH_RATE_LIMIT_BURST", "5"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "6"),
    ])
    .await;
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..8 {
        let response = crate::common::browser()
            .get(app.url("/auth/login"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(response);
        }
    }
    assert_eq!(&statuses[..5], &[303; 5], "{statuses:?}");
    let refused = refused.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    let wait: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Too many sign-in requests")
    );
    // Pages and server functions are not limited by it.
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_anonymous_sign_in_start_keeps_its_session_only_as_long_as_the_sign_in() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let login = app.get("/auth/login").await;
    let cookie = header(&login, "set-cookie").unwrap().to_owned();
    assert!(cookie.contains("Max-Age=900"), "{cookie}");
    // Signed in: a browser-session cookie (gone when the browser closes); the idle timeout
    // is kept on the server.
    let callback = app
        .through_emulator(
            &location(&login),
            crate::common::ADELE,
            &mut Seen::default(),
        )
        .await;
    let cookie = header(&callback, "set-cookie").unwrap().to_owned();
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("Expires"),
        "{cookie}"
    );
}

#[tokio::test]
async fn idle_time_counts_from_the_last_use_not_from_the_sign_in() {
    let app = spawn_signed_in(&[
        ("SESSION_STORE", "sqlite"),
        ("SESSION_IDLE_TIMEOUT_SECS", "3"),
    ])
    .await;
    // Used every 2 s: alive 6 s after sign-in, twice the idle timeout.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let session = app.session().await;
        assert_eq!(session.user.unwrap().name, "Adele Vance");
    }
    // Then left alone longer than the timeout: signed out, and told why, once.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let session = app.session().await;
    assert_eq!(session.user, None);
    let why = session.ended.unwrap_or_default();
    assert!(why.contains("unused for more than 3 s"), "{why}");
    assert_eq!(app.session().await.ended, None);
}

#[tokio::test]
async fn a_session_past_its_absolute_limit_ends_with_the_reason() {
    let app = spawn_signed_in(&[
        ("SESSION_STORE", "memory"),
        ("SESSION_ABSOLUTE_TIMEOUT_SECS", "2"),
    ])
    .await;
    let session = app.session().await;
    assert_eq!(
        session.user.unwrap().tenant_id,
        emulator::well_known::TENANT_ID
    );
    assert_eq!(session.ended, None);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let session = app.session().await;
    assert_eq!(session.user, None);
    let why = session.ended.unwrap_or_default();
    assert!(why.contains("reached its limit of 2 s"), "{why}");
    // A browser that never had a session is told nothing.
    assert_eq!(app.other_browser().session().await.ended, None);
}
