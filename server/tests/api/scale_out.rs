//! Several instances behind one load balancer, sharing one real Redis: a session started
//! on one instance is served by any other, one refresh and one exchange serve the whole
//! deployment, sign-out is everywhere, restarts and key rotation sign nobody out, and a
//! Redis outage is a 503 that loses nothing.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    ADELE, AppError, MEGAN, ProblemAction, Seen, TestApp, contains_jwt,
    redis::{ClientLike as _, Deployment, RedisServer, key},
    start_error,
};

/// `app`, used from `browser`'s cookie jar.
fn as_browser(mut app: TestApp, browser: &TestApp) -> TestApp {
    app.client = browser.client.clone();
    app
}

async fn signed_in_name(app: &TestApp) -> Option<String> {
    app.session().await.user.map(|user| user.name)
}

#[tokio::test]
async fn a_session_started_on_one_instance_is_served_by_another_and_sealed_in_redis() {
    let deployment = Deployment::start(RedisServer::start()).await;
    let (a, b) = deployment.two().await;
    a.sign_in(ADELE, "/", &mut Seen::default()).await;

    assert_eq!(signed_in_name(&b).await.as_deref(), Some("Adele Vance"));
    let profile = b.profile().await;
    assert_eq!(profile.user_principal_name.as_deref(), Some(ADELE));
    let tokens = b.ok("tokens").await;
    assert!(tokens.to_string().contains("access_as_user"), "{tokens}");

    // What Redis holds is ciphertext: no token, no name.
    let keys = deployment.redis.keys("*").await;
    assert!(keys.iter().any(|k| k.starts_with("bff:obo:")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("bff:sid:")), "{keys:?}");
    for k in &keys {
        let text = if k.starts_with("bff:obo-user:") || k.starts_with("bff:sid:") {
            // Sets: of key names, and of the sessions a sign-in opened.
            Some(deployment.redis.members(k).await.join("\n"))
        } else {
            deployment
                .redis
                .get(k)
                .await
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        };
        if let Some(text) = text {
            assert!(!contains_jwt(&text), "{k} holds a token in clear");
            assert!(
                !text.contains("Adele"),
                "{k} holds the user's name in clear"
            );
        }
    }
}

#[tokio::test]
async fn fifty_concurrent_calls_over_two_instances_make_one_refresh_and_one_obo_per_resource() {
    let deployment = Deployment::start(RedisServer::start()).await;
    let (a, b) = deployment.two().await;
    // 12-second sign-in tokens: renewed when 5 s or less are left.
    a.admin("lifetimes", json!({ "access_token": 12 })).await;
    a.sign_in(ADELE, "/", &mut Seen::default()).await;
    tokio::time::sleep(Duration::from_millis(7_500)).await;
    a.reset_emulator_stats().await;

    let calls = (0..50).map(|i| {
        let instance = if i % 2 == 0 { &a } else { &b };
        instance.server_fn(if i % 4 < 2 { "profile" } else { "call-api" })
    });
    for response in futures::future::join_all(calls).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    let stats = a.emulator_stats().await;
    assert_eq!(
        stats["refresh_token"], 1,
        "one refresh in the deployment: {stats}"
    );
    assert_eq!(stats["obo"], 2, "one exchange per resource: {stats}");
    let exchanges = a.metric("bff_obo_exchanges_total", "").await
        + b.metric("bff_obo_exchanges_total", "").await;
    assert_eq!(exchanges, 2.0);
}

#[tokio::test]
async fn fifty_calls_as_the_app_over_two_instances_make_one_client_credentials_request() {
    let deployment = Deployment::start(RedisServer::start()).await;
    let echo = crate::common::apis::echo_api().await;
    let scope = format!("{}/.default", emulator::well_known::WEATHER_API_ID_URI);
    let more = [
        ("DOWNSTREAM_API__REPORTS__BASE_URL", echo.as_str()),
        ("DOWNSTREAM_API__REPORTS__SCOPES", scope.as_str()),
        ("DOWNSTREAM_API__REPORTS__AS", "app"),
    ];
    let a = deployment.instance_with(&key(1), &more).await;
    let b = as_browser(deployment.instance_with(&key(1), &more).await, &a);
    a.sign_in(ADELE, "/", &mut Seen::default()).await;
    a.reset_emulator_stats().await;
    let calls = (0..50).map(|i| {
        let instance = if i % 2 == 0 { &a } else { &b };
        instance.proxied("/api/downstream/reports/things")
    });
    for response in futures::future::join_all(calls).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    let stats = a.emulator_stats().await;
    assert_eq!(
        stats["client_credentials"], 1,
        "one app-only token for the deployment: {stats}"
    );
    // Shared with every user, so a user's sign-out keeps it.
    assert!(b.sign_out().await.status().is_redirection());
    assert_eq!(deployment.redis.keys("bff:obo:*").await.len(), 1);
}

