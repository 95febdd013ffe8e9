//! The diagnostics page: the live configuration checked against the identity provider.

use leptos::prelude::*;

use crate::{
    api::get_diagnostics,
    components::{problem::ErrorCard, table::Table},
    model::{Check, Outcome},
};

#[component]
pub fn DiagnosticsPage() -> impl IntoView {
    let report = Resource::new(|| (), |_| get_diagnostics());
    view! {
        <h1>"Diagnostics"</h1>
        <p class="muted">
            "The server checks its configuration against the identity provider, live."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Checking…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => {
                        view! {
                            <Table columns=["Check", "Result", "Details"] testid="checks">
                                {report.checks.into_iter().map(check_row).collect_view()}
                            </Table>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorCard error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn check_row(check: Check) -> impl IntoView {
    let (label, class) = match check.outcome {
        Outcome::Pass => ("OK", "pass"),
        Outcome::Warn => ("Warning", "warn"),
        Outcome::Fail => ("Problem", "fail"),
    };
    let name = check.name.clone();
    view! {
        <tr data-check=name class=class>
            <th scope="row">{check.name}</th>
            <td class="outcome">{label}</td>
            <td>
                {check.detail}
                {check.fix.map(|fix| view! { <div class="fix">"Fix: " {fix}</div> })}
            </td>
        </tr>
    }
}
