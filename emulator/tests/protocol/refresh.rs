//! The refresh-token grant: rotation (the old token keeps working, as in Entra), one refresh
//! token for any consented resource, the scopes of a refresh without `scope`, and the AADSTS
//! answers for unknown, revoked and expired refresh tokens.

use crate::common::*;
use emulator::{RunningEmulator, well_known as wk};

/// The refresh token of Adele's password grant for the web app's API.
async fn adeles_refresh_token(emu: &RunningEmulator) -> String {
    let scope = format!("{} offline_access", wk::WEB_APP_SCOPE);
    let b = password(emu, wk::ADELE, &scope).await.success();
    refresh_token(&b).to_owned()
}

#[tokio::test]
async fn refreshing_rotates_the_refresh_token() {
    let emu = start().await;
    let rt1 = adeles_refresh_token(&emu).await;
    let r = refresh(&emu, &rt1, Some("User.Read offline_access")).await;
    assert_ne!(refresh_token(&r.success()), rt1, "rotated");
    assert_eq!(emu.stats().refresh_token, 1);
}

#[tokio::test]
async fn a_refresh_token_serves_any_consented_resource() {
    let emu = start().await;
    let rt = adeles_refresh_token(&emu).await;
    let r = refresh(&emu, &rt, Some("User.Read offline_access")).await;
    assert_eq!(claims(access_token(&r.success()))["aud"], wk::GRAPH_APP_ID);
}

#[tokio::test]
async fn a_rotated_refresh_token_still_works_as_entra_does_not_revoke_it() {
    let emu = start().await;
    let rt1 = adeles_refresh_token(&emu).await;
    refresh(&emu, &rt1, Some("User.Read")).await.success();
    refresh(&emu, &rt1, Some("User.Read")).await.success();
    assert_eq!(emu.stats().refresh_token, 2);
}

#[tokio::test]
async fn an_unknown_refresh_token_is_9002313() {
    let emu = start().await;
    let r = refresh(&emu, "1.garbage", Some("User.Read")).await;
    r.aadsts(400, "invalid_grant", 9002313);
    assert_eq!(emu.stats().refresh_token, 1, "a refused refresh counts too");
}

#[tokio::test]
async fn a_revoked_refresh_token_is_50173() {
    let emu = start().await;
    let rt1 = adeles_refresh_token(&emu).await;
    let rotated = refresh(&emu, &rt1, Some("User.Read")).await.success();
    assert!(emu.grants().iter().all(|g| g.upn == wk::ADELE));
    assert!(emu.revoke_refresh_tokens(wk::ADELE) >= 2, "both tokens");
    let r = refresh(&emu, refresh_token(&rotated), Some("User.Read")).await;
    r.aadsts(400, "invalid_grant", 50173);
}

#[tokio::test]
async fn an_expired_refresh_token_is_700082() {
    let emu = start().await;
    expire_after_one_second(&emu, |l| &mut l.refresh_token);
    let rt = adeles_refresh_token(&emu).await;
    wait_past_one_second().await;
    let r = refresh(&emu, &rt, Some("User.Read")).await;
    r.aadsts(400, "invalid_grant", 700082);
}

#[tokio::test]
async fn refreshing_a_sign_in_by_guid_for_its_own_scope_works() {
    let emu = start().await;
    let b = sign_in_and_redeem(&emu, wk::TENANT_ID, wk::ADELE, &sign_in_scope()).await;
    let rt = refresh_token(&b.success()).to_owned();
    refresh(&emu, &rt, Some(&sign_in_scope())).await.success();
}

/// Without `scope` the grant's own scopes are used, in the form the client named them.
#[tokio::test]
async fn refreshing_without_scope_gives_the_grants_own_scopes_in_the_clients_form() {
    let emu = start().await;
    let b = sign_in_and_redeem(&emu, wk::TENANT_ID, wk::ADELE, &sign_in_scope()).await;
    let rotated = refresh(&emu, refresh_token(&b.success()), Some(&sign_in_scope())).await;
    let r = refresh(&emu, refresh_token(&rotated.success()), None).await;
    let at = claims(access_token(&r.success()));
    assert_eq!(at["aud"], wk::WEB_APP_CLIENT_ID);
    assert_eq!(at["scp"], "access_as_user");
}
