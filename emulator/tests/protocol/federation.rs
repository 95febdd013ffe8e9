//! Workload identity federation and managed identities: a service-account token of a
//! workload-identity issuer, or a managed identity's token for `api://AzureADTokenExchange`,
//! as the web app's client assertion; each mismatch answered with Entra's code; the managed
//! identity endpoints (IMDS and App Service shapes) and their errors; secrets added and
//! removed as Graph's `addPassword` / `removePassword` do.

use crate::common::*;
use emulator::{
    RunningEmulator, routes::workload::ServiceAccountToken, well_known as wk,
    world::FederatedIdentityCredential,
};
use serde_json::{Value, json};

const CLUSTER: &str = "aks-test";
const SUBJECT: &str = "system:serviceaccount:bff:entra-bff";
const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

fn sa(namespace: &str, name: &str) -> ServiceAccountToken {
    serde_json::from_value(json!({"namespace": namespace, "serviceAccount": name})).unwrap()
}

fn fic(name: &str, issuer: &str, subject: &str, audience: &str) -> FederatedIdentityCredential {
    FederatedIdentityCredential {
        name: name.into(),
        issuer: issuer.into(),
        subject: subject.into(),
        audiences: vec![audience.into()],
        description: None,
    }
}

/// The emulator with the web app trusting the test cluster's `bff/entra-bff` account.
async fn start_trusting_the_cluster() -> RunningEmulator {
    let emu = start().await;
    let issuer = emu.workload_issuer(CLUSTER);
    let trust = fic("aks", &issuer, SUBJECT, wk::TOKEN_EXCHANGE_AUDIENCE);
    assert!(emu.add_federated_credential(wk::WEB_APP_CLIENT_ID, trust));
    emu
}

async fn app_token_by(emu: &RunningEmulator, assertion: &str) -> Reply {
    let (client, scope) = (by_assertion(assertion), [("scope", GRAPH_DEFAULT)]);
    grant_at(emu, wk::TENANT_ID, "client_credentials", &client, &scope).await
}

#[tokio::test]
async fn a_service_account_token_matching_a_federated_credential_authenticates_the_app_every_time()
{
    let emu = start_trusting_the_cluster().await;
    let token = emu.service_account_token(CLUSTER, &sa("bff", "entra-bff"));
    for _ in 0..2 {
        let b = app_token_by(&emu, &token).await.success();
        assert_eq!(claims(access_token(&b))["appidacr"], "2");
    }
    let seen = emu.federated_seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].subject, SUBJECT);
    assert_eq!(seen[0].uses, 2, "an external token is not single use");
}

