//! The WASM entry point: hydrates the islands (the interactive parts) of the HTML the
//! server rendered.
#![recursion_limit = "256"]

// The islands are exported from `app`; this links them into the WASM.
extern crate app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Leptos's loader hydrates the islands right after this returns, without yielding to
    // the event loop: a zero timeout runs once they all are. End-to-end tests wait for this
    // marker instead of sleeping.
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = leptos::prelude::document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
