//! Shared test helpers: start an emulator on a free loopback port and speak plain HTTP to it
//! (here); ask its token endpoint for tokens as the web app, by client secret or client
//! assertion (`token_endpoint`); read the answers and verify tokens with jsonwebtoken against the
//! published JWKS (`tokens`); walk its sign-in pages with a [`Browser`] (`browser`); sign client
//! assertions with a registered certificate (`certificate`).
#![allow(dead_code)]

mod browser;
mod certificate;
mod token_endpoint;
mod tokens;

pub use browser::*;
pub use certificate::*;
pub use token_endpoint::*;
pub use tokens::*;

use emulator::{Emulator, RunningEmulator, World, world::Application};
use reqwest::{Client, IntoUrl, Response};
use serde_json::Value;

pub use emulator::test_support::hidden;

/// The emulator with the built-in world, on a free loopback port.
pub async fn start() -> RunningEmulator {
    start_with(World::well_known()).await
}

/// The emulator with `world`, on a free loopback port.
pub async fn start_with(world: World) -> RunningEmulator {
    Emulator::builder()
        .world(world)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

/// The built-in world with `change` made to every registration of the application `app_id`
/// (the web app stands in Contoso and in Fabrikam).
pub fn world_with_app(app_id: &str, change: impl Fn(&mut Application)) -> World {
    let mut world = World::well_known();
    world
        .tenants
        .iter_mut()
        .flat_map(|t| t.applications.iter_mut())
        .filter(|a| a.app_id == app_id)
        .for_each(change);
    world
}

/// A client that keeps cookies and follows no redirect.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// GETs `url` and parses the JSON body.
pub async fn get_json(url: impl IntoUrl) -> Value {
    get_json_with(&client(), url).await
}

/// GETs `url` with the client `c` and parses the JSON body.
pub async fn get_json_with(c: &Client, url: impl IntoUrl) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// The body of a response as text.
pub async fn text(r: Response) -> String {
    r.text().await.unwrap()
}

/// The discovery document's URL on tenant segment `seg` (GUID, domain or alias).
pub fn discovery_url(emu: &RunningEmulator, seg: &str) -> String {
    format!(
        "{}/v2.0/.well-known/openid-configuration",
        emu.authority(seg)
    )
}

/// The URL of `path` on the admin surface (`/_emulator/...`).
pub fn admin_url(emu: &RunningEmulator, path: &str) -> String {
    format!("{}/_emulator/{path}", emu.base_url())
}

/// GETs `path` on the Graph slice, with `token` as the bearer if any.
pub async fn graph_get(emu: &RunningEmulator, path: &str, token: Option<&str>) -> Response {
    let mut r = client().get(format!("{}{path}", emu.graph_base_url()));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

/// Graph's `/v1.0/me` for `graph_token`, expecting a 200: the profile.
pub async fn graph_me(emu: &RunningEmulator, graph_token: &str) -> Value {
    let r = graph_get(emu, "/v1.0/me", Some(graph_token)).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}
