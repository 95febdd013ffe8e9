//! A multi-tenant deployment (`AZURE_AD_TENANT_ID=organizations`) against an emulator with
//! three tenants: each user's tokens come from their own tenant (a guest sees the profile of
//! the tenant they signed in to, not their home tenant's), and only allowed tenants sign in.

use crate::common::{Seen, TestApp, spawn_app};
use emulator::{Emulator, RunningEmulator, World, well_known as wk};
use reqwest::StatusCode;
use serde_json::Value;

/// The server as a multi-tenant app of a separately running emulator (as a real tenant
/// would be configured), allowing `tenants`.
async fn multi_tenant_app(tenants: &[&str]) -> (TestApp, RunningEmulator) {
    let emulator = Emulator::builder()
        .world(World::well_known())
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let graph = emulator.graph_base_url();
    let allowed = tenants.join(",");
    let app = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("AZURE_AD_TENANT_ID", "organizations"),
        ("AZURE_AD_AUTHORITY_HOST", emulator.base_url()),
        ("AZURE_AD_CLIENT_ID", wk::WEB_APP_CLIENT_ID),
        ("AZURE_AD_CLIENT_SECRET", wk::WEB_APP_SECRET),
        ("GRAPH_BASE_URL", &graph),
        ("AZURE_AD_ALLOWED_TENANTS", &allowed),
    ])
    .await;
    (app, emulator)
}

#[tokio::test]
async fn a_guest_gets_the_profile_of_the_tenant_they_signed_in_to() {
    let (app, _emulator) = multi_tenant_app(&[wk::TENANT_ID, wk::FABRIKAM_TENANT_ID]).await;
    app.sign_in(wk::ADELE_GUEST, "/", &mut Seen::default())
        .await;
    assert!(app.session().await.user.is_some());

    // On-Behalf-Of at Fabrikam's own endpoint: the guest record, not Adele's home profile
    // (which OBO at /organizations would have returned).
    let profile = app.profile().await;
    assert_eq!(
        profile.job_title.as_deref(),
        Some(wk::ADELE_GUEST_JOB_TITLE)
    );
    let graph = crate::real_tenant::claims(&app, "Graph").await;
    assert_eq!(graph["tid"], wk::FABRIKAM_TENANT_ID);
}

#[tokio::test]
async fn members_of_each_allowed_tenant_sign_in_to_their_own_tenant() {
    let (mut app, _emulator) = multi_tenant_app(&[wk::TENANT_ID, wk::FABRIKAM_TENANT_ID]).await;
    app.sign_in(wk::DIEGO, "/", &mut Seen::default()).await;
    let profile = app.profile().await;
    assert_eq!(profile.user_principal_name.as_deref(), Some(wk::DIEGO));

    // Another browser, another tenant.
    app.client = crate::common::browser();
    app.sign_in(wk::ADELE, "/", &mut Seen::default()).await;
    let profile = app.profile().await;
    assert_eq!(profile.user_principal_name.as_deref(), Some(wk::ADELE));
}

#[tokio::test]
async fn a_tenant_outside_the_allow_list_is_refused_at_the_callback_and_nothing_is_stored() {
    let (app, _emulator) = multi_tenant_app(&[wk::TENANT_ID]).await;
    let callback = app.sign_in(wk::NESTOR, "/", &mut Seen::default()).await;
    assert_eq!(callback.status(), StatusCode::FORBIDDEN);
    let page = callback.text().await.unwrap();
    assert!(page.contains("Your organization cannot sign in"), "{page}");
    assert!(page.contains(wk::NORTHWIND_TENANT_ID), "{page}");
    assert!(page.contains("AZURE_AD_ALLOWED_TENANTS"), "{page}");

    let session: Value = app.server_fn("session").await.json().await.unwrap();
    assert_eq!(session["user"], Value::Null);
}
