//! The authorization-code flow with PKCE, driven over HTTP with a cookie jar and no redirect
//! following: sign-in pages, SSO, consent, MFA, response modes, logout, and each error case.

use crate::common::*;
use emulator::{LifetimesUpdate, well_known as wk};

#[tokio::test]
async fn code_flow_with_pkce_then_single_sign_on() {
    let emu = start().await;
    let c = client();
    let r = sign_in(&c, &emu, wk::ADELE, &[]).await;
    assert!(
        r.headers().get("set-cookie").is_some(),
        "session cookie set"
    );
    let q = location_params(&r);
    assert_eq!(q["state"], "st-123");
    assert!(q.contains_key("client_info"));
    let (s, b) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    assert_eq!(s, 200, "{b}");
    let id = verify(
        &emu,
        b["id_token"].as_str().unwrap(),
        wk::WEB_APP_CLIENT_ID,
        &v2_issuer(&emu),
    )
    .await
    .unwrap();
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["preferred_username"], wk::ADELE);
    // The access token is the right OBO assertion.
    let (s, o) = obo(
        &emu,
        b["access_token"].as_str().unwrap(),
        wk::WEATHER_API_SCOPE,
    )
    .await;
    assert_eq!(s, 200, "{o}");
    // Single use.
    let (s, e) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 54005);
    // SSO: prompt=none goes straight back with a code.
    let r = c
        .get(authorize_url(&emu, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let q = location_params(&r);
    assert!(q.contains_key("code"), "{q:?}");
    // prompt=login shows the sign-in page again.
    let r = c
        .get(authorize_url(&emu, &[("prompt", "login")]))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("id=\"username\""));
    // login_hint for another user needs a sign-in too.
    let r = c
        .get(authorize_url(&emu, &[("login_hint", wk::ALEX)]))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("value=\"{}\"", wk::ALEX)),
        "prefilled: {html}"
    );
    assert!(emu.stats().authorize >= 6);
    assert_eq!(emu.stats().authorization_code, 2);
}

