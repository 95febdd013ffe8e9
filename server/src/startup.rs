//! Builds the application: configuration, the identity provider (embedded emulator or a
//! tenant), sessions, tokens, and the axum router with Leptos. Tests call
//! [`Application::build`] with their own variables and a listener on port 0.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use app::{App, api::port::Bff, shell};
use axum::{Router, middleware, serve::ListenerExt};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use url::Url;

use crate::{
    bff::BffService,
    config::{Config, ConfigError, DownstreamLocation, IdentityProvider},
    csrf,
    entra::{EntraClient, IdpError, ProviderMetadata, client::http_client},
    headers::{self, Https},
    metrics::Metrics,
    profiles::ProfileCache,
    routes::{
        auth::{self, AuthState},
        health::Probes,
    },
    store::Stores,
    telemetry::http::Traceparent,
    tokens::TokenService,
};

/// The OBO token cache's default bound: 64 MiB of keys and tokens (tens of thousands of
/// users).
const TOKEN_CACHE_MAX_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "cannot listen on {addr}: {source}. Is another server running there? Set LEPTOS_SITE_ADDR to use another address."
    )]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(
        "the embedded Entra ID emulator did not start: {0}. Set EMULATOR_ADDR to a free loopback address, or set AZURE_AD_TENANT_ID to use a real tenant."
    )]
    Emulator(String),
    #[error(
        "the identity provider's discovery document could not be read: {0}. Check AZURE_AD_AUTHORITY_HOST and AZURE_AD_TENANT_ID."
    )]
    Discovery(IdpError),
    #[error("the session store could not be opened: {0}")]
    SessionStore(String),
    #[error("the Leptos options could not be read: {0}")]
    Leptos(String),
}

/// A bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// `/metrics`, on its own address (`METRICS_ADDR`).
    metrics_listener: TcpListener,
    metrics_router: Router,
    config: Arc<Config>,
    tokens: Arc<TokenService>,
    #[cfg(feature = "embedded-emulator")]
    emulator: Option<emulator::RunningEmulator>,
}

impl Application {
    /// Builds from the process environment (and `.env`), on `LEPTOS_SITE_ADDR`.
    pub async fn from_env() -> Result<Self, StartError> {
        let _ = dotenvy::dotenv();
        let vars: HashMap<String, String> = std::env::vars().collect();
        let mut conf = get_configuration(None).map_err(|e| StartError::Leptos(e.to_string()))?;
        crate::assets::detect_hashed_files(&mut conf.leptos_options);
        let addr = conf.leptos_options.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        Self::build(&vars, conf.leptos_options, listener).await
    }

    /// Builds from explicit variables and an already bound listener.
    pub async fn build(
        vars: &HashMap<String, String>,
        leptos_options: LeptosOptions,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        let mut config = Config::from_vars(vars)?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(3000);
        if !vars.contains_key("APP_URL") {
            config.public_url = Url::parse(&format!("http://localhost:{port}")).expect("valid");
        }
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }

        #[cfg(feature = "embedded-emulator")]
        let mut running_emulator = None;
        // The embedded emulator brings its own Graph slice; a tenant's Graph is that of its
        // cloud, known from discovery.
        let (authority_host, embedded_graph) = match &config.idp {
            IdentityProvider::Remote { authority_host } => (authority_host.clone(), None),
            IdentityProvider::Embedded { addr } => {
                #[cfg(feature = "embedded-emulator")]
                {
                    let running = start_emulator(*addr, &config).await?;
                    let base = Url::parse(running.base_url()).expect("the emulator's URL is valid");
                    let graph = match &config.graph_base_url {
                        Some(url) => url.clone(),
                        None => Url::parse(&running.graph_base_url()).expect("valid"),
                    };
                    running_emulator = Some(running);
                    (base, Some(graph))
                }
                #[cfg(not(feature = "embedded-emulator"))]
                {
                    let _ = addr;
                    return Err(StartError::Emulator(
                        "this build has no embedded emulator (feature embedded-emulator)".into(),
                    ));
                }
            }
        };