#[tokio::test]
async fn the_workload_issuer_publishes_discovery_and_keys() {
    let emu = start().await;
    let issuer = emu.workload_issuer(CLUSTER);
    let doc = get_json(format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(doc["issuer"], issuer);
    let keys = get_json(doc["jwks_uri"].as_str().unwrap()).await;
    assert!(!keys["keys"].as_array().unwrap().is_empty(), "{keys}");
}

/// A refused external token: status, `error` and code, and a phrase of Entra's text.
async fn refused(emu: &RunningEmulator, assertion: &str, code: u64, phrase: &str) {
    let (http, error) = match code {
        50166 => (400, "invalid_request"),
        _ => (401, "invalid_client"),
    };
    let body = app_token_by(emu, assertion).await.aadsts(http, error, code);
    let d = description(&body);
    assert!(d.contains(phrase), "{d}");
}

#[tokio::test]
async fn a_token_of_another_service_account_is_700213() {
    let emu = start_trusting_the_cluster().await;
    let other = emu.service_account_token(CLUSTER, &sa("bff", "other"));
    let phrase = "presented assertion subject 'system:serviceaccount:bff:other'";
    refused(&emu, &other, 700213, phrase).await;
}

#[tokio::test]
async fn a_subject_matching_only_when_case_is_ignored_is_7002138() {
    let emu = start_trusting_the_cluster().await;
    let upper = emu.service_account_token(CLUSTER, &sa("BFF", "entra-bff"));
    let phrase = "matches with case-insensitive comparison, but not with case-sensitive";
    refused(&emu, &upper, 7002138, phrase).await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_700212() {
    let emu = start_trusting_the_cluster().await;
    let mut req = sa("bff", "entra-bff");
    req.audience = "https://kubernetes.default.svc".into();
    let token = emu.service_account_token(CLUSTER, &req);
    let phrase = "presented assertion audience 'https://kubernetes.default.svc'";
    refused(&emu, &token, 700212, phrase).await;
}

#[tokio::test]
async fn a_token_of_an_untrusted_issuer_is_700211() {
    let emu = start_trusting_the_cluster().await;
    let stranger = emu.service_account_token("another-cluster", &sa("bff", "entra-bff"));
    refused(&emu, &stranger, 700211, "presented assertion issuer").await;
}

#[tokio::test]
async fn an_issuer_whose_keys_cannot_be_read_is_50166() {
    let emu = start().await;
    // A credential naming an issuer nobody serves, and a token claiming to be from it.
    let dead = "http://127.0.0.1:9/nobody";
    emu.add_federated_credential(
        wk::WEB_APP_CLIENT_ID,
        fic("dead", dead, SUBJECT, wk::TOKEN_EXCHANGE_AUDIENCE),
    );
    let mut c = claims(&emu.service_account_token(CLUSTER, &sa("bff", "entra-bff")));
    c["iss"] = json!(dead);
    let forged = sign_with_a_stranger_key(&c, "k");
    refused(
        &emu,
        &forged,
        50166,
        "Request to External OIDC endpoint failed.",
    )
    .await;
}

#[tokio::test]
async fn a_token_signed_by_a_key_its_issuer_does_not_publish_is_7000272() {
    let emu = start_trusting_the_cluster().await;
    let c = claims(&emu.service_account_token(CLUSTER, &sa("bff", "entra-bff")));
    let forged = sign_with_a_stranger_key(&c, "not-published");
    refused(&emu, &forged, 7000272, "could not be found in the metadata").await;
}

#[tokio::test]
async fn an_expired_service_account_token_is_700024() {
    let emu = start_trusting_the_cluster().await;
    let mut req = sa("bff", "entra-bff");
    req.age_secs = 7200;
    let old = emu.service_account_token(CLUSTER, &req);
    refused(
        &emu,
        &old,
        700024,
        "Client assertion is not within its valid time range. Current time: 20",
    )
    .await;
}

#[tokio::test]
async fn an_external_token_for_an_app_without_federated_credentials_is_70021() {
    let emu = start().await;
    let token = emu.service_account_token(CLUSTER, &sa("bff", "entra-bff"));
    let phrase = format!("Assertion Subject: '{SUBJECT}'");
    refused(&emu, &token, 70021, &phrase).await;
}

fn sign_with_a_stranger_key(claims: &Value, kid: &str) -> String {
    let stranger = emulator::test_support::forge::Certificate::self_signed("stranger");
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, &stranger.key.signing).unwrap()
}

// ---- managed identities ----

fn imds_url(emu: &RunningEmulator, query: &str) -> String {
    format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&{query}",
        emu.base_url()
    )
}

