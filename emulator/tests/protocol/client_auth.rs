//! How a client authenticates at the token endpoint (client secret in the form or by HTTP Basic,
//! a certificate's client assertion, RS256 or PS256) and the AADSTS answers when it fails; the
//! client-credentials grant's app-only tokens; malformed token requests.

use crate::common::*;
use emulator::{RunningEmulator, well_known as wk};
use serde_json::json;

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

#[tokio::test]
async fn client_credentials_gives_an_app_only_token_with_the_apps_roles() {
    let emu = start().await;
    let scope = format!("{}/.default", wk::WEATHER_API_ID_URI);
    let b = client_credentials(&emu, &scope).await.success();
    assert!(
        b.get("refresh_token").is_none() && b.get("id_token").is_none(),
        "{b}"
    );
    let at = verified_v2(&emu, access_token(&b), wk::WEATHER_API_CLIENT_ID).await;
    assert_claims(&at, json!({"roles": ["Weather.Read.All"], "idtyp": "app"}));
    assert!(at.get("scp").is_none(), "{at}");
    assert_eq!(at["sub"], at["oid"]);
}

/// A client-credentials request for Graph by the client `client_id` with `secret`.
async fn graph_app_token(emu: &RunningEmulator, client_id: &str, secret: Option<&str>) -> Reply {
    let mut client = vec![("client_id", client_id)];
    client.extend(secret.map(|s| ("client_secret", s)));
    let scope = [("scope", GRAPH_DEFAULT)];
    grant_at(emu, wk::TENANT_ID, "client_credentials", &client, &scope).await
}

const WEB: &str = wk::WEB_APP_CLIENT_ID;
const UNKNOWN_CLIENT: &str = "11111111-1111-1111-1111-111111111111";

refused! {
    client_credentials_for_a_delegated_scope_is_1002012:
        |emu| client_credentials(emu, wk::WEATHER_API_SCOPE) => 400 "invalid_scope" 1002012;
    client_credentials_at_common_is_9001023:
        |emu| client_credentials_at(emu, "common", GRAPH_DEFAULT) => 400 "invalid_request" 9001023;
    a_wrong_client_secret_is_7000215:
        |emu| graph_app_token(emu, WEB, Some("wrong")) => 401 "invalid_client" 7000215;
    the_secrets_id_in_place_of_its_value_is_7000215:
        |emu| graph_app_token(emu, WEB, Some(wk::WEB_APP_SECRET_ID))
        => 401 "invalid_client" 7000215;
    a_confidential_client_without_a_credential_is_7000218:
        |emu| graph_app_token(emu, WEB, None) => 401 "invalid_client" 7000218;
    an_unknown_client_id_is_700016:
        |emu| graph_app_token(emu, UNKNOWN_CLIENT, Some("x")) => 400 "unauthorized_client" 700016;
    a_token_request_without_grant_type_is_900144:
        |emu| token(emu, &[("client_id", WEB)]) => 400 "invalid_request" 900144;
    an_unknown_grant_type_is_70003:
        |emu| web_app_grant(emu, "urn:x", &[]) => 400 "unsupported_grant_type" 70003;
}

