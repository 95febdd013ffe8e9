//! When On-Behalf-Of needs the user (Conditional Access MFA, missing consent), the page's
//! action runs a sign-in that satisfies it, and the call then succeeds.

use crate::common::{ALEX, MEGAN, ProblemAction, Seen, location, spawn_app};
use reqwest::StatusCode;

/// Calls the Weather API, expects a problem with a sign-in action, follows it through the
/// emulator, and calls again.
async fn fails_then_succeeds_after_the_action(upn: &str, code: u32, label: &str, page: &str) {
    // Consent at sign-in off, so that Alex's missing consent shows when OBO runs (as for an
    // API added after users signed in).
    let app = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("ASK_CONSENT_AT_SIGN_IN", "false"),
    ])
    .await;
    let mut seen = Seen::default();
    app.sign_in(upn, "/call-api", &mut seen).await;

    let problem = app.problem("call-api", StatusCode::BAD_GATEWAY).await;
    assert_eq!(problem.code, Some(code), "{problem:?}");
    assert!(
        matches!(&problem.action, ProblemAction::SignIn { label: l, .. } if l == label),
        "{problem:?}"
    );

    let callback = app.follow_action(&problem, upn, &mut seen).await;
    assert_eq!(location(&callback), "/");
    assert!(
        seen.0.iter().any(|html| html.contains(page)),
        "the emulator never showed {page:?}"
    );

    let ok = app.server_fn("call-api").await;
    assert_eq!(ok.status(), StatusCode::OK, "{}", ok.text().await.unwrap());
}

#[tokio::test]
async fn megans_mfa_challenge_is_answered_by_continuing_to_the_mfa_step() {
    // The emulator's policy requires MFA for the Weather API: interaction_required, 50076,
    // with a claims challenge that the next sign-in carries.
    fails_then_succeeds_after_the_action(MEGAN, 50076, "Continue", "<label for=\"otc\">").await;
}

#[tokio::test]
async fn alexs_missing_consent_is_given_at_the_consent_step() {
    fails_then_succeeds_after_the_action(
        ALEX,
        65001,
        "Review permissions",
        "Permissions requested",
    )
    .await;
}
