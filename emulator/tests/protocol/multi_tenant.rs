//! Several tenants: Fabrikam (the web app again, Diego, and Adele as a guest) and Northwind
//! (Nestor). Sign-in on `/common` and `/organizations` lands in the user's home tenant, a
//! guest's too: the resource tenant is reached through its own authority ("For guest scenarios
//! ... you must provide the tenant identifier", the authorization code flow page). OBO on an
//! alias runs in the user's home tenant, so a guest gets a token of its home tenant there.

use crate::common::*;
use emulator::{RunningEmulator, well_known as wk};
use serde_json::{Value, json};

/// The claims naming a user: tenant and object id.
fn user(tid: &str, oid: &str) -> Value {
    json!({"tid": tid, "oid": oid})
}

/// Adele signed in as Fabrikam's guest, through Fabrikam's own authority with her home
/// address: the token response.
async fn guest_at_fabrikam(emu: &RunningEmulator) -> Value {
    let b = sign_in_and_redeem(emu, wk::FABRIKAM_TENANT_ID, wk::ADELE, &sign_in_scope()).await;
    b.success()
}

#[tokio::test]
async fn a_guest_signed_in_at_the_resource_tenants_authority_gets_its_tokens() {
    let emu = start().await;
    let b = guest_at_fabrikam(&emu).await;
    let at = claims(access_token(&b));
    assert_claims(&at, user(wk::FABRIKAM_TENANT_ID, wk::ADELE_GUEST_OID));
    assert_eq!(at["iss"], v1_issuer_of(wk::FABRIKAM_TENANT_ID));
    let id = claims(id_token(&b));
    assert_eq!(id["idp"], v1_issuer_of(wk::TENANT_ID));
    assert_eq!(id["tid"], wk::FABRIKAM_TENANT_ID);
}

/// A guest is named by its home sign-in name and has no `upn` (the token claims references).
#[tokio::test]
async fn a_guests_tokens_name_it_by_its_home_sign_in_name() {
    let emu = start().await;
    let b = guest_at_fabrikam(&emu).await;
    let at = claims(access_token(&b));
    assert_eq!(at["unique_name"], wk::ADELE);
    assert!(at.get("upn").is_none(), "{at}");
    let id = claims(id_token(&b));
    assert_eq!(id["preferred_username"], wk::ADELE);
    assert_eq!(id["email"], wk::ADELE);
}

/// At `/organizations` the guest record is no identity of its own: its `#EXT#` name is not
/// known there, and the home address signs in at home.
#[tokio::test]
async fn at_organizations_the_guest_name_is_unknown_and_the_home_address_signs_in_at_home() {
    let emu = start().await;
    let browser = Browser::at(&emu, "organizations");
    let html = browser.page(&[]).await;
    let page = browser
        .submit_for_page(&html, "username", &[("username", wk::ADELE_GUEST)])
        .await;
    assert!(page.contains("This username may be incorrect"), "{page}");
    let b = sign_in_and_redeem(&emu, "organizations", wk::ADELE, &sign_in_scope()).await;
    assert_claims(
        &claims(access_token(&b.success())),
        user(wk::TENANT_ID, wk::ADELE_OID),
    );
}

/// As MSAL's home account id expects.
#[tokio::test]
async fn a_guests_client_info_names_its_home_account() {
    let emu = start().await;
    let info = client_info(&guest_at_fabrikam(&emu).await);
    assert_claims(&info, json!({"uid": wk::ADELE_OID, "utid": wk::TENANT_ID}));
}

/// Entra resolves the guest's home tenant: the token is Contoso's, for the home account, so
/// Graph answers the home profile, not the Fabrikam one.
#[tokio::test]
async fn a_guests_obo_at_common_gives_a_home_tenant_token_and_the_home_profile() {
    let emu = start().await;
    let b = guest_at_fabrikam(&emu).await;
    let g = obo_at(&emu, "common", access_token(&b), "User.Read").await;
    let gt = access_token(&g.success()).to_owned();
    assert_claims(&claims(&gt), user(wk::TENANT_ID, wk::ADELE_OID));
    let profile = graph_me(&emu, &gt).await;
    assert_claims(
        &profile,
        json!({"id": wk::ADELE_OID, "jobTitle": "Retail Manager"}),
    );
}

#[tokio::test]
async fn a_guests_obo_at_the_resource_tenant_gives_a_token_for_the_guest_record() {
    let emu = start().await;
    let b = guest_at_fabrikam(&emu).await;
    let g = obo_at(&emu, wk::FABRIKAM_TENANT_ID, access_token(&b), "User.Read").await;
    let gt = access_token(&g.success()).to_owned();
    assert_claims(
        &claims(&gt),
        user(wk::FABRIKAM_TENANT_ID, wk::ADELE_GUEST_OID),
    );
    let expected = json!({"id": wk::ADELE_GUEST_OID, "userPrincipalName": wk::ADELE_GUEST,
        "jobTitle": wk::ADELE_GUEST_JOB_TITLE});
    assert_claims(&graph_me(&emu, &gt).await, expected);
}

