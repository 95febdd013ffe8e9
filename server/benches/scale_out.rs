//! Benchmark: the warm signed-in page view on each session store, and with two instances.
//!
//! One emulator, one Weather API and one real Redis (`redis-server` on a free port) shared
//! by every instance. In one run: the home page on SQLite (one instance), on Redis (one
//! instance) and on Redis behind two instances (clients spread over both); the Redis
//! commands one warm page view costs (Redis's own `INFO commandstats`); and the OBO
//! exchanges the identity provider sees when two cold instances serve the same user.
//!
//! `cargo bench -p server --bench scale_out -- [REQUESTS] [CLIENTS]` (default 4000, 8).

#[path = "../tests/api/common/mod.rs"]
mod common;
#[path = "support/load.rs"]
mod load;

use common::{
    ADELE, Seen, TestApp,
    redis::{ClientLike as _, Deployment, RedisServer, key},
};

fn main() {
    load::main((4000, 8), run);
}

async fn run(requests: usize, clients: usize) {
    let deployment = Deployment::start(RedisServer::start()).await;
    let keys = key(1);

    // SQLite: one instance, the same emulator and Weather API.
    let sqlite = deployment
        .instance_with(&keys, &[("SESSION_STORE", "sqlite"), ("RUST_LOG", "warn")])
        .await;
    let summary = warm_views(&sqlite, &[&sqlite], requests, clients).await;
    println!("sqlite, 1 instance: {}", summary.line(clients));

    // Redis: one instance, with the commands each view sends.
    let a = deployment
        .instance_with(&keys, &[("RUST_LOG", "warn")])
        .await;
    a.sign_in(ADELE, "/", &mut Seen::default()).await;
    let redis = deployment.redis.client().await;
    let summary = {
        warm(&[&a]).await;
        let _: () = redis
            .custom(fred::cmd!("CONFIG"), vec!["RESETSTAT"])
            .await
            .unwrap();
        load::views(&a.client, &[a.url("/")], requests, clients, "Adele Vance").await
    };
    let stats: String = redis
        .custom(fred::cmd!("INFO"), vec!["commandstats"])
        .await
        .unwrap();
    println!("redis, 1 instance: {}", summary.line(clients));
    println!(
        "redis commands per warm page view: {}",
        per_view(&stats, summary.views)
    );

    // Redis: two instances, cold; the user's first views go to both.
    let mut b = deployment
        .instance_with(&keys, &[("RUST_LOG", "warn")])
        .await;
    b.client = a.client.clone();
    let fresh_a = deployment
        .instance_with(&keys, &[("RUST_LOG", "warn")])
        .await;
    let mut fresh_a = fresh_a;
    fresh_a.client = a.client.clone();
    // A new sign-in: a new assertion, so no cached token serves it anywhere yet.
    a.sign_in(ADELE, "/", &mut Seen::default()).await;
    a.reset_emulator_stats().await;
    warm(&[&fresh_a, &b]).await;
    let stats = a.emulator_stats().await;
    println!(
        "OBO exchanges for one user's first views on 2 instances (Graph and the Weather API): {}",
        stats["obo"]
    );
    let summary = load::views(
        &a.client,
        &[fresh_a.url("/"), b.url("/")],
        requests,
        clients,
        "Adele Vance",
    )
    .await;
    println!("redis, 2 instances: {}", summary.line(clients));
}

/// Signs Adele in on `first` and warms every instance's caches with one view and one API
/// call each; then the measured views of `/` over `instances`.
async fn warm_views(
    first: &TestApp,
    instances: &[&TestApp],
    requests: usize,
    clients: usize,
) -> load::Summary {
    first.sign_in(ADELE, "/", &mut Seen::default()).await;
    warm(instances).await;
    let urls: Vec<String> = instances.iter().map(|i| i.url("/")).collect();
    load::views(&first.client, &urls, requests, clients, "Adele Vance").await
}

/// One view and one API call on each instance (each with the browser's cookie jar).
async fn warm(instances: &[&TestApp]) {
    for instance in instances {
        assert!(instance.page("/").await.contains("Adele Vance"));
        instance.ok("call-api").await;
    }
}

/// `get 1.00, set 0.00`: calls per view of each command in `INFO commandstats`.
fn per_view(info: &str, views: usize) -> String {
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let calls: f64 = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            (!name.starts_with("info") && !name.starts_with("config"))
                .then(|| format!("{name} {:.2}", calls / views as f64))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
