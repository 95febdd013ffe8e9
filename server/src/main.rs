//! The BFF server. Run it with `scripts/dev.sh` (`cargo leptos watch`); see the README.

use server::startup::Application;

fn main() -> std::process::ExitCode {
    match runtime() {
        Ok(runtime) => runtime.block_on(serve()),
        Err(err) => {
            eprintln!("The server cannot start: no async runtime: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Tokio's multi-threaded runtime, as `#[tokio::main]` makes it, but with 8 MiB worker stacks
/// in debug builds: they lay the request futures out on the stack several times larger than
/// release builds do, and a sign-in needed about 1.6 MiB of the 2 MiB default in a debug
/// build (256 to 512 KiB in release), too close for `cargo leptos watch`.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if cfg!(debug_assertions) {
        builder.thread_stack_size(8 << 20);
    }
    builder.build()
}

async fn serve() -> std::process::ExitCode {
    // `.env` first: it may hold the OTEL_* and LOG_FORMAT settings too.
    let _ = dotenvy::dotenv();
    let telemetry = match server::telemetry::init() {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("The server cannot start: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let app = match Application::from_env().await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("{err}");
            telemetry.shutdown();
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(
        "serving {} (listening on {})",
        app.config().public_url,
        app.local_addr()
    );
    let code = match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("server stopped: {err}");
            std::process::ExitCode::FAILURE
        }
    };
    // The last spans (the exporter blocks while it sends them).
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    code
}