#[tokio::test]
async fn signing_out_on_one_instance_signs_out_everywhere_and_purges_the_shared_tokens() {
    let deployment = Deployment::start(RedisServer::start()).await;
    let (a, b) = deployment.two().await;
    a.sign_in(ADELE, "/", &mut Seen::default()).await;
    a.profile().await;
    b.ok("call-api").await;
    assert_eq!(deployment.redis.keys("bff:obo:*").await.len(), 2);

    assert!(b.sign_out().await.status().is_redirection());

    assert_eq!(signed_in_name(&a).await, None);
    let profile = a.server_fn("profile").await;
    assert_eq!(profile.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        deployment.redis.keys("bff:obo*").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn the_identity_providers_sign_out_on_one_instance_ends_the_session_everywhere() {
    let deployment = Deployment::start(RedisServer::start()).await;
    let (a, b) = deployment.two().await;
    let sid = a.sign_in_with_sid(ADELE).await;
    a.profile().await;
    assert_eq!(deployment.redis.keys("bff:sid:*").await.len(), 1);

    // The front-channel call reaches B, from a frame without cookies.
    let answer = crate::common::browser()
        .get(b.url(&format!("/auth/frontchannel-logout?sid={sid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    assert_eq!(signed_in_name(&a).await, None);
    assert_eq!(
        deployment.redis.keys("bff:obo*").await,
        Vec::<String>::new()
    );
    assert_eq!(
        deployment.redis.keys("bff:sid:*").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn restarting_every_instance_signs_nobody_out() {
    let deployment = Deployment::start(RedisServer::start()).await;
    let (a, b) = deployment.two().await;
    a.sign_in(ADELE, "/", &mut Seen::default()).await;
    a.profile().await;
    a.stop().await;
    b.stop().await;

    let (a2, b2) = deployment.two().await;
    let (a2, b2) = (as_browser(a2, &a), as_browser(b2, &a));
    assert_eq!(signed_in_name(&a2).await.as_deref(), Some("Adele Vance"));
    a2.profile().await;
    b2.ok("call-api").await;
    // The new instances' own caches were empty: the shared tier served one of the two.
    assert_eq!(
        a2.metric("bff_obo_cache_hits_total", "tier=\"redis\"")
            .await,
        1.0
    );
}

#[tokio::test]
async fn a_rotated_key_ring_keeps_sessions_and_a_dropped_key_signs_out_cleanly() {
    let deployment = Deployment::start(RedisServer::start()).await;
    let old = deployment.instance(&key(1)).await;
    old.sign_in(ADELE, "/", &mut Seen::default()).await;

    // The new key first, the old one still listed: the session opens.
    let rotated = as_browser(
        deployment.instance(&format!("{},{}", key(2), key(1))).await,
        &old,
    );
    assert_eq!(
        signed_in_name(&rotated).await.as_deref(),
        Some("Adele Vance")
    );
    rotated.profile().await;
    // A rolling deploy: an instance that holds the new key second serves the sessions that
    // instances holding it first create, and the other way round.
    let megan = deployment.instance(&format!("{},{}", key(2), key(1))).await;
    megan.sign_in(MEGAN, "/", &mut Seen::default()).await;
    let not_yet = as_browser(
        deployment.instance(&format!("{},{}", key(1), key(2))).await,
        &megan,
    );
    assert_eq!(
        signed_in_name(&not_yet).await.as_deref(),
        Some("Megan Bowen")
    );
    not_yet.profile().await;
    assert_eq!(
        signed_in_name(&megan).await.as_deref(),
        Some("Megan Bowen"),
        "a save on the instance not yet rotated kept the session where it was"
    );

    // The old key dropped: its sessions read as signed out, not as an error.
    let dropped = as_browser(deployment.instance(&key(2)).await, &old);
    assert_eq!(signed_in_name(&dropped).await, None);
    let home = dropped.client.get(dropped.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    // And signing in again works under the new ring.
    dropped.sign_in(ADELE, "/", &mut Seen::default()).await;
    assert_eq!(
        signed_in_name(&dropped).await.as_deref(),
        Some("Adele Vance")
    );
}

#[tokio::test]
async fn a_tampered_record_reads_as_signed_out_not_a_500() {
    let deployment = Deployment::start(RedisServer::start()).await;
    let app = deployment.instance(&key(1)).await;
    for tamper in [flip_a_sealed_byte as fn(Vec<u8>) -> Vec<u8>, |_| {
        b"not msgpack".to_vec()
    }] {
        app.sign_in(ADELE, "/", &mut Seen::default()).await;
        let sessions: Vec<String> = deployment
            .redis
            .keys("*")
            .await
            .into_iter()
            .filter(|k| !k.starts_with("bff:"))
            .collect();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        let stored = deployment.redis.get(&sessions[0]).await.unwrap();
        deployment.redis.set(&sessions[0], tamper(stored)).await;

        let home = app.get("/tokens").await;
        assert_eq!(home.status(), StatusCode::OK);
        assert_eq!(signed_in_name(&app).await, None);
        assert_eq!(
            app.server_fn("profile").await.status(),
            StatusCode::UNAUTHORIZED
        );
        deployment
            .redis
            .client()
            .await
            .flushall::<()>(false)
            .await
            .unwrap();
    }
}

/// Changes one character of the sealed text inside the stored record.
fn flip_a_sealed_byte(mut stored: Vec<u8>) -> Vec<u8> {
    let at = stored
        .windows(3)
        .position(|w| w == b"v2.")
        .expect("a sealed record")
        + 30;
    stored[at] = if stored[at] == b'A' { b'B' } else { b'A' };
    stored
}

#[tokio::test]
async fn a_redis_outage_answers_503_and_nothing_is_lost_when_it_returns() {
    let mut deployment = Deployment::start(RedisServer::start_durable()).await;
    let app = deployment
        .instance_with(&key(1), &[("REDIS_TIMEOUT_MS", "300")])
        .await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    app.profile().await;

    deployment.redis.kill();
    let failed = app.server_fn("profile").await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(failed.headers().contains_key("retry-after"));
    let body: Value = failed.json().await.unwrap();
    let AppError::Problem(problem) = serde_json::from_value(body.clone()).unwrap() else {
        panic!("{body}");
    };
    assert_eq!(problem.title, "The session store is unavailable");
    assert_eq!(problem.action, ProblemAction::Retry);
    let page = app.get("/tokens").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = page.text().await.unwrap();
    assert!(html.contains("you are still signed in"), "{html}");
    let ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let alive = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
    assert!(app.metric("bff_session_store_errors_total", "").await > 0.0);

    // Redis comes back: the instance reconnects by itself; the session was never lost.
    deployment.redis.resume();
    let mut ready = false;
    for _ in 0..100 {
        let probe = reqwest::get(app.url("/readyz")).await.unwrap();
        if probe.status() == StatusCode::OK {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the instance did not reconnect to Redis");
    assert_eq!(signed_in_name(&app).await.as_deref(), Some("Adele Vance"));
    app.profile().await;
}

#[tokio::test]
async fn an_unreachable_redis_stops_start_with_the_fix() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://app:s3cret@127.0.0.1:{closed}");
    let err = start_error(&[
        ("SESSION_STORE", "redis"),
        ("REDIS_URL", &url),
        ("REDIS_TIMEOUT_MS", "500"),
    ])
    .await;
    assert!(err.contains("did not answer"), "{err}");
    assert!(err.contains("REDIS_URL"), "{err}");
    assert!(!err.contains("s3cret"), "the password leaked: {err}");
}

#[tokio::test]
async fn a_users_token_index_outlives_its_longest_token_and_ended_sign_ins_leave_the_sid_set() {
    use server::store::{
        redis::Shared,
        sealed::KeyRing,
        sid_index::{Opened, SidIndex},
    };
    let redis = RedisServer::start();
    let settings = server::config::RedisSettings {
        url: redis.url(),
        timeout: Duration::from_secs(2),
    };
    let pool = server::store::redis::connect(&settings).await.unwrap();
    let ring = std::sync::Arc::new(KeyRing::new(&[[7; 32]]));
    let metrics = std::sync::Arc::new(server::metrics::Metrics::default());
    let shared = Shared::new(pool.clone(), ring, metrics);
    let index = "bff:obo-user:t:o";
    let long = Duration::from_secs(7_200);
    shared
        .obo_put(index, "bff:obo:t:o:long", "a", long)
        .await
        .unwrap();
    // A later, shorter-lived token must not shorten the index (sign-out reads it).
    shared
        .obo_put(index, "bff:obo:t:o:short", "b", Duration::from_secs(60))
        .await
        .unwrap();
    let client = redis.client().await;
    let ttl: i64 = client
        .custom(fred::cmd!("TTL"), vec![index.to_owned()])
        .await
        .unwrap();
    assert!(
        ttl > 7_200,
        "the index expires in {ttl} s, before the 2-hour token"
    );

    let sids = SidIndex::redis(pool, "client");
    let now = 1_900_000_000;
    let opened = |session: &str, expires_at: i64| Opened {
        session_id: session.into(),
        tenant_id: "t".into(),
        object_id: "o".into(),
        expires_at,
    };
    sids.record("sid", opened("ended", now - 10), now - 100)
        .await
        .unwrap();
    sids.record("sid", opened("live", now + 3_600), now)
        .await
        .unwrap();
    let members = redis.members("bff:sid:client:sid").await;
    assert_eq!(
        members.len(),
        1,
        "the ended session left the set: {members:?}"
    );
    assert!(members[0].contains("live"), "{members:?}");
}

#[tokio::test]
async fn a_save_after_a_sign_out_does_not_revive_the_session_in_redis() {
    use tower_sessions::{
        SessionStore,
        session::{Id, Record},
    };
    let redis = RedisServer::start();
    let settings = server::config::RedisSettings {
        url: redis.url(),
        timeout: Duration::from_secs(2),
    };
    let pool = server::store::redis::connect(&settings).await.unwrap();
    let store = server::store::conditional::ConditionalRedis::new(pool);
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
            + tower_sessions::cookie::time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    // A request that loaded the session before the sign-out saves it after.
    store.delete(&record.id).await.unwrap();
    store.save(&record).await.unwrap();
    assert!(
        store.load(&record.id).await.unwrap().is_none(),
        "SET ... XX"
    );
}

#[tokio::test]
async fn a_dump_of_redis_holds_no_cookie_and_opens_no_session() {
    let deployment = Deployment::start(RedisServer::start()).await;
    let (a, _) = deployment.two().await;
    let callback = a.sign_in(ADELE, "/", &mut Seen::default()).await;
    let cookie = crate::common::session_cookie(&callback);
    a.profile().await;
    assert_eq!(
        a.signed_in_with_cookie(&cookie).await.as_deref(),
        Some("Adele Vance")
    );

    let guessable = crate::common::guessable_stored_ids(&cookie);
    let mut candidates = Vec::new();
    for k in deployment.redis.keys("*").await {
        assert!(!k.contains(&cookie), "the key {k} holds the cookie");
        assert!(
            !guessable.iter().any(|g| k.contains(g.as_str())),
            "the key {k} is computable from the cookie without the key ring"
        );
        let values = if k.starts_with("bff:obo-user:") || k.starts_with("bff:sid:") {
            deployment.redis.members(&k).await
        } else {
            let bytes = deployment.redis.get(&k).await.unwrap_or_default();
            vec![String::from_utf8_lossy(&bytes).into_owned()]
        };
        for value in values {
            assert!(!value.contains(&cookie), "{k} holds the cookie");
            assert!(
                !guessable.iter().any(|g| value.contains(g.as_str())),
                "{k} holds an id computable from the cookie without the key ring"
            );
            // The sign-in index's entries name sessions: by their stored id.
            if let Ok(opened) = serde_json::from_str::<Value>(&value)
                && let Some(id) = opened["session_id"].as_str()
            {
                candidates.push(id.to_owned());
            }
        }
        candidates.push(k.rsplit(':').next().unwrap_or(&k).to_owned());
    }
    assert!(candidates.len() > 3, "{candidates:?}");
    for candidate in candidates {
        assert_eq!(
            a.signed_in_with_cookie(&candidate).await,
            None,
            "{candidate} opened a session"
        );
    }
}
