//! The benchmarks' load loop: a bounded number of `GET`s from a few concurrent clients
//! (60 s at most), spread over one or more URLs, with latency percentiles.

use std::time::{Duration, Instant};

/// Runs a benchmark's `run(requests, clients)` on a multi-threaded runtime, with the two
/// numbers from the command line (`-- REQUESTS CLIENTS`) or the defaults.
pub fn main<F: Future<Output = ()>>(defaults: (usize, usize), run: impl FnOnce(usize, usize) -> F) {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with('-')).collect();
    let number = |i: usize, default| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (requests, clients) = (number(1, defaults.0), number(2, defaults.1));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(requests, clients));
}

pub struct Summary {
    pub views: usize,
    pub elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Summary {
    pub fn per_second(&self) -> f64 {
        self.views as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        let i = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1);
        self.latencies[i]
    }

    /// `N views in S s with C clients -> R req/s; p50, p99, max`.
    pub fn line(&self, clients: usize) -> String {
        format!(
            "{} views in {:.2} s with {clients} clients -> {:.0} req/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.views,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.latencies.last().unwrap().as_secs_f64() * 1e3,
        )
    }
}

/// `requests` GETs from `clients` concurrent workers, worker `i` using `urls[i % len]`; each
/// answer must contain `expect`.
pub async fn views(
    client: &reqwest::Client,
    urls: &[String],
    requests: usize,
    clients: usize,
    expect: &'static str,
) -> Summary {
    let deadline = Instant::now() + Duration::from_secs(60);
    let started = Instant::now();
    let per_worker = requests / clients;
    let mut workers = Vec::new();
    for i in 0..clients {
        let client = client.clone();
        let url = urls[i % urls.len()].clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                if Instant::now() > deadline {
                    break;
                }
                let t = Instant::now();
                let body = client.get(&url).send().await.unwrap().text().await.unwrap();
                latencies.push(t.elapsed());
                assert!(body.contains(expect), "{url} did not show {expect:?}");
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
    Summary {
        views: latencies.len(),
        elapsed,
        latencies,
    }
}
