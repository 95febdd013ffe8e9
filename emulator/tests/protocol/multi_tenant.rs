//! Several tenants: Fabrikam (the web app again, Diego, and Adele as a guest) and Northwind
//! (Nestor). Sign-in on `/common` and `/organizations` lands in the user's tenant; OBO on an
//! alias runs in the user's home tenant, so a guest gets a token of its home tenant there.

use crate::common::*;
use emulator::{RunningEmulator, well_known as wk};
use serde_json::{Value, json};

fn sign_in_scope() -> String {
    format!("{} openid profile offline_access", wk::WEB_APP_SCOPE)
}

async fn me(emu: &RunningEmulator, graph_token: &str) -> Value {
    let r = client()
        .get(format!("{}/v1.0/me", emu.graph_base_url()))
        .bearer_auth(graph_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_guest_signed_in_at_organizations_gets_its_home_profile_through_obo_at_common() {
    let emu = start().await;
    let (s, b) = sign_in_and_redeem(&emu, "organizations", wk::ADELE_GUEST, &sign_in_scope()).await;
    assert_eq!(s, 200, "{b}");
    let assertion = b["access_token"].as_str().unwrap();
    let c = claims(assertion);
    assert_eq!(
        (&c["tid"], &c["oid"]),
        (&json!(wk::FABRIKAM_TENANT_ID), &json!(wk::ADELE_GUEST_OID))
    );
    assert_eq!(
        c["iss"],
        format!("https://sts.windows.net/{}/", wk::FABRIKAM_TENANT_ID)
    );
    let id = claims(b["id_token"].as_str().unwrap());
    assert_eq!(
        id["idp"],
        format!("https://sts.windows.net/{}/", wk::TENANT_ID)
    );
    // client_info names the home account, as MSAL's home account id expects.
    let ci = claims(&format!("x.{}.y", b["client_info"].as_str().unwrap()));
    assert_eq!(
        (&ci["uid"], &ci["utid"]),
        (&json!(wk::ADELE_OID), &json!(wk::TENANT_ID))
    );

    // OBO on /common: Entra resolves the guest's home tenant. The token is Contoso's, for the
    // home account, so Graph answers the home profile, not the Fabrikam one.
    let (s, g) = obo_at(&emu, "common", assertion, "User.Read").await;
    assert_eq!(s, 200, "{g}");
    let gt = g["access_token"].as_str().unwrap();
    let gc = claims(gt);
    assert_eq!(
        (&gc["tid"], &gc["oid"]),
        (&json!(wk::TENANT_ID), &json!(wk::ADELE_OID))
    );
    let profile = me(&emu, gt).await;
    assert_eq!(profile["id"], wk::ADELE_OID);
    assert_eq!(profile["jobTitle"], "Retail Manager");

    // OBO on the tenant's own endpoint: Fabrikam's token for the guest record.
    let (s, g) = obo_at(&emu, wk::FABRIKAM_TENANT_ID, assertion, "User.Read").await;
    assert_eq!(s, 200, "{g}");
    let gt = g["access_token"].as_str().unwrap();
    let gc = claims(gt);
    assert_eq!(
        (&gc["tid"], &gc["oid"]),
        (&json!(wk::FABRIKAM_TENANT_ID), &json!(wk::ADELE_GUEST_OID))
    );
    let profile = me(&emu, gt).await;
    assert_eq!(profile["id"], wk::ADELE_GUEST_OID);
    assert_eq!(profile["userPrincipalName"], wk::ADELE_GUEST);
    assert_eq!(profile["jobTitle"], wk::ADELE_GUEST_JOB_TITLE);

    // Contoso's own endpoint does not take Fabrikam's assertion.
    let (s, e) = obo_at(&emu, wk::TENANT_ID, assertion, "User.Read").await;
    assert_aadsts(s, &e, 400, "invalid_grant", 50013);
}

#[tokio::test]
async fn a_guest_signs_in_at_the_resource_tenant_with_its_home_address() {
    let emu = start().await;
    let (s, b) = sign_in_and_redeem(
        &emu,
        wk::FABRIKAM_TENANT_DOMAIN,
        wk::ADELE,
        &sign_in_scope(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["access_token"].as_str().unwrap());
    assert_eq!(
        (&c["tid"], &c["oid"]),
        (&json!(wk::FABRIKAM_TENANT_ID), &json!(wk::ADELE_GUEST_OID))
    );
    assert_eq!(c["upn"], wk::ADELE_GUEST);
    // The same address on /common signs in to the home tenant.
    let (s, b) = sign_in_and_redeem(&emu, "common", wk::ADELE, &sign_in_scope()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["tid"],
        wk::TENANT_ID
    );
}

#[tokio::test]
async fn diego_signs_in_through_common_and_gets_fabrikam_tokens() {
    let emu = start().await;
    let c = client();
    let q = location_params(
        &sign_in_at(
            &c,
            &emu,
            "common",
            wk::DIEGO,
            &[("scope", &sign_in_scope())],
        )
        .await,
    );
    let (s, b) = redeem_at(&emu, "common", &q["code"], &sign_in_scope()).await;
    assert_eq!(s, 200, "{b}");
    let at = b["access_token"].as_str().unwrap();
    let fabrikam_v1 = format!("https://sts.windows.net/{}/", wk::FABRIKAM_TENANT_ID);
    verify(&emu, at, wk::WEB_APP_CLIENT_ID, &fabrikam_v1)
        .await
        .unwrap();
    let c_at = claims(at);
    assert_eq!(
        (&c_at["tid"], &c_at["oid"]),
        (&json!(wk::FABRIKAM_TENANT_ID), &json!(wk::DIEGO_OID))
    );
    let id = claims(b["id_token"].as_str().unwrap());
    assert_eq!(
        id["iss"],
        format!("{}/{}/v2.0", emu.base_url(), wk::FABRIKAM_TENANT_ID)
    );
    assert!(id.get("idp").is_none(), "a member, not a guest");
    // SSO on /common stays in Diego's tenant.
    let q = location_params(
        &c.get(authorize_url_at(
            &emu,
            "common",
            &[("prompt", "none"), ("scope", &sign_in_scope())],
        ))
        .send()
        .await
        .unwrap(),
    );
    let (s, b2) = redeem_at(&emu, "common", &q["code"], &sign_in_scope()).await;
    assert_eq!(s, 200, "{b2}");
    assert_eq!(
        claims(b2["access_token"].as_str().unwrap())["tid"],
        wk::FABRIKAM_TENANT_ID
    );
    // A member's OBO on /common is the tenant's own; the Weather API isn't in Fabrikam.
    let (s, g) = obo_at(&emu, "common", at, "User.Read").await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(
        me(&emu, g["access_token"].as_str().unwrap()).await["id"],
        wk::DIEGO_OID
    );
    let (s, e) = obo_at(&emu, "common", at, wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "invalid_resource", 500011);
    // Refresh on /organizations finds the grant's tenant.
    let (s, r) = token_at(
        &emu,
        "organizations",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("refresh_token", b["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        claims(r["access_token"].as_str().unwrap())["tid"],
        wk::FABRIKAM_TENANT_ID
    );
}

#[tokio::test]
async fn nestor_signs_in_to_northwind_a_tenant_the_app_may_refuse() {
    let emu = start().await;
    let (s, b) = sign_in_and_redeem(&emu, "organizations", wk::NESTOR, &sign_in_scope()).await;
    assert_eq!(s, 200, "{b}");
    let c = claims(b["access_token"].as_str().unwrap());
    assert_eq!(
        (&c["tid"], &c["oid"]),
        (&json!(wk::NORTHWIND_TENANT_ID), &json!(wk::NESTOR_OID))
    );
    // Diego is unknown to Northwind's own endpoint.
    let (s, e) = token_at(
        &emu,
        wk::NORTHWIND_TENANT_DOMAIN,
        &[
            ("grant_type", "password"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("username", wk::DIEGO),
            ("password", wk::USER_PASSWORD),
            ("scope", "User.Read"),
        ],
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_grant", 50126);
}
