//! The one table the pages use (claims, forecasts, checks, APIs): a header row of column
//! names, and the rows the page gives it.

use leptos::prelude::*;

/// A table with `columns` as its header row and `children` as its body rows.
#[component]
pub fn Table(
    columns: [&'static str; 3],
    /// The `data-testid` the end-to-end tests find it by, if any.
    #[prop(optional)]
    testid: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <table class="claims" data-testid=testid>
            <thead>
                <tr>{columns.map(|column| view! { <th scope="col">{column}</th> }).collect_view()}</tr>
            </thead>
            <tbody>{children()}</tbody>
        </table>
    }
}
