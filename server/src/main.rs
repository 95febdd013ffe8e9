//! The BFF server. Run it with `scripts/dev.sh` (`cargo leptos watch`); see the README.

use server::startup::Application;

#[tokio::main]
async fn main() -> std::process::ExitCode {
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
