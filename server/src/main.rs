//! The BFF server. Run it with `scripts/dev.sh` (`cargo leptos watch`); see the README.

use server::startup::Application;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::telemetry::init();
    let app = match Application::from_env().await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("{err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(
        "serving {} (listening on {})",
        app.config().public_url,
        app.local_addr()
    );
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("server stopped: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
