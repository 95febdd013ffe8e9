//! Benchmark: authenticated page views with a warm token cache.
//!
//! Starts the server with the embedded emulator on free loopback ports, signs Adele in,
//! warms the OBO cache, then sends a bounded number of `GET /` (server-rendered home page:
//! session, OBO token from the cache, Graph /me at the emulator) from a few concurrent
//! clients. Reports requests/s, latency percentiles and the identity provider's token
//! calls per 1,000 page views (counted by the emulator).
//!
//! `cargo bench -p server --bench page_view -- [REQUESTS] [CONCURRENCY]` (default 4000, 8).

#[path = "../tests/api/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ADELE, Seen, spawn_app};

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with('-')).collect();
    let requests: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4000);
    let concurrency: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(requests, concurrency));
}

async fn run(requests: usize, concurrency: usize) {
    let app = spawn_app(&[("SESSION_STORE", "sqlite"), ("RUST_LOG", "warn")]).await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    // Warm: the first view performs the one OBO exchange.
    let warm = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        warm.contains("Adele Vance"),
        "the page must show the profile"
    );
    app.reset_emulator_stats().await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let started = Instant::now();
    let per_worker = requests / concurrency;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = app.client.clone();
        let url = app.url("/");
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                if Instant::now() > deadline {
                    break;
                }
                let t = Instant::now();
                let body = client.get(&url).send().await.unwrap().text().await.unwrap();
                latencies.push(t.elapsed());
                assert!(body.contains("Adele Vance"));
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let stats = app.emulator_stats().await;
    let idp_calls = stats["token_total"].as_u64().unwrap()
        + stats["discovery"].as_u64().unwrap()
        + stats["jwks"].as_u64().unwrap();
    println!(
        "page views: {} in {:.2} s with {concurrency} clients -> {:.0} req/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    println!(
        "identity-provider calls: {idp_calls} (token endpoint {}, discovery {}, JWKS {}) = {:.2} per 1,000 page views; Graph calls {}",
        stats["token_total"],
        stats["discovery"],
        stats["jwks"],
        idp_calls as f64 * 1000.0 / latencies.len() as f64,
        stats["graph"],
    );
}
