//! Entra's single sign-out: when the user signs out of one app, the identity provider loads
//! every app's front-channel logout URL with the sign-in's `sid`, and each ends its sessions.

use emulator::{Emulator, World, well_known as wk};
use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::common::{ADELE, Seen, TestApp, browser, location, query_param, spawn_app};

/// A second registration of this BFF in the tenant (another app, another client id).
const INTRANET_CLIENT_ID: &str = "6f0c7a4e-2b9d-4c31-8e5a-93d1b7f2c460";
const INTRANET_SECRET: &str = "dev-intranet-secret";

/// The well-known world plus the "intranet" app: the web app's registration under another
/// client id, with the same consents.
fn world_with_two_apps() -> World {
    let mut world = World::well_known();
    let contoso = &mut world.tenants[0];
    let mut intranet = contoso.app(wk::WEB_APP_CLIENT_ID).unwrap().clone();
    intranet.app_id = INTRANET_CLIENT_ID.into();
    intranet.display_name = "Contoso intranet".into();
    intranet.identifier_uris = vec![format!("api://{INTRANET_CLIENT_ID}")];
    intranet.password_credentials[0].secret_text = INTRANET_SECRET.into();
    let consents: Vec<_> = contoso
        .consents
        .iter()
        .filter(|c| c.client_id == wk::WEB_APP_CLIENT_ID)
        .map(|c| {
            let mut c = c.clone();
            c.client_id = INTRANET_CLIENT_ID.into();
            if c.resource_app_id == wk::WEB_APP_CLIENT_ID {
                c.resource_app_id = INTRANET_CLIENT_ID.into();
            }
            c
        })
        .collect();
    contoso.consents.extend(consents);
    contoso.applications.push(intranet);
    world
}

fn front_channel_url(app: &TestApp) -> String {
    app.url("/auth/frontchannel-logout")
}

async fn signed_in(app: &TestApp) -> bool {
    app.session().await.user.is_some()
}

/// The `src` of every iframe on a page.
fn iframe_sources(html: &str) -> Vec<String> {
    html.split("<iframe")
        .skip(1)
        .map(|tag| {
            let start = tag.find("src=\"").unwrap() + 5;
            tag[start..start + tag[start..].find('"').unwrap()].replace("&amp;", "&")
        })
        .collect()
}

