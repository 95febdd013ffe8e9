//! Continuous Access Evaluation through the product: this app declares `cp1`, so its Graph
//! tokens are revocable (and long-lived). After an administrator revokes the user's sessions,
//! Graph answers the cached token with a claims challenge, which takes the same step-up path
//! as an API's: On-Behalf-Of again with the claims, then a sign-in. What On-Behalf-Of does with
//! an assertion issued before the revocation is not documented, so both ways are tested.
//! Without `cp1` the token keeps working until it expires, as on Entra.

use emulator::well_known::ADELE;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{ProblemAction, Seen, TestApp, spawn_signed_in};

/// Adele signed in, her profile read once (the Graph token cached), then her sessions
/// revoked a moment later; the emulator's counts from there.
async fn read_then_revoked(vars: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("SESSION_STORE", "memory"), ("PROFILE_TTL_SECS", "0")];
    all.extend_from_slice(vars);
    let app = spawn_signed_in(&all).await;
    app.profile().await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.admin(&format!("users/{ADELE}/revoke"), json!({})).await;
    app.reset_emulator_stats().await;
    app
}

#[tokio::test]
async fn a_revocation_signs_the_user_in_again_and_the_profile_returns() {
    let app = read_then_revoked(&[]).await;
    let problem = app.problem("profile", StatusCode::BAD_GATEWAY).await;
    assert_eq!(problem.code, Some(50173), "{problem:?}");
    assert!(
        matches!(&problem.action, ProblemAction::SignIn { .. }),
        "{problem:?}"
    );
    let stats = app.emulator_stats().await;
    assert_eq!(stats["graph"], 1, "the challenge: {stats}");
    assert_eq!(stats["obo"], 1, "one exchange with its claims: {stats}");

    // The revocation ended the session at the identity provider too: the password again.
    let mut seen = Seen::default();
    app.follow_action(&problem, ADELE, &mut seen).await;
    assert!(
        seen.0.iter().any(|html| html.contains("id=\"password\"")),
        "no password page"
    );
    assert_eq!(
        app.profile().await.display_name.as_deref(),
        Some("Adele Vance")
    );
}

#[tokio::test]
async fn if_entra_issues_from_the_older_assertion_the_profile_returns_without_a_sign_in() {
    let app = read_then_revoked(&[]).await;
    app.admin("unconfirmed", json!({"obo_after_revocation": "issued"}))
        .await;
    assert!(!app.profile().await.token_from_cache);
    let stats = app.emulator_stats().await;
    assert_eq!(
        stats["graph"], 2,
        "the challenge, then the new token: {stats}"
    );
    assert_eq!(
        (stats["obo"].as_u64(), stats["authorize"].as_u64()),
        (Some(1), Some(0))
    );
}

#[tokio::test]
async fn without_cp1_the_token_keeps_working_until_it_expires() {
    let app = read_then_revoked(&[("AZURE_AD_CLIENT_CAPABILITIES", "none")]).await;
    assert!(app.profile().await.token_from_cache);
    let stats = app.emulator_stats().await;
    assert_eq!(
        (stats["graph"].as_u64(), stats["obo"].as_u64()),
        (Some(1), Some(0))
    );
}