async fn imds(emu: &RunningEmulator, query: &str, metadata: bool) -> (u16, Value) {
    let mut r = client().get(imds_url(emu, query));
    if metadata {
        r = r.header("Metadata", "true");
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn imds_issues_the_identitys_token_with_every_field_a_string() {
    let emu = start().await;
    let q = format!(
        "resource={}&client_id={}",
        wk::TOKEN_EXCHANGE_AUDIENCE,
        wk::MANAGED_IDENTITY_CLIENT_ID
    );
    let (status, b) = imds(&emu, &q, true).await;
    assert_eq!(status, 200, "{b}");
    for k in [
        "expires_in",
        "expires_on",
        "not_before",
        "resource",
        "token_type",
        "client_id",
    ] {
        assert!(b[k].is_string(), "{k} in {b}");
    }
    let at = claims(b["access_token"].as_str().unwrap());
    assert_eq!(at["sub"], wk::MANAGED_IDENTITY_PRINCIPAL_ID);
    assert_eq!(at["azp"], wk::MANAGED_IDENTITY_CLIENT_ID);
    assert_eq!(at["aud"], wk::TOKEN_EXCHANGE_APP_ID);
    assert_eq!(
        at["iss"],
        format!("{}/{}/v2.0", emu.base_url(), wk::TENANT_ID)
    );
    assert_eq!(emu.stats().managed_identity, 1);
}

#[tokio::test]
async fn imds_refuses_as_azure_does() {
    let emu = start().await;
    let ok = format!(
        "resource={}&client_id={}",
        wk::GRAPH_RESOURCE,
        wk::MANAGED_IDENTITY_CLIENT_ID
    );
    for (query, metadata, error, description) in [
        (
            ok.as_str(),
            false,
            "invalid_request",
            "Required metadata header not specified",
        ),
        (
            "client_id=6a1f0c9e-0000-0000-0000-000000000000&resource=https://graph.microsoft.com",
            true,
            "invalid_request",
            "Identity not found",
        ),
        (
            "client_id=6a1f0c9e-3b7d-4e2a-9c55-0d8e2f4b7a19",
            true,
            "invalid_request",
            "Required query variable 'resource' is missing",
        ),
        (
            "client_id=6a1f0c9e-3b7d-4e2a-9c55-0d8e2f4b7a19&resource=https://nothing.example",
            true,
            "invalid_resource",
            "AADSTS500011: The resource principal named https://nothing.example was not found",
        ),
    ] {
        let (status, b) = imds(&emu, query, metadata).await;
        assert_eq!(status, 400, "{query}: {b}");
        assert_eq!(b["error"], error, "{query}: {b}");
        let d = b["error_description"].as_str().unwrap();
        assert!(d.starts_with(description), "{query}: {d}");
    }
}

#[tokio::test]
async fn the_app_service_endpoint_wants_its_header_and_answers_expires_on_only() {
    let emu = start().await;
    let url = format!(
        "{}/msi/token?api-version=2019-08-01&resource={}&client_id={}",
        emu.base_url(),
        wk::TOKEN_EXCHANGE_AUDIENCE,
        wk::MANAGED_IDENTITY_CLIENT_ID
    );
    let denied = client()
        .get(&url)
        .header("X-IDENTITY-HEADER", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let r = client()
        .get(&url)
        .header("X-IDENTITY-HEADER", wk::IDENTITY_HEADER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["expires_on"].is_string() && b.get("expires_in").is_none(),
        "{b}"
    );
    let unknown = url.replace(
        wk::MANAGED_IDENTITY_CLIENT_ID,
        "00000000-0000-0000-0000-000000000000",
    );
    let r = client()
        .get(&unknown)
        .header("X-IDENTITY-HEADER", wk::IDENTITY_HEADER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .starts_with("No User Assigned or Delegated Managed Identity found"),
        "{b}"
    );
}

#[tokio::test]
async fn a_managed_identitys_exchange_token_authenticates_an_app_that_trusts_it() {
    let emu = start().await;
    let issuer = format!("{}/{}/v2.0", emu.base_url(), wk::TENANT_ID);
    let trust = fic(
        "mi",
        &issuer,
        wk::MANAGED_IDENTITY_PRINCIPAL_ID,
        wk::TOKEN_EXCHANGE_AUDIENCE,
    );
    emu.add_federated_credential(wk::WEB_APP_CLIENT_ID, trust);
    let q = format!(
        "resource={}&client_id={}",
        wk::TOKEN_EXCHANGE_AUDIENCE,
        wk::MANAGED_IDENTITY_CLIENT_ID
    );
    let (_, b) = imds(&emu, &q, true).await;
    let mi_token = b["access_token"].as_str().unwrap();
    app_token_by(&emu, mi_token).await.success();
    // A token of the identity for another resource is not an exchange token.
    let q = format!(
        "resource={}&client_id={}",
        wk::GRAPH_RESOURCE,
        wk::MANAGED_IDENTITY_CLIENT_ID
    );
    let (_, b) = imds(&emu, &q, true).await;
    let graph_token = b["access_token"].as_str().unwrap();
    app_token_by(&emu, graph_token)
        .await
        .aadsts(401, "invalid_client", 700211);
}

// ---- secrets rotated through Graph's actions ----

#[tokio::test]
async fn a_secret_added_works_and_a_removed_one_is_7000215() {
    let emu = start().await;
    let add = client()
        .post(admin_url(
            &emu,
            &format!("applications/{}/addPassword", wk::WEB_APP_CLIENT_ID),
        ))
        .json(&json!({"passwordCredential": {"displayName": "rotated"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(add.status(), 200);
    let added: Value = add.json().await.unwrap();
    let secret = added["secretText"].as_str().unwrap();
    let by = |s: &str| {
        [
            ("client_id", wk::WEB_APP_CLIENT_ID.to_owned()),
            ("client_secret", s.to_owned()),
        ]
    };
    let ask = |s: String| {
        let emu = &emu;
        async move {
            let c = by(&s);
            let client = [(c[0].0, c[0].1.as_str()), (c[1].0, c[1].1.as_str())];
            grant_at(
                emu,
                wk::TENANT_ID,
                "client_credentials",
                &client,
                &[("scope", GRAPH_DEFAULT)],
            )
            .await
        }
    };
    ask(secret.to_owned()).await.success();
    let removed = client()
        .post(admin_url(
            &emu,
            &format!("applications/{}/removePassword", wk::WEB_APP_CLIENT_ID),
        ))
        .json(&json!({"keyId": wk::WEB_APP_SECRET_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    ask(wk::WEB_APP_SECRET.to_owned())
        .await
        .aadsts(401, "invalid_client", 7000215);
    ask(secret.to_owned()).await.success();
}

#[tokio::test]
async fn a_world_file_declares_federated_credentials_and_managed_identities_in_graphs_shape() {
    // The issuer must be known before the emulator starts: trust Contoso's own issuer on a
    // fixed loopback port, with the identity declared in the file too.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut world = serde_json::to_value(emulator::World::well_known()).unwrap();
    let contoso = &mut world["tenants"][0];
    contoso["managedIdentities"] = json!([{
        "clientId": "0c7f3a55-1b2e-4d6f-8a9b-123456789abc",
        "principalId": "5d1e7b22-9c3a-4f8e-b6d1-abcdef012345",
        "displayName": "from-the-file",
        "systemAssigned": true,
    }]);
    for app in contoso["applications"].as_array_mut().unwrap() {
        if app["appId"] == wk::WEB_APP_CLIENT_ID {
            app["federatedIdentityCredentials"] = json!([{
                "name": "system-assigned",
                "issuer": format!("{base}/{}/v2.0", wk::TENANT_ID),
                "subject": "5d1e7b22-9c3a-4f8e-b6d1-abcdef012345",
                "audiences": [wk::TOKEN_EXCHANGE_AUDIENCE],
            }]);
        }
    }
    let emu = emulator::Emulator::builder()
        .world(serde_json::from_value(world).unwrap())
        .start(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    // No client_id: the host's system-assigned identity.
    let (status, b) = imds(
        &emu,
        &format!("resource={}", wk::TOKEN_EXCHANGE_AUDIENCE),
        true,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    app_token_by(&emu, b["access_token"].as_str().unwrap())
        .await
        .success();
}
