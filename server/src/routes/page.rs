//! A minimal server-rendered page for the auth routes' errors (they run outside Leptos).

use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

/// The stylesheet these pages link, hashed like the app's (set once at start).
static STYLESHEET: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the stylesheet for these pages (the first call wins: one per process).
pub fn set_stylesheet(href: String) {
    let _ = STYLESHEET.set(href);
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// An error page: a title, paragraphs, and one action link.
pub fn error_page(
    status: StatusCode,
    title: &str,
    paragraphs: &[String],
    action: (&str, &str),
) -> Response {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape(p)))
        .collect();
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"stylesheet\" href=\"{css}\"></head><body><main>\
         <section class=\"card problem\" role=\"alert\" data-testid=\"auth-error\"><h1>{title}</h1>{body}\
         <a class=\"button\" href=\"{href}\">{label}</a></section></main></body></html>",
        title = escape(title),
        href = escape(action.0),
        label = escape(action.1),
        css = escape(
            STYLESHEET
                .get()
                .map_or("/pkg/entra-bff.css", String::as_str)
        ),
    );
    (status, Html(html)).into_response()
}