#[tokio::test]
async fn the_client_secret_works_by_http_basic_authentication() {
    let emu = start().await;
    let r = client()
        .post(token_url(&emu))
        .basic_auth(wk::WEB_APP_CLIENT_ID, Some(wk::WEB_APP_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_token_endpoint_of_an_unknown_tenant_is_400() {
    let emu = start().await;
    let r = client()
        .post(token_url_at(&emu, "nope.example"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// The emulator with the certificate's world, and the certificate.
async fn start_with_certificate() -> (RunningEmulator, Certificate) {
    let cert = world_with_web_app_certificate();
    (start_with(cert.world.clone()).await, cert)
}

/// A client-credentials request for Graph authenticated by `assertion`.
async fn client_credentials_by(emu: &RunningEmulator, assertion: &str) -> Reply {
    let (client, scope) = (by_assertion(assertion), [("scope", GRAPH_DEFAULT)]);
    grant_at(emu, wk::TENANT_ID, "client_credentials", &client, &scope).await
}

#[tokio::test]
async fn a_client_assertion_signed_by_a_registered_certificate_authenticates_the_client() {
    let (emu, cert) = start_with_certificate().await;
    let signed = cert.assertion(&token_url(&emu), "j");
    let b = client_credentials_by(&emu, &signed).await.success();
    assert_eq!(claims(access_token(&b))["appidacr"], "2");
}

#[tokio::test]
async fn a_client_assertion_naming_an_unregistered_certificate_is_700027() {
    let (emu, cert) = start_with_certificate().await;
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.x5t = Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    let unknown = cert.sign(&h, &assertion_claims(&token_url(&emu), "j"));
    let r = client_credentials_by(&emu, &unknown).await;
    r.aadsts(401, "invalid_client", 700027);
}

#[tokio::test]
async fn a_client_assertion_issued_by_another_client_is_50048() {
    let (emu, cert) = start_with_certificate().await;
    let mut c = assertion_claims(&token_url(&emu), "j");
    c["iss"] = json!("someone-else");
    let r = client_credentials_by(&emu, &cert.assertion_with(&c)).await;
    r.aadsts(401, "invalid_client", 50048);
}

/// PS256 with `x5t#S256`, as current docs recommend.
#[tokio::test]
async fn a_ps256_client_assertion_naming_its_certificate_by_sha256_works() {
    let (emu, cert) = start_with_certificate().await;
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    h.x5t_s256 = Some(cert.credential.x5t_s256());
    let ps256 = cert.sign(&h, &assertion_claims(&token_url(&emu), "j2"));
    client_credentials_by(&emu, &ps256).await.success();
}

#[tokio::test]
async fn an_expired_client_assertion_is_700024() {
    let (emu, cert) = start_with_certificate().await;
    let now = emulator::keys::now();
    let mut c = assertion_claims(&token_url(&emu), "j3");
    (c["nbf"], c["exp"]) = (json!(now - 4000), json!(now - 3000));
    let r = client_credentials_by(&emu, &cert.assertion_with(&c)).await;
    r.aadsts(401, "invalid_client", 700024);
}

/// ROPC for Adele on tenant segment `seg`, the web app authenticated by `assertion`.
async fn password_by(emu: &RunningEmulator, seg: &str, assertion: &str) -> Reply {
    let params = [
        ("username", wk::ADELE),
        ("password", wk::USER_PASSWORD),
        ("scope", wk::WEB_APP_SCOPE),
    ];
    grant_at(emu, seg, "password", &by_assertion(assertion), &params).await
}

#[tokio::test]
async fn a_client_assertion_for_the_token_endpoint_by_guid_works() {
    let (emu, cert) = start_with_certificate().await;
    let signed = cert.assertion(&token_url(&emu), "jti-1");
    let b = password_by(&emu, wk::TENANT_ID, &signed).await.success();
    assert_eq!(claims(access_token(&b))["appidacr"], "2");
}

#[tokio::test]
async fn a_client_assertion_may_name_the_token_endpoint_by_domain() {
    let (emu, cert) = start_with_certificate().await;
    let by_domain = cert.assertion(&token_url_at(&emu, wk::TENANT_DOMAIN), "jti-2");
    password_by(&emu, wk::TENANT_ID, &by_domain).await.success();
}

#[tokio::test]
async fn on_an_alias_a_client_assertion_names_the_alias_the_request_used() {
    let (emu, cert) = start_with_certificate().await;
    let at_common = cert.assertion(&token_url_at(&emu, "common"), "jti-3");
    password_by(&emu, "common", &at_common).await.success();
}

#[tokio::test]
async fn a_replayed_client_assertion_is_50027_on_any_tenant_segment() {
    let (emu, cert) = start_with_certificate().await;
    let once = cert.assertion(&token_url(&emu), "jti-1");
    password_by(&emu, wk::TENANT_ID, &once).await.success();
    for seg in [wk::TENANT_ID, wk::TENANT_DOMAIN] {
        let e = password_by(&emu, seg, &once).await;
        let e = e.aadsts(401, "invalid_client", 50027);
        assert_description_contains(&e, "'jti' (jti-1) has already been used");
    }
}

/// Another host, another tenant, another alias, another endpoint: each is refused.
#[tokio::test]
async fn a_client_assertion_for_any_other_audience_is_700027() {
    let (emu, cert) = start_with_certificate().await;
    let expected = format!("The expected audience is '{}'", token_url(&emu));
    for aud in [
        format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            wk::TENANT_ID
        ),
        token_url_at(&emu, wk::FABRIKAM_TENANT_ID),
        token_url_at(&emu, "organizations"),
        token_url_at(&emu, "common"),
        format!("{}/oauth2/token", emu.authority(wk::TENANT_ID)),
        emu.base_url().to_string(),
    ] {
        let signed = cert.assertion(&aud, &uuid::Uuid::new_v4().to_string());
        let e = password_by(&emu, wk::TENANT_ID, &signed).await;
        assert_description_contains(&e.aadsts(401, "invalid_client", 700027), &expected);
    }
}

/// Entra takes one audience (zitadel/oidc#887 quotes AADSTS5002741 for two).
#[tokio::test]
async fn a_client_assertion_with_two_audiences_is_5002741() {
    let (emu, cert) = start_with_certificate().await;
    let mut c = assertion_claims(&token_url(&emu), &uuid::Uuid::new_v4().to_string());
    c["aud"] = json!([token_url(&emu), emu.base_url()]);
    let r = password_by(&emu, wk::TENANT_ID, &cert.assertion_with(&c)).await;
    let e = r.aadsts(401, "invalid_client", 5002741);
    assert_description_contains(&e, "2 audience values provided, maximum allowed is 1");
}

/// Without `jti` it could not be told from a replay.
#[tokio::test]
async fn a_client_assertion_without_jti_is_50027() {
    let (emu, cert) = start_with_certificate().await;
    let mut c = assertion_claims(&token_url(&emu), "unused");
    c.as_object_mut().unwrap().remove("jti");
    let r = password_by(&emu, wk::TENANT_ID, &cert.assertion_with(&c)).await;
    r.aadsts(401, "invalid_client", 50027);
}
