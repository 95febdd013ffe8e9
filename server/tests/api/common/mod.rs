//! A test harness: the whole server (with the embedded emulator) on free loopback ports,
//! and a browser-like client that keeps cookies and does not follow redirects.

#![allow(dead_code)]

use std::collections::HashMap;

use app::model::{Profile, SessionInfo};
#[allow(unused_imports)]
pub use app::{
    error::AppError,
    model::{Problem, ProblemAction},
};
use leptos::prelude::LeptosOptions;
use reqwest::{Client, Response, StatusCode, header::LOCATION};
use server::startup::Application;

// The built-in world's users, as the emulator defines them (not every user of this module
// needs them all).
#[allow(unused_imports)]
pub use emulator::well_known::{ADELE, ALEX, MEGAN, MFA_CODE, USER_PASSWORD as PASSWORD};

pub mod apis;
pub mod redis;

pub struct TestApp {
    /// `http://localhost:PORT`: a different site from the emulator on 127.0.0.1.
    pub base: String,
    pub emulator: String,
    /// `http://127.0.0.1:PORT` of the `/metrics` listener.
    pub metrics: String,
    pub client: Client,
    pub data_dir: std::path::PathBuf,
    /// The running server, to stop it as a crash or a deploy would.
    server: Option<tokio::task::AbortHandle>,
}

/// Starts the server on a free port with the embedded emulator on another, a fresh data
/// directory, and `vars` on top.
pub async fn spawn_app(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_serving("target/site", vars).await
}

/// [`spawn_app`], with Adele signed in (through the emulator's pages) in its browser.
pub async fn spawn_signed_in(vars: &[(&str, &str)]) -> TestApp {
    let app = spawn_app(vars).await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    app
}

/// [`spawn_app`] with the static files served from `site_root`.
pub async fn spawn_app_serving(site_root: &str, vars: &[(&str, &str)]) -> TestApp {
    let (env, options, listener, data_dir) = prepare(site_root, vars).await;
    let addr = listener.local_addr().unwrap();
    // An APP_URL on this server's port (`{port}`) is where the test reaches it; any other
    // (a public name) is only what the server believes it is.
    let base = vars
        .iter()
        .find(|(k, v)| *k == "APP_URL" && v.contains("{port}"))
        .map_or_else(
            || format!("http://localhost:{}", addr.port()),
            |_| env["APP_URL"].trim_end_matches('/').to_owned(),
        );
    let app = Application::build(&env, options, listener)
        .await
        .expect("the server starts");
    // The embedded emulator, or the one a test started and named as the authority.
    let emulator = match app.emulator() {
        Some(embedded) => embedded.base_url().to_owned(),
        None => env["AZURE_AD_AUTHORITY_HOST"]
            .trim_end_matches('/')
            .to_owned(),
    };
    let metrics = format!("http://{}", app.metrics_addr());
    let server = tokio::spawn(app.run_until_stopped()).abort_handle();
    TestApp {
        base,
        emulator,
        metrics,
        client: browser(),
        data_dir,
        server: Some(server),
    }
}

/// Why the server refuses to start with `vars`.
pub async fn start_error(vars: &[(&str, &str)]) -> String {
    let (env, options, listener, data_dir) = prepare("target/site", vars).await;
    let result = Application::build(&env, options, listener).await;
    let _ = std::fs::remove_dir_all(data_dir);
    match result {
        Ok(_) => panic!("the server started with {vars:?}"),
        Err(err) => err.to_string(),
    }
}