#[tokio::test]
async fn signing_out_of_one_app_ends_the_browsers_session_in_the_other() {
    let emulator = Emulator::builder()
        .world(world_with_two_apps())
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let common = [
        ("AZURE_AD_TENANT_ID", wk::TENANT_ID),
        ("AZURE_AD_AUTHORITY_HOST", emulator.base_url()),
    ];
    let portal = spawn_app(
        &[
            &common[..],
            &[
                ("AZURE_AD_CLIENT_ID", wk::WEB_APP_CLIENT_ID),
                ("AZURE_AD_CLIENT_SECRET", wk::WEB_APP_SECRET),
            ],
        ]
        .concat(),
    )
    .await;
    // On 127.0.0.1, not localhost: cookies ignore ports, and each app has its own cookie.
    let mut intranet = spawn_app(
        &[
            &common[..],
            &[
                ("AZURE_AD_CLIENT_ID", INTRANET_CLIENT_ID),
                ("AZURE_AD_CLIENT_SECRET", INTRANET_SECRET),
                ("API_SCOPE", &format!("{INTRANET_CLIENT_ID}/access_as_user")),
                ("APP_URL", "http://127.0.0.1:{port}"),
            ],
        ]
        .concat(),
    )
    .await;
    // Registered in the portal as each app's front-channel logout URL.
    {
        let mut world = emulator.state().world.write().unwrap();
        for (client_id, app) in [
            (wk::WEB_APP_CLIENT_ID, &portal),
            (INTRANET_CLIENT_ID, &intranet),
        ] {
            world.tenants[0]
                .applications
                .iter_mut()
                .find(|a| a.app_id == client_id)
                .unwrap()
                .web
                .logout_url = Some(front_channel_url(app));
        }
    }

    // One browser signs in to both: the second sign-in rides on the identity provider's
    // session (no password asked).
    intranet.client = portal.client.clone();
    let mut seen = Seen::default();
    portal.sign_in(ADELE, "/", &mut seen).await;
    let pages_before = seen.0.len();
    intranet.sign_in(ADELE, "/", &mut seen).await;
    assert_eq!(
        seen.0.len(),
        pages_before,
        "single sign-on: no page for the second app"
    );
    assert!(signed_in(&portal).await && signed_in(&intranet).await);

    // Sign out of the portal: the identity provider's sign-out page frames both apps'
    // front-channel logout URLs, then goes back to the portal.
    let end_session = location(&portal.sign_out().await);
    let page = portal.client.get(&end_session).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let frames = iframe_sources(&html);
    assert_eq!(frames.len(), 2, "{html}");
    assert!(
        html.contains(&portal.base),
        "continues to the portal: {html}"
    );
    let intranet_frame = frames
        .iter()
        .find(|f| f.starts_with(&intranet.base))
        .expect("the intranet's front-channel URL is framed");
    assert!(query_param(intranet_frame, "sid").len() >= 32);
    assert!(
        !intranet_frame.contains("iss="),
        "Entra sends the sid alone"
    );

    // The iframe's request, as a browser makes it in a third-party frame: no cookies.
    let answer = browser().get(intranet_frame).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let policy = answer.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let emulator_origin = url::Url::parse(emulator.base_url())
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(
        policy.contains(&format!("frame-ancestors {emulator_origin}")),
        "{policy}"
    );
    assert!(
        answer.headers().get(header::X_FRAME_OPTIONS).is_none(),
        "the identity provider must be able to frame it"
    );

    // The intranet's session has ended, and says so; its tokens are gone with it.
    assert!(!signed_in(&intranet).await);
    let profile = intranet.server_fn("profile").await;
    assert_eq!(profile.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        intranet
            .metric("bff_front_channel_sign_outs_total", "")
            .await,
        1.0
    );
    // Signing in again works (the identity provider's session is gone: the password is asked).
    let pages_before = seen.0.len();
    intranet.sign_in(ADELE, "/", &mut seen).await;
    assert!(seen.0.len() > pages_before);
    assert!(signed_in(&intranet).await);
}

#[tokio::test]
async fn a_forged_issuer_or_an_unknown_sid_ends_nothing() {
    let app = spawn_app(&[]).await;
    let sid = app.sign_in_with_sid(ADELE).await;
    let anyone = browser();
    let call = |query: String| {
        let url = format!("{}?{query}", front_channel_url(&app));
        let anyone = anyone.clone();
        async move { anyone.get(url).send().await.unwrap().status() }
    };

    assert_eq!(call(String::new()).await, StatusCode::BAD_REQUEST);
    assert_eq!(
        call(format!("sid={}", uuid::Uuid::new_v4())).await,
        StatusCode::OK
    );
    assert!(signed_in(&app).await, "an unknown sid ends nothing");
    let forged = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sid", &sid)
        .append_pair(
            "iss",
            &format!(
                "https://login.microsoftonline.com/{}/v2.0",
                wk::FABRIKAM_TENANT_ID
            ),
        )
        .finish();
    assert_eq!(call(forged).await, StatusCode::OK);
    assert!(signed_in(&app).await, "another issuer's sid ends nothing");

    // The issuer this app trusts, with the sid: signed out (OpenID's form, with `iss`).
    let discovery: Value = reqwest::get(format!(
        "{}/{}/v2.0/.well-known/openid-configuration",
        app.emulator,
        wk::TENANT_ID
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let genuine = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sid", &sid)
        .append_pair("iss", discovery["issuer"].as_str().unwrap())
        .finish();
    assert_eq!(call(genuine).await, StatusCode::OK);
    assert!(!signed_in(&app).await);
}
