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
#[path = "support/load.rs"]
mod load;

use common::{ADELE, Seen, spawn_app};

fn main() {
    load::main((4000, 8), run);
}

async fn run(requests: usize, concurrency: usize) {
    let app = spawn_app(&[("SESSION_STORE", "sqlite"), ("RUST_LOG", "warn")]).await;
    app.sign_in(ADELE, "/", &mut Seen::default()).await;
    // Warm: the first view performs the one OBO exchange.
    let warm = app.page("/").await;
    assert!(
        warm.contains("Adele Vance"),
        "the page must show the profile"
    );
    app.reset_emulator_stats().await;

    let summary = load::views(
        &app.client,
        &[app.url("/")],
        requests,
        concurrency,
        "Adele Vance",
    )
    .await;
    let stats = app.emulator_stats().await;
    let idp_calls = stats["token_total"].as_u64().unwrap()
        + stats["discovery"].as_u64().unwrap()
        + stats["jwks"].as_u64().unwrap();
    println!("page views: {}", summary.line(concurrency));
    println!(
        "identity-provider calls: {idp_calls} (token endpoint {}, discovery {}, JWKS {}) = {:.2} per 1,000 page views; Graph calls {}",
        stats["token_total"],
        stats["discovery"],
        stats["jwks"],
        idp_calls as f64 * 1000.0 / summary.views as f64,
        stats["graph"],
    );
}
