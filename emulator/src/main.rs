//! `entra-emulator`: runs the Entra ID emulator.
//!
//! `entra-emulator --addr 127.0.0.1:3100 [--config FILE] [--data-dir DIR] [--tls-cert-out FILE]`

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use emulator::{Emulator, TlsConfig, World};

/// An offline Microsoft Entra ID emulator with On-Behalf-Of.
#[derive(Debug, Parser)]
#[command(name = "entra-emulator", version)]
struct Args {
    /// Address to listen on (loopback unless --allow-non-loopback).
    #[arg(long, default_value = "127.0.0.1:3100")]
    addr: SocketAddr,
    /// World config (JSON); default: the built-in well-known world.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory where signing keys persist across restarts.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Serve HTTPS with a generated certificate and write its PEM (CA + leaf) here.
    #[arg(long)]
    tls_cert_out: Option<PathBuf>,
    /// Allow binding a non-loopback address.
    #[arg(long)]
    allow_non_loopback: bool,
    /// Print the world (the built-in one, or --config's) as JSON and exit: a starting point for
    /// your own config file.
    #[arg(long)]
    dump_world: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("entra-emulator: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let world = match &args.config {
        Some(p) => World::from_file(p)?,
        None => World::well_known(),
    };
    if args.dump_world {
        println!("{}", serde_json::to_string_pretty(&world)?);
        return Ok(());
    }
    let tls = match &args.tls_cert_out {
        Some(path) => {
            let t = TlsConfig::generate()?;
            std::fs::write(path, &t.cert_pem)?;
            Some(t)
        }
        None => None,
    };
    let summary = summarize(&world);
    let emu = Emulator::builder()
        .world(world)
        .data_dir(args.data_dir.clone())
        .tls(tls)
        .allow_non_loopback(args.allow_non_loopback)
        .start(args.addr)
        .await?;
    println!("Entra ID emulator listening on {}", emu.base_url());
    if let Some(p) = &args.tls_cert_out {
        println!("TLS certificate (trust it): {}", p.display());
    }
    println!("Graph base URL: {}", emu.graph_base_url());
    print!("{summary}");
    for line in summary.lines().filter(|l| l.starts_with("tenant ")) {
        if let Some(id) = line.split_whitespace().nth(1) {
            println!("authority: {}", emu.authority(id));
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emu.shutdown().await;
    Ok(())
}

fn summarize(world: &World) -> String {
    let mut s = String::new();
    for t in &world.tenants {
        s.push_str(&format!("tenant {} ({})\n", t.id, t.domains.join(", ")));
        for a in &t.applications {
            s.push_str(&format!("  app   {}  {}\n", a.app_id, a.display_name));
        }
        for u in &t.users {
            s.push_str(&format!(
                "  user  {}  {}\n",
                u.user_principal_name, u.display_name
            ));
        }
    }
    s
}
