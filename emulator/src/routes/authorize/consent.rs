//! What the consent page's *Accept* records: the user's consent for the requested scopes,
//! and the combined consent of a known client application.

use axum::http::HeaderMap;

use super::{load_session, request::resolve_tenant, txn_session};
use crate::{
    grants::{self, split},
    params::Params,
    state::{Shared, SignInProgress},
    world::ConsentGrant,
};

pub(in crate::routes) fn record_consent(
    st: &Shared,
    headers: &HeaderMap,
    p: &Params,
    progress: &SignInProgress,
) {
    let Some(session) = txn_session(headers, progress).and_then(|s| load_session(st, &s)) else {
        return;
    };
    let mut world = st.world.write().expect("world lock");
    let Ok(tenant) =
        resolve_tenant(&world, &progress.seg, p, progress.tenant.as_deref()).map(|t| t.id.clone())
    else {
        return;
    };
    let Some(t) = world.tenant_mut(&tenant) else {
        return;
    };
    let Some(upn) = t
        .user_by_oid(&session.oid)
        .map(|u| u.user_principal_name.clone())
    else {
        return;
    };
    let Some(app) = t.app(p.get("client_id").unwrap_or_default()).cloned() else {
        return;
    };
    let mut grants_to_add = vec![];
    for s in split(p.get("scope").unwrap_or_default()) {
        if let Ok(r) = grants::resolve(t, &app, &[s])
            && let Some(res) = r.resource
        {
            // Combined consent: a known client asking for the middle tier's `.default` also
            // consents to the middle tier's own static permissions (the On-Behalf-Of page's "Default and combined consent").
            if r.default
                && let Some(middle) = t.app(&res)
                && middle
                    .api
                    .known_client_applications
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&app.app_id))
            {
                for rra in &middle.required_resource_access {
                    if let Some(downstream) = t.app(&rra.resource_app_id) {
                        grants_to_add.push(ConsentGrant {
                            client_id: middle.app_id.clone(),
                            resource_app_id: downstream.app_id.clone(),
                            scopes: middle.required_scopes(downstream),
                            principal: Some(upn.clone()),
                        });
                    }
                }
            }
            grants_to_add.push(ConsentGrant {
                client_id: app.app_id.clone(),
                resource_app_id: res,
                scopes: r.values,
                principal: Some(upn.clone()),
            });
        }
    }
    t.consents.extend(grants_to_add);
}
