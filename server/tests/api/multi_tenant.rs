//! A multi-tenant deployment (`AZURE_AD_TENANT_ID=organizations`) against an emulator with
//! three tenants: each user's tokens come from their own tenant; a guest reaches the tenant
//! that invited them by naming it (`/auth/login?tenant=`), since `organizations` signs a guest
//! in at home; only allowed tenants sign in; and a sign-in refused for an API missing in the
//! user's tenant goes on without it.

use crate::common::{Seen, TestApp, location, query_param, spawn_app};
use emulator::{Emulator, RunningEmulator, World, well_known as wk};
use reqwest::StatusCode;
use serde_json::Value;

/// The server as a multi-tenant app of a separately running emulator (as a real tenant
/// would be configured), allowing `tenants`.
async fn multi_tenant_app(tenants: &[&str]) -> (TestApp, RunningEmulator) {
    multi_tenant_app_with(tenants, &[]).await
}

/// [`multi_tenant_app`] with `vars` on top.
async fn multi_tenant_app_with(
    tenants: &[&str],
    vars: &[(&str, &str)],
) -> (TestApp, RunningEmulator) {
    let emulator = Emulator::builder()
        .world(World::well_known())
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let graph = emulator.graph_base_url();
    let allowed = tenants.join(",");
    let mut all = vec![
        ("SESSION_STORE", "memory"),
        ("AZURE_AD_TENANT_ID", "organizations"),
        ("AZURE_AD_AUTHORITY_HOST", emulator.base_url()),
        ("AZURE_AD_CLIENT_ID", wk::WEB_APP_CLIENT_ID),
        ("AZURE_AD_CLIENT_SECRET", wk::WEB_APP_SECRET),
        ("GRAPH_BASE_URL", &graph),
        ("AZURE_AD_ALLOWED_TENANTS", &allowed),
    ];
    all.extend_from_slice(vars);
    let app = spawn_app(&all).await;
    (app, emulator)
}

/// Adele signed in with `/auth/login?tenant=<tenant>` (her home address at the emulator).
async fn adele_signs_in_naming(app: &TestApp, tenant: &str) {
    let login = app
        .get(&format!("/auth/login?return_to=/&tenant={tenant}"))
        .await;
    let authorize = location(&login);
    assert!(
        authorize.starts_with(&format!("{}/{}/", app.emulator, wk::FABRIKAM_TENANT_ID)),
        "the sign-in goes to the tenant's own authority: {authorize}"
    );
    let callback = app
        .through_emulator(&authorize, wk::ADELE, &mut Seen::default())
        .await;
    assert_eq!(location(&callback), "/");
}

#[tokio::test]
async fn a_guest_who_names_the_inviting_tenant_gets_its_profile_there() {
    let (app, _emulator) = multi_tenant_app(&[wk::TENANT_ID, wk::FABRIKAM_TENANT_ID]).await;
    adele_signs_in_naming(&app, wk::FABRIKAM_TENANT_DOMAIN).await;
    assert_eq!(
        app.session().await.user.unwrap().tenant_id,
        wk::FABRIKAM_TENANT_ID
    );

    // Refresh and On-Behalf-Of stay in Fabrikam: the guest record, not her home profile.
    let profile = app.profile().await;
    assert_eq!(
        profile.job_title.as_deref(),
        Some(wk::ADELE_GUEST_JOB_TITLE)
    );
    let graph = crate::real_tenant::claims(&app, "Graph").await;
    assert_eq!(graph["tid"], wk::FABRIKAM_TENANT_ID);
}

#[tokio::test]
async fn the_tenant_may_be_named_by_its_id_too() {
    let (app, _emulator) = multi_tenant_app(&[wk::TENANT_ID, wk::FABRIKAM_TENANT_ID]).await;
    adele_signs_in_naming(&app, &wk::FABRIKAM_TENANT_ID.to_uppercase()).await;
    assert_eq!(
        app.profile().await.job_title.as_deref(),
        Some(wk::ADELE_GUEST_JOB_TITLE)
    );
}

