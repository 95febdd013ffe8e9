//! OBO benchmark: On-Behalf-Of exchanges per second and latency percentiles, against an
//! in-process emulator on a loopback port.
//!
//! `cargo run -p emulator --release --example obo_bench -- [COUNT] [CONCURRENCY] [MAX_SECS]`
//! (defaults 2000, 8, 30). Each exchange is what MSAL Node sends: the Weather API scope plus
//! `openid profile offline_access`, so it verifies one token and signs two (access + ID).

use std::time::{Duration, Instant};

use emulator::{Emulator, well_known as wk};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let count = args.first().copied().unwrap_or(2000);
    let concurrency = args.get(1).copied().unwrap_or(8).max(1);
    let max = Duration::from_secs(args.get(2).copied().unwrap_or(30));
    let emu = Emulator::builder().start("127.0.0.1:0".parse()?).await?;
    let token_url = format!("{}/oauth2/v2.0/token", emu.authority(wk::TENANT_ID));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let user: serde_json::Value = client
        .post(&token_url)
        .form(&[
            ("grant_type", "password"),
            ("client_id", wk::WEB_APP_CLIENT_ID),
            ("client_secret", wk::WEB_APP_SECRET),
            ("username", wk::ADELE),
            ("password", wk::USER_PASSWORD),
            ("scope", wk::WEB_APP_SCOPE),
        ])
        .send()
        .await?
        .json()
        .await?;
    let assertion = user["access_token"]
        .as_str()
        .ok_or("no user token")?
        .to_string();
    let scope = format!("{} openid profile offline_access", wk::WEATHER_API_SCOPE);
    let started = Instant::now();
    let per_task = count.div_ceil(concurrency);
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let (client, url, assertion, scope) = (
            client.clone(),
            token_url.clone(),
            assertion.clone(),
            scope.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_task as usize);
            for _ in 0..per_task {
                if started.elapsed() > max {
                    break;
                }
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .form(&[
                        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                        ("client_id", wk::WEB_APP_CLIENT_ID),
                        ("client_secret", wk::WEB_APP_SECRET),
                        ("assertion", assertion.as_str()),
                        ("requested_token_use", "on_behalf_of"),
                        ("scope", scope.as_str()),
                        ("client_info", "1"),
                    ])
                    .send()
                    .await
                    .expect("request");
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1];
    println!(
        "OBO exchanges: {} in {:.2}s with {concurrency} concurrent clients => {:.0} exchanges/s",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.last()
            .map(|d| d.as_secs_f64() * 1e3)
            .unwrap_or_default()
    );
    println!("emulator counted {} OBO requests", emu.stats().obo);
    emu.shutdown().await;
    Ok(())
}