        let http = http_client();
        let metadata = ProviderMetadata::discover(&http, &authority_host, &config.tenant)
            .await
            .map_err(StartError::Discovery)?;
        let graph_base_url = match (embedded_graph, metadata.msgraph_host.as_deref()) {
            (Some(graph), _) => graph,
            (None, Some(host)) => config.adopt_graph_host(host),
            (None, None) => match &config.graph_base_url {
                Some(url) if config.graph_scope_configured => url.clone(),
                _ if authority_host.host_str() == Some("login.microsoftonline.com") => {
                    config.adopt_graph_host("graph.microsoft.com")
                }
                _ => {
                    return Err(ConfigError(vec![format!(
                        "The identity provider at {authority_host} does not say which Microsoft \
                         Graph serves its cloud (no msgraph_host in its discovery document): \
                         set GRAPH_BASE_URL and GRAPH_SCOPE."
                    )])
                    .into());
                }
            },
        };
        let config = Arc::new(config);
        let entra = EntraClient::new(config.clone(), http, metadata);
        tracing::info!(
            authority = %authority_host, tenant = %config.tenant, client_id = %config.client_id,
            redirect_uri = %config.redirect_uri(),
            client_capabilities = %config.client_capabilities.join(","),
            client_credential = %config.credential.kind(),
            client_credential_sources = config.credential.sources(),
            "identity provider ready"
        );
        let mut apis = Vec::new();
        for api in &config.downstream_apis {
            apis.push(crate::bff::named_apis::Api {
                base_url: downstream_url(&api.location, &authority_host, &config).await?,
                config: api.clone(),
            });
        }
        let apis = Arc::new(crate::bff::named_apis::DownstreamApis::new(apis));
        let metrics = {
            let mut metrics = Metrics::default();
            metrics.register_credential(&config.credential);
            Arc::new(metrics)
        };
        let stores = Arc::new(
            Stores::open(&config, metrics.clone())
                .await
                .map_err(StartError::SessionStore)?,
        );
        let tokens = Arc::new(TokenService::new(
            Arc::new(entra),
            TOKEN_CACHE_MAX_BYTES,
            stores.shared.clone(),
            stores.ids.clone(),
            metrics.clone(),
        ));
        let profiles = Arc::new(ProfileCache::new(config.profile_ttl));
        let bff = Arc::new(BffService {
            config: config.clone(),
            tokens: tokens.clone(),
            graph_base_url,
            apis,
            graph_throttle: Default::default(),
            profiles: profiles.clone(),
            session_ids: stores.ids.clone(),
            diagnostics: Default::default(),
        });
        let router = router(
            leptos_options,
            AuthState {
                config: config.clone(),
                tokens: tokens.clone(),
                metrics: metrics.clone(),
                profiles: profiles.clone(),
                stores: stores.clone(),
            },
            bff,
        );
        let metrics_listener = TcpListener::bind(config.metrics_addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: format!("{} (METRICS_ADDR)", config.metrics_addr),
                source,
            })?;
        let metrics_router = crate::routes::metrics::router(crate::routes::metrics::Sources {
            tokens: tokens.clone(),
            profiles: profiles.clone(),
            metrics: metrics.clone(),
        });
        let router = stores
            .layer(router, &config)
            // Probes outside the session layer: a load balancer has no cookie to read.
            .merge(crate::routes::health::router(Probes {
                stores: stores.clone(),
            }))
            .layer(middleware::from_fn_with_state(
                metrics,
                crate::metrics::count_requests,
            ))
            .layer(crate::assets::compression())
            .layer(listener::body_limit())
            .layer(listener::request_timeout(&config.limits))
            .layer(middleware::from_fn_with_state(
                Https(config.is_https()),
                headers::secure,
            ))
            // Outermost: the request's span covers all of it.
            .layer(middleware::from_fn_with_state(
                if config.trust_traceparent {
                    Traceparent::Trusted
                } else {
                    Traceparent::Ignored
                },
                crate::telemetry::http::server_span,
            ));
        Ok(Self {
            listener,
            router,
            metrics_listener,
            metrics_router,
            config,
            tokens,
            #[cfg(feature = "embedded-emulator")]
            emulator: running_emulator,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where `/metrics` is served.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn tokens(&self) -> &Arc<TokenService> {
        &self.tokens
    }

    /// The embedded emulator, when this server runs one.
    #[cfg(feature = "embedded-emulator")]
    pub fn emulator(&self) -> Option<&emulator::RunningEmulator> {
        self.emulator.as_ref()
    }

    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        #[cfg(feature = "embedded-emulator")]
        let _emulator = self.emulator;
        tokio::spawn(async move {
            let limits = listener::Limits::default();
            if let Err(err) = listener::serve(
                self.metrics_listener,
                self.metrics_router,
                limits,
                std::future::pending(),
            )
            .await
            {
                tracing::error!("the metrics listener stopped: {err}");
            }
        });
        // Nagle's algorithm delays small static-file responses by ~40 ms each.
        let tcp = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        listener::serve(tcp, self.router, self.config.limits, shutdown_signal()).await
    }
}

