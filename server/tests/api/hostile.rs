//! The hostile-input suite: what an attacker would send, tried against the whole server.
//! Every case asserts the safe outcome: the expected status, no redirect off-site, no stack
//! trace or internal path in the body, no compact JWT in the body or a header, no CORS grant,
//! and no session cookie (nor stored session) where none should be created.
//!
//! Tokens forged for the ID-token path are in `id_token_validation.rs`; those for the
//! Weather API in `weather-api/tests/validation.rs`; slow headers, body limits and the
//! rate limit's basics in `edge.rs`.

use std::time::Duration;

use reqwest::{Client, StatusCode, header::HeaderValue};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{
    ADELE, MEGAN, Seen, TestApp, browser, contains_jwt, location, query_param, spawn_app,
    spawn_app_serving,
};

/// A response, read whole so that it can be checked after the fact.
struct Answer {
    /// 0: the server closed the connection without answering.
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    /// Sends `request` and reads what came back.
    async fn send(request: reqwest::RequestBuilder) -> Self {
        Self::of(request.send().await.unwrap()).await
    }

    async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response.text().await.unwrap_or_default();
        Self {
            status,
            headers,
            body,
        }
    }

    /// What a raw HTTP/1.1 exchange returned (headers and body as text, as received).
    fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Self {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a case may do besides answering.
#[derive(Clone, Copy, PartialEq)]
enum May {
    /// Nothing: no cookie, a local redirect at most.
    Nothing,
    /// Start a sign-in: a cookie for the pending sign-in, a redirect to the emulator's
    /// authorize endpoint.
    StartSignIn,
    /// Sign in (a session cookie), redirect locally.
    SignIn,
    /// Save the browser's existing session (checked by [`assert_same_session`]).
    Resave,
}

/// [`assert_safe`] for a method or request no route serves: refused (403 or 405), nothing
/// else said.
fn assert_refused(app: &TestApp, case: &str, answer: &Answer) {
    assert_safe(app, case, answer, &[403, 405], May::Nothing);
}

/// The safe outcome every case must show.
fn assert_safe(app: &TestApp, case: &str, answer: &Answer, statuses: &[u16], may: May) {
    assert!(
        statuses.contains(&answer.status),
        "{case}: status {} not in {statuses:?}: {}",
        answer.status,
        answer.body
    );
    if let Some(target) = answer.header("location") {
        let local =
            target.starts_with('/') && !target.starts_with("//") && !target.starts_with("/\\");
        let own = target == app.base || target.starts_with(&format!("{}/", app.base));
        let authorize = may == May::StartSignIn
            && target.starts_with(&format!("{}/", app.emulator))
            && target.contains("/oauth2/v2.0/authorize?");
        assert!(local || own || authorize, "{case}: redirected to {target}");
    }
    for internal in ["/src/", "panicked", "serde", ".rs:", "stack backtrace"] {
        assert!(
            !answer.body.contains(internal),
            "{case}: the body shows {internal:?}: {}",
            answer.body
        );
    }
    assert!(
        !contains_jwt(&answer.body),
        "{case}: a JWT in the body: {}",
        answer.body
    );
    for (name, value) in &answer.headers {
        assert!(!contains_jwt(value), "{case}: a JWT in {name}: {value}");
    }
    assert_eq!(
        answer.header("access-control-allow-origin"),
        None,
        "{case}: a CORS grant"
    );
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        None,
        "{case}: a CORS grant"
    );
    if may == May::Nothing {
        // Removing an unknown session's cookie is fine; setting one is not.
        for (name, value) in &answer.headers {
            assert!(
                name != "set-cookie" || value.contains("Max-Age=0"),
                "{case}: a cookie was set: {value}"
            );
        }
    }
}

/// Any cookie set is the session `id` the browser already had: no new session.
fn assert_same_session(case: &str, answer: &Answer, id: &str) {
    for (name, value) in &answer.headers {
        assert!(
            name != "set-cookie"
                || value.starts_with(&format!("bff-session={id};"))
                || value.contains("Max-Age=0"),
            "{case}: a new session: {value}"
        );
    }
}

/// The session id in a `Set-Cookie`.
fn session_id(set_cookie: &str) -> String {
    set_cookie
        .strip_prefix("bff-session=")
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("not a session cookie: {set_cookie}"))
        .to_owned()
}

fn port(app: &TestApp) -> u16 {
    app.base.rsplit(':').next().unwrap().parse().unwrap()
}

/// Sends `request` as written on a new connection and reads until the server closes it.
async fn raw(app: &TestApp, request: &[u8]) -> Answer {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port(app)))
        .await
        .unwrap();
    // The server may answer and close before reading all of it.
    let _ = tcp.write_all(request).await;
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), tcp.read_to_end(&mut bytes)).await;
    assert!(
        read.is_ok(),
        "the connection was held open: {}",
        String::from_utf8_lossy(request)
    );
    Answer::parse(&bytes)
}

/// A GET of `target` on a new connection, with `extra` header lines.
async fn raw_get(app: &TestApp, target: &str, extra: &str) -> Answer {
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: localhost:{}\r\n{extra}Connection: close\r\n\r\n",
        port(app)
    );
    raw(app, request.as_bytes()).await
}

