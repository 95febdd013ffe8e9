//! The BFF server. Run it with `cargo leptos watch` (see the README).

use server::startup::Application;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::telemetry::init();
    match Application::build().await {
        Ok(app) => {
            tracing::info!("listening on http://{}", app.local_addr());
            if let Err(err) = app.run_until_stopped().await {
                tracing::error!("server stopped: {err}");
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            std::process::ExitCode::FAILURE
        }
    }
}
