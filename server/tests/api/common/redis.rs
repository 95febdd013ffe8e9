//! A real Redis server for a test: Debian's `redis-server` on a free loopback port, in its
//! own directory, stopped when the test ends (`scripts/setup.sh --test` installs it); and a
//! deployment of several BFF instances sharing it.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine as _;
use emulator::{Emulator, RunningEmulator, World, well_known as wk};
pub use fred::prelude::{ClientLike, KeysInterface};

use super::{TestApp, spawn_app};

pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    /// Append-only file with a sync per write: a crash loses nothing.
    durable: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// A Redis without persistence.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// A Redis that keeps every write on disk, for tests that stop and start it.
    pub fn start_durable() -> Self {
        Self::launch(true)
    }

    fn launch(durable: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("bff-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            port,
            dir,
            durable,
            child: None,
        };
        server.resume();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory (a durable server has its data back).
    pub fn resume(&mut self) {
        let appendonly = if self.durable { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                appendonly,
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: run scripts/setup.sh --test");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client of this server, for looking at (and tampering with) what the app stored.
    pub async fn client(&self) -> fred::prelude::Client {
        let config = fred::prelude::Config::from_url(&self.url()).unwrap();
        let client = fred::prelude::Builder::from_config(config).build().unwrap();
        client.init().await.unwrap();
        client
    }

    /// Every key matching `pattern`.
    pub async fn keys(&self, pattern: &str) -> Vec<String> {
        let client = self.client().await;
        let keys: Vec<String> = client
            .custom(fred::cmd!("KEYS"), vec![pattern.to_owned()])
            .await
            .unwrap();
        keys
    }

    /// The members of the set `key`.
    pub async fn members(&self, key: &str) -> Vec<String> {
        self.client()
            .await
            .custom(fred::cmd!("SMEMBERS"), vec![key.to_owned()])
            .await
            .unwrap()
    }

    /// The raw bytes stored under `key`.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.client().await.get(key).await.unwrap()
    }

    pub async fn set(&self, key: &str, value: Vec<u8>) {
        let _: () = self
            .client()
            .await
            .set(
                key,
                value.as_slice(),
                None,
                Some(fred::types::SetOptions::XX),
                false,
            )
            .await
            .unwrap();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A session encryption key: 32 bytes of `byte`, in base64.
pub fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

/// One emulator (the tenant), its Weather API, and one Redis: what every instance shares.
pub struct Deployment {
    pub redis: RedisServer,
    pub emulator: RunningEmulator,
    weather_api: String,
    graph: String,
}

impl Deployment {
    pub async fn start(redis: RedisServer) -> Self {
        let emulator = Emulator::builder()
            .world(World::well_known())
            .start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let authority = url::Url::parse(emulator.base_url()).unwrap();
        let weather_api = server::startup::start_weather_api(
            "127.0.0.1:0".parse().unwrap(),
            &authority,
            wk::TENANT_ID,
            None,
            listener::Limits::default(),
        )
        .await
        .unwrap();
        Self {
            redis,
            graph: emulator.graph_base_url(),
            emulator,
            weather_api: weather_api.to_string(),
        }
    }

    /// One more instance of the BFF, sealing with `keys`.
    pub async fn instance(&self, keys: &str) -> TestApp {
        self.instance_with(keys, &[]).await
    }

    pub async fn instance_with(&self, keys: &str, more: &[(&str, &str)]) -> TestApp {
        let redis = self.redis.url();
        let mut vars = vec![
            ("AZURE_AD_TENANT_ID", wk::TENANT_ID),
            ("AZURE_AD_AUTHORITY_HOST", self.emulator.base_url()),
            ("AZURE_AD_CLIENT_ID", wk::WEB_APP_CLIENT_ID),
            ("AZURE_AD_CLIENT_SECRET", wk::WEB_APP_SECRET),
            ("GRAPH_BASE_URL", &self.graph),
            ("DOWNSTREAM_API_URL", &self.weather_api),
            ("SESSION_STORE", "redis"),
            ("REDIS_URL", &redis),
            ("SESSION_ENCRYPTION_KEYS", keys),
        ];
        vars.extend_from_slice(more);
        spawn_app(&vars).await
    }

    /// Two instances; the browser's cookie (host-only, `localhost`) goes to both, as behind
    /// a load balancer.
    pub async fn two(&self) -> (TestApp, TestApp) {
        let keys = key(1);
        let a = self.instance(&keys).await;
        let mut b = self.instance(&keys).await;
        b.client = a.client.clone();
        (a, b)
    }
}
