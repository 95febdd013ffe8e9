//! The certificate credential (`private_key_jwt`): sign-in and On-Behalf-Of with a client
//! assertion signed by a certificate registered on the app, no secret anywhere.

use crate::common::{ADELE, Seen, location, spawn_app};

#[tokio::test]
async fn sign_in_and_obo_work_with_a_certificate_instead_of_a_secret() {
    // A key pair and a self-signed certificate, registered on the well-known web app.
    let cert = emulator::test_support::forge::Certificate::self_signed("entra-bff-test");
    let mut world = serde_json::to_value(emulator::World::well_known()).unwrap();
    let web_app = world["tenants"][0]["applications"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["appId"] == emulator::well_known::WEB_APP_CLIENT_ID)
        .unwrap();
    web_app["keyCredentials"] = serde_json::json!([{
        "keyId": "test-certificate",
        "key": cert.key_credential(),
    }]);
    // No secret: only the certificate can authenticate the app.
    web_app["passwordCredentials"] = serde_json::json!([]);

    let dir = std::env::temp_dir().join(format!("bff-cert-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (world_path, cert_path, key_path) = (
        dir.join("world.json"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&world_path, world.to_string()).unwrap();
    std::fs::write(&cert_path, &cert.pem).unwrap();
    std::fs::write(&key_path, &cert.key.private_pem).unwrap();

    let app = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("EMULATOR_WORLD", world_path.to_str().unwrap()),
        (
            "AZURE_AD_CLIENT_CERTIFICATE_PATH",
            cert_path.to_str().unwrap(),
        ),
        (
            "AZURE_AD_CLIENT_PRIVATE_KEY_PATH",
            key_path.to_str().unwrap(),
        ),
    ])
    .await;
    let callback = app.sign_in(ADELE, "/", &mut Seen::default()).await;
    assert_eq!(location(&callback), "/");
    let profile = app.profile().await;
    assert_eq!(profile.display_name.as_deref(), Some("Adele Vance"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_certificate_that_is_not_pem_stops_the_start_with_the_other_problems() {
    let dir = std::env::temp_dir().join(format!("bff-badcert-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, "this is not a certificate").unwrap();
    std::fs::write(&key, "nor is this a key").unwrap();
    let err = crate::common::start_error(&[
        ("AZURE_AD_CLIENT_CERTIFICATE_PATH", cert.to_str().unwrap()),
        ("AZURE_AD_CLIENT_PRIVATE_KEY_PATH", key.to_str().unwrap()),
        ("DOWNSTREAM_API__HR__BASE_URL", "https://hr.example.com"),
    ])
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    // Named at start, beside the other mistakes (not at the first sign-in, blaming the
    // authority host).
    assert!(
        err.contains("AZURE_AD_CLIENT_CERTIFICATE_PATH holds no PEM certificate"),
        "{err}"
    );
    assert!(
        err.contains("DOWNSTREAM_API__HR__SCOPES is missing"),
        "{err}"
    );
}