#[tokio::test]
async fn the_home_tenants_own_endpoint_refuses_the_resource_tenants_assertion_with_50013() {
    let emu = start().await;
    let b = guest_at_fabrikam(&emu).await;
    let r = obo_at(&emu, wk::TENANT_ID, access_token(&b), "User.Read").await;
    r.aadsts(400, "invalid_grant", 50013);
}

#[tokio::test]
async fn a_guest_signs_in_at_the_resource_tenant_with_its_guest_name_too() {
    let emu = start().await;
    let seg = wk::FABRIKAM_TENANT_DOMAIN;
    let b = sign_in_and_redeem(&emu, seg, wk::ADELE_GUEST, &sign_in_scope()).await;
    let at = claims(access_token(&b.success()));
    assert_claims(&at, user(wk::FABRIKAM_TENANT_ID, wk::ADELE_GUEST_OID));
}

#[tokio::test]
async fn the_home_address_at_common_signs_in_to_the_home_tenant() {
    let emu = start().await;
    let b = sign_in_and_redeem(&emu, "common", wk::ADELE, &sign_in_scope()).await;
    assert_eq!(claims(access_token(&b.success()))["tid"], wk::TENANT_ID);
}

/// Diego signed in through `/common` in `browser`, the code redeemed there: the tokens.
async fn diego_at_common(emu: &RunningEmulator, browser: &Browser<'_>) -> Value {
    let q = browser
        .sign_in_back(wk::DIEGO, &[("scope", &sign_in_scope())])
        .await;
    let r = redeem_with(emu, "common", &q["code"], &[]).await;
    r.success()
}

#[tokio::test]
async fn diego_signs_in_through_common_and_gets_verifiable_fabrikam_tokens() {
    let emu = start().await;
    let b = diego_at_common(&emu, &Browser::at(&emu, "common")).await;
    let fabrikam_v1 = v1_issuer_of(wk::FABRIKAM_TENANT_ID);
    let at = verify(&emu, access_token(&b), wk::WEB_APP_CLIENT_ID, &fabrikam_v1).await;
    assert_claims(&at.unwrap(), user(wk::FABRIKAM_TENANT_ID, wk::DIEGO_OID));
    let id = claims(id_token(&b));
    let fabrikam_v2 = format!("{}/{}/v2.0", emu.base_url(), wk::FABRIKAM_TENANT_ID);
    assert_eq!(id["iss"], fabrikam_v2);
    assert!(id.get("idp").is_none(), "a member, not a guest");
}

#[tokio::test]
async fn single_sign_on_at_common_stays_in_diegos_tenant() {
    let emu = start().await;
    let browser = Browser::at(&emu, "common");
    diego_at_common(&emu, &browser).await;
    let q = browser
        .back(&[("prompt", "none"), ("scope", &sign_in_scope())])
        .await;
    let b = redeem_with(&emu, "common", &q["code"], &[]).await.success();
    assert_eq!(claims(access_token(&b))["tid"], wk::FABRIKAM_TENANT_ID);
}

#[tokio::test]
async fn a_members_obo_at_common_runs_in_its_own_tenant() {
    let emu = start().await;
    let b = diego_at_common(&emu, &Browser::at(&emu, "common")).await;
    let g = obo_at(&emu, "common", access_token(&b), "User.Read").await;
    let profile = graph_me(&emu, access_token(&g.success())).await;
    assert_eq!(profile["id"], wk::DIEGO_OID);
}

#[tokio::test]
async fn obo_to_the_weather_api_which_fabrikam_lacks_is_500011() {
    let emu = start().await;
    let b = diego_at_common(&emu, &Browser::at(&emu, "common")).await;
    let r = obo_at(&emu, "common", access_token(&b), wk::WEATHER_API_SCOPE).await;
    r.aadsts(400, "invalid_resource", 500011);
}

#[tokio::test]
async fn a_refresh_at_organizations_finds_the_grants_tenant() {
    let emu = start().await;
    let b = diego_at_common(&emu, &Browser::at(&emu, "common")).await;
    let params = [("refresh_token", refresh_token(&b))];
    let r = web_app_grant_at(&emu, "organizations", "refresh_token", &params).await;
    assert_eq!(
        claims(access_token(&r.success()))["tid"],
        wk::FABRIKAM_TENANT_ID
    );
}

#[tokio::test]
async fn nestor_signs_in_at_organizations_to_northwind() {
    let emu = start().await;
    let b = sign_in_and_redeem(&emu, "organizations", wk::NESTOR, &sign_in_scope()).await;
    let at = claims(access_token(&b.success()));
    assert_claims(&at, user(wk::NORTHWIND_TENANT_ID, wk::NESTOR_OID));
}

refused! {
    /// Northwind's own endpoint knows only Northwind's users.
    diego_is_unknown_to_northwinds_own_endpoint_50126:
        |emu| password_at(emu, wk::NORTHWIND_TENANT_DOMAIN, wk::DIEGO, "User.Read")
        => 400 "invalid_grant" 50126;
}