/// At `organizations` a guest lands in their home tenant, as Entra does.
#[tokio::test]
async fn the_same_guest_at_organizations_gets_her_home_profile() {
    let (app, _emulator) = multi_tenant_app(&[wk::TENANT_ID, wk::FABRIKAM_TENANT_ID]).await;
    app.sign_in(wk::ADELE, "/", &mut Seen::default()).await;
    assert_eq!(app.session().await.user.unwrap().tenant_id, wk::TENANT_ID);
    assert_eq!(
        app.profile().await.job_title.as_deref(),
        Some("Retail Manager")
    );
}

#[tokio::test]
async fn naming_a_tenant_this_app_does_not_serve_or_that_does_not_exist_is_refused() {
    let (app, _emulator) = multi_tenant_app(&[wk::TENANT_ID, wk::FABRIKAM_TENANT_ID]).await;
    for (tenant, status, says) in [
        (
            wk::NORTHWIND_TENANT_DOMAIN,
            StatusCode::FORBIDDEN,
            "AZURE_AD_ALLOWED_TENANTS",
        ),
        (
            "nowhere.onmicrosoft.com",
            StatusCode::BAD_REQUEST,
            "knows no organization",
        ),
        ("../common", StatusCode::BAD_REQUEST, "neither a tenant id"),
    ] {
        let r = app.get(&format!("/auth/login?tenant={tenant}")).await;
        assert_eq!(r.status(), status, "{tenant}");
        let page = r.text().await.unwrap();
        assert!(page.contains(says), "{tenant}: {page}");
    }
}

/// The signed-out page offers the partner sign-in when several tenants are served.
#[tokio::test]
async fn the_home_page_offers_a_partner_sign_in_when_several_tenants_are_served() {
    let (app, _emulator) = multi_tenant_app(&[wk::TENANT_ID, wk::FABRIKAM_TENANT_ID]).await;
    assert!(app.session().await.partner_sign_in);
    let page = app.page("/").await;
    assert!(page.contains("Sign in to a partner organization"), "{page}");
    let (single, _emulator) = multi_tenant_app(&[wk::TENANT_ID]).await;
    assert!(!single.session().await.partner_sign_in);
    assert!(!single.page("/").await.contains("partner organization"));
}

/// Diego's tenant has no service principal of the Weather API, named at sign-in for consent:
/// Entra refuses the whole sign-in (AADSTS650052); the app signs him in again without it, and
/// the Weather API's first call explains it.
#[tokio::test]
async fn a_sign_in_refused_for_an_api_missing_in_the_users_tenant_goes_on_without_it() {
    let (app, _emulator) = multi_tenant_app_with(
        &[wk::TENANT_ID, wk::FABRIKAM_TENANT_ID],
        &[
            ("DOWNSTREAM_API__WEATHER__BASE_URL", "http://127.0.0.1:9"),
            ("DOWNSTREAM_API__WEATHER__SCOPES", wk::WEATHER_API_SCOPE),
        ],
    )
    .await;
    let login = app.get("/auth/login?return_to=/call-api").await;
    let authorize = location(&login);
    assert!(authorize.contains("Weather.Read"), "{authorize}");
    let refused = app
        .emulator_pages(&app.client, &authorize, wk::DIEGO, &mut Seen::default())
        .await;
    assert_eq!(query_param(&refused, "error"), "invalid_client");
    assert!(query_param(&refused, "error_description").starts_with("AADSTS650052"));

    let done = app.through_retried_sign_in(&refused, "Weather.Read").await;
    assert_eq!(location(&done), "/call-api");
    assert_eq!(
        app.profile().await.user_principal_name.as_deref(),
        Some(wk::DIEGO)
    );

    let problem = app.problem("call-api", StatusCode::BAD_GATEWAY).await;
    assert_eq!(problem.code, Some(500011), "{problem:?}");
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
