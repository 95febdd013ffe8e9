//! The app's credential as Azure deployments hold it, through every grant against an
//! emulator that plays each party: a federated token file (Kubernetes workload identity)
//! replaced mid-session, an expired one explained; a managed identity's token fetched once and
//! reused; secrets and certificates that rotate without a restart. The app holds no secret in
//! the federated and managed identity cases: the registration's secret is removed first.

use emulator::{Emulator, LifetimesUpdate, RunningEmulator, well_known as wk};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    ADELE, MEGAN, Seen, TestApp, apis::weather_api, location, problem_of, spawn_app,
};

const CLUSTER: &str = "aks";
const SUBJECT: &str = "system:serviceaccount:bff:entra-bff";

/// A directory for credential files, removed with the value.
struct Files(std::path::PathBuf);

impl Files {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("bff-cred-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes `name` as a platform does: a new file renamed over the old one.
    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, contents).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path.display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An emulator of the test's own, and the Weather API validating its tokens.
async fn emulator_and_api() -> (RunningEmulator, String) {
    let emulator = Emulator::builder()
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let api = weather_api(
        &emulator,
        wk::WEATHER_API_CLIENT_ID,
        wk::WEATHER_API_ID_URI,
        None,
    )
    .await;
    (emulator, api)
}

/// The BFF against `emulator` with the credential `vars` and no secret.
async fn app_with(emulator: &RunningEmulator, api: &str, vars: &[(&str, &str)]) -> TestApp {
    let graph = emulator.graph_base_url();
    let mut all = vec![
        ("AZURE_AD_TENANT_ID", wk::TENANT_ID),
        ("AZURE_AD_AUTHORITY_HOST", emulator.base_url()),
        ("AZURE_AD_CLIENT_ID", wk::WEB_APP_CLIENT_ID),
        ("GRAPH_BASE_URL", graph.as_str()),
        ("DOWNSTREAM_API__WEATHER__BASE_URL", api),
        ("SESSION_STORE", "memory"),
    ];
    all.extend_from_slice(vars);
    spawn_app(&all).await
}

/// Removes the registration's secret: only the credential under test can work.
async fn remove_the_secret(app: &TestApp) {
    let path = format!("applications/{}/removePassword", wk::WEB_APP_CLIENT_ID);
    app.admin(&path, json!({"keyId": wk::WEB_APP_SECRET_ID}))
        .await;
}

fn service_account_token(emulator: &RunningEmulator, age_secs: i64) -> String {
    let request = serde_json::from_value(json!({
        "namespace": "bff", "serviceAccount": "entra-bff", "ageSecs": age_secs,
    }))
    .unwrap();
    emulator.service_account_token(CLUSTER, &request)
}

fn jti(token: &str) -> String {
    let (_, claims) = server::entra::decode_unverified(token).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

/// How many requests presented the federated token `jti`.
fn uses_of(emulator: &RunningEmulator, jti: &str) -> u64 {
    emulator
        .federated_seen()
        .iter()
        .filter(|a| a.jti.as_deref() == Some(jti))
        .map(|a| a.uses)
        .sum()
}

/// Sign-in, Graph and the Weather API; each must answer 200.
async fn use_everything(app: &TestApp) {
    assert_eq!(
        app.profile().await.display_name.as_deref(),
        Some("Adele Vance")
    );
    let api = app.server_fn("call-api").await;
    assert_eq!(
        api.status(),
        StatusCode::OK,
        "{}",
        api.text().await.unwrap()
    );
}

#[tokio::test]
async fn a_federated_token_file_serves_every_grant_and_its_replacement_is_used_next() {
    let (emulator, api) = emulator_and_api().await;
    let trust = serde_json::from_value(json!({
        "name": "aks", "issuer": emulator.workload_issuer(CLUSTER), "subject": SUBJECT,
        "audiences": [wk::TOKEN_EXCHANGE_AUDIENCE],
    }))
    .unwrap();
    assert!(emulator.add_federated_credential(wk::WEB_APP_CLIENT_ID, trust));
    // Sign-in tokens of 4 s: every call after the sign-in refreshes.
    emulator.set_lifetimes(LifetimesUpdate {
        access_token: Some(4),
        ..Default::default()
    });
    let files = Files::new();
    let first = service_account_token(&emulator, 0);
    let token_file = files.write("token", &first);
    let app = app_with(
        &emulator,
        &api,
        &[("AZURE_FEDERATED_TOKEN_FILE", &token_file)],
    )
    .await;
    remove_the_secret(&app).await;

    let callback = app.sign_in(ADELE, "/", &mut Seen::default()).await;
    assert_eq!(location(&callback), "/");
    use_everything(&app).await;
    let stats = emulator.stats();
    assert!(stats.refresh_token >= 1 && stats.obo >= 2, "{stats:?}");
    let all_grants = stats.authorization_code + stats.refresh_token + stats.obo;
    assert_eq!(
        uses_of(&emulator, &jti(&first)),
        all_grants,
        "every grant presented the file's token"
    );

    // The kubelet replaces the file: the next refresh presents the new token.
    let second = service_account_token(&emulator, 0);
    files.write("token", &second);
    use_everything(&app).await;
    assert!(
        uses_of(&emulator, &jti(&second)) >= 2,
        "{:?}",
        emulator.federated_seen()
    );

    // The diagnostics page names the kind and proves it works, without showing the token.
    let check = app.diagnostic("Client credential").await;
    assert_eq!(check["outcome"], "Pass", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("federated-token-file"),
        "{check}"
    );
    assert!(!check.to_string().contains(&second), "{check}");
}

#[tokio::test]
async fn an_expired_federated_token_file_is_explained_on_the_problem_page() {
    let (emulator, api) = emulator_and_api().await;
    let trust = serde_json::from_value(json!({
        "name": "aks", "issuer": emulator.workload_issuer(CLUSTER), "subject": SUBJECT,
    }))
    .unwrap();
    emulator.add_federated_credential(wk::WEB_APP_CLIENT_ID, trust);
    emulator.set_lifetimes(LifetimesUpdate {
        access_token: Some(4),
        ..Default::default()
    });
    let files = Files::new();
    let token_file = files.write("token", &service_account_token(&emulator, 0));
    let app = app_with(
        &emulator,
        &api,
        &[("AZURE_FEDERATED_TOKEN_FILE", &token_file)],
    )
    .await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;

    // Nothing renewed the file: its token expired an hour ago.
    files.write("token", &service_account_token(&emulator, 7200));
    let problem = problem_of(app.server_fn("profile").await).await;
    assert_eq!(problem.code, Some(700024), "{problem:?}");
    assert!(
        problem
            .cause
            .contains("AZURE_FEDERATED_TOKEN_FILE has expired"),
        "{problem:?}"
    );
    assert!(
        problem.fix.contains("projected service-account token"),
        "{problem:?}"
    );
    // Still signed in: once the file is renewed, the same session works.
    files.write("token", &service_account_token(&emulator, 0));
    assert_eq!(app.server_fn("profile").await.status(), StatusCode::OK);
}

/// The web app trusting Contoso's user-assigned managed identity.
fn trust_the_managed_identity(emulator: &RunningEmulator) {
    let trust = serde_json::from_value(json!({
        "name": "managed-identity",
        "issuer": format!("{}/{}/v2.0", emulator.base_url(), wk::TENANT_ID),
        "subject": wk::MANAGED_IDENTITY_PRINCIPAL_ID,
        "audiences": [wk::TOKEN_EXCHANGE_AUDIENCE],
    }))
    .unwrap();
    assert!(emulator.add_federated_credential(wk::WEB_APP_CLIENT_ID, trust));
}

/// Two users' sign-ins, a refresh, Graph and the API through `app`: one identity token.
async fn every_grant_on_one_managed_identity_token(emulator: &RunningEmulator, app: &TestApp) {
    remove_the_secret(app).await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    use_everything(app).await;
    // Megan's sign-in tokens last 4 s, so her next call refreshes.
    emulator.set_lifetimes(LifetimesUpdate {
        access_token: Some(4),
        ..Default::default()
    });
    let megan = app.other_browser();
    megan.sign_in(MEGAN, "/", &mut Seen::default()).await;
    assert_eq!(megan.server_fn("session").await.status(), StatusCode::OK);
    assert_eq!(megan.server_fn("profile").await.status(), StatusCode::OK);
    let stats = emulator.stats();
    assert!(
        stats.authorization_code == 2 && stats.refresh_token >= 1 && stats.obo >= 3,
        "{stats:?}"
    );
    assert_eq!(
        stats.managed_identity, 1,
        "fetched once, reused by every grant: {stats:?}"
    );
}

#[tokio::test]
async fn a_managed_identity_from_imds_is_the_credential_of_every_grant() {
    let (emulator, api) = emulator_and_api().await;
    trust_the_managed_identity(&emulator);
    let app = app_with(
        &emulator,
        &api,
        &[
            ("AZURE_AD_CLIENT_CREDENTIAL", "managed-identity"),
            (
                "AZURE_AD_MANAGED_IDENTITY_CLIENT_ID",
                wk::MANAGED_IDENTITY_CLIENT_ID,
            ),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.base_url()),
        ],
    )
    .await;
    every_grant_on_one_managed_identity_token(&emulator, &app).await;
}

#[tokio::test]
async fn a_managed_identity_from_the_app_service_endpoint_is_the_credential_of_every_grant() {
    let (emulator, api) = emulator_and_api().await;
    trust_the_managed_identity(&emulator);
    let endpoint = format!("{}/msi/token", emulator.base_url());
    let app = app_with(
        &emulator,
        &api,
        &[
            (
                "AZURE_AD_MANAGED_IDENTITY_CLIENT_ID",
                wk::MANAGED_IDENTITY_CLIENT_ID,
            ),
            ("IDENTITY_ENDPOINT", &endpoint),
            ("IDENTITY_HEADER", wk::IDENTITY_HEADER),
        ],
    )
    .await;
    every_grant_on_one_managed_identity_token(&emulator, &app).await;
}

#[tokio::test]
async fn a_managed_identity_the_host_does_not_have_is_explained() {
    let (emulator, api) = emulator_and_api().await;
    let app = app_with(
        &emulator,
        &api,
        &[
            (
                "AZURE_AD_MANAGED_IDENTITY_CLIENT_ID",
                "00000000-0000-0000-0000-0000000000aa",
            ),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.base_url()),
        ],
    )
    .await;
    let login = app.get("/auth/login").await;
    let callback = app
        .through_emulator(&location(&login), ADELE, &mut Seen::default())
        .await;
    let page = callback.text().await.unwrap();
    assert!(
        page.contains("could not prove its identity to Entra ID"),
        "{page}"
    );
    assert!(
        page.contains("AZURE_AD_MANAGED_IDENTITY_CLIENT_ID"),
        "the fix: {page}"
    );
    // The host's details (the identity, the endpoint's answer) stay in the server log.
    assert!(
        !page.contains("00000000-0000-0000-0000-0000000000aa"),
        "{page}"
    );
    assert!(!page.contains("Identity not found"), "{page}");
}

