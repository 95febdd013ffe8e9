//! The token lifecycle's hard paths: revoked refresh tokens, identity-provider outages, and
//! the token cache's observable size and hit rate.

use crate::common::{ADELE, ProblemAction, Seen, location, spawn_app, spawn_signed_in};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn admin(app: &crate::common::TestApp, path: &str, body: Value) {
    app.admin(path, body).await;
}

#[tokio::test]
async fn a_revoked_session_says_sign_in_again_and_returns_to_the_page() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    // Short sign-in tokens, so the next call must refresh.
    admin(&app, "lifetimes", json!({ "access_token": 4 })).await;
    app.sign_in(ADELE, "/tokens", &mut Seen::default()).await;
    admin(&app, &format!("users/{ADELE}/revoke"), json!({})).await;

    let problem = app.problem("profile", StatusCode::BAD_GATEWAY).await;
    assert!(
        problem.cause.starts_with("Your session has expired"),
        "{problem:?}"
    );
    assert!(
        matches!(&problem.action, ProblemAction::SignIn { label, .. } if label == "Sign in again"),
        "{problem:?}"
    );

    // Signing in again works and is not a loop.
    app.follow_action(&problem, ADELE, &mut Seen::default())
        .await;
    assert_eq!(app.server_fn("profile").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_identity_provider_outage_offers_a_retry_and_keeps_the_session() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory")]).await;
    admin(
        &app,
        "faults",
        json!({"endpoint": "token", "kind": {"type": "status", "code": 503, "retry_after": 1}, "count": 1}),
    )
    .await;

    let problem = app
        .problem("profile", StatusCode::SERVICE_UNAVAILABLE)
        .await;
    assert_eq!(problem.action, ProblemAction::Retry, "{problem:?}");
    assert!(problem.fix.contains("still signed in"), "{problem:?}");

    // Still signed in; the retry succeeds once the provider is back.
    assert_eq!(app.session().await.user.unwrap().name, "Adele Vance");
    assert_eq!(app.server_fn("profile").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_token_cache_reports_its_size_and_hit_rate() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory"), ("PROFILE_TTL_SECS", "0")]).await;
    for _ in 0..4 {
        assert_eq!(app.server_fn("profile").await.status(), StatusCode::OK);
    }
    assert_eq!(app.server_fn("call-api").await.status(), StatusCode::OK);
    assert_eq!(
        app.metric("bff_obo_cache_entries", "").await,
        2.0,
        "Graph and the Weather API"
    );
    assert_eq!(app.metric("bff_obo_exchanges_total", "").await, 2.0);
    assert_eq!(
        app.metric("bff_obo_cache_hits_total", "tier=\"process\"")
            .await,
        3.0
    );
    assert!(app.metric("bff_obo_cache_bytes", "").await > 1000.0);
    assert_eq!(app.metric("bff_sign_ins_total", "").await, 1.0);
    // Requests are counted by route pattern, not by raw path.
    assert_eq!(
        app.metric(
            "bff_http_requests_total",
            "route=\"/api/profile\",method=\"POST\",status=\"200\""
        )
        .await,
        4.0
    );

    // Sign-out purges the user's entries.
    let out = app.sign_out().await;
    assert!(out.status().is_redirection());
    assert_eq!(app.metric("bff_obo_cache_entries", "").await, 0.0);
}

#[tokio::test]
async fn after_a_key_rollover_sign_in_still_validates_by_refetching_the_keys() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory")]).await;
    admin(&app, "keys/roll", json!({})).await;
    // The server refetches keys at most every 5 s; the next ID token has the new kid.
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    let other_browser = app.other_browser();
    let callback = other_browser
        .sign_in(crate::common::MEGAN, "/", &mut Seen::default())
        .await;
    assert_eq!(
        location(&callback),
        "/",
        "sign-in after rollover must succeed"
    );
    let session: Value = other_browser
        .server_fn("session")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["user"]["name"], "Megan Bowen");
}

#[tokio::test]
async fn discovery_and_keys_are_retried_through_transient_failures() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    // Two failures in a row; the third attempt (after 0.2 s and 0.6 s) succeeds.
    admin(
        &app,
        "faults",
        json!({"endpoint": "discovery", "kind": {"type": "status", "code": 503, "retry_after": null}, "count": 2}),
    )
    .await;
    let report: Value = app.server_fn("diagnostics").await.json().await.unwrap();
    // The first two answers were 503: a pass means the third attempt was made.
    let discovery = &report["checks"][0];
    assert_eq!(discovery["outcome"], "Pass", "{report}");
    let faults: Value = reqwest::get(format!("{}/_emulator/faults", app.emulator))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults, json!([]), "both injected failures were used up");
}
