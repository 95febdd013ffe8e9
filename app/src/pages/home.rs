//! The home page.

use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    let (explained, set_explained) = signal(false);

    view! {
        <section class="card">
            <h1>"Sign in with Microsoft Entra ID"</h1>
            <p>
                "This app keeps every token on the server. Your browser only ever sees what is "
                "shown on the page."
            </p>
            <button
                type="button"
                data-testid="how-it-works"
                aria-expanded=move || explained.get().to_string()
                on:click=move |_| set_explained.update(|open| *open = !*open)
            >
                {move || if explained.get() { "Hide how it works" } else { "How it works" }}
            </button>
            <Show when=move || explained.get()>
                <ol data-testid="how-it-works-panel" class="steps">
                    <li>"You sign in at Microsoft Entra ID; the server receives the tokens."</li>
                    <li>
                        "The server exchanges your sign-in token On-Behalf-Of you for a token "
                        "for Microsoft Graph or another API."
                    </li>
                    <li>"This page shows the results and the decoded claims, never a raw token."</li>
                </ol>
            </Show>
        </section>
    }
}