/// The variables (free ports, a fresh data directory, `vars` on top, `{port}` in them replaced
/// by the server's), Leptos options and a bound listener for one server.
async fn prepare(
    site_root: &str,
    vars: &[(&str, &str)],
) -> (
    HashMap<String, String>,
    LeptosOptions,
    tokio::net::TcpListener,
    std::path::PathBuf,
) {
    let data_dir = std::env::temp_dir().join(format!("bff-test-{}", uuid::Uuid::new_v4()));
    let mut env: HashMap<String, String> = HashMap::from([
        ("EMULATOR_ADDR".into(), "127.0.0.1:0".into()),
        ("WEATHER_API_ADDR".into(), "127.0.0.1:0".into()),
        ("METRICS_ADDR".into(), "127.0.0.1:0".into()),
        ("DATA_DIR".into(), data_dir.display().to_string()),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    for (k, v) in vars {
        env.insert((*k).into(), v.replace("{port}", &port));
    }
    let options = LeptosOptions::builder()
        .output_name("entra-bff")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(listener.local_addr().unwrap())
        .build();
    (env, options, listener, data_dir)
}

impl Drop for TestApp {
    /// The data directory (SQLite sessions, emulator keys) goes with the test.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Who the session server function, called with `request` (a POST to `/api/session`), says is
/// signed in (`None`: anonymous).
pub async fn session_name(request: reqwest::RequestBuilder) -> Option<String> {
    let session: serde_json::Value = request
        .header("x-csrf", "1")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["user"]["name"].as_str().map(str::to_owned)
}

/// The session cookie's value that `response` (a sign-in's callback) set, over HTTP.
pub fn session_cookie(response: &Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("bff-session="))
        .and_then(|v| v.split(';').next())
        .expect("the response sets the session cookie")
        .to_owned()
}

/// What anyone could compute from a cookie without the server's key ring: the cookie's
/// session id, an unkeyed hash of it, a keyed hash under some other key. A store must hold
/// none of them.
pub fn guessable_stored_ids(cookie: &str) -> Vec<String> {
    use server::store::sealed::{KeyRing, StoredIds};
    let id: tower_sessions::session::Id = cookie.parse().expect("a session cookie");
    let elsewhere = StoredIds::new(
        std::sync::Arc::new(KeyRing::new(&[[0; 32]])),
        emulator::well_known::WEB_APP_CLIENT_ID,
    );
    elsewhere.all(&id).iter().map(ToString::to_string).collect()
}

pub fn location(response: &Response) -> String {
    assert!(
        response.status().is_redirection(),
        "expected a redirect, got {}",
        response.status()
    );
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// A query parameter of `url` (e.g. the `state` of an authorize URL).
pub fn query_param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .1
        .into_owned()
}

#[allow(unused_imports)]
pub use emulator::test_support::hidden;

/// The well-known world, changed by `edit`, as a file for `EMULATOR_WORLD` (removed with
/// the returned guard's directory by the caller's `TempWorld`).
pub fn world_file(edit: impl FnOnce(&mut serde_json::Value)) -> TempWorld {
    let mut world = serde_json::to_value(emulator::World::well_known()).unwrap();
    edit(&mut world);
    let dir = std::env::temp_dir().join(format!("bff-world-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("world.json");
    std::fs::write(&path, world.to_string()).unwrap();
    TempWorld { dir, path }
}

/// A world file that is deleted with its directory when dropped.
pub struct TempWorld {
    dir: std::path::PathBuf,
    pub path: std::path::PathBuf,
}

impl TempWorld {
    pub fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for TempWorld {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The built-in web app (the BFF) in a world's JSON, to change its registration.
pub fn web_app(world: &mut serde_json::Value) -> &mut serde_json::Value {
    world["tenants"][0]["applications"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["appId"] == emulator::well_known::WEB_APP_CLIENT_ID)
        .unwrap()
}

/// Every body a browser received in this test, to scan for leaked tokens.
#[derive(Default)]
pub struct Seen(pub Vec<String>);

impl TestApp {
    /// Stops the server (its listener closes; in-process state such as caches is gone).
    pub async fn stop(&self) {
        if let Some(server) = &self.server {
            server.abort();
        }
        tokio::task::yield_now().await;
    }

    /// The same server seen from another browser (its own cookie jar).
    pub fn other_browser(&self) -> TestApp {
        TestApp {
            client: browser(),
            base: self.base.clone(),
            emulator: self.emulator.clone(),
            metrics: self.metrics.clone(),
            data_dir: std::env::temp_dir().join(format!("bff-unused-{}", uuid::Uuid::new_v4())),
            server: None,
        }
    }

    /// One metric of `/metrics` (Prometheus text), summed over its label sets that contain
    /// `labels` (e.g. `tier="redis"`); 0 when absent.
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.metrics))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .filter(|(series, _)| {
                let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
                metric == name && rest.contains(labels)
            })
            .map(|(_, value)| value.parse::<f64>().unwrap())
            .sum()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `path` in this browser (redirects not followed).
    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POSTs to `path` in this browser, bare: no body, no anti-CSRF header, no origin.
    pub async fn post(&self, path: &str) -> Response {
        self.client.post(self.url(path)).send().await.unwrap()
    }

    /// Signs `upn` in through the emulator's pages; returns the callback's response.
    pub async fn sign_in(&self, upn: &str, return_to: &str, seen: &mut Seen) -> Response {
        let login = self
            .get(&format!("/auth/login?return_to={return_to}"))
            .await;
        self.through_emulator(&location(&login), upn, seen).await
    }

    /// Signs `upn` in; the identity provider's session id (`sid`) of that sign-in, from the
    /// callback's `session_state`.
    pub async fn sign_in_with_sid(&self, upn: &str) -> String {
        let login = self.get("/auth/login?return_to=/").await;
        let callback = self
            .emulator_pages(&self.client, &location(&login), upn, &mut Seen::default())
            .await;
        self.client.get(&callback).send().await.unwrap();
        query_param(&callback, "session_state")
    }

    /// Follows the emulator's pages from an authorize URL as a person would (username,
    /// password, MFA code, consent: accept) and returns the app callback's response.
    pub async fn through_emulator(&self, authorize: &str, upn: &str, seen: &mut Seen) -> Response {
        assert!(authorize.starts_with(&self.emulator), "{authorize}");
        let callback = self
            .emulator_pages(&self.client, authorize, upn, seen)
            .await;
        self.client.get(callback).send().await.unwrap()
    }

    /// Fills in the emulator's pages from `authorize` in `client` (username, password, MFA
    /// code, consent: accept); the app's callback URL it redirects to, not yet visited.
    pub async fn emulator_pages(
        &self,
        client: &Client,
        authorize: &str,
        upn: &str,
        seen: &mut Seen,
    ) -> String {
        let response = emulator::test_support::walk(client, authorize, upn, &mut seen.0).await;
        let callback = location(&response);
        assert!(callback.starts_with(&self.base), "{callback}");
        callback
    }

    /// Follows the app's callback `refused` (a sign-in the identity provider refused for the
    /// scopes it named for consent only): the app starts the sign-in again, which the
    /// identity provider answers at once (its session), and the app's last answer. Asserts
    /// the new sign-in names no consent-only scope of `api_scope`.
    pub async fn through_retried_sign_in(&self, refused: &str, api_scope: &str) -> Response {
        let retry = location(&self.client.get(refused).send().await.unwrap());
        assert!(retry.starts_with(&self.emulator), "{retry}");
        assert!(!retry.contains(api_scope), "{retry}");
        let back = location(&self.client.get(&retry).send().await.unwrap());
        self.client.get(&back).send().await.unwrap()
    }

    /// A page's server-rendered HTML, as a browser without JavaScript gets it.
    pub async fn page(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// Calls a server function as the hydrated page does (POST, anti-CSRF header).
    pub async fn server_fn(&self, name: &str) -> Response {
        self.client
            .post(self.url(&format!("/api/{name}")))
            .header("x-csrf", "1")
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap()
    }

    pub async fn emulator_stats(&self) -> serde_json::Value {
        reqwest::get(format!("{}/_emulator/stats", self.emulator))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Signs out as the app's own sign-out button does (a same-origin form POST); the
    /// redirect to the identity provider's end-session endpoint.
    pub async fn sign_out(&self) -> Response {
        self.client
            .post(self.url("/auth/logout"))
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap()
    }

    /// Drives the emulator's admin surface (`/_emulator/{path}`).
    pub async fn admin(&self, path: &str, body: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/_emulator/{path}", self.emulator))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{path}: {}",
            r.text().await.unwrap()
        );
    }

    /// Who a browser sending `cookie` as its session cookie (and no other) is signed in as.
    pub async fn signed_in_with_cookie(&self, cookie: &str) -> Option<String> {
        let request = Client::new().post(self.url("/api/session"));
        session_name(request.header("cookie", format!("bff-session={cookie}"))).await
    }

    /// The session as the pages read it (the app's own [`SessionInfo`]).
    pub async fn session(&self) -> SessionInfo {
        serde_json::from_value(self.ok("session").await).unwrap()
    }

    /// The signed-in user's profile (the app's own [`Profile`]); the call must succeed.
    pub async fn profile(&self) -> Profile {
        serde_json::from_value(self.ok("profile").await).unwrap()
    }

    /// Calls a server function that must succeed; its JSON answer.
    pub async fn ok(&self, name: &str) -> serde_json::Value {
        let response = self.server_fn(name).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// One row of the diagnostics page, by its name.
    pub async fn diagnostic(&self, name: &str) -> serde_json::Value {
        let report = self.ok("diagnostics").await;
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name:?} in {report}"))
            .clone()
    }

    /// A server function's error, as the page receives it: the `Problem` of an
    /// `AppError::Problem`, answered with `status`.
    pub async fn problem(&self, name: &str, status: StatusCode) -> Problem {
        let response = self.server_fn(name).await;
        assert_eq!(response.status(), status, "{name}");
        problem_of(response).await
    }

    /// Follows a problem's *Sign in* action through the emulator's pages as `upn`; the
    /// app callback's answer.
    pub async fn follow_action(&self, problem: &Problem, upn: &str, seen: &mut Seen) -> Response {
        let ProblemAction::SignIn { url, .. } = &problem.action else {
            panic!("no sign-in action: {problem:?}");
        };
        let login = self.client.get(self.url(url)).send().await.unwrap();
        self.through_emulator(&location(&login), upn, seen).await
    }

    pub async fn reset_emulator_stats(&self) {
        let r = reqwest::Client::new()
            .post(format!("{}/_emulator/stats/reset", self.emulator))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

/// The `Problem` an answer carries (an `AppError::Problem`, as server functions and the
/// downstream proxy send it).
pub async fn problem_of(response: Response) -> Problem {
    match response.json::<AppError>().await.unwrap() {
        AppError::Problem(problem) => *problem,
        other => panic!("not a problem: {other:?}"),
    }
}

/// The claims of a decoded token as the pages send it (`{"claims": [{"name", "value"}, ...]}`),
/// by name.
pub fn claim_map(token: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    token["claims"]
        .as_array()
        .unwrap_or_else(|| panic!("no claims in {token}"))
        .iter()
        .map(|row| {
            (
                row["name"].as_str().unwrap().to_owned(),
                row["value"].clone(),
            )
        })
        .collect()
}

/// A compact JWT: three base64url parts, the first two starting with `eyJ` (`{"`).
pub fn contains_jwt(text: &str) -> bool {
    let re = regex_lite::Regex::new(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
        .unwrap();
    re.is_match(text)
}
