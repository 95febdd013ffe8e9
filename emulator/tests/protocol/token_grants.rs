//! The token endpoint over HTTP: every grant's success path, tokens verified with an independent
//! JWT library against the published JWKS, and each error case with its AADSTS code.

use crate::common::*;
use emulator::{LifetimesUpdate, well_known as wk};
use serde_json::json;

#[tokio::test]
async fn discovery_document_names_guid_endpoints_and_jwks_has_x5c() {
    let emu = start().await;
    let c = client();
    for seg in [wk::TENANT_ID, wk::TENANT_DOMAIN] {
        let doc: serde_json::Value = c
            .get(format!(
                "{}/{seg}/v2.0/.well-known/openid-configuration",
                emu.base_url()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], v2_issuer(&emu));
        assert_eq!(doc["token_endpoint"], token_url(&emu));
        assert_eq!(doc["tenant_region_scope"], "WW");
        assert!(
            doc["end_session_endpoint"]
                .as_str()
                .unwrap()
                .ends_with("/oauth2/v2.0/logout")
        );
    }
    let common: serde_json::Value = c
        .get(format!(
            "{}/common/v2.0/.well-known/openid-configuration",
            emu.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        common["issuer"],
        format!("{}/{{tenantid}}/v2.0", emu.base_url())
    );
    assert!(
        common["token_endpoint"]
            .as_str()
            .unwrap()
            .contains("/common/")
    );
    let r = c
        .get(format!(
            "{}/nope.example/v2.0/.well-known/openid-configuration",
            emu.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let set: serde_json::Value = c
        .get(format!(
            "{}/discovery/v2.0/keys",
            emu.authority(wk::TENANT_ID)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let k = &set["keys"][0];
    assert_eq!(k["kid"], k["x5t"]);
    assert_eq!(k["e"], "AQAB");
    assert!(k["x5c"][0].as_str().unwrap().len() > 500);
    let inst: serde_json::Value = c
        .get(format!("{}/common/discovery/instance?api-version=1.1&authorization_endpoint={}/oauth2/v2.0/authorize", emu.base_url(), emu.authority(wk::TENANT_ID)))
        .send().await.unwrap().json().await.unwrap();
    assert!(
        inst["tenant_discovery_endpoint"]
            .as_str()
            .unwrap()
            .contains(wk::TENANT_ID)
    );
    let realm: serde_json::Value = c
        .get(format!(
            "{}/common/userrealm/{}?api-version=1.0",
            emu.base_url(),
            wk::ADELE
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(realm["account_type"], "Managed");
    let s = emu.stats();
    assert_eq!((s.discovery, s.jwks, s.instance_discovery), (4, 1, 1));
}

#[tokio::test]
async fn password_grant_issues_verifiable_v1_tokens_for_the_web_apps_own_api_with_client_info() {
    let emu = start().await;
    let (s, b) = password(
        &emu,
        wk::ADELE,
        &format!("{} openid profile email offline_access", wk::WEB_APP_SCOPE),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["token_type"], "Bearer");
    assert!(b["refresh_token"].is_string() && b["id_token"].is_string());
    let ci = crate::common::claims(&format!("x.{}.y", b["client_info"].as_str().unwrap()));
    assert_eq!(ci["uid"], wk::ADELE_OID);
    assert_eq!(ci["utid"], wk::TENANT_ID);
    // The web app's registration leaves requestedAccessTokenVersion null: v1 tokens, `aud` as
    // requested (the GUID form here).
    let token = b["access_token"].as_str().unwrap();
    assert_eq!(header(token)["x5t"], header(token)["kid"]);
    let at = verify(&emu, token, wk::WEB_APP_CLIENT_ID, V1_ISSUER)
        .await
        .unwrap();
    assert_eq!(at["scp"], "access_as_user");
    assert_eq!(at["appid"], wk::WEB_APP_CLIENT_ID);
    assert_eq!(at["appidacr"], "1");
    assert_eq!(at["amr"], json!(["pwd"]));
    assert_eq!(at["upn"], wk::ADELE);
    assert_eq!(at["unique_name"], wk::ADELE);
    assert_eq!(at["oid"], wk::ADELE_OID);
    assert_eq!(at["ver"], "1.0");
    assert!(at.get("azp").is_none() && at.get("acrs").is_none());
    let exp_in = b["expires_in"].as_u64().unwrap();
    assert!(
        (3600..5400).contains(&exp_in),
        "Entra's default 60-90 minutes: {exp_in}"
    );
    let id = verify(
        &emu,
        b["id_token"].as_str().unwrap(),
        wk::WEB_APP_CLIENT_ID,
        &v2_issuer(&emu),
    )
    .await
    .unwrap();
    assert_eq!(id["preferred_username"], wk::ADELE);
    assert_eq!(id["email"], wk::ADELE);
    assert_eq!(id["sub"], at["sub"], "same app, same pairwise sub");
    let (_, g) = password(&emu, wk::ADELE, "User.Read").await;
    assert_ne!(
        claims(g["access_token"].as_str().unwrap())["sub"],
        id["sub"],
        "sub is pairwise per app"
    );
    assert_eq!(emu.stats().password, 2);
}

#[tokio::test]
async fn a_v2_web_app_gets_v2_tokens_without_amr_while_id_tokens_keep_it() {
    let emu = start_with(emulator::World::well_known_with_v2_web_app()).await;
    let (s, b) = sign_in_and_redeem(
        &emu,
        wk::TENANT_ID,
        wk::ADELE,
        &format!("{} openid profile offline_access", wk::WEB_APP_SCOPE_URI),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let at = verify(
        &emu,
        b["access_token"].as_str().unwrap(),
        wk::WEB_APP_CLIENT_ID,
        &v2_issuer(&emu),
    )
    .await
    .unwrap();
    assert_eq!(at["ver"], "2.0");
    assert_eq!(at["aud"], wk::WEB_APP_CLIENT_ID, "v2: always the GUID");
    assert_eq!(at["azp"], wk::WEB_APP_CLIENT_ID);
    assert!(at.get("amr").is_none(), "amr is a v1 claim: {at}");
    assert!(at["aio"].is_string());
    let id = claims(b["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["pwd"]));
    // The v2 assertion still works for OBO: the sign-in facts ride in `aio`.
    let (s, w) = obo(
        &emu,
        b["access_token"].as_str().unwrap(),
        wk::WEATHER_API_SCOPE,
    )
    .await;
    assert_eq!(s, 200, "{w}");
}

#[tokio::test]
async fn obo_to_weather_and_graph_and_graph_token_is_unverifiable() {
    let emu = start().await;
    let assertion = user_token(&emu, wk::ADELE).await;
    let (s, w) = obo(
        &emu,
        &assertion,
        &format!("{} openid profile offline_access", wk::WEATHER_API_SCOPE),
    )
    .await;
    assert_eq!(s, 200, "{w}");
    let at = verify(
        &emu,
        w["access_token"].as_str().unwrap(),
        wk::WEATHER_API_CLIENT_ID,
        &v2_issuer(&emu),
    )
    .await
    .unwrap();
    assert_eq!(at["scp"], "Weather.Read");
    assert_eq!(at["azp"], wk::WEB_APP_CLIENT_ID);
    assert!(
        w["refresh_token"].is_string() && w["id_token"].is_string() && w["client_info"].is_string()
    );
    assert_eq!(
        w["scope"],
        format!("{} openid profile", wk::WEATHER_API_SCOPE)
    );

    let (s, g) = obo(&emu, &assertion, "https://graph.microsoft.com/User.Read").await;
    assert_eq!(s, 200, "{g}");
    let gt = g["access_token"].as_str().unwrap();
    let h = header(gt);
    assert!(h["nonce"].is_string());
    assert_eq!(h["x5t"], h["kid"]);
    let c = claims(gt);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["iss"], V1_ISSUER);
    assert_eq!(c["appid"], wk::WEB_APP_CLIENT_ID);
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["upn"], wk::ADELE);
    let err = verify(&emu, gt, "https://graph.microsoft.com", V1_ISSUER)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            jsonwebtoken::errors::ErrorKind::InvalidSignature
        ),
        "{err:?}"
    );
    assert_eq!(emu.stats().obo, 2);
}

#[tokio::test]
async fn obo_with_a_graph_token_fails_with_50013() {
    let emu = start().await;
    let (_, b) = password(&emu, wk::ADELE, "User.Read openid profile offline_access").await;
    let graph_token = b["access_token"].as_str().unwrap();
    assert!(header(graph_token)["nonce"].is_string());
    let (s, e) = obo(&emu, graph_token, wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 50013);
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS50013: Assertion failed signature validation.")
    );
}

#[tokio::test]
async fn obo_rejects_foreign_keys_other_audiences_id_tokens_app_tokens_and_expired_tokens() {
    let emu = start().await;
    // Signed by another emulator's key -> 50013.
    let other = start().await;
    let foreign = user_token(&other, wk::ADELE).await;
    let (s, e) = obo(&emu, &foreign, wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 50013);
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("The key was not found.")
    );
    // Tampered signature -> 50013.
    let good = user_token(&emu, wk::ADELE).await;
    let mut tampered = good.clone();
    tampered.replace_range(tampered.len() - 6.., "AAAAAA");
    let (s, e) = obo(&emu, &tampered, wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 50013);
    // A correctly signed token for the Weather API -> 500131.
    let (_, w) = password(&emu, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    let (s, e) = obo(&emu, w["access_token"].as_str().unwrap(), "User.Read").await;
    assert_aadsts(s, &e, 400, "invalid_grant", 500131);
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains(wk::WEATHER_API_CLIENT_ID)
    );
    // An ID token -> 240002.
    let (_, b) = password(&emu, wk::ADELE, &format!("{} openid", wk::WEB_APP_SCOPE)).await;
    let (s, e) = obo(&emu, b["id_token"].as_str().unwrap(), wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 240002);
    // An app-only token for the web app -> rejected.
    let (_, cc) = token(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("scope", &format!("{}/.default", wk::WEB_APP_ID_URI)),
        ],
    )
    .await;
    let (s, e) = obo(
        &emu,
        cc["access_token"].as_str().unwrap(),
        wk::WEATHER_API_SCOPE,
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_grant", 50027);
    // Expired -> 500133.
    let now = emulator::keys::now();
    let expired = {
        let keys = emu.state().keys.read().unwrap();
        emulator::tokens::sign(
            keys.current(),
            &json!({
                "aud": wk::WEB_APP_CLIENT_ID, "iss": v2_issuer(&emu), "tid": wk::TENANT_ID, "oid": wk::ADELE_OID,
                "azp": wk::WEB_APP_CLIENT_ID, "scp": "access_as_user", "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600, "ver": "2.0"
            }),
            emulator::tokens::Header::V2,
        )
    };
    let (s, e) = obo(&emu, &expired, wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 500133);
    // Garbage -> 50027.
    let (s, e) = obo(&emu, "not-a-jwt", wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "invalid_request", 50027);
}

#[tokio::test]
async fn obo_without_consent_is_65001_and_mfa_policy_gives_a_claims_challenge() {
    let emu = start().await;
    let alex = user_token(&emu, wk::ALEX).await;
    let (s, e) = obo(&emu, &alex, wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "invalid_grant", 65001);
    assert_eq!(e["suberror"], "consent_required");
    // Alex can still reach Graph (admin consent).
    let (s, _) = obo(&emu, &alex, "User.Read").await;
    assert_eq!(s, 200);

    let megan = user_token(&emu, wk::MEGAN).await;
    let (s, e) = obo(&emu, &megan, wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "interaction_required", 50076);
    let claims: serde_json::Value = serde_json::from_str(e["claims"].as_str().unwrap()).unwrap();
    assert_eq!(
        claims["access_token"]["capolids"]["values"][0],
        wk::MFA_POLICY_ID
    );
    // Megan's password grant straight to the Weather API hits the same policy.
    let (s, e) = password(&emu, wk::MEGAN, wk::WEATHER_API_SCOPE).await;
    assert_aadsts(s, &e, 400, "interaction_required", 50076);
}

#[tokio::test]
async fn refresh_rotates_and_fails_when_revoked_or_expired() {
    let emu = start().await;
    let (_, b) = password(
        &emu,
        wk::ADELE,
        &format!("{} offline_access", wk::WEB_APP_SCOPE),
    )
    .await;
    let rt1 = b["refresh_token"].as_str().unwrap().to_string();
    let refresh = |rt: String, scope: &'static str| {
        let emu = &emu;
        async move {
            token(
                emu,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", wk::WEB_APP_CLIENT_ID),
                    ("client_secret", wk::WEB_APP_SECRET),
                    ("refresh_token", &rt),
                    ("scope", scope),
                ],
            )
            .await
        }
    };
    let (s, r) = refresh(rt1.clone(), "User.Read offline_access").await;
    assert_eq!(s, 200, "{r}");
    let rt2 = r["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "rotated");
    assert_eq!(
        claims(r["access_token"].as_str().unwrap())["aud"],
        wk::GRAPH_APP_ID,
        "an RT serves any consented resource"
    );
    // Entra doesn't revoke the old RT on rotation.
    let (s, _) = refresh(rt1.clone(), "User.Read").await;
    assert_eq!(s, 200);
    // Unknown RT.
    let (s, e) = refresh("1.garbage".into(), "User.Read").await;
    assert_aadsts(s, &e, 400, "invalid_grant", 9002313);
    // Revoked.
    assert!(emu.revoke_refresh_tokens(wk::ADELE) >= 2);
    let (s, e) = refresh(rt2, "User.Read").await;
    assert_aadsts(s, &e, 400, "invalid_grant", 50173);
    // Expired.
    emu.set_lifetimes(LifetimesUpdate {
        refresh_token: Some(1),
        ..Default::default()
    });
    let (_, b) = password(
        &emu,
        wk::ADELE,
        &format!("{} offline_access", wk::WEB_APP_SCOPE),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (s, e) = refresh(
        b["refresh_token"].as_str().unwrap().to_string(),
        "User.Read",
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_grant", 700082);
    let grants = emu.grants();
    assert!(grants.iter().all(|g| g.upn == wk::ADELE));
    assert_eq!(emu.stats().refresh_token, 5);
}

#[tokio::test]
async fn client_credentials_gives_app_only_tokens() {
    let emu = start().await;
    let (s, b) = token(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("scope", &format!("{}/.default", wk::WEATHER_API_ID_URI)),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("refresh_token").is_none() && b.get("id_token").is_none());
    let at = verify(
        &emu,
        b["access_token"].as_str().unwrap(),
        wk::WEATHER_API_CLIENT_ID,
        &v2_issuer(&emu),
    )
    .await
    .unwrap();
    assert_eq!(at["roles"], json!(["Weather.Read.All"]));
    assert_eq!(at["idtyp"], "app");
    assert!(at.get("scp").is_none());
    assert_eq!(at["sub"], at["oid"]);
    let (s, e) = token(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("scope", wk::WEATHER_API_SCOPE),
        ],
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_scope", 1002012);
    let (s, e) = client()
        .post(format!("{}/common/oauth2/v2.0/token", emu.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_aadsts(s, &e.json().await.unwrap(), 400, "invalid_request", 9001023);
}

#[tokio::test]
async fn client_authentication_errors() {
    let emu = start().await;
    let base = |secret: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ]
    };
    let (s, e) = token(&emu, &base("wrong")).await;
    assert_aadsts(s, &e, 401, "invalid_client", 7000215);
    let (s, e) = token(&emu, &base(wk::WEB_APP_SECRET_ID)).await;
    assert_aadsts(s, &e, 401, "invalid_client", 7000215);
    let (s, e) = token(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_aadsts(s, &e, 401, "invalid_client", 7000218);
    let (s, e) = token(
        &emu,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "11111111-1111-1111-1111-111111111111"),
            ("client_secret", "x"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_aadsts(s, &e, 400, "unauthorized_client", 700016);
    // client_secret_basic works.
    let r = client()
        .post(token_url(&emu))
        .basic_auth(wk::WEB_APP_CLIENT_ID, Some(wk::WEB_APP_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Request errors.
    let (s, e) = token(&emu, &[("client_id", wk::WEB_APP_CLIENT_ID)]).await;
    assert_aadsts(s, &e, 400, "invalid_request", 900144);
    let (s, e) = token(
        &emu,
        &[
            ("grant_type", "urn:x"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
        ],
    )
    .await;
    assert_aadsts(s, &e, 400, "unsupported_grant_type", 70003);
    let r = client()
        .post(format!("{}/nope.example/oauth2/v2.0/token", emu.base_url()))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (s, e) = token(
        &emu,
        &[
            ("grant_type", "password"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("username", wk::ADELE),
            ("password", "nope"),
            ("scope", "User.Read"),
        ],
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_grant", 50126);
}

#[tokio::test]
async fn scope_errors() {
    let emu = start().await;
    let (s, e) = password(
        &emu,
        wk::ADELE,
        &format!("User.Read {}", wk::WEATHER_API_SCOPE),
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_scope", 28000);
    let (s, e) = password(&emu, wk::ADELE, "api://unknown-api/read").await;
    assert_aadsts(s, &e, 400, "invalid_resource", 500011);
    let (s, e) = password(
        &emu,
        wk::ADELE,
        &format!("{}/Weather.Write", wk::WEATHER_API_ID_URI),
    )
    .await;
    assert_aadsts(s, &e, 400, "invalid_scope", 70011);
}

#[tokio::test]
async fn private_key_jwt_client_authentication() {
    use base64::Engine;
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let kp = rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["cert-client".to_string()])
        .unwrap()
        .self_signed(&kp)
        .unwrap();
    let der = cert.der().to_vec();
    let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha1::Sha1 as sha1::Digest>::digest(&der));
    let mut world = emulator::World::well_known();
    let app = world.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == wk::WEB_APP_CLIENT_ID)
        .unwrap();
    app.key_credentials.push(emulator::world::KeyCredential {
        key_id: "k1".into(),
        key: base64::engine::general_purpose::STANDARD.encode(&der),
    });
    let emu = start_with(world).await;
    let now = emulator::keys::now();
    let aud = token_url(&emu);
    let sign = |x5t: &str, iss: &str| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.x5t = Some(x5t.to_string());
        jsonwebtoken::encode(
            &h,
            &json!({"aud": aud, "iss": iss, "sub": wk::WEB_APP_CLIENT_ID,
            "jti": "j", "nbf": now, "exp": now + 600}),
            &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let emu = &emu;
    let form = |assertion: String| async move {
        token(
            emu,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", wk::WEB_APP_CLIENT_ID),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await
    };
    let (s, b) = form(sign(&x5t, wk::WEB_APP_CLIENT_ID)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(claims(b["access_token"].as_str().unwrap())["appidacr"], "2");
    let (s, e) = form(sign("AAAAAAAAAAAAAAAAAAAAAAAAAAA", wk::WEB_APP_CLIENT_ID)).await;
    assert_aadsts(s, &e, 401, "invalid_client", 700027);
    let (s, e) = form(sign(&x5t, "someone-else")).await;
    assert_aadsts(s, &e, 401, "invalid_client", 50048);
    // PS256 with x5t#S256, as current docs recommend.
    let x5t256 = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(&der));
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    h.x5t_s256 = Some(x5t256);
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let ps = jsonwebtoken::encode(
        &h,
        &json!({"aud": aud, "iss": wk::WEB_APP_CLIENT_ID, "sub": wk::WEB_APP_CLIENT_ID,
        "jti": "j2", "nbf": now, "exp": now + 600}),
        &key,
    )
    .unwrap();
    let (s, b) = form(ps).await;
    assert_eq!(s, 200, "{b}");
    // Expired assertion.
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.x5t = Some(x5t.clone());
    let old = jsonwebtoken::encode(
        &h,
        &json!({"aud": aud, "iss": wk::WEB_APP_CLIENT_ID, "sub": wk::WEB_APP_CLIENT_ID,
        "jti": "j3", "nbf": now - 4000, "exp": now - 3000}),
        &key,
    )
    .unwrap();
    let (s, e) = form(old).await;
    assert_aadsts(s, &e, 401, "invalid_client", 700024);
}

#[tokio::test]
async fn obo_accepts_v1_assertions_addressed_by_app_id_uri_or_guid() {
    let emu = start().await;
    // Signed in with the App ID URI form: v1 `aud` keeps it.
    let (s, b) = sign_in_and_redeem(
        &emu,
        wk::TENANT_ID,
        wk::ADELE,
        &format!("{} openid offline_access", wk::WEB_APP_SCOPE_URI),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let assertion = b["access_token"].as_str().unwrap();
    let c = claims(assertion);
    assert_eq!(c["aud"], wk::WEB_APP_ID_URI);
    assert_eq!(c["iss"], V1_ISSUER);
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["amr"], json!(["pwd"]));
    assert_eq!(c["appid"], wk::WEB_APP_CLIENT_ID);
    assert_eq!(header(assertion)["x5t"], header(assertion)["kid"]);
    verify(&emu, assertion, wk::WEB_APP_ID_URI, V1_ISSUER)
        .await
        .unwrap();
    assert_eq!(
        b["scope"],
        format!("{} openid", wk::WEB_APP_SCOPE_URI),
        "scope echoes the form the client named"
    );
    let (s, w) = obo(&emu, assertion, wk::WEATHER_API_SCOPE).await;
    assert_eq!(s, 200, "{w}");
    // Signed in with the GUID form: `aud` is the GUID.
    let guid = user_token(&emu, wk::ADELE).await;
    assert_eq!(claims(&guid)["aud"], wk::WEB_APP_CLIENT_ID);
    let (s, w) = obo(&emu, &guid, wk::WEATHER_API_SCOPE).await;
    assert_eq!(s, 200, "{w}");
}

#[tokio::test]
async fn token_endpoint_accepts_domain_and_alias_tenant_segments() {
    let emu = start().await;
    for seg in [wk::TENANT_DOMAIN, "organizations", "common"] {
        let r = client()
            .post(format!(
                "{}/{seg}/oauth2/v2.0/token?x-client-SKU=msal.js.node",
                emu.base_url()
            ))
            .header("client-request-id", "6b1e3c2a-0000-4000-8000-000000000001")
            .form(&[
                ("grant_type", "password"),
                ("client_id", wk::WEB_APP_CLIENT_ID),
                ("client_secret", wk::WEB_APP_SECRET),
                ("username", wk::ADELE),
                ("password", wk::USER_PASSWORD),
                ("scope", "User.Read"),
                ("x-client-VER", "1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{seg}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            claims(b["access_token"].as_str().unwrap())["tid"],
            wk::TENANT_ID
        );
    }
    // The correlation id echoes client-request-id.
    let r = client()
        .post(token_url(&emu))
        .header("client-request-id", "6b1e3c2a-0000-4000-8000-000000000002")
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["correlation_id"], "6b1e3c2a-0000-4000-8000-000000000002");
}

/// The message Entra gives for AADSTS90009 when the web app names itself by its App ID URI.
fn for_itself_message() -> String {
    format!(
        "AADSTS90009: Application '{}'({}) is requesting a token for itself. This scenario is supported only if resource is specified using the GUID based App Identifier.\r\n",
        wk::WEB_APP_CLIENT_ID,
        wk::WEB_APP_ID_URI
    )
}

#[tokio::test]
async fn signing_in_for_itself_by_app_id_uri_works_but_refreshing_it_is_90009() {
    let emu = start().await;
    let scope = format!("{} openid profile offline_access", wk::WEB_APP_SCOPE_URI);
    let (s, b) = sign_in_and_redeem(&emu, wk::TENANT_ID, wk::ADELE, &scope).await;
    assert_eq!(s, 200, "sign-in with the App ID URI form works: {b}");
    let rt = b["refresh_token"].as_str().unwrap();
    for scope in [Some(scope.as_str()), None] {
        let (s, e) = refresh(&emu, rt, scope).await;
        assert_aadsts(s, &e, 400, "invalid_request", 90009);
        assert_eq!(e["error_codes"], json!([90009]));
        assert!(
            e["error_description"]
                .as_str()
                .unwrap()
                .starts_with(&for_itself_message()),
            "scope {scope:?}: {e}"
        );
    }
    // The same refresh token serves other resources, and the GUID form of the app itself.
    let (s, r) = refresh(&emu, rt, Some("User.Read")).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = refresh(&emu, rt, Some(wk::WEB_APP_SCOPE)).await;
    assert_eq!(s, 200, "{r}");
}

#[tokio::test]
async fn signing_in_for_itself_by_guid_refreshes_with_and_without_scope() {
    let emu = start().await;
    let scope = format!("{} openid profile offline_access", wk::WEB_APP_SCOPE);
    let (s, b) = sign_in_and_redeem(&emu, wk::TENANT_ID, wk::ADELE, &scope).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["aud"],
        wk::WEB_APP_CLIENT_ID
    );
    assert_eq!(b["scope"], format!("{} openid profile", wk::WEB_APP_SCOPE));
    let rt = b["refresh_token"].as_str().unwrap();
    let (s, r) = refresh(&emu, rt, Some(&scope)).await;
    assert_eq!(s, 200, "{r}");
    // Without `scope` the grant's own scopes are used, in the form the client named them.
    let (s, r) = refresh(&emu, r["refresh_token"].as_str().unwrap(), None).await;
    assert_eq!(s, 200, "{r}");
    let c = claims(r["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], wk::WEB_APP_CLIENT_ID);
    assert_eq!(c["scp"], "access_as_user");
}

#[tokio::test]
async fn ropc_and_obo_for_itself_by_app_id_uri_are_90009() {
    let emu = start().await;
    let (s, e) = password(&emu, wk::ADELE, wk::WEB_APP_SCOPE_URI).await;
    assert_aadsts(s, &e, 400, "invalid_request", 90009);
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&for_itself_message())
    );
    let (s, _) = password(&emu, wk::ADELE, wk::WEB_APP_SCOPE).await;
    assert_eq!(s, 200);
    let assertion = user_token(&emu, wk::ADELE).await;
    let (s, e) = obo(&emu, &assertion, wk::WEB_APP_SCOPE_URI).await;
    assert_aadsts(s, &e, 400, "invalid_request", 90009);
}

#[tokio::test]
async fn an_app_that_requires_no_graph_sign_in_permission_gets_90008_for_itself() {
    let mut world = emulator::World::well_known();
    let web = world.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == wk::WEB_APP_CLIENT_ID)
        .unwrap();
    web.required_resource_access
        .retain(|r| r.resource_app_id != wk::GRAPH_APP_ID);
    let emu = start_with(world).await;
    let message = format!(
        "AADSTS90008: The user or administrator has not consented to use the application with ID '{}'. This happened because application is misconfigured: it must require access to Windows Azure Active Directory by specifying at least 'Sign in and read user profile' permission.\r\n",
        wk::WEB_APP_CLIENT_ID
    );
    for scope in [wk::WEB_APP_SCOPE, wk::WEB_APP_SCOPE_URI] {
        let (s, e) = password(&emu, wk::ADELE, scope).await;
        assert_aadsts(s, &e, 400, "invalid_grant", 90008);
        assert!(
            e["error_description"]
                .as_str()
                .unwrap()
                .starts_with(&message),
            "{e}"
        );
    }
    // Sign-in itself is refused too, back at the redirect URI.
    let q = location_params(&client().get(authorize_url(&emu, &[])).send().await.unwrap());
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].starts_with("AADSTS90008: "), "{q:?}");
    // Tokens for other resources are not concerned.
    let (s, _) = password(&emu, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_eq!(s, 200);
}

/// The built-in world with Microsoft Graph removed from Contoso (app and consents).
fn world_without_graph() -> emulator::World {
    let mut world = emulator::World::well_known();
    let contoso = &mut world.tenants[0];
    contoso
        .applications
        .retain(|a| a.app_id != wk::GRAPH_APP_ID);
    contoso
        .consents
        .retain(|c| c.resource_app_id != wk::GRAPH_APP_ID);
    world
}

#[tokio::test]
async fn a_tenant_without_microsoft_graph_answers_500011_for_oidc_scopes_only() {
    let emu = start_with(world_without_graph()).await;
    // With OIDC scopes only, Entra issues a Graph token: here there is no Graph to issue it for.
    let (s, e) = password(&emu, wk::ADELE, "openid profile offline_access").await;
    assert_aadsts(s, &e, 400, "invalid_resource", 500011);
    let d = e["error_description"].as_str().unwrap();
    assert!(
        d.contains(wk::GRAPH_APP_ID) && d.contains(wk::TENANT_DOMAIN),
        "{d}"
    );
    // A code obtained for a resource, redeemed for OIDC scopes only.
    let c = client();
    let scope = format!("{} openid profile", wk::WEB_APP_SCOPE);
    let q = location_params(&sign_in(&c, &emu, wk::ADELE, &[("scope", &scope)]).await);
    let (s, e) = redeem_at(&emu, wk::TENANT_ID, &q["code"], "openid profile").await;
    assert_aadsts(s, &e, 400, "invalid_resource", 500011);
    // Signing in for OIDC scopes only is refused at once, back at the redirect URI.
    let r = c
        .get(authorize_url(&emu, &[("scope", "openid profile")]))
        .send()
        .await
        .unwrap();
    let q = location_params(&r);
    assert_eq!(q["error"], "invalid_resource");
    assert!(
        q["error_description"].starts_with("AADSTS500011: "),
        "{q:?}"
    );
    // Other resources still work, and the emulator is still up.
    let (s, b) = password(&emu, wk::ADELE, wk::WEATHER_API_SCOPE).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn a_client_assertion_must_name_this_token_endpoint_and_is_good_for_one_request() {
    let (world, pem, x5t) = world_with_web_app_certificate();
    let emu = start_with(world).await;
    let emu = &emu;
    let now = emulator::keys::now();
    let assertion = |aud: &str, jti: Option<&str>| {
        let mut c = json!({"aud": aud, "iss": wk::WEB_APP_CLIENT_ID, "sub": wk::WEB_APP_CLIENT_ID,
            "nbf": now, "exp": now + 600});
        if let Some(j) = jti {
            c["jti"] = json!(j);
        }
        client_assertion(&pem, &x5t, &c)
    };
    // ROPC authenticated by the assertion: it works on an alias too.
    let ropc = |seg: &'static str, assertion: String| async move {
        token_at(
            emu,
            seg,
            &[
                ("grant_type", "password"),
                ("client_id", wk::WEB_APP_CLIENT_ID),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
                ("username", wk::ADELE),
                ("password", wk::USER_PASSWORD),
                ("scope", wk::WEB_APP_SCOPE),
            ],
        )
        .await
    };
    let endpoint = |seg: &str| format!("{}/{seg}/oauth2/v2.0/token", emu.base_url());
    // The token endpoint by GUID or domain; on an alias, the alias the request used.
    let once = assertion(&endpoint(wk::TENANT_ID), Some("jti-1"));
    let (s, b) = ropc(wk::TENANT_ID, once.clone()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(claims(b["access_token"].as_str().unwrap())["appidacr"], "2");
    let (s, b) = ropc(
        wk::TENANT_ID,
        assertion(&endpoint(wk::TENANT_DOMAIN), Some("jti-2")),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = ropc("common", assertion(&endpoint("common"), Some("jti-3"))).await;
    assert_eq!(s, 200, "{b}");
    // Replayed: refused, on any tenant segment.
    for seg in [wk::TENANT_ID, wk::TENANT_DOMAIN] {
        let (s, e) = ropc(seg, once.clone()).await;
        assert_aadsts(s, &e, 401, "invalid_client", 50027);
        assert!(
            e["error_description"]
                .as_str()
                .unwrap()
                .contains("'jti' (jti-1) has already been used"),
            "{e}"
        );
    }
    // Another host, another tenant, another alias, another endpoint: refused.
    for aud in [
        format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            wk::TENANT_ID
        ),
        endpoint(wk::FABRIKAM_TENANT_ID),
        endpoint("organizations"),
        endpoint("common"),
        format!("{}/{}/oauth2/token", emu.base_url(), wk::TENANT_ID),
        emu.base_url().to_string(),
    ] {
        let (s, e) = ropc(
            wk::TENANT_ID,
            assertion(&aud, Some(&uuid::Uuid::new_v4().to_string())),
        )
        .await;
        assert_aadsts(s, &e, 401, "invalid_client", 700027);
        assert!(
            e["error_description"].as_str().unwrap().contains(&format!(
                "The expected audience is '{}'",
                endpoint(wk::TENANT_ID)
            )),
            "{aud}: {e}"
        );
    }
    // No `jti` at all: refused, since it could not be told from a replay.
    let (s, e) = ropc(wk::TENANT_ID, assertion(&endpoint(wk::TENANT_ID), None)).await;
    assert_aadsts(s, &e, 401, "invalid_client", 50027);
}
