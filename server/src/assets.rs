//! Static files as a CDN would serve them. `/pkg/*` (the WASM, JS and CSS) is served
//! precompressed (the release build's `.br` and `.gz` beside each file) and, when its names
//! carry content hashes (cargo-leptos `hash-files`), cached for a year as immutable: a deploy
//! changes the names, so a browser never runs a stale WASM against new HTML. Hashed files
//! cannot change, so they are read once, at start, and served from memory. Anything else
//! text-like (pages, server-function JSON) is compressed on the fly.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path as UrlPath, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use leptos::config::LeptosOptions;
use tower_http::{compression::CompressionLayer, services::ServeDir};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Unhashed names (development): the browser may keep them but must ask first.
const REVALIDATE: &str = "no-cache";

/// `/pkg/*`, precompressed, with the caching its names allow: from memory when the names
/// are hashed (release), from the directory otherwise (development, where files change).
pub fn pkg(options: &LeptosOptions) -> Router {
    let dir = Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let prefix = format!("/{}", options.site_pkg_dir);
    if options.hash_files {
        match Preloaded::read(&dir) {
            Ok(files) => {
                return Router::new()
                    .route(&format!("{prefix}/{{file}}"), get(serve))
                    .with_state(Arc::new(files));
            }
            Err(err) => tracing::warn!("{}: {err}; serving from the directory", dir.display()),
        }
    }
    let policy = if options.hash_files {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    Router::new()
        .nest_service(&prefix, files)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            cache_for(policy, request, next)
        }))
}

/// One file and its precompressed forms.
struct Asset {
    content_type: &'static str,
    plain: Bytes,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
}

/// The hashed files of `/pkg`, by name.
struct Preloaded(HashMap<String, Asset>);

impl Preloaded {
    fn read(dir: &Path) -> std::io::Result<Self> {
        let mut files = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if !path.is_file() || name.ends_with(".br") || name.ends_with(".gz") {
                continue;
            }
            let sibling = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).ok();
            let asset = Asset {
                content_type: content_type(&name),
                plain: std::fs::read(&path)?.into(),
                br: sibling("br").map(Bytes::from),
                gzip: sibling("gz").map(Bytes::from),
            };
            files.insert(name, asset);
        }
        Ok(Self(files))
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("ts") => "text/plain",
        _ => "application/octet-stream",
    }
}

async fn serve(
    State(files): State<Arc<Preloaded>>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = files.0.get(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let accepts = |coding: &str| {
        headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| {
                let mut parts = item.split(';').map(str::trim);
                parts.next() == Some(coding) && !parts.any(|p| p.replace(' ', "") == "q=0")
            })
    };
    let (body, encoding) = match (&asset.br, &asset.gzip) {
        (Some(br), _) if accepts("br") => (br.clone(), Some("br")),
        (_, Some(gzip)) if accepts("gzip") => (gzip.clone(), Some("gzip")),
        _ => (asset.plain.clone(), None),
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, IMMUTABLE),
            (header::VARY, "accept-encoding"),
        ],
        body,
    )
        .into_response();
    if let Some(encoding) = encoding {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
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
