//! Who this app is at the identity provider: its client credential (a secret, or a
//! certificate checked here, once), the authority host, and the tenants it serves.

use std::fmt;

use url::Url;

use super::{DEFAULT_AUTHORITY_HOST, embedded};
use crate::domain::Secret;

#[derive(Clone)]
pub enum ClientCredential {
    /// `client_secret_post`.
    Secret(Secret),
    /// `private_key_jwt`: a client assertion signed with this key, its certificate named by
    /// thumbprint.
    Certificate(crate::entra::CertificateCredential),
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret([redacted])"),
            Self::Certificate(certificate) => certificate.fmt(f),
        }
    }
}

pub(super) fn read_credential(
    get: &impl Fn(&str) -> Option<String>,
    embedded: bool,
    problems: &mut Vec<String>,
) -> Option<ClientCredential> {
    let secret = get("AZURE_AD_CLIENT_SECRET");
    let cert = get("AZURE_AD_CLIENT_CERTIFICATE_PATH");
    let key = get("AZURE_AD_CLIENT_PRIVATE_KEY_PATH");
    match (secret, cert, key) {
        (Some(secret), None, None) => Some(ClientCredential::Secret(Secret::new(secret))),
        (None, Some(cert), Some(key)) => {
            let read = |var: &str, path: &str, problems: &mut Vec<String>| {
                std::fs::read_to_string(path)
                    .map_err(|err| {
                        problems.push(format!(
                            "{var}={path}: cannot read the file ({err}). Give the path of a \
                             PEM file."
                        ))
                    })
                    .ok()
            };
            let cert_pem = read("AZURE_AD_CLIENT_CERTIFICATE_PATH", &cert, problems);
            let key_pem = read("AZURE_AD_CLIENT_PRIVATE_KEY_PATH", &key, problems);
            let key_pem = Secret::new(key_pem?);
            match crate::entra::CertificateCredential::from_pem(&cert_pem?, key_pem.expose()) {
                Ok(certificate) => Some(ClientCredential::Certificate(certificate)),
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            }
        }
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            problems.push(
                "Both AZURE_AD_CLIENT_SECRET and a certificate are set: choose one client \
                 credential and unset the other."
                    .to_owned(),
            );
            None
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            problems.push(
                "A certificate credential needs both AZURE_AD_CLIENT_CERTIFICATE_PATH (the \
                 PEM certificate uploaded to the app registration) and \
                 AZURE_AD_CLIENT_PRIVATE_KEY_PATH (its PEM private key)."
                    .to_owned(),
            );
            None
        }
        (None, None, None) if embedded => Some(ClientCredential::Secret(Secret::new(
            embedded::CLIENT_SECRET,
        ))),
        (None, None, None) => {
            problems.push(
                "No client credential: set AZURE_AD_CLIENT_SECRET to the secret's Value (not \
                 its Secret ID) from Certificates & secrets, or set \
                 AZURE_AD_CLIENT_CERTIFICATE_PATH and AZURE_AD_CLIENT_PRIVATE_KEY_PATH."
                    .to_owned(),
            );
            None
        }
    }
}

pub(super) fn is_multi_tenant(tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case("common") || tenant.eq_ignore_ascii_case("organizations")
}

/// `AZURE_AD_ALLOWED_TENANTS`: required with a multi-tenant authority, where any tenant's
/// users could otherwise sign in (Microsoft's multi-tenant guidance: validate the issuer's
/// tenant against the tenants you serve).
pub(super) fn read_allowed_tenants(
    get: &impl Fn(&str) -> Option<String>,
    tenant: Option<&str>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let raw = get("AZURE_AD_ALLOWED_TENANTS");
    let multi = tenant.is_some_and(is_multi_tenant);
    let Some(raw) = raw else {
        if multi {
            problems.push(format!(
                "AZURE_AD_TENANT_ID={} lets users of any tenant sign in, but \
                 AZURE_AD_ALLOWED_TENANTS is not set: list the tenant ids (GUIDs, comma \
                 separated) whose users may sign in.",
                tenant.unwrap_or_default()
            ));
        }
        return Vec::new();
    };
    if !multi {
        warnings.push(
            "AZURE_AD_ALLOWED_TENANTS is set but AZURE_AD_TENANT_ID is a single tenant: only \
             that tenant's users can sign in, so the list is ignored. It applies to common \
             and organizations."
                .to_owned(),
        );
        return Vec::new();
    }
    let mut tenants = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if uuid::Uuid::parse_str(item).is_ok() {
            tenants.push(item.to_ascii_lowercase());
        } else {
            problems.push(format!(
                "AZURE_AD_ALLOWED_TENANTS: {item:?} is not a tenant id: give Directory \
                 (tenant) IDs (GUIDs), as tokens carry them in `tid`."
            ));
        }
    }
    if raw.split(',').all(|t| t.trim().is_empty()) {
        problems.push("AZURE_AD_ALLOWED_TENANTS lists no tenant id.".to_owned());
    }
    tenants
}

/// An `http://` authority is only allowed on loopback: real tenants are always HTTPS, and
/// tokens must not cross a network in clear text.
pub(super) fn parse_authority_host(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim_end_matches('/')).map_err(|_| {
        format!(
            "AZURE_AD_AUTHORITY_HOST={raw:?} is not a URL; the default is \
             {DEFAULT_AUTHORITY_HOST}."
        )
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "AZURE_AD_AUTHORITY_HOST={raw} uses http:// on a host that is not loopback: tokens \
             would cross the network unencrypted. Use https:// (real tenants always do)."
        )),
        _ => Err(format!(
            "AZURE_AD_AUTHORITY_HOST={raw:?} must be an https:// URL, e.g. \
             {DEFAULT_AUTHORITY_HOST}."
        )),
    }
}
