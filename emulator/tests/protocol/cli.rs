//! The `entra-emulator` binary: HTTPS with a generated certificate written for clients to trust,
//! the start-up summary, and refusal of non-loopback addresses.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_https_and_prints_the_authority() {
    let dir = std::env::temp_dir().join(format!("emu-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
            .args(["--addr", "127.0.0.1:0", "--tls-cert-out"])
            .arg(&cert)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take_while(|l| !l.starts_with("authority: "))
            .collect::<Vec<_>>()
    });
    let lines = tokio::time::timeout(Duration::from_secs(30), lines)
        .await
        .unwrap()
        .unwrap();
    let base = lines
        .iter()
        .find_map(|l| l.strip_prefix("Entra ID emulator listening on "))
        .expect("listening line")
        .to_string();
    assert!(base.starts_with("https://127.0.0.1:"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(emulator::well_known::ADELE))
    );
    let pem = std::fs::read(&cert).unwrap();
    let mut b = reqwest::Client::builder();
    for c in reqwest::Certificate::from_pem_bundle(&pem).unwrap() {
        b = b.add_root_certificate(c);
    }
    let doc: serde_json::Value = b
        .build()
        .unwrap()
        .get(format!(
            "{base}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["issuer"],
        format!("{base}/3dac8762-d1be-44f2-861a-a7e2aafdfc78/v2.0")
    );
    assert!(dir.join("data/signing-keys.json").exists());
    drop(child);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn binary_refuses_a_non_loopback_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .args(["--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-loopback"));
}
