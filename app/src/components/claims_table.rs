//! A decoded token: its header and claims, one row each, with what each claim means.

use leptos::prelude::*;

use super::table::Table;
use super::time::{Countdown, format_utc};
use crate::model::{ClaimRow, DecodedToken};

#[component]
pub fn TokenCard(token: DecodedToken) -> impl IntoView {
    let DecodedToken {
        kind,
        title,
        purpose,
        header,
        claims,
        verification,
    } = token;
    view! {
        <section class="card token" data-testid=format!("token-{kind:?}")>
            <h2>{title}</h2>
            <p>{purpose}</p>
            <p class="verification" data-testid="verification">{verification}</p>
            <h3>"Header"</h3>
            <ClaimsTable rows=header/>
            <h3>"Claims"</h3>
            <ClaimsTable rows=claims/>
        </section>
    }
}

#[component]
fn ClaimsTable(rows: Vec<ClaimRow>) -> impl IntoView {
    view! {
        <Table columns=["Claim", "Value", "Meaning"]>
                {rows
                    .into_iter()
                    .map(|row| {
                        let time = row.unix_time;
                        let name = row.name.clone();
                        view! {
                            <tr data-claim=name>
                                <th scope="row">
                                    <code>{row.name}</code>
                                </th>
                                <td class="value">
                                    <code>{row.value}</code>
                                    {time
                                        .map(|t| {
                                            view! {
                                                <div class="time">
                                                    {format_utc(t)} " (" <Countdown at=t/> ")"
                                                </div>
                                            }
                                        })}
                                </td>
                                <td>{row.explanation}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
        </Table>
    }
}
