//! Builds the axum application and binds its listener.

use std::net::SocketAddr;

use app::{App, shell};
use axum::{Router, serve::ListenerExt};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;

/// A bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Reads the Leptos options (from `LEPTOS_*` variables or Cargo.toml) and binds the
    /// listener.
    pub async fn build() -> Result<Self, std::io::Error> {
        let conf = get_configuration(None).map_err(std::io::Error::other)?;
        let options = conf.leptos_options;
        let listener = TcpListener::bind(&options.site_addr).await.map_err(|err| {
            std::io::Error::new(
                err.kind(),
                format!(
                    "cannot listen on {}: {err}. Is another server running there? \
                     Set LEPTOS_SITE_ADDR to use another address.",
                    options.site_addr
                ),
            )
        })?;
        Ok(Self { listener, router: router(options) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        // Nagle's algorithm delays small static-file responses by ~40 ms each.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown_signal())
            .await
    }
}

/// The routes: Leptos pages and server functions, then static files.
pub fn router(options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .leptos_routes(&options, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            sig.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
