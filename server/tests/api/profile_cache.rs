//! The Graph profile cache: a warm page view calls neither the identity provider nor Graph;
//! a stale profile is served at once while one background read refreshes it; a failed
//! refresh keeps the cached profile, with its age.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{ADELE, Seen, TestApp, spawn_signed_in};

#[tokio::test]
async fn a_warm_signed_in_page_calls_neither_the_identity_provider_nor_graph() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory")]).await;
    assert!(app.page("/").await.contains("Adele Vance"));
    app.reset_emulator_stats().await;

    for _ in 0..5 {
        let home = app.page("/").await;
        assert!(home.contains("Adele Vance"), "{home}");
    }
    let stats = app.emulator_stats().await;
    assert_eq!(stats["graph"], 0, "{stats}");
    assert_eq!(stats["token_total"], 0, "{stats}");
    assert_eq!(app.metric("bff_profile_cache_entries", "").await, 1.0);
    assert!(app.metric("bff_profile_cache_bytes", "").await > 128.0);
}

#[tokio::test]
async fn a_stale_profile_is_served_at_once_and_refreshed_once_in_the_background() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory"), ("PROFILE_TTL_SECS", "1")]).await;
    assert_eq!(app.profile().await.read_secs_ago, 0);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    app.reset_emulator_stats().await;

    // Stale: the view gets the cached profile with its age at once; one read goes to Graph.
    let profile = app.profile().await;
    assert_eq!(profile.display_name.as_deref(), Some("Adele Vance"));
    assert!(profile.read_secs_ago >= 2, "{profile:?}");
    wait_for_graph_calls(&app, 1).await;
    // The next view has the refreshed profile.
    assert_eq!(app.profile().await.read_secs_ago, 0);
    assert_eq!(app.emulator_stats().await["graph"], 1);
}

/// Adele signed in with a profile read over a second ago (stale), and Graph set to answer
/// its next request with `status`; the emulator's counters reset.
async fn stale_profile_then_graph_answers(status: u16) -> TestApp {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory"), ("PROFILE_TTL_SECS", "1")]).await;
    app.profile().await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let fault =
        json!({"endpoint": "graph", "kind": {"type": "status", "code": status}, "count": 1});
    app.admin("faults", fault).await;
    app.reset_emulator_stats().await;
    app
}

#[tokio::test]
async fn a_failed_refresh_keeps_showing_the_cached_profile_with_its_age() {
    let app = stale_profile_then_graph_answers(503).await;

    let stale = app.profile().await;
    assert_eq!(stale.display_name.as_deref(), Some("Adele Vance"));
    wait_for_graph_calls(&app, 1).await;
    // (Graph answered; let the background task record the failure.)
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Graph failed in the background: still the cached profile, now older, not an error.
    let still = app.server_fn("profile").await;
    assert_eq!(still.status(), StatusCode::OK);
    let still: serde_json::Value = still.json().await.unwrap();
    assert!(still["read_secs_ago"].as_u64().unwrap() >= 2, "{still}");
    // That view started the next attempt, which succeeds.
    wait_for_graph_calls(&app, 2).await;
    assert_eq!(app.profile().await.read_secs_ago, 0);
}

#[tokio::test]
async fn a_token_graph_refuses_in_the_background_is_replaced_at_the_next_refresh() {
    let app = stale_profile_then_graph_answers(401).await;

    app.profile().await;
    wait_for_graph_calls(&app, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.profile().await;
    wait_for_graph_calls(&app, 2).await;
    // The refused token was dropped: the second read exchanged a new one.
    assert_eq!(app.emulator_stats().await["obo"], 1);
    assert_eq!(app.profile().await.read_secs_ago, 0);
}

#[tokio::test]
async fn sign_out_forgets_the_profile() {
    let app = spawn_signed_in(&[("SESSION_STORE", "memory")]).await;
    app.profile().await;
    app.sign_out().await;
    assert_eq!(
        app.server_fn("profile").await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    app.reset_emulator_stats().await;
    assert_eq!(app.profile().await.read_secs_ago, 0);
    assert_eq!(app.emulator_stats().await["graph"], 1, "read anew");
}

/// Background reads run after the response: wait (2 s at most) until Graph saw `n` calls.
async fn wait_for_graph_calls(app: &crate::common::TestApp, n: u64) {
    for _ in 0..100 {
        if app.emulator_stats().await["graph"].as_u64() == Some(n) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "Graph saw {} calls, not {n}",
        app.emulator_stats().await["graph"]
    );
}
