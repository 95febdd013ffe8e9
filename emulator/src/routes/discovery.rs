//! Discovery (Microsoft Learn: learn.microsoft.com/entra/identity-platform/v2-protocols-oidc, "Find your app's OpenID configuration document URI"): the v2.0 (and v1) OpenID configuration, the JWKS, instance
//! discovery and the user-realm endpoint.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

use super::{TenantSeg, tenant_seg};
use crate::{
    errors::AadError,
    state::{AppState, Counters},
};

/// Discovery routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(v2_config),
        )
        .route("/{tenant}/.well-known/openid-configuration", get(v1_config))
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/discovery/keys", get(jwks))
        .route("/{tenant}/discovery/instance", get(instance))
        .route("/{tenant}/userrealm/{user}", get(user_realm))
}

fn json_cached(v: Value) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// The v2.0 discovery document of `seg` (a GUID, domain or alias).
///
/// # Errors
/// AADSTS90002 for an unknown tenant.
pub fn v2_document(base: &str, world: &crate::world::World, seg: &str) -> Result<Value, AadError> {
    let (path_t, issuer, region) = match tenant_seg(world, seg)? {
        TenantSeg::Tenant(id) => (id.clone(), format!("{base}/{id}/v2.0"), json!("WW")),
        TenantSeg::Alias(a) => (a, format!("{base}/{{tenantid}}/v2.0"), Value::Null),
    };
    let b = format!("{base}/{path_t}");
    Ok(json!({
        "token_endpoint": format!("{b}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{b}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/graph/oidc/userinfo"),
        "authorization_endpoint": format!("{b}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{b}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{b}/oauth2/v2.0/logout"),
        "claims_supported": ["sub","iss","cloud_instance_name","cloud_instance_host_name","cloud_graph_host_name",
                             "msgraph_host","aud","exp","iat","auth_time","acr","nonce","preferred_username",
                             "name","tid","ver","at_hash","c_hash","email"],
        "kerberos_endpoint": format!("{b}/kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net"
    }))
}

async fn v2_config(State(st): State<AppState>, Path(seg): Path<String>) -> Response {
    Counters::bump(&st.stats.discovery);
    let world = st.world.read().expect("world lock").clone();
    match v2_document(&st.base_url, &world, &seg) {
        Ok(doc) => json_cached(doc),
        Err(e) => e.into_response(),
    }
}

async fn v1_config(State(st): State<AppState>, Path(seg): Path<String>) -> Response {
    Counters::bump(&st.stats.discovery);
    let world = st.world.read().expect("world lock").clone();
    match v2_document(&st.base_url, &world, &seg) {
        Ok(mut doc) => {
            let tid = match tenant_seg(&world, &seg) {
                Ok(TenantSeg::Tenant(id)) => id,
                _ => "{tenantid}".into(),
            };
            doc["issuer"] = json!(format!("https://sts.windows.net/{tid}/"));
            doc["jwks_uri"] = json!(format!("{}/{seg}/discovery/keys", st.base_url));
            json_cached(doc)
        }
        Err(e) => e.into_response(),
    }
}

async fn jwks(State(st): State<AppState>, Path(seg): Path<String>) -> Response {
    Counters::bump(&st.stats.jwks);
    let known = {
        let world = st.world.read().expect("world lock");
        tenant_seg(&world, &seg)
    };
    if let Err(e) = known {
        return e.into_response();
    }
    let issuer = format!("{}/{{tenantid}}/v2.0", st.base_url);
    let doc = st.keys.read().expect("keys lock").jwks(&issuer);
    json_cached(doc)
}

async fn instance(
    State(st): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    Counters::bump(&st.stats.instance_discovery);
    let host = st
        .base_url
        .split("://")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let endpoint = q.get("authorization_endpoint").cloned().unwrap_or_default();
    let parsed = url::Url::parse(&endpoint).ok();
    let ok = parsed.as_ref().is_some_and(|u| {
        let h = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
            None => u.host_str().unwrap_or_default().to_string(),
        };
        h.eq_ignore_ascii_case(&host)
            || h.starts_with("localhost:") && host.ends_with(&format!(":{}", u.port().unwrap_or(0)))
    });
    if !ok {
        return AadError::new(50049, "invalid_instance", "Unknown or invalid instance.")
            .into_response();
    }
    let tenant = parsed
        .as_ref()
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next().map(str::to_string))
        })
        .unwrap_or_else(|| "common".into());
    json_cached(json!({
        "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", st.base_url),
        "api-version": q.get("api-version").cloned().unwrap_or_else(|| "1.1".into()),
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }))
}

async fn user_realm(
    State(st): State<AppState>,
    Path((_seg, user)): Path<(String, String)>,
) -> Response {
    let world = st.world.read().expect("world lock");
    let domain = user.split_once('@').map(|(_, d)| d).unwrap_or_default();
    let known = world.tenant(domain).is_some();
    json_cached(json!({
        "ver": "1.0",
        "account_type": if known { "Managed" } else { "Unknown" },
        "domain_name": domain,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    }))
}
