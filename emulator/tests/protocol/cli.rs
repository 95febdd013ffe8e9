//! The `entra-emulator` binary: HTTPS with a generated certificate written for clients to trust,
//! the start-up summary, the data directory, and refusal of non-loopback addresses.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use crate::common::get_json_with;

/// The binary running on a free port with `--tls-cert-out` and `--data-dir` in a fresh folder;
/// killed, and the folder removed, when dropped.
struct Binary {
    child: std::process::Child,
    dir: PathBuf,
    /// The start-up summary, up to the `authority: ` line.
    summary: Vec<String>,
}

impl Binary {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("emu-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
            .args(["--addr", "127.0.0.1:0", "--tls-cert-out"])
            .arg(dir.join("cert.pem"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let summary = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .take_while(|l| !l.starts_with("authority: "))
                .collect::<Vec<_>>()
        });
        let mut binary = Self {
            child,
            dir,
            summary: vec![],
        };
        binary.summary = tokio::time::timeout(Duration::from_secs(30), summary)
            .await
            .unwrap()
            .unwrap();
        binary
    }

    /// The base URL of the `listening on` line.
    fn base_url(&self) -> &str {
        self.summary
            .iter()
            .find_map(|l| l.strip_prefix("Entra ID emulator listening on "))
            .expect("listening line")
    }

    /// A client that trusts the certificate the binary wrote.
    fn trusting_client(&self) -> reqwest::Client {
        let pem = std::fs::read(self.dir.join("cert.pem")).unwrap();
        let mut b = reqwest::Client::builder();
        for c in reqwest::Certificate::from_pem_bundle(&pem).unwrap() {
            b = b.add_root_certificate(c);
        }
        b.build().unwrap()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn the_binary_says_where_it_listens_over_https_and_who_may_sign_in() {
    let binary = Binary::start().await;
    assert!(binary.base_url().starts_with("https://127.0.0.1:"));
    let adele = emulator::well_known::ADELE;
    assert!(
        binary.summary.iter().any(|l| l.contains(adele)),
        "{:?}",
        binary.summary
    );
}

#[tokio::test]
async fn the_binary_serves_https_that_its_written_certificate_lets_clients_trust() {
    let binary = Binary::start().await;
    let base = binary.base_url();
    let url = format!("{base}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration");
    let doc = get_json_with(&binary.trusting_client(), url).await;
    let issuer = format!("{base}/3dac8762-d1be-44f2-861a-a7e2aafdfc78/v2.0");
    assert_eq!(doc["issuer"], issuer);
}

#[tokio::test]
async fn the_binary_keeps_its_signing_keys_in_the_data_dir() {
    let binary = Binary::start().await;
    assert!(binary.dir.join("data/signing-keys.json").exists());
}

#[test]
fn the_binary_refuses_a_non_loopback_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .args(["--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-loopback"));
}
