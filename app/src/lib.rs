//! The user interface: the HTML shell, the routes and their pages.
//!
//! Pages are rendered on the server, data included (`SsrMode::Async`: no placeholder, and
//! they work with scripts off). Only the interactive parts are islands (`#[island]`: the
//! countdowns, the "How it works" toggle, Call API, Try again), compiled with `hydrate` into
//! the browser's small WASM; everything else never runs in the browser. Server-only code
//! stays behind `#[cfg(feature = "ssr")]`; nothing in this crate ever holds a token or a
//! secret.

#![recursion_limit = "256"]
pub mod api;
mod components;
pub mod error;
pub mod model;
mod pages;

/// `2026-11-29 07:45:00 UTC`: how the pages write a Unix time, for the server's texts too.
pub use components::time::format_utc;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::components::account::{Account, provide_session};
use crate::pages::{
    call_api::CallApiPage, diagnostics::DiagnosticsPage, home::HomePage, not_found::NotFound,
    tokens::TokensPage,
};

/// The document around every page, rendered by the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: routes and the chrome shared by every page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_session();

    view! {
        <Title text="Entra BFF"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"Entra BFF"</a>
                <nav>
                    <a href="/">"Home"</a>
                    <a href="/tokens">"Tokens"</a>
                    <a href="/call-api">"Call API"</a>
                    <a href="/diagnostics">"Diagnostics"</a>
                </nav>
                <Account/>
            </header>
            <main>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("tokens") view=TokensPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("call-api") view=CallApiPage ssr=SsrMode::Async/>
                    <Route
                        path=StaticSegment("diagnostics")
                        view=DiagnosticsPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}
