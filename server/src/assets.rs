//! Static files as a CDN would serve them. `/pkg/*` (the WASM, JS and CSS) is served
//! precompressed (the release build's `.br` and `.gz` beside each file) and, when its names
//! carry content hashes (cargo-leptos `hash-files`), cached for a year as immutable: a deploy
//! changes the names, so a browser never runs a stale WASM against new HTML. Anything else
//! text-like (pages, server-function JSON) is compressed on the fly.

use std::path::{Path, PathBuf};

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::Response,
};
use leptos::config::LeptosOptions;
use tower_http::{compression::CompressionLayer, services::ServeDir};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Unhashed names (development): the browser may keep them but must ask first.
const REVALIDATE: &str = "no-cache";

/// `/pkg/*`, precompressed, with the caching its names allow.
pub fn pkg(options: &LeptosOptions) -> Router {
    let dir = Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let policy = if options.hash_files {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    Router::new()
        .nest_service(&format!("/{}", options.site_pkg_dir), files)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            cache_for(policy, request, next)
        }))
}

/// Only a file that was found may be cached: a 404 must not outlive the next deploy.
async fn cache_for(policy: &'static str, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status().as_u16() == 304 {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// Compression for whatever was not precompressed (text-like responses only; brotli at
/// quality 4 or gzip, as the browser prefers).
pub fn compression() -> CompressionLayer {
    CompressionLayer::new()
}

/// Turns `hash-files` on when the release build left its `hash.txt` next to this binary,
/// so that the binary serves its hashed files even when started by hand (without
/// cargo-leptos's `LEPTOS_HASH_FILES=true`).
pub fn detect_hashed_files(options: &mut LeptosOptions) {
    if !options.hash_files && hash_file(options).is_some_and(|p| p.exists()) {
        options.hash_files = true;
    }
}

fn hash_file(options: &LeptosOptions) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(options.hash_file.as_ref()))
}

/// The stylesheet's URL (hashed when the files are), for pages rendered outside Leptos.
pub fn stylesheet_href(options: &LeptosOptions) -> String {
    let name = &options.output_name;
    let hashed = options
        .hash_files
        .then(|| hash_file(options))
        .flatten()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|hashes| {
            hashes.lines().find_map(|line| {
                let (file, hash) = line.split_once(':')?;
                (file.trim() == "css").then(|| format!("{name}.{}.css", hash.trim()))
            })
        });
    format!(
        "/{}/{}",
        options.site_pkg_dir,
        hashed.unwrap_or_else(|| format!("{name}.css"))
    )
}
