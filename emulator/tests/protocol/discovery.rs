//! What clients read before they ask for a token: the OpenID discovery document (by tenant GUID,
//! domain or alias), the JWKS, MSAL's instance discovery and user-realm discovery.

use crate::common::*;
use emulator::well_known as wk;

#[tokio::test]
async fn the_discovery_document_by_guid_or_domain_names_the_tenants_guid_endpoints() {
    let emu = start().await;
    for seg in [wk::TENANT_ID, wk::TENANT_DOMAIN] {
        let doc = get_json(discovery_url(&emu, seg)).await;
        assert_eq!(doc["issuer"], v2_issuer(&emu), "{seg}");
        assert_eq!(doc["token_endpoint"], token_url(&emu), "{seg}");
        assert_eq!(doc["tenant_region_scope"], "WW", "{seg}");
        let end_session = text_of(&doc, "end_session_endpoint");
        assert!(
            end_session.ends_with("/oauth2/v2.0/logout"),
            "{end_session}"
        );
    }
    assert_eq!(emu.stats().discovery, 2);
}

#[tokio::test]
async fn the_common_discovery_document_has_a_tenantid_placeholder_issuer_and_common_endpoints() {
    let emu = start().await;
    let doc = get_json(discovery_url(&emu, "common")).await;
    let placeholder = format!("{}/{{tenantid}}/v2.0", emu.base_url());
    assert_eq!(doc["issuer"], placeholder);
    assert!(
        text_of(&doc, "token_endpoint").contains("/common/"),
        "{doc}"
    );
    assert_eq!(emu.stats().discovery, 1);
}

#[tokio::test]
async fn the_discovery_document_of_an_unknown_tenant_is_400() {
    let emu = start().await;
    let r = client()
        .get(discovery_url(&emu, "nope.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(emu.stats().discovery, 1, "counted all the same");
}

#[tokio::test]
async fn the_jwks_publishes_rsa_keys_with_their_certificate_named_by_thumbprint() {
    let emu = start().await;
    let set = get_json(jwks_url(&emu)).await;
    let k = &set["keys"][0];
    assert_eq!(k["kid"], k["x5t"]);
    assert_eq!(k["e"], "AQAB");
    assert!(k["x5c"][0].as_str().unwrap().len() > 500, "{k}");
    assert_eq!(emu.stats().jwks, 1);
}

#[tokio::test]
async fn instance_discovery_points_msal_at_the_tenants_discovery_document() {
    let emu = start().await;
    let (common, tenant) = (emu.authority("common"), emu.authority(wk::TENANT_ID));
    let instance = get_json(format!(
        "{common}/discovery/instance?api-version=1.1&authorization_endpoint={tenant}/oauth2/v2.0/authorize"
    ))
    .await;
    let endpoint = text_of(&instance, "tenant_discovery_endpoint");
    assert!(endpoint.contains(wk::TENANT_ID), "{endpoint}");
    assert_eq!(emu.stats().instance_discovery, 1);
}

#[tokio::test]
async fn user_realm_discovery_says_a_tenant_user_is_managed() {
    let emu = start().await;
    let common = emu.authority("common");
    let realm = get_json(format!("{common}/userrealm/{}?api-version=1.0", wk::ADELE)).await;
    assert_eq!(realm["account_type"], "Managed");
}

#[tokio::test]
async fn every_entra_answer_carries_a_request_id_and_an_errors_is_its_trace_id() {
    let emu = start().await;
    for url in [discovery_url(&emu, wk::TENANT_ID), jwks_url(&emu)] {
        let r = client().get(url).send().await.unwrap();
        assert!(r.headers().contains_key("x-ms-request-id"));
    }
    // A refused token request: the header names the body's trace id, and the client's
    // request id comes back as the correlation id.
    let r = client()
        .post(token_url(&emu))
        .header("client-request-id", "5f8d7a90-0000-4000-8000-000000000001")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let id = r.headers()["x-ms-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["trace_id"], id.as_str());
    assert_eq!(
        body["correlation_id"],
        "5f8d7a90-0000-4000-8000-000000000001"
    );
    // Graph's answers are Graph's: `request-id`, not Entra's header.
    let r = graph_get(&emu, "/v1.0/me", None).await;
    assert!(!r.headers().contains_key("x-ms-request-id"));
}