#[tokio::test]
async fn a_refused_secret_falls_back_to_the_next_and_is_counted() {
    let (emulator, api) = emulator_and_api().await;
    let files = Files::new();
    let stale = files.write("old-secret", "a-secret-removed-from-the-registration");
    let current = files.write("new-secret", wk::WEB_APP_SECRET);
    let list = format!("{stale},{current}");
    let app = app_with(&emulator, &api, &[("AZURE_AD_CLIENT_SECRET_FILE", &list)]).await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    use_everything(&app).await;
    // One fallback, then the working secret is used first.
    assert_eq!(
        app.metric("bff_client_credential_fallbacks_total", "")
            .await,
        1.0
    );
    assert_eq!(
        emulator.stats().token_total,
        4,
        "the refused one, then code, Graph, API: the working secret is tried first"
    );
}

#[tokio::test]
async fn a_secret_rotated_in_the_registration_and_its_file_works_without_a_restart() {
    let (emulator, api) = emulator_and_api().await;
    emulator.set_lifetimes(LifetimesUpdate {
        access_token: Some(4),
        ..Default::default()
    });
    let files = Files::new();
    let secret_file = files.write("client-secret", wk::WEB_APP_SECRET);
    let app = app_with(
        &emulator,
        &api,
        &[("AZURE_AD_CLIENT_SECRET_FILE", &secret_file)],
    )
    .await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    use_everything(&app).await;

    // The operator adds a secret, updates the mounted file, removes the old secret.
    let added: Value = reqwest::Client::new()
        .post(format!(
            "{}/_emulator/applications/{}/addPassword",
            emulator.base_url(),
            wk::WEB_APP_CLIENT_ID
        ))
        .json(&json!({"passwordCredential": {"displayName": "rotated"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    files.write("client-secret", added["secretText"].as_str().unwrap());
    remove_the_secret(&app).await;
    let refreshes = emulator.stats().refresh_token;
    use_everything(&app).await;
    assert!(
        emulator.stats().refresh_token > refreshes,
        "the session refreshed with the new secret"
    );
    assert_eq!(
        app.metric("bff_client_credential_fallbacks_total", "")
            .await,
        0.0
    );
}

#[tokio::test]
async fn a_certificate_not_registered_falls_back_to_the_next_one() {
    let (emulator, api) = emulator_and_api().await;
    let registered = emulator::test_support::forge::Certificate::self_signed("registered");
    let unknown = emulator::test_support::forge::Certificate::self_signed("unknown");
    let key_credential = serde_json::json!({"keyId": "k", "key": registered.key_credential()});
    {
        let mut world = emulator.state().world.write().unwrap();
        for app in world
            .tenants
            .iter_mut()
            .flat_map(|t| t.applications.iter_mut())
        {
            if app.app_id == wk::WEB_APP_CLIENT_ID {
                app.key_credentials
                    .push(serde_json::from_value(key_credential.clone()).unwrap());
                app.password_credentials.clear();
            }
        }
    }
    // Sign-in tokens of 4 s: the calls after the sign-in refresh with the certificate too.
    emulator.set_lifetimes(LifetimesUpdate {
        access_token: Some(4),
        ..Default::default()
    });
    let files = Files::new();
    // Each certificate's file holds its key too, as Key Vault exports a PEM.
    let old = files.write(
        "old.pem",
        &format!("{}\n{}", unknown.pem, unknown.key.private_pem),
    );
    let new = files.write(
        "new.pem",
        &format!("{}\n{}", registered.pem, registered.key.private_pem),
    );
    let list = format!("{old},{new}");
    let app = app_with(
        &emulator,
        &api,
        &[("AZURE_AD_CLIENT_CERTIFICATE_PATH", &list)],
    )
    .await;
    let callback = app.sign_in(ADELE, "/", &mut Seen::default()).await;
    assert!(
        callback.status().is_redirection(),
        "{}",
        callback.text().await.unwrap()
    );
    use_everything(&app).await;
    let stats = emulator.stats();
    assert!(stats.refresh_token >= 1 && stats.obo >= 2, "{stats:?}");
    assert_eq!(
        app.metric("bff_client_credential_fallbacks_total", "")
            .await,
        1.0
    );
}

#[tokio::test]
async fn the_diagnostics_page_tries_the_credential_at_most_once_a_minute() {
    let (emulator, api) = emulator_and_api().await;
    let app = app_with(
        &emulator,
        &api,
        &[("AZURE_AD_CLIENT_SECRET", "not-the-secret")],
    )
    .await;
    // Anonymous visitors see the outcome only (signing in cannot work with this secret).
    let check = app.diagnostic("Client credential").await;
    assert_eq!(check["outcome"], "Fail", "{check}");
    app.diagnostic("Client credential").await;
    assert_eq!(
        emulator.stats().client_credentials,
        1,
        "one token request a minute"
    );
}
