//! Continuous Access Evaluation: an administrator revokes a user's sign-in sessions (Graph's
//! `revokeSignInSessions`, here the admin surface), after which Graph answers a token of a
//! client that declared `cp1` with its 401 claims challenge, and keeps serving a token without
//! `cp1` until it expires. What On-Behalf-Of does with an assertion issued before the
//! revocation is not documented: both ways of the switch are tested.

use crate::common::*;
use emulator::{RunningEmulator, Unconfirmed, unconfirmed::AfterRevocation, well_known as wk};
use serde_json::Value;

const CP1: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;

/// Adele's sign-in token, and a Graph token On-Behalf-Of her, declaring `cp1` or not.
async fn graph_token(emu: &RunningEmulator, cp1: bool) -> (String, String) {
    let assertion = user_token(emu, wk::ADELE).await;
    let extra: &[(&str, &str)] = if cp1 { &[("claims", CP1)] } else { &[] };
    let g = obo_with(emu, &assertion, "User.Read", extra)
        .await
        .success();
    (assertion, access_token(&g).to_owned())
}

/// Waits a moment, so that the revocation comes after the tokens were issued.
async fn revoke_adele(emu: &RunningEmulator) {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    emu.revoke_refresh_tokens(wk::ADELE);
}

#[tokio::test]
async fn a_cp1_graph_token_is_long_lived_and_says_so_in_xms_cc() {
    let emu = start().await;
    let (_, token) = graph_token(&emu, true).await;
    let c = claims(&token);
    assert_eq!(c["xms_cc"], serde_json::json!(["cp1"]));
    let life = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!((20 * 3600..=28 * 3600).contains(&life), "{life}");
}

#[tokio::test]
async fn after_a_revocation_graph_challenges_a_cp1_token_with_its_nbf_claims() {
    let emu = start().await;
    let (_, token) = graph_token(&emu, true).await;
    assert_eq!(
        graph_get(&emu, "/v1.0/me", Some(&token)).await.status(),
        200
    );
    revoke_adele(&emu).await;

    let r = graph_get(&emu, "/v1.0/me", Some(&token)).await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_claims\""),
        "{challenge}"
    );
    let claims: Value =
        serde_json::from_str(&emulator::test_support::challenge_claims(&challenge)).unwrap();
    let nbf: i64 = claims["access_token"]["nbf"]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(nbf >= crate::common::claims(&token)["iat"].as_i64().unwrap());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TokenIssuedBeforeRevocationTimestamp"),
        "{body}"
    );
}

#[tokio::test]
async fn a_token_without_cp1_keeps_working_after_the_revocation() {
    let emu = start().await;
    let (_, token) = graph_token(&emu, false).await;
    revoke_adele(&emu).await;
    assert_eq!(
        graph_get(&emu, "/v1.0/me", Some(&token)).await.status(),
        200
    );
}

#[tokio::test]
async fn a_token_issued_after_the_revocation_is_served() {
    let emu = start().await;
    revoke_adele(&emu).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (_, token) = graph_token(&emu, true).await;
    assert_eq!(
        graph_get(&emu, "/v1.0/me", Some(&token)).await.status(),
        200
    );
}

#[tokio::test]
async fn obo_with_an_assertion_older_than_the_revocation_is_50173_by_default() {
    let emu = start().await;
    let (assertion, _) = graph_token(&emu, true).await;
    revoke_adele(&emu).await;
    let r = obo_with(&emu, &assertion, "User.Read", &[("claims", CP1)]).await;
    r.aadsts(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn obo_with_an_assertion_older_than_the_revocation_can_be_issued_instead() {
    let emu = start().await;
    emu.set_unconfirmed(Unconfirmed {
        obo_after_revocation: AfterRevocation::Issued,
        ..Unconfirmed::default()
    });
    let (assertion, _) = graph_token(&emu, true).await;
    revoke_adele(&emu).await;
    let g = obo_with(&emu, &assertion, "User.Read", &[("claims", CP1)]).await;
    let token = access_token(&g.success()).to_owned();
    assert_eq!(
        graph_get(&emu, "/v1.0/me", Some(&token)).await.status(),
        200
    );
}

#[tokio::test]
async fn a_revocation_ends_the_users_session_at_the_sign_in_page() {
    let emu = start().await;
    let browser = Browser::signed_in(&emu, wk::ADELE).await;
    revoke_adele(&emu).await;
    let html = browser.page(&[]).await;
    assert!(html.contains("<label for=\"username\">"), "{html}");
}