/// Sessions in the SQLite store.
async fn session_rows(app: &TestApp) -> i64 {
    use tower_sessions_sqlx_store::sqlx;
    let path = app.data_dir.join("sessions.sqlite3");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let rows = sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

/// Who `client` is signed in as (`None`: anonymous).
async fn signed_in_as(app: &TestApp, client: &Client) -> Option<String> {
    crate::common::session_name(client.post(app.url("/api/session"))).await
}

/// The sign-in of `upn` in `client` up to the emulator's redirect back: the callback URL,
/// not yet visited.
async fn callback_url(app: &TestApp, client: &Client, upn: &str) -> String {
    let login = client.get(app.url("/auth/login")).send().await.unwrap();
    follow(app, client, &location(&login), upn).await
}

/// Goes through the emulator's pages from `authorize` in `client`; the callback URL.
async fn follow(app: &TestApp, client: &Client, authorize: &str, upn: &str) -> String {
    app.emulator_pages(client, authorize, upn, &mut Seen::default())
        .await
}

const NO_AUTH_LIMIT: [(&str, &str); 2] = [
    ("AUTH_RATE_LIMIT_BURST", "10000"),
    ("AUTH_RATE_LIMIT_PER_MINUTE", "60000"),
];

#[tokio::test]
async fn hostile_csrf_variants_on_server_functions_are_refused_and_store_no_session() {
    let app = spawn_app(&[("SESSION_STORE", "sqlite")]).await;
    let port = port(&app);
    let own = app.base.clone();
    let post = |path: &str, headers: Vec<(&'static str, HeaderValue)>| {
        let mut request = browser()
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { Answer::send(request).await }
    };
    let text = |v: &str| HeaderValue::from_str(v).unwrap();
    let csrf = || ("x-csrf", HeaderValue::from_static("1"));

    // The controls: what this app's own pages send is served.
    for (case, headers) in [
        ("control: x-csrf only", vec![csrf()]),
        ("control: own Origin", vec![csrf(), ("origin", text(&own))]),
        (
            "control: same-origin fetch",
            vec![
                csrf(),
                ("sec-fetch-site", text("same-origin")),
                ("origin", text(&own)),
            ],
        ),
    ] {
        let answer = post("/api/session", headers).await;
        assert_safe(&app, case, &answer, &[200], May::Nothing);
    }

    // The anti-CSRF header: missing, wrong, or unreadable.
    let mut cases: Vec<(String, Vec<(&'static str, HeaderValue)>)> = vec![
        ("no x-csrf".into(), vec![]),
        (
            "no x-csrf, same-origin metadata".into(),
            vec![
                ("sec-fetch-site", text("same-origin")),
                ("origin", text(&own)),
            ],
        ),
    ];
    for value in ["0", "", "true", "11", "1,1", "yes", "2"] {
        cases.push((format!("x-csrf: {value:?}"), vec![("x-csrf", text(value))]));
    }
    cases.push((
        "x-csrf with a non-ASCII byte".into(),
        vec![("x-csrf", HeaderValue::from_bytes(b"1\xff").unwrap())],
    ));
    // Foreign, opaque and look-alike origins.
    for origin in [
        "https://evil.example".to_owned(),
        "null".to_owned(),
        format!("http://localhost:{port}.evil.example"),
        format!("http://localhost.evil:{port}"),
        format!("http://localhost:{port}@evil.example"),
        format!("https://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://LOCALHOST:{port}"),
        format!("http://sub.localhost:{port}"),
        format!("http://localhost:{port}0"),
        "http://localhost".to_owned(),
        format!("{own}/"),
        format!("{own}, https://evil.example"),
        format!("https://evil.example, {own}"),
        format!("https://evil.example/{own}"),
        "file://".to_owned(),
        "*".to_owned(),
        String::new(),
    ] {
        cases.push((
            format!("Origin: {origin:?}"),
            vec![csrf(), ("origin", text(&origin))],
        ));
    }
    cases.push((
        "Origin with a non-ASCII byte".into(),
        vec![
            csrf(),
            (
                "origin",
                HeaderValue::from_bytes(&[own.as_bytes(), b"\xff"].concat()).unwrap(),
            ),
        ],
    ));
    // Fetch Metadata: anything but same-origin.
    for site in [
        "cross-site",
        "same-site",
        "none",
        "Same-Origin",
        "same-origin, cross-site",
        "",
    ] {
        cases.push((
            format!("Sec-Fetch-Site: {site:?}"),
            vec![csrf(), ("sec-fetch-site", text(site))],
        ));
    }
    // One good signal does not excuse a bad one.
    cases.push((
        "same-origin metadata, foreign Origin".into(),
        vec![
            csrf(),
            ("sec-fetch-site", text("same-origin")),
            ("origin", text("https://evil.example")),
        ],
    ));
    cases.push((
        "own Origin, cross-site metadata".into(),
        vec![
            csrf(),
            ("sec-fetch-site", text("cross-site")),
            ("origin", text(&own)),
        ],
    ));
    for (case, headers) in cases {
        let answer = post("/api/session", headers).await;
        assert_safe(&app, &case, &answer, &[403], May::Nothing);
        assert!(
            answer.body.starts_with("403 Forbidden"),
            "{case}: {}",
            answer.body
        );
    }

    // Every server function, and the sign-out form, from another site.
    for path in [
        "/api/profile",
        "/api/tokens",
        "/api/call-api",
        "/api/diagnostics",
        "/auth/logout",
    ] {
        for (name, value) in [
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let answer = post(path, vec![csrf(), (name, text(value))]).await;
            assert_safe(
                &app,
                &format!("{path} {name}"),
                &answer,
                &[403],
                May::Nothing,
            );
        }
    }

    assert_eq!(
        session_rows(&app).await,
        0,
        "a refused request stored a session"
    );
}

#[tokio::test]
async fn hostile_return_to_encodings_never_lead_off_the_site() {
    let mut vars = vec![("SESSION_STORE", "memory")];
    vars.extend(NO_AUTH_LIMIT);
    let app = spawn_app(&vars).await;
    let long = format!("/{}", "a".repeat(3000));
    // (the query value as sent, percent-encoded; where the sign-in ends)
    let cases: Vec<(&str, &str)> = vec![
        ("/tokens", "/tokens"),
        ("%2Ftokens%3Fx%3D1", "/tokens?x=1"),
        ("//evil.example", "/"),
        ("///evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("%5C%5Cevil", "/"),
        ("%2F%5Cevil.example", "/"),
        ("%2F%2Fevil.example", "/"),
        ("/%2F%2Fevil.example", "/"),
        ("%252F%252Fevil.example", "/"),
        ("/%252F%252Fevil.example", "/%2F%2Fevil.example"),
        ("https://evil.example", "/"),
        ("https%3A%2F%2Fevil.example%2F", "/"),
        ("HTTPS://evil.example", "/"),
        ("/%09/evil.example", "/"),
        ("/%2509/evil.example", "/%09/evil.example"),
        ("javascript:alert(1)", "/"),
        ("JaVaScRiPt%3Aalert(1)", "/"),
        ("data:text/html;base64,PHNjcmlwdD4=", "/"),
        ("/%0D%0ALocation:%20https://evil.example", "/"),
        ("/%0ASet-Cookie:%20bff-session=x", "/"),
        ("%20//evil.example", "/"),
        ("/%00evil", "/"),
        ("/%7Fevil", "/"),
        ("evil.example", "/"),
        ("", "/"),
        (&long, "/"),
        // Accepted, and harmless: paths on this site (browsers resolve them against it).
        ("/@evil.example", "/@evil.example"),
        ("/.//evil.example", "/.//evil.example"),
        ("/%E3%80%80evil.example", "/\u{3000}evil.example"),
    ];
    let mut seen = Seen::default();
    for (raw, expected) in &cases {
        let case = format!("return_to={}", &raw[..raw.len().min(60)]);
        let login = Answer::send(
            app.client
                .get(app.url(&format!("/auth/login?return_to={raw}"))),
        )
        .await;
        assert_safe(&app, &case, &login, &[303], May::StartSignIn);
        let authorize = login.header("location").unwrap().to_owned();
        assert!(authorize.starts_with(&app.emulator), "{case}: {authorize}");
        assert_eq!(
            query_param(&authorize, "redirect_uri"),
            app.url("/auth/callback"),
            "{case}"
        );
        let callback = Answer::of(app.through_emulator(&authorize, ADELE, &mut seen).await).await;
        assert_safe(&app, &case, &callback, &[303], May::SignIn);
        assert_eq!(callback.header("location"), Some(*expected), "{case}");
    }

    // Two values: refused outright, no sign-in started.
    let twice = Answer::send(
        browser().get(app.url("/auth/login?return_to=/tokens&return_to=//evil.example")),
    )
    .await;
    assert_safe(&app, "return_to twice", &twice, &[400], May::Nothing);
    for body in &seen.0 {
        assert!(!contains_jwt(body), "{body}");
    }
}

#[tokio::test]
async fn hostile_callbacks_forged_duplicated_or_replayed_sign_no_one_in() {
    let mut vars = vec![("SESSION_STORE", "sqlite")];
    vars.extend(NO_AUTH_LIMIT);
    let app = spawn_app(&vars).await;

    // Without a pending sign-in of this browser: nothing is trusted, nothing stored.
    let long_state = "s".repeat(8000);
    let forged = [
        ("no parameters", "/auth/callback".to_owned()),
        ("empty values", "/auth/callback?code=&state=".to_owned()),
        ("a code alone", "/auth/callback?code=abc".to_owned()),
        (
            "script in state",
            "/auth/callback?code=x&state=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_owned(),
        ),
        ("NUL in state", "/auth/callback?code=x&state=%00".to_owned()),
        ("very long state", format!("/auth/callback?code=x&state={long_state}")),
        (
            "an error with script, no state",
            "/auth/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
                .to_owned(),
        ),
        (
            "an error with script, forged state",
            "/auth/callback?state=forged&error=%3Csvg%2Fonload%3Dalert(1)%3E&error_description=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
                .to_owned(),
        ),
    ];
    for (case, path) in &forged {
        let answer = Answer::send(browser().get(app.url(path))).await;
        assert_safe(&app, case, &answer, &[400], May::Nothing);
        assert!(
            answer.body.contains("no longer valid"),
            "{case}: {}",
            answer.body
        );
        for reflected in ["alert(1)", "<script", "<svg", "<img"] {
            assert!(!answer.body.contains(reflected), "{case}: {}", answer.body);
        }
    }
    assert_eq!(
        session_rows(&app).await,
        0,
        "a forged callback stored a session"
    );

    // Duplicated parameters, with a real pending sign-in: refused before anything is used.
    let victim = browser();
    let login = victim.get(app.url("/auth/login")).send().await.unwrap();
    let id = session_id(login.headers()["set-cookie"].to_str().unwrap());
    let state = query_param(&location(&login), "state");
    for (case, path) in [
        (
            "two states",
            format!("/auth/callback?code=x&state={state}&state=forged"),
        ),
        (
            "two states, forged first",
            format!("/auth/callback?code=x&state=forged&state={state}"),
        ),
        (
            "two codes",
            format!("/auth/callback?code=a&code=b&state={state}"),
        ),
        (
            "two errors",
            format!("/auth/callback?error=a&error=b&state={state}"),
        ),
    ] {
        let answer = Answer::send(victim.get(app.url(&path))).await;
        assert_safe(&app, case, &answer, &[400], May::Nothing);
    }
    // An empty code with the right state: refused by the provider, a 400.
    let empty =
        Answer::send(victim.get(app.url(&format!("/auth/callback?code=&state={state}")))).await;
    assert_safe(&app, "an empty code", &empty, &[400], May::Resave);
    assert_same_session("an empty code", &empty, &id);
    assert_eq!(signed_in_as(&app, &victim).await, None);

    // A script in the provider's error, with this browser's state: shown, escaped.
    let login = victim.get(app.url("/auth/login")).send().await.unwrap();
    let state = query_param(&location(&login), "state");
    let answer = Answer::send(victim.get(app.url(&format!(
        "/auth/callback?state={state}&error=%3Csvg%2Fonload%3Dalert(1)%3E\
                 &error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%27"
    ))))
    .await;
    assert_safe(
        &app,
        "a script in error_description",
        &answer,
        &[400],
        May::Resave,
    );
    assert_same_session("a script in error_description", &answer, &id);
    for raw in ["<script", "<svg", "\"'"] {
        assert!(
            !answer.body.contains(raw),
            "reflected {raw}: {}",
            answer.body
        );
    }
    assert!(answer.body.contains("&lt;script&gt;"), "{}", answer.body);

    // Login CSRF: the attacker's own code and state, fed to the victim's browser.
    let attacker = browser();
    let planted = callback_url(&app, &attacker, MEGAN).await;
    let answer = Answer::send(victim.get(&planted)).await;
    assert_safe(
        &app,
        "the attacker's callback in the victim's browser",
        &answer,
        &[400],
        May::Nothing,
    );
    assert_eq!(signed_in_as(&app, &victim).await, None);

    // Code injection: the attacker's code with the victim's own state (PKCE and nonce of
    // another sign-in).
    let login = victim.get(app.url("/auth/login")).send().await.unwrap();
    let state = query_param(&location(&login), "state");
    let stolen = callback_url(&app, &attacker, MEGAN).await;
    let code = query_param(&stolen, "code");
    let answer =
        Answer::send(victim.get(app.url(&format!("/auth/callback?code={code}&state={state}"))))
            .await;
    assert_safe(
        &app,
        "the attacker's code with the victim's state",
        &answer,
        &[400],
        May::Resave,
    );
    assert_same_session("the attacker's code with the victim's state", &answer, &id);
    assert_eq!(signed_in_as(&app, &victim).await, None);

    // Replay of a callback that worked: in the same browser, and in another.
    let own = callback_url(&app, &victim, ADELE).await;
    let first = Answer::send(victim.get(&own)).await;
    assert_safe(&app, "the sign-in itself", &first, &[303], May::SignIn);
    for (case, client) in [("replayed", &victim), ("replayed elsewhere", &browser())] {
        let answer = Answer::send(client.get(&own)).await;
        assert_safe(&app, case, &answer, &[400], May::Nothing);
    }
    assert_eq!(
        signed_in_as(&app, &victim).await.as_deref(),
        Some("Adele Vance")
    );

    // The provider's callback is a GET; no other method reaches it.
    let post =
        Answer::send(browser().post(app.url(&format!("/auth/callback?code=x&state={state}"))))
            .await;
    assert_safe(&app, "POST callback", &post, &[405], May::Nothing);
}

#[tokio::test]
async fn hostile_session_cookies_and_headers_are_ignored_or_refused() {
    let app = spawn_app(&[("SESSION_STORE", "sqlite")]).await;
    let session = |cookie: HeaderValue| {
        browser()
            .post(app.url("/api/session"))
            .header("x-csrf", "1")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .send()
    };
    let long = format!("bff-session={}", "A".repeat(8000));
    let many: String = (0..150).map(|i| format!("c{i}=v{i}; ")).collect();
    let cookies: Vec<(&str, HeaderValue)> = vec![
        (
            "garbage id",
            HeaderValue::from_static("bff-session=garbage"),
        ),
        ("empty id", HeaderValue::from_static("bff-session=")),
        (
            "unknown well-formed id",
            HeaderValue::from_static("bff-session=AAAAAAAAAAAAAAAAAAAAAA"),
        ),
        (
            "SQL in the id",
            HeaderValue::from_static("bff-session=' OR 1=1; DROP TABLE tower_sessions; --"),
        ),
        (
            "quoted id",
            HeaderValue::from_static("bff-session=\"AAAAAAAAAAAAAAAAAAAAAA\""),
        ),
        (
            "encoded NULs",
            HeaderValue::from_static("bff-session=%00%00%00"),
        ),
        ("a very long id", HeaderValue::from_str(&long).unwrap()),
        (
            "two ids",
            HeaderValue::from_static("bff-session=a; bff-session=AAAAAAAAAAAAAAAAAAAAAA"),
        ),
        (
            "non-ASCII bytes",
            HeaderValue::from_bytes(b"bff-session=\xff\xfe\xfd").unwrap(),
        ),
        (
            "a JWT as the id",
            HeaderValue::from_static("bff-session=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
        ),
        ("150 cookies", HeaderValue::from_str(&many).unwrap()),
        (
            "no name",
            HeaderValue::from_static("=AAAAAAAAAAAAAAAAAAAAAA"),
        ),
    ];
    for (case, cookie) in cookies {
        let answer = Answer::of(session(cookie).await.unwrap()).await;
        assert_safe(&app, case, &answer, &[200], May::Nothing);
        let info: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(info["user"], serde_json::Value::Null, "{case}");
    }

    // A bearer token is not a session: the BFF only knows its cookie.
    let forged = format!(
        "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        base64_url(br#"{"oid":"87d349ed-44d7-43e1-9a83-5f2406dee5bd","name":"Adele Vance"}"#)
    );
    let answer = Answer::send(
        browser()
            .post(app.url("/api/profile"))
            .header("x-csrf", "1")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", forged),
    )
    .await;
    assert_safe(&app, "a bearer token", &answer, &[401], May::Nothing);

    // Odd but well-formed headers on a page: served, nothing reflected.
    for (case, name, value) in [
        (
            "Host of another site",
            "host",
            HeaderValue::from_static("evil.example"),
        ),
        (
            "X-Forwarded-Host",
            "x-forwarded-host",
            HeaderValue::from_static("evil.example"),
        ),
        (
            "Forwarded",
            "forwarded",
            HeaderValue::from_static("host=evil.example;proto=https"),
        ),
        (
            "obs-text in Accept-Language",
            "accept-language",
            HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        ),
        (
            "a long User-Agent",
            "user-agent",
            HeaderValue::from_str(&"x".repeat(16 * 1024)).unwrap(),
        ),
    ] {
        let answer = Answer::send(browser().get(app.url("/")).header(name, value)).await;
        assert_safe(&app, case, &answer, &[200], May::Nothing);
        assert!(!answer.body.contains("evil.example"), "{case}");
    }

    // Heads past hyper's bounds are refused before the app sees them.
    let huge = "x".repeat(512 * 1024);
    let too_many: String = (0..200).map(|i| format!("x-h{i}: v\r\n")).collect();
    for (case, extra, statuses) in [
        (
            "a 512 KiB header",
            format!("x-big: {huge}\r\n"),
            &[431, 0][..],
        ),
        ("200 headers", too_many, &[431, 0][..]),
        (
            "a 512 KiB cookie",
            format!("Cookie: bff-session={huge}\r\n"),
            &[431, 0][..],
        ),
    ] {
        let answer = raw_get(&app, "/", &extra).await;
        assert_safe(&app, case, &answer, statuses, May::Nothing);
    }
    let long_uri = format!("/?q={}", "a".repeat(70 * 1024));
    let answer = raw_get(&app, &long_uri, "").await;
    assert_safe(&app, "a 70 KiB URI", &answer, &[414], May::Nothing);

    assert_eq!(
        session_rows(&app).await,
        0,
        "a hostile request stored a session"
    );
}

#[tokio::test]
async fn hostile_bytes_in_the_request_head_are_a_400() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let port = port(&app);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("NUL in a header value", b"X-A: a\x00b\r\n".to_vec()),
        ("DEL in a header value", b"X-A: a\x7fb\r\n".to_vec()),
        ("bare CR in a header value", b"X-A: a\rb\r\n".to_vec()),
        (
            "NUL in Origin",
            format!("Origin: http://localhost:{port}\x00\r\n").into_bytes(),
        ),
        ("obsolete line folding", b"X-A: a\r\n b\r\n".to_vec()),
        ("a space before the colon", b"X-A : a\r\n".to_vec()),
        ("a header without a colon", b"X-A a\r\n".to_vec()),
        ("a header name with a slash", b"X/A: a\r\n".to_vec()),
        (
            "two Content-Lengths",
            b"Content-Length: 1\r\nContent-Length: 2\r\n".to_vec(),
        ),
        (
            "a negative Content-Length",
            b"Content-Length: -1\r\n".to_vec(),
        ),
    ];
    for (case, header) in cases {
        let mut request = format!(
            "POST /api/session HTTP/1.1\r\nHost: localhost:{port}\r\nx-csrf: 1\r\n\
             content-type: application/x-www-form-urlencoded\r\n"
        )
        .into_bytes();
        request.extend_from_slice(&header);
        request.extend_from_slice(b"Connection: close\r\n\r\n");
        let answer = raw(&app, &request).await;
        assert_safe(&app, case, &answer, &[400], May::Nothing);
    }
    for (case, target) in [
        ("NUL in the path", b"/\x00".as_slice()),
        ("a space in the path", b"/a b".as_slice()),
        ("a backslash path", b"\\..\\..\\etc\\passwd".as_slice()),
        ("non-ASCII in the path", b"/\xff\xfe".as_slice()),
    ] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(
            format!(" HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let answer = raw(&app, &request).await;
        assert_safe(&app, case, &answer, &[400], May::Nothing);
    }
}

#[tokio::test]
async fn hostile_paths_never_serve_a_file_outside_the_site_root() {
    let dir = std::env::temp_dir().join(format!("bff-site-{}", uuid::Uuid::new_v4()));
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::create_dir_all(dir.join("site-private")).unwrap();
    std::fs::write(site.join("pkg/entra-bff.css"), "main{}/*PUBLIC*/").unwrap();
    std::fs::write(dir.join("secret.txt"), "SECRET-OUTSIDE").unwrap();
    std::fs::write(dir.join("Cargo.toml"), "[package] SECRET-OUTSIDE").unwrap();
    std::fs::write(dir.join("site-private/secret.txt"), "SECRET-OUTSIDE").unwrap();
    let app = spawn_app_serving(site.to_str().unwrap(), &[("SESSION_STORE", "memory")]).await;

    // The control: the site root is the one served.
    let css = raw_get(&app, "/pkg/entra-bff.css", "").await;
    assert_safe(&app, "control", &css, &[200], May::Nothing);
    assert!(css.body.contains("PUBLIC"), "{}", css.body);

    let absolute = dir.join("secret.txt").display().to_string();
    let encoded_absolute = absolute.replace('/', "%2F");
    let targets = [
        "/pkg/../Cargo.toml".to_owned(),
        "/pkg/../../Cargo.toml".to_owned(),
        "/pkg/%2e%2e/%2e%2e/Cargo.toml".to_owned(),
        "/pkg/%2E%2E/%2E%2E/secret.txt".to_owned(),
        "/..%2f..%2fetc/passwd".to_owned(),
        "/..%2fsecret.txt".to_owned(),
        "/pkg/..%2f..%2fsecret.txt".to_owned(),
        "/pkg/%2e%2e%2f%2e%2e%2fsecret.txt".to_owned(),
        "/%2e%2e/secret.txt".to_owned(),
        "/.%2e/secret.txt".to_owned(),
        "/..%5csecret.txt".to_owned(),
        "/pkg/..%5c..%5csecret.txt".to_owned(),
        "/%252e%252e/secret.txt".to_owned(),
        "/..;/secret.txt".to_owned(),
        "/%c0%ae%c0%ae/secret.txt".to_owned(),
        "/..%c0%afsecret.txt".to_owned(),
        "/pkg/....//....//secret.txt".to_owned(),
        "/pkg/entra-bff.css/..%2f..%2f..%2fsecret.txt".to_owned(),
        "/../site-private/secret.txt".to_owned(),
        "/pkg/%2e%2e/%2e%2e/site-private/secret.txt".to_owned(),
        format!("/{encoded_absolute}"),
        format!("/{absolute}"),
        format!("/pkg/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..{absolute}"),
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "/pkg/entra-bff.css%00.png".to_owned(),
        "/pkg/%00".to_owned(),
        "/pkg/%2e%2e%00/secret.txt".to_owned(),
        "/pkg/".to_owned(),
    ];
    for target in &targets {
        let answer = raw_get(&app, target, "").await;
        assert_safe(&app, target, &answer, &[404], May::Nothing);
        for secret in ["SECRET-OUTSIDE", "root:x:0:0", "[package]", "main{}"] {
            assert!(!answer.body.contains(secret), "{target} served {secret}");
        }
    }
    // An absolute-form target naming another host: the same site root, nothing outside.
    let answer = raw_get(&app, "http://evil.example/pkg/../../secret.txt", "").await;
    assert_safe(&app, "absolute-form target", &answer, &[404], May::Nothing);
    assert!(!answer.body.contains("SECRET-OUTSIDE"));
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn hostile_methods_get_no_cors_no_trace_and_change_nothing() {
    let mut vars = vec![("SESSION_STORE", "memory")];
    vars.extend(NO_AUTH_LIMIT);
    let app = spawn_app(&vars).await;
    let user = browser();
    user.get(callback_url(&app, &user, ADELE).await)
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in_as(&app, &user).await.as_deref(),
        Some("Adele Vance")
    );

    // TRACE must not echo the request (cross-site tracing would read HttpOnly cookies).
    for path in ["/", "/api/session", "/auth/login", "/pkg/entra-bff.css"] {
        let trace = user
            .request(reqwest::Method::TRACE, app.url(path))
            .header("x-trace-marker", "TRACE-ME");
        let answer = Answer::send(trace).await;
        assert_refused(&app, &format!("TRACE {path}"), &answer);
        assert!(
            !answer.body.contains("TRACE-ME"),
            "TRACE {path} echoed the request"
        );
        assert!(
            !answer.body.contains("bff-session"),
            "TRACE {path} echoed the cookie"
        );
    }
    // WebDAV and other methods no route serves.
    for (method, path) in [
        ("PROPFIND", "/"),
        ("PROPFIND", "/pkg/"),
        ("MKCOL", "/pkg/new"),
        ("PUT", "/pkg/entra-bff.css"),
        ("DELETE", "/pkg/entra-bff.css"),
        ("PUT", "/auth/login"),
        ("PATCH", "/api/session"),
        ("FOO", "/"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let answer = Answer::send(user.request(method.clone(), app.url(path))).await;
        assert_refused(&app, &format!("{method} {path}"), &answer);
    }
    // A preflight from another site: no CORS grant, for any server function or route.
    for (path, origin) in [
        ("/api/session", "https://evil.example"),
        ("/api/session", "null"),
        ("/api/profile", "https://evil.example"),
        ("/auth/logout", "https://evil.example"),
    ] {
        let preflight = user
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "x-csrf, content-type");
        let answer = Answer::send(preflight).await;
        assert_refused(&app, &format!("OPTIONS {path} from {origin}"), &answer);
        assert_eq!(answer.header("access-control-allow-headers"), None);
        assert_eq!(answer.header("access-control-allow-methods"), None);
    }

    // Sign-out only by a same-site POST: a GET, or a POST from another site, keeps the
    // session.
    let get = Answer::send(user.get(app.url("/auth/logout"))).await;
    assert_safe(&app, "GET /auth/logout", &get, &[405], May::Nothing);
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let answer = Answer::send(user.post(app.url("/auth/logout")).header(name, value)).await;
        assert_safe(
            &app,
            &format!("logout with {name}"),
            &answer,
            &[403],
            May::Nothing,
        );
    }
    assert_eq!(
        signed_in_as(&app, &user).await.as_deref(),
        Some("Adele Vance")
    );
}

#[tokio::test]
async fn hostile_bodies_are_refused_before_they_are_read() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let port = port(&app);
    // Without the anti-CSRF header, the body is never read: a 403 at once, while the
    // promised body never comes.
    let request = format!(
        "POST /api/session HTTP/1.1\r\nHost: localhost:{port}\r\n\
         content-type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    );
    let started = std::time::Instant::now();
    let answer = raw(&app, request.as_bytes()).await;
    assert_safe(
        &app,
        "a body that never comes, without x-csrf",
        &answer,
        &[403],
        May::Nothing,
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the server waited for the body"
    );

    // A declared length past the limit: refused without waiting for the bytes.
    let request = format!(
        "POST /api/session HTTP/1.1\r\nHost: localhost:{port}\r\nx-csrf: 1\r\n\
         content-type: application/x-www-form-urlencoded\r\nContent-Length: 999999999\r\n\
         Connection: close\r\n\r\n"
    );
    let answer = raw(&app, request.as_bytes()).await;
    assert_safe(
        &app,
        "Content-Length: 999999999",
        &answer,
        &[413],
        May::Nothing,
    );

    // A malformed chunk size.
    let request = format!(
        "POST /api/session HTTP/1.1\r\nHost: localhost:{port}\r\nx-csrf: 1\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    );
    let answer = raw(&app, request.as_bytes()).await;
    assert_safe(
        &app,
        "a malformed chunk size",
        &answer,
        &[400],
        May::Nothing,
    );

    // Deeply nested or odd bodies: a plain 4xx (or the call served), never a 500.
    let nested = "[".repeat(60_000);
    for (case, body, content_type) in [
        (
            "deeply nested JSON",
            nested.into_bytes(),
            "application/json",
        ),
        (
            "multipart without a boundary",
            b"--x\r\n\r\n".to_vec(),
            "multipart/form-data",
        ),
        (
            "10000 form fields",
            "a=1&".repeat(10_000).into_bytes(),
            "application/x-www-form-urlencoded",
        ),
        (
            "invalid UTF-8 as JSON",
            b"{\"a\":\"\xff\"}".to_vec(),
            "application/json",
        ),
    ] {
        let answer = Answer::send(
            browser()
                .post(app.url("/api/session"))
                .header("x-csrf", "1")
                .header("content-type", content_type)
                .body(body),
        )
        .await;
        assert_safe(&app, case, &answer, &[200, 400, 415], May::Nothing);
    }
}

#[tokio::test]
async fn hostile_sign_in_starts_ignore_forged_hosts_forwarding_headers_and_planted_ids() {
    let app = spawn_app(&[
        ("SESSION_STORE", "memory"),
        ("AUTH_RATE_LIMIT_BURST", "3"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "1"),
    ])
    .await;
    // A forged Host or forwarding header does not move the redirect URI.
    for (case, name, value) in [
        ("Host", "host", "evil.example"),
        ("X-Forwarded-Host", "x-forwarded-host", "evil.example"),
        ("Forwarded", "forwarded", "host=evil.example;proto=https"),
    ] {
        let answer = Answer::send(
            browser()
                .get(app.url("/auth/login"))
                .header(name, value)
                .header("x-forwarded-for", "203.0.113.7"),
        )
        .await;
        assert_safe(&app, case, &answer, &[303], May::StartSignIn);
        let authorize = answer.header("location").unwrap();
        assert_eq!(
            query_param(authorize, "redirect_uri"),
            app.url("/auth/callback"),
            "{case}"
        );
        assert!(!authorize.contains("evil.example"), "{case}: {authorize}");
    }
    // The burst is spent; a forged client address does not buy another.
    for (name, value) in [
        ("x-forwarded-for", "198.51.100.1"),
        ("x-real-ip", "198.51.100.2"),
        ("forwarded", "for=198.51.100.3"),
    ] {
        let answer = Answer::send(browser().get(app.url("/auth/login")).header(name, value)).await;
        assert_safe(&app, name, &answer, &[429], May::Nothing);
    }
}

#[tokio::test]
async fn hostile_planted_session_id_is_never_adopted() {
    let mut vars = vec![("SESSION_STORE", "sqlite")];
    vars.extend(NO_AUTH_LIMIT);
    let app = spawn_app(&vars).await;
    let planted = "AAAAAAAAAAAAAAAAAAAAAA";
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(
        &format!("bff-session={planted}; Path=/"),
        &app.base.parse().unwrap(),
    );
    let victim = Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = Answer::send(victim.get(app.url("/auth/login"))).await;
    assert_safe(&app, "a planted id", &login, &[303], May::StartSignIn);
    let cookie = login.header("set-cookie").unwrap_or_default().to_owned();
    assert!(
        !cookie.contains(planted),
        "the planted id was adopted: {cookie}"
    );
    let callback = follow(&app, &victim, login.header("location").unwrap(), ADELE).await;
    let callback = Answer::send(victim.get(&callback)).await;
    assert_safe(
        &app,
        "a planted id, signed in",
        &callback,
        &[303],
        May::SignIn,
    );
    let cookie = callback.header("set-cookie").unwrap_or_default().to_owned();
    assert!(!cookie.is_empty() && !cookie.contains(planted), "{cookie}");
    // The planted id alone is worth nothing.
    let fixated = browser()
        .post(app.url("/api/session"))
        .header("x-csrf", "1")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("bff-session={planted}"))
        .send()
        .await
        .unwrap();
    let info: serde_json::Value = fixated.json().await.unwrap();
    assert_eq!(info["user"], serde_json::Value::Null);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn hostile_failed_callbacks_leave_no_long_lived_anonymous_session() {
    let app = spawn_app(&[("SESSION_STORE", "sqlite")]).await;
    for query in [
        "code=&state={state}",
        "code=injected&state={state}",
        "error=access_denied&error_description=x&state={state}",
    ] {
        let client = crate::common::browser();
        let login = client.get(app.url("/auth/login")).send().await.unwrap();
        let state = query_param(login.headers()["location"].to_str().unwrap(), "state");
        let callback = client
            .get(app.url(&format!(
                "/auth/callback?{}",
                query.replace("{state}", &state)
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(callback.status(), StatusCode::BAD_REQUEST, "{query}");
        // Nothing pending is left, so the session goes: no row outlives the sign-in.
        assert_eq!(session_rows(&app).await, 0, "{query}");
        if let Some(cookie) = callback.headers().get("set-cookie") {
            let cookie = cookie.to_str().unwrap();
            assert!(cookie.contains("Max-Age=0"), "{query}: {cookie}");
        }
    }
}

#[tokio::test]
async fn hostile_chunked_bodies_are_bounded_like_declared_ones() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    // 128 KiB in 32 chunks of 4 KiB, no Content-Length.
    let mut request = format!(
        "POST /api/session HTTP/1.1\r\nHost: localhost:{}\r\nx-csrf: 1\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n",
        port(&app)
    )
    .into_bytes();
    for _ in 0..32 {
        request.extend_from_slice(b"1000\r\n");
        request.extend_from_slice(&[b'a'; 4096]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = raw(&app, &request).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert!(answer.body.contains("bytes at most"), "{}", answer.body);
}

#[tokio::test]
async fn hostile_made_up_methods_and_paths_do_not_grow_the_metrics() {
    let app = spawn_app(&[("SESSION_STORE", "memory")]).await;
    let client = Client::new();
    let lines = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    let metrics = || async {
        reqwest::get(format!("{}/metrics", app.metrics))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // Every label set these requests can reach, once.
    let send = |method: String, path: String| {
        let request = client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(&path),
        );
        async move { request.send().await.unwrap().status() }
    };
    for (method, path) in [("GET", "/nope"), ("XMADEUP", "/nope"), ("XMADEUP", "/")] {
        send(method.into(), path.into()).await;
    }
    let before = metrics().await;
    let long = "X".repeat(2_000);
    for i in 0..1_000 {
        send(format!("{long}{i}"), format!("/nope/{i}/{long}")).await;
        send(format!("M{i}"), "/".into()).await;
    }
    let after = metrics().await;
    assert_eq!(lines(&after), lines(&before), "no new series");
    // Only counts grew (a few digits), never a label.
    assert!(
        after.len() < before.len() + 200,
        "{} -> {} bytes",
        before.len(),
        after.len()
    );
    assert!(
        !after.contains("XMADEUP") && !after.contains("/nope"),
        "{after}"
    );
}

#[tokio::test]
async fn hostile_strangers_see_no_configuration_warnings() {
    // A real tenant's configuration that starts with a warning (an ignored credential
    // variable); on the embedded emulator the warnings are the developer's, shown to all.
    let emulator = emulator::Emulator::builder()
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let app = spawn_app(&[
        ("AZURE_AD_TENANT_ID", emulator::well_known::TENANT_ID),
        ("AZURE_AD_AUTHORITY_HOST", emulator.base_url()),
        (
            "AZURE_AD_CLIENT_ID",
            emulator::well_known::WEB_APP_CLIENT_ID,
        ),
        ("GRAPH_BASE_URL", &emulator.graph_base_url()),
        ("SESSION_STORE", "memory"),
        ("AZURE_AD_CLIENT_CREDENTIAL", "secret"),
        (
            "AZURE_AD_CLIENT_SECRET",
            emulator::well_known::WEB_APP_SECRET,
        ),
        (
            "AZURE_AD_MANAGED_IDENTITY_CLIENT_ID",
            "6a1f0c9e-3b7d-4e2a-9c55-0d8e2f4b7a19",
        ),
    ])
    .await;
    assert!(app.session().await.warnings.is_empty(), "anonymous");
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    let warnings = app.session().await.warnings;
    assert!(
        warnings.iter().any(|w| w.contains("are ignored")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn hostile_a_copy_of_the_session_database_holds_no_cookie_and_opens_no_session() {
    use tower_sessions_sqlx_store::sqlx;
    let app = spawn_app(&[]).await;
    let callback = app.sign_in(ADELE, "/", &mut Seen::default()).await;
    let cookie = crate::common::session_cookie(&callback);
    assert_eq!(
        app.signed_in_with_cookie(&cookie).await.as_deref(),
        Some("Adele Vance")
    );

    // The whole file, as a backup would copy it.
    let path = app.data_dir.join("sessions.sqlite3");
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains(&cookie),
        "the file holds the cookie"
    );
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM tower_sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    let indexed: Vec<String> = sqlx::query_scalar("SELECT session_id FROM bff_sid_sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(!ids.is_empty() && !indexed.is_empty());
    let guessable = crate::common::guessable_stored_ids(&cookie);
    for id in ids.iter().chain(&indexed) {
        assert!(
            !guessable.contains(id),
            "{id} is computable from the cookie without the key ring"
        );
        assert_eq!(
            app.signed_in_with_cookie(id).await,
            None,
            "{id} opened a session"
        );
    }
}
