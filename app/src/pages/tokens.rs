//! The token inspector: each token of the session decoded, never the raw JWT.

use leptos::prelude::*;

use crate::{
    api::get_tokens,
    components::{
        claims_table::TokenCard,
        problem::{ErrorCard, ProblemCard},
    },
};

#[component]
pub fn TokensPage() -> impl IntoView {
    let report = Resource::new(|| (), |_| get_tokens());
    view! {
        <h1>"Your tokens, decoded"</h1>
        <p class="muted">
            "The server holds these tokens; this page shows their decoded contents only. The "
            "signature and the compact token never leave the server."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Decoding your tokens…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => {
                        view! {
                            {report
                                .problems
                                .into_iter()
                                .map(|problem| view! { <ProblemCard problem/> }.into_any())
                                .collect_view()}
                            {report
                                .tokens
                                .into_iter()
                                .map(|token| view! { <TokenCard token/> }.into_any())
                                .collect_view()}
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorCard error/> }.into_any(),
                }
            })}
        </Transition>
    }
}