#[cfg(feature = "embedded-emulator")]
async fn start_emulator(
    addr: SocketAddr,
    config: &Config,
) -> Result<emulator::RunningEmulator, StartError> {
    let world = match &config.emulator_world {
        Some(path) => emulator::World::from_file(path)
            .map_err(|e| StartError::Emulator(format!("EMULATOR_WORLD={}: {e}", path.display())))?,
        None => {
            // Registered as the portal would have it: Entra's single sign-out calls this.
            let mut world = emulator::World::well_known();
            let front_channel = format!(
                "{}/auth/frontchannel-logout",
                config.public_url.as_str().trim_end_matches('/')
            );
            for tenant in &mut world.tenants {
                for app in &mut tenant.applications {
                    if app.app_id == emulator::well_known::WEB_APP_CLIENT_ID {
                        app.web.logout_url = Some(front_channel.clone());
                    }
                }
            }
            world
        }
    };
    let running = emulator::Emulator::builder()
        .world(world)
        .data_dir(Some(config.data_dir.join("emulator")))
        .start(addr)
        .await
        .map_err(|e| StartError::Emulator(e.to_string()))?;
    tracing::info!(
        "embedded Entra ID emulator at {} (users AdeleV, MeganB, AlexW @contoso.onmicrosoft.com, password Passw0rd!)",
        running.base_url()
    );
    Ok(running)
}

/// Where the downstream API is: its configured URL, or the Weather API this process starts
/// on a loopback port next to the embedded emulator, validating the emulator's tokens.
async fn downstream_url(
    location: &DownstreamLocation,
    authority_host: &Url,
    config: &Config,
) -> Result<Url, StartError> {
    match location {
        DownstreamLocation::Remote { url } => Ok(url.clone()),
        #[cfg(feature = "embedded-emulator")]
        DownstreamLocation::Embedded { addr, auth_context } => {
            start_weather_api(
                *addr,
                authority_host,
                &config.tenant,
                auth_context.clone(),
                config.limits,
            )
            .await
        }
        #[cfg(not(feature = "embedded-emulator"))]
        DownstreamLocation::Embedded { .. } => {
            let _ = (authority_host, config);
            Err(StartError::Emulator(
                "this build has no embedded Weather API (feature embedded-emulator)".into(),
            ))
        }
    }
}

/// Starts the Weather API on `addr` (loopback), validating the emulator's tokens for
/// `tenant` (and requiring `auth_context`, when set): the embedded downstream API, served by
/// this process with its limits.
#[cfg(feature = "embedded-emulator")]
pub async fn start_weather_api(
    addr: SocketAddr,
    authority_host: &Url,
    tenant: &str,
    auth_context: Option<String>,
    limits: listener::Limits,
) -> Result<Url, StartError> {
    use emulator::well_known as wk;
    let validator = weather_api::BearerValidator::discover(
        http_client(),
        weather_api::ValidatorConfig {
            authority_host: authority_host.clone(),
            tenant_id: tenant.to_owned(),
            audiences: vec![
                wk::WEATHER_API_CLIENT_ID.into(),
                wk::WEATHER_API_ID_URI.into(),
            ],
            required_scope: "Weather.Read".into(),
            clock_skew: std::time::Duration::from_secs(300),
            required_auth_context: auth_context,
        },
    )
    .await
    .map_err(|e| StartError::Emulator(format!("the embedded Weather API: {e}")))?;
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: format!("{addr} (WEATHER_API_ADDR)"),
            source,
        })?;
    let url = Url::parse(&format!(
        "http://{}",
        tcp.local_addr().map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source
        })?
    ))
    .expect("a socket address is a valid host");
    tokio::spawn(async move {
        let router = weather_api::router(Arc::new(validator))
            .layer(listener::body_limit())
            .layer(listener::request_timeout(&limits))
            // The API joins the trace of the BFF's call (one trace from the browser's
            // request to the API's handler).
            .layer(middleware::from_fn_with_state(
                Traceparent::Trusted,
                crate::telemetry::http::server_span,
            ));
        let tcp = tcp.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let _ = listener::serve(tcp, router, limits, std::future::pending()).await;
    });
    tracing::info!("embedded Weather API at {url}");
    Ok(url)
}

/// The routes: auth, Leptos pages and server functions (with the BFF port in context),
/// static files; the anti-CSRF check in front of server functions.
fn router(options: LeptosOptions, auth: AuthState, service: Arc<BffService>) -> Router {
    let proxy = crate::downstream::router(service.clone());
    let bff: Arc<dyn Bff> = service;
    crate::routes::page::set_stylesheet(crate::assets::stylesheet_href(&options));
    let pkg = crate::assets::pkg(&options);
    // What every rendered page has in context: the BFF port, and a CSP nonce.
    let page_context = move || {
        provide_context(bff.clone());
        headers::set_page_csp();
    };
    let routes = generate_route_list(App);
    let public_url = auth.config.public_url.clone();
    let leptos = Router::new()
        .leptos_routes_with_context(&options, routes, page_context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        // The 404 page is a rendered page too: the nonce CSP, and the BFF for its header.
        .fallback(leptos_axum::file_and_error_handler_with_context(
            page_context,
            shell,
        ))
        .with_state(options)
        .layer(middleware::from_fn_with_state(
            public_url,
            csrf::require_api_proof,
        ));
    auth::router(auth).merge(pkg).merge(proxy).merge(leptos)
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
