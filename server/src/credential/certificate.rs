//! The client assertion for a certificate credential (`private_key_jwt`, RFC 7523). The
//! certificate and key are checked when the configuration is read, so a bad PEM stops the start
//! with the other configuration problems, and again whenever their files change.

use base64::Engine as _;

/// The certificate credential, parsed: its SHA-256 thumbprint and signing key.
#[derive(Clone)]
pub struct CertificateCredential {
    thumbprint_s256: String,
    key: jsonwebtoken::EncodingKey,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Certificate(x5t#S256 {}, [redacted key])",
            self.thumbprint_s256
        )
    }
}

impl CertificateCredential {
    /// From the PEM certificate uploaded to the app registration and its RSA private key;
    /// what is wrong with either, named by its variable.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self, String> {
        let der = pem_body(certificate_pem, "CERTIFICATE").ok_or_else(|| {
            "AZURE_AD_CLIENT_CERTIFICATE_PATH holds no PEM certificate (-----BEGIN \
             CERTIFICATE-----)."
                .to_owned()
        })?;
        let thumbprint_s256 = {
            use sha2::Digest as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der))
        };
        // The key's own block: a Key Vault PEM holds the certificate too.
        if private_key_pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err(
                "AZURE_AD_CLIENT_PRIVATE_KEY_PATH holds an encrypted private key, which \
                        is not supported: export it without a passphrase (openssl pkey -in \
                        key.pem -out plain.pem) and protect the file instead."
                    .to_owned(),
            );
        }
        let key_block = private_key_block(private_key_pem).ok_or_else(|| {
            "AZURE_AD_CLIENT_PRIVATE_KEY_PATH (or the certificate's file) holds no PEM private \
             key (-----BEGIN PRIVATE KEY----- or RSA PRIVATE KEY)."
                .to_owned()
        })?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_block.as_bytes()).map_err(|err| {
            format!("AZURE_AD_CLIENT_PRIVATE_KEY_PATH is not an RSA PEM private key: {err}.")
        })?;
        Ok(Self {
            thumbprint_s256,
            key,
        })
    }

    /// A client assertion JWT (Microsoft Learn, "Microsoft identity platform application
    /// authentication certificate credentials"): `aud` = the token endpoint, `iss` = `sub` =
    /// client id, a fresh `jti`, ten minutes of validity, signed PS256 with the header
    /// `x5t#S256` = base64url(SHA-256(DER certificate)), the form Microsoft now recommends over
    /// RS256 with a SHA-1 `x5t`.
    pub fn assertion(&self, client_id: &str, token_endpoint: &str) -> Result<String, String> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
        header.x5t_s256 = Some(self.thumbprint_s256.clone());
        let now = jsonwebtoken::get_current_timestamp();
        let claims = serde_json::json!({
            "aud": token_endpoint,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        });
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|err| format!("the client assertion could not be signed: {err}"))
    }
}

/// The first `-----BEGIN ... PRIVATE KEY-----` block of `pem`, with its end line.
fn private_key_block(pem: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(at) = pem[from..].find("-----BEGIN ") {
        let start = from + at;
        let label_end = start
            + pem[start..]
                .find("-----\n")
                .or_else(|| pem[start..].find("-----\r\n"))?;
        let label = &pem[start + "-----BEGIN ".len()..label_end];
        if label.ends_with("PRIVATE KEY") {
            let end_line = format!("-----END {label}-----");
            let stop = start + pem[start..].find(&end_line)? + end_line.len();
            return Some(&pem[start..stop]);
        }
        from = label_end;
    }
    None
}

fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let b64: String = pem[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use emulator::test_support::forge::Certificate;

    use super::*;

    #[test]
    fn a_bad_certificate_or_key_is_named_by_its_variable() {
        let err = CertificateCredential::from_pem("not a certificate", "").unwrap_err();
        assert!(err.contains("AZURE_AD_CLIENT_CERTIFICATE_PATH"), "{err}");
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        let err = CertificateCredential::from_pem(cert, "not a key").unwrap_err();
        assert!(err.contains("AZURE_AD_CLIENT_PRIVATE_KEY_PATH"), "{err}");
        let err = CertificateCredential::from_pem(cert, cert).unwrap_err();
        assert!(err.contains("holds no PEM private key"), "{err}");
    }

    #[test]
    fn the_client_assertion_is_ps256_with_a_sha256_thumbprint() {
        let cert = Certificate::self_signed("t");
        let endpoint = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let credential = CertificateCredential::from_pem(&cert.pem, &cert.key.private_pem).unwrap();
        let jwt = credential.assertion("client", endpoint).unwrap();

        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
        assert!(header.x5t.is_none(), "no SHA-1 thumbprint");
        assert_eq!(header.x5t_s256, Some(cert.x5t_s256()));
        let payload = jwt.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["aud"], endpoint);
        assert_eq!(claims["iss"], "client");
        assert_eq!(claims["sub"], "client");
    }
}