#[tokio::test]
async fn code_redemption_errors() {
    let emu = start().await;
    let c = client();
    // PKCE mismatch, then the code is spent.
    let q = location_params(&sign_in(&c, &emu, wk::ADELE, &[]).await);
    let (s, e) = redeem(
        &emu,
        &q["code"],
        "wrong-verifier-wrong-verifier-wrong-verifier",
        REDIRECT,
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_grant", 501481);
    let (s, e) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 54005);
    // Redirect URI differs from the one at /authorize.
    let r = c
        .get(authorize_url(&emu, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let q = location_params(&r);
    let (s, e) = redeem(
        &emu,
        &q["code"],
        VERIFIER,
        "http://127.0.0.1:3000/auth/callback",
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_grant", 500112);
    // Expired.
    emu.set_lifetimes(LifetimesUpdate {
        code: Some(1),
        ..Default::default()
    });
    let q = location_params(
        &c.get(authorize_url(&emu, &[("prompt", "none")]))
            .send()
            .await
            .unwrap(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (s, e) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 70008);
    // Unknown code.
    let (s, e) = redeem(&emu, "1.nope", VERIFIER, REDIRECT).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 9002313);
    // Missing verifier.
    let q = location_params(
        &c.get(authorize_url(&emu, &[("prompt", "none")]))
            .send()
            .await
            .unwrap(),
    );
    let (s, e) = token(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_request", 900144);
}

#[tokio::test]
async fn authorize_errors_show_a_page_or_redirect_back() {
    let emu = start().await;
    let c = client();
    let r = c
        .get(authorize_url(
            &emu,
            &[("redirect_uri", "https://evil.example/cb")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("AADSTS50011"));
    let r = c
        .get(authorize_url(
            &emu,
            &[("client_id", "11111111-2222-3333-4444-555555555555")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("AADSTS700016"));
    // No session + prompt=none.
    let q = location_params(
        &c.get(authorize_url(&emu, &[("prompt", "none")]))
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-123");
    assert!(q["error_description"].starts_with("AADSTS50058: "));
    assert!(q["error_uri"].ends_with("code=50058"));
    let q = location_params(
        &c.get(authorize_url(&emu, &[("response_type", "token")]))
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(q["error"], "unsupported_response_type");
    let q = location_params(
        &c.get(authorize_url(&emu, &[("scope", "api://nope/x")]))
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(q["error"], "invalid_resource");
    // `.default` next to another resource's scope (MSAL's extraScopesToConsent mistake).
    let mixed = format!(
        "openid {} https://graph.microsoft.com/.default",
        wk::WEB_APP_SCOPE
    );
    let q = location_params(
        &c.get(authorize_url(&emu, &[("scope", &mixed)]))
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(q["error"], "invalid_scope");
    assert!(q["error_description"].starts_with("AADSTS70011: "), "{q:?}");
    assert!(q["error_description"].contains(".default scope can't be combined"));
    // Wrong username, then wrong password: shown inline.
    let html = c
        .get(authorize_url(&emu, &[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let txn = hidden(&html, "_txn");
    let html = step(
        &c,
        &emu,
        &txn,
        "username",
        &[("username", "nobody@contoso.onmicrosoft.com")],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("This username may be incorrect"));
    let html = step(
        &c,
        &emu,
        &txn,
        "password",
        &[("username", wk::ADELE), ("password", "nope")],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(html.contains("Your account or password is incorrect"));
}

#[tokio::test]
async fn loopback_redirect_uris_ignore_the_port_and_form_post_works() {
    let emu = start().await;
    let c = client();
    let other = "http://localhost:4567/auth/callback";
    let r = sign_in(&c, &emu, wk::ADELE, &[("redirect_uri", other)]).await;
    let q = location_params(&r);
    let (s, _) = redeem(&emu, &q["code"], VERIFIER, other).await;
    assert_eq!(s, 200);
    let r = c
        .get(authorize_url(
            &emu,
            &[("prompt", "none"), ("response_mode", "form_post")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")));
    assert_eq!(hidden(&html, "state"), "st-123");
    let (s, _) = redeem(&emu, &hidden(&html, "code"), VERIFIER, REDIRECT).await;
    assert_eq!(s, 200);
    let r = c
        .get(authorize_url(
            &emu,
            &[("prompt", "none"), ("response_mode", "fragment")],
        ))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("#code="));
}

#[tokio::test]
async fn consent_page_records_consent_and_decline_is_65004() {
    let emu = start().await;
    let scope = format!("{} openid profile offline_access", wk::WEATHER_API_SCOPE);
    // Decline.
    let c = client();
    let r = sign_in(&c, &emu, wk::ALEX, &[("scope", &scope)]).await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Permissions requested") && html.contains(wk::WEATHER_API_SCOPE),
        "{html}"
    );
    let txn = hidden(&html, "_txn");
    let q = location_params(&step(&c, &emu, &txn, "consent", &[("consent", "decline")]).await);
    assert_eq!(q["error"], "access_denied");
    assert!(q["error_description"].starts_with("AADSTS65004"));
    // prompt=none now says consent_required.
    let q = location_params(
        &c.get(authorize_url(
            &emu,
            &[("scope", &scope), ("prompt", "none")],
        ))
        .send()
        .await
        .unwrap(),
    );
    assert_eq!(q["error"], "consent_required");
    // Accept: OBO to the Weather API now works for Alex.
    let html = c
        .get(authorize_url(&emu, &[("scope", &scope)]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let txn = hidden(&html, "_txn");
    let q = location_params(&step(&c, &emu, &txn, "consent", &[("consent", "accept")]).await);
    assert!(q.contains_key("code"));
    let alex = user_token(&emu, wk::ALEX).await;
    let (s, b) = obo(&emu, &alex, wk::WEATHER_API_SCOPE).await;
    assert_eq!(s, 200, "{b}");
}

/// Megan's OBO to the Weather API fails with a claims challenge; the MFA page satisfies it and
/// the new assertion (v1 with `amr`, or v2 with the facts in `aio`) passes OBO.
async fn mfa_page_satisfies_the_claims_challenge_in(world: emulator::World, v2: bool) {
    let emu = start_with(world).await;
    // Megan's OBO fails with a claims challenge...
    let megan = user_token(&emu, wk::MEGAN).await;
    let (_, e) = obo(&emu, &megan, wk::WEATHER_API_SCOPE).await;
    let claims_challenge = e["claims"].as_str().unwrap().to_string();
    // ...which the app sends back to /authorize: the MFA page appears.
    let c = client();
    let r = sign_in(&c, &emu, wk::MEGAN, &[("claims", &claims_challenge)]).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("<label for=\"otc\">"), "{html}");
    let txn = hidden(&html, "_txn");
    let html = step(&c, &emu, &txn, "mfa", &[("otc", "000000")])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("role=\"alert\""));
    let q = location_params(&step(&c, &emu, &txn, "mfa", &[("otc", wk::MFA_CODE)]).await);
    let (s, b) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    assert_eq!(s, 200, "{b}");
    let at = b["access_token"].as_str().unwrap();
    let c = claims(at);
    if v2 {
        assert_eq!(c["ver"], "2.0");
        assert!(c.get("amr").is_none(), "no amr in v2 access tokens: {c}");
    } else {
        assert_eq!(c["ver"], "1.0");
        assert!(c["amr"].as_array().unwrap().iter().any(|a| a == "mfa"));
    }
    assert!(
        claims(b["id_token"].as_str().unwrap())["amr"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "mfa"),
        "ID tokens keep amr"
    );
    assert!(
        c.get("acrs").is_none(),
        "no authentication context was asked for"
    );
    let (s, b) = obo(&emu, at, wk::WEATHER_API_SCOPE).await;
    assert_eq!(s, 200, "{b}");
    // Asking for the Weather API at /authorize requires MFA straight away.
    let c = client();
    let r = sign_in(&c, &emu, wk::MEGAN, &[("scope", wk::WEATHER_API_SCOPE)]).await;
    assert!(r.text().await.unwrap().contains("id=\"otc\""));
}

#[tokio::test]
async fn mfa_page_satisfies_the_claims_challenge_with_a_v1_assertion() {
    mfa_page_satisfies_the_claims_challenge_in(emulator::World::well_known(), false).await;
}

#[tokio::test]
async fn mfa_page_satisfies_the_claims_challenge_with_a_v2_assertion_through_aio() {
    mfa_page_satisfies_the_claims_challenge_in(emulator::World::well_known_with_v2_web_app(), true)
        .await;
}

#[tokio::test]
async fn an_acrs_claims_request_puts_acrs_in_every_access_token_of_that_sign_in() {
    let emu = start().await;
    let c = client();
    let acrs_request = format!(
        r#"{{"access_token":{{"acrs":{{"essential":true,"value":"{}"}}}}}}"#,
        wk::WEATHER_AUTH_CONTEXT
    );
    let r = sign_in(&c, &emu, wk::ADELE, &[("claims", &acrs_request)]).await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("id=\"otc\""),
        "an auth context means MFA: {html}"
    );
    let txn = hidden(&html, "_txn");
    let q = location_params(&step(&c, &emu, &txn, "mfa", &[("otc", wk::MFA_CODE)]).await);
    let (s, b) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    assert_eq!(s, 200, "{b}");
    let expected = serde_json::json!([wk::WEATHER_AUTH_CONTEXT]);
    let at = b["access_token"].as_str().unwrap();
    assert_eq!(claims(at)["acrs"], expected, "v1 token of the sign-in");
    // Refreshed tokens and OBO tokens (v2, the Weather API) carry it too.
    let (s, r) = refresh(&emu, b["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        claims(r["access_token"].as_str().unwrap())["acrs"],
        expected
    );
    let (s, w) = obo(&emu, at, wk::WEATHER_API_SCOPE).await;
    assert_eq!(s, 200, "{w}");
    let w = claims(w["access_token"].as_str().unwrap());
    assert_eq!(
        (&w["ver"], &w["acrs"]),
        (&serde_json::json!("2.0"), &expected)
    );
    // A session that did MFA satisfies a `values` request without another prompt.
    let r = c
        .get(authorize_url(
            &emu,
            &[(
                "claims",
                r#"{"access_token":{"acrs":{"essential":true,"values":["c2"]}}}"#,
            )],
        ))
        .send()
        .await
        .unwrap();
    let q = location_params(&r);
    let (_, b) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["acrs"],
        serde_json::json!([wk::WEATHER_AUTH_CONTEXT, "c2"])
    );
    // Without a claims request, no `acrs`.
    let plain = user_token(&emu, wk::ADELE).await;
    assert!(claims(&plain).get("acrs").is_none());
    let (_, w) = obo(&emu, &plain, wk::WEATHER_API_SCOPE).await;
    assert!(
        claims(w["access_token"].as_str().unwrap())
            .get("acrs")
            .is_none()
    );
}

#[tokio::test]
async fn logout_checks_post_logout_redirect_uri_and_ends_the_session() {
    let emu = start().await;
    let c = client();
    location_params(&sign_in(&c, &emu, wk::ADELE, &[]).await);
    let logout = format!("{}/oauth2/v2.0/logout", emu.authority(wk::TENANT_ID));
    let r = c
        .get(&logout)
        .query(&[
            ("post_logout_redirect_uri", "https://evil.example/"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .get(&logout)
        .query(&[
            ("post_logout_redirect_uri", REDIRECT),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("state", "bye"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], format!("{REDIRECT}?state=bye"));
    let q = location_params(
        &c.get(authorize_url(&emu, &[("prompt", "none")]))
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(q["error"], "login_required");
    let r = c.get(&logout).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("You signed out"));
    assert_eq!(emu.stats().logout, 3);
}

#[tokio::test]
async fn combined_consent_through_known_client_applications() {
    use emulator::world::{Application, RequiredResourceAccess, ResourceAccess};
    const SPA: &str = "5a9c1f7e-0c1d-4f2a-8b3c-9d8e7f6a5b4c";
    let mut world = emulator::World::well_known();
    let t = &mut world.tenants[0];
    let web = t
        .applications
        .iter_mut()
        .find(|a| a.app_id == wk::WEB_APP_CLIENT_ID)
        .unwrap();
    web.api.known_client_applications.push(SPA.into());
    let scope_id = web.api.oauth2_permission_scopes[0].id.clone();
    let mut spa: Application = serde_json::from_value(serde_json::json!({
        "appId": SPA, "displayName": "SPA", "isFallbackPublicClient": true,
        "web": {"redirectUris": ["http://localhost:5173/"]}
    }))
    .unwrap();
    spa.required_resource_access.push(RequiredResourceAccess {
        resource_app_id: wk::WEB_APP_CLIENT_ID.into(),
        resource_access: vec![ResourceAccess {
            id: scope_id,
            kind: emulator::world::PermissionKind::Scope,
        }],
    });
    t.applications.push(spa);
    let emu = start_with(world).await;
    let c = client();
    let r = sign_in(
        &c,
        &emu,
        wk::ALEX,
        &[
            ("client_id", SPA),
            ("redirect_uri", "http://localhost:5173/"),
            ("scope", &format!("{}/.default openid", wk::WEB_APP_ID_URI)),
        ],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Permissions requested"), "{html}");
    let txn = hidden(&html, "_txn");
    let r = step(&c, &emu, &txn, "consent", &[("consent", "accept")]).await;
    assert_eq!(r.status(), 302);
    // The middle tier now has Alex's consent for its own permissions, the Weather API included.
    let alex = user_token(&emu, wk::ALEX).await;
    let (s, b) = obo(&emu, &alex, wk::WEATHER_API_SCOPE).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn the_login_hint_claim_is_there_when_registered_and_logout_hint_signs_that_account_out() {
    let emu = start().await;
    let c = client();
    let q = location_params(&sign_in(&c, &emu, wk::ADELE, &[]).await);
    let (_, b) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    let hint = claims(b["id_token"].as_str().unwrap())["login_hint"]
        .as_str()
        .expect("the web app lists login_hint under optionalClaims.idToken")
        .to_string();
    assert!(!hint.contains(wk::ADELE), "opaque, not the UPN: {hint}");
    let (_, again) = password(&emu, wk::ADELE, &format!("{} openid", wk::WEB_APP_SCOPE)).await;
    assert_eq!(
        claims(again["id_token"].as_str().unwrap())["login_hint"],
        hint.as_str(),
        "stable per user"
    );
    // As a login_hint at /authorize it names Adele.
    let html = client()
        .get(authorize_url(&emu, &[("login_hint", &hint)]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("value=\"{}\"", wk::ADELE)), "{html}");
    // logout_hint signs the session out without a picker.
    let logout = format!("{}/oauth2/v2.0/logout", emu.authority("common"));
    let r = c
        .get(&logout)
        .query(&[
            ("post_logout_redirect_uri", REDIRECT),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("logout_hint", &hint),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let q = location_params(
        &c.get(authorize_url(&emu, &[("prompt", "none")]))
            .send()
            .await
            .unwrap(),
    );
    assert_eq!(q["error"], "login_required");

    // An app whose registration has no optional claims gets no login_hint.
    let mut world = emulator::World::well_known();
    for t in &mut world.tenants {
        for a in &mut t.applications {
            a.optional_claims = Default::default();
        }
    }
    let emu = start_with(world).await;
    let (_, b) = password(&emu, wk::ADELE, &format!("{} openid", wk::WEB_APP_SCOPE)).await;
    assert!(
        claims(b["id_token"].as_str().unwrap())
            .get("login_hint")
            .is_none()
    );
}

#[tokio::test]
async fn select_account_with_a_session_shows_an_account_picker_that_continues_without_a_password() {
    let emu = start().await;
    let c = client();
    location_params(&sign_in(&c, &emu, wk::ADELE, &[]).await);
    let picker = |c: reqwest::Client| {
        let url = authorize_url(&emu, &[("prompt", "select_account")]);
        async move {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let html = picker(c.clone()).await;
    assert!(html.contains("Pick an account"), "{html}");
    assert!(
        html.contains(wk::ADELE) && html.contains("id=\"signed-in-account\""),
        "{html}"
    );
    assert!(html.contains("id=\"use-another-account\""), "{html}");
    assert!(!html.contains("id=\"password\"") && !html.contains("id=\"username\""));
    // Choosing the signed-in account continues without a password.
    let txn = hidden(&html, "_txn");
    let r = step(
        &c,
        &emu,
        &txn,
        "select_account",
        &[("account", wk::ADELE_OID)],
    )
    .await;
    let q = location_params(&r);
    let (s, b) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["oid"],
        wk::ADELE_OID
    );
    // "Use another account" goes to the sign-in pages, and that account gets the code.
    let html = picker(c.clone()).await;
    let txn = hidden(&html, "_txn");
    let html = step(&c, &emu, &txn, "select_account", &[("account", "other")])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<label for=\"username\">"), "{html}");
    step(&c, &emu, &txn, "username", &[("username", wk::MEGAN)]).await;
    let r = step(
        &c,
        &emu,
        &txn,
        "password",
        &[("username", wk::MEGAN), ("password", wk::USER_PASSWORD)],
    )
    .await;
    let q = location_params(&r);
    let (s, b) = redeem(&emu, &q["code"], VERIFIER, REDIRECT).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["oid"],
        wk::MEGAN_OID
    );
    // Without a session, select_account is the sign-in page.
    let html = picker(client()).await;
    assert!(html.contains("<label for=\"username\">"), "{html}");
}

#[tokio::test]
async fn a_single_tenant_app_at_common_or_organizations_is_50194_but_works_at_its_tenant() {
    let mut world = emulator::World::well_known();
    for t in &mut world.tenants {
        for a in &mut t.applications {
            if a.app_id == wk::WEB_APP_CLIENT_ID {
                a.sign_in_audience = "AzureADMyOrg".into();
            }
        }
    }
    let emu = start_with(world).await;
    let message = format!(
        "AADSTS50194: Application '{}'(Entra BFF (web app)) is not configured as a multi-tenant application.",
        wk::WEB_APP_CLIENT_ID
    );
    for seg in ["common", "organizations"] {
        let r = client()
            .get(authorize_url_at(&emu, seg, &[]))
            .send()
            .await
            .unwrap();
        let q = location_params(&r);
        assert_eq!(q["error"], "invalid_request", "{seg}");
        assert!(q["error_description"].starts_with(&message), "{q:?}");
        let (s, e) = token_at(
            &emu,
            seg,
            &[
                ("grant_type", "password"),
                ("client_id", wk::WEB_APP_CLIENT_ID),
                ("client_secret", wk::WEB_APP_SECRET),
                ("username", wk::ADELE),
                ("password", wk::USER_PASSWORD),
                ("scope", wk::WEB_APP_SCOPE),
            ],
        )
        .await;
        assert_aadsts(s, &e, 400, "invalid_request", 50194);
    }
    // Its tenant's own authority works, by GUID or domain.
    let (s, b) = sign_in_and_redeem(&emu, wk::TENANT_DOMAIN, wk::ADELE, wk::WEB_APP_SCOPE).await;
    assert_eq!(s, 200, "{b}");
    // The built-in world's web app is multi-tenant; its Weather API is single-tenant.
    let w = emulator::World::well_known();
    let contoso = w.tenant(wk::TENANT_ID).unwrap();
    assert_eq!(
        contoso.app(wk::WEB_APP_CLIENT_ID).unwrap().sign_in_audience,
        "AzureADMultipleOrgs"
    );
    assert_eq!(
        contoso
            .app(wk::WEATHER_API_CLIENT_ID)
            .unwrap()
            .sign_in_audience,
        "AzureADMyOrg"
    );
}

#[tokio::test]
async fn response_type_id_token_without_implicit_id_tokens_enabled_is_700054() {
    let emu = start().await;
    for rt in ["id_token", "code id_token", "id_token token"] {
        let r = client()
            .get(authorize_url(&emu, &[("response_type", rt)]))
            .send()
            .await
            .unwrap();
        let q = location_params(&r);
        assert_eq!(q["error"], "unsupported_response_type", "{rt}");
        assert!(
            q["error_description"].starts_with(
                "AADSTS700054: response_type 'id_token' is not enabled for the application."
            ),
            "{rt}: {q:?}"
        );
    }
    // Access tokens from /authorize are a separate switch: AADSTS700051.
    let q = location_params(
        &client()
            .get(authorize_url(&emu, &[("response_type", "token")]))
            .send()
            .await
            .unwrap(),
    );
    assert!(
        q["error_description"]
            .starts_with("AADSTS700051: response_type 'token' is not enabled for the application."),
        "{q:?}"
    );
}

#[tokio::test]
async fn a_user_asking_for_an_admin_only_scope_without_admin_consent_gets_90094_not_the_consent_page()
 {
    let mut world = emulator::World::well_known();
    let weather = world.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == wk::WEATHER_API_CLIENT_ID)
        .unwrap();
    weather
        .api
        .oauth2_permission_scopes
        .push(emulator::world::PermissionScope {
            id: "0d5ae4f0-7a2b-4c43-9c51-2a4f3e1b8d00".into(),
            value: "Weather.Admin".into(),
            kind: emulator::world::ConsentBy::Admin,
            user_consent_display_name: None,
        });
    let emu = start_with(world).await;
    let admin_scope = format!("{}/Weather.Admin openid profile", wk::WEATHER_API_ID_URI);
    let c = client();
    let r = sign_in(&c, &emu, wk::ADELE, &[("scope", &admin_scope)]).await;
    let q = location_params(&r);
    assert_eq!(q["error"], "consent_required", "{q:?}");
    assert!(q["error_description"].starts_with("AADSTS90094: "), "{q:?}");
    assert!(q["error_description"].contains("Weather.Admin"), "{q:?}");
    assert_eq!(q["state"], "st-123");
    // A user-consentable scope still gets the consent page (Alex has not consented).
    let user_scope = format!("{} openid profile", wk::WEATHER_API_SCOPE);
    let html = sign_in(&client(), &emu, wk::ALEX, &[("scope", &user_scope)])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"accept\""), "{html}");
    // Once an administrator consented for the tenant, the same sign-in goes through.
    emu.state().world.write().unwrap().tenants[0]
        .consents
        .push(emulator::world::ConsentGrant {
            client_id: wk::WEB_APP_CLIENT_ID.into(),
            resource_app_id: wk::WEATHER_API_CLIENT_ID.into(),
            scopes: vec!["Weather.Admin".into()],
            principal: None,
        });
    let r = c
        .get(authorize_url(&emu, &[("scope", &admin_scope)]))
        .send()
        .await
        .unwrap();
    assert!(location_params(&r).contains_key("code"));
}
