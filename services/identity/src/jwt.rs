//! The few JSON Web Tokens nats-server's auth callout speaks, signed with an nkey.
//!
//! Written here from nats-io/jwt v2: a header `{"typ":"JWT","alg":"ed25519-nkey"}`, the
//! claims as JSON, both base64url without padding, and the issuer key's ed25519 signature over
//! `header.claims`. `nats-jwt` always emits user limits (`subs/data/payload`), which the server
//! would then enforce as set. wasmCloud's `nats-jwt-rs` has the callout's request and response
//! claims with the limits optional, but it is at 0.1 with 4 % of it documented and brings a
//! builder-macro dependency tree for what is two token shapes here, each exercised by every
//! kiosk's and phone's connection in the tests against a real nats-server; worth taking once it
//! is stable.

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nkeys::KeyPair;
use serde::Serialize;

const HEADER: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;

/// The claims every token carries.
#[derive(Debug, Serialize)]
pub struct Claims<T: Serialize> {
    pub jti: String,
    pub iat: i64,
    pub iss: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub sub: String,
    pub aud: String,
    /// When the token (and the connection it admits) expires, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    pub nats: T,
}

impl<T: Serialize> Claims<T> {
    pub fn new(issuer: &KeyPair, sub: &str, aud: &str, nats: T) -> Claims<T> {
        Claims {
            jti: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
            iat: chrono::Utc::now().timestamp(),
            iss: issuer.public_key(),
            name: String::new(),
            sub: sub.to_string(),
            aud: aud.to_string(),
            exp: None,
            nats,
        }
    }
}

/// Signs `claims` with `issuer` and returns the token.
pub fn encode<T: Serialize>(claims: &Claims<T>, issuer: &KeyPair) -> anyhow::Result<String> {
    let body = serde_json::to_vec(claims).context("encoding claims")?;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(body)
    );
    let sig = issuer
        .sign(signing_input.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing claims: {e}"))?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The claims of a token, read without checking its signature: for the server's callout
/// request, which only the server can send (no client may publish on the callout subject).
pub fn claims_of<T: serde::de::DeserializeOwned>(token: &str) -> anyhow::Result<T> {
    let mut parts = token.split('.');
    let (_, Some(body), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        anyhow::bail!("not a JWT (three dot-separated parts)");
    };
    let json = URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .context("JWT claims are not base64url")?;
    serde_json::from_slice(&json).context("JWT claims")
}

/// Decodes a signature the way clients send them in CONNECT: base64url (padded or not), or
/// standard base64.
pub fn decode_sig(sig: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| URL_SAFE.decode(sig))
        .or_else(|_| STANDARD.decode(sig))
        .ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_verifies_with_its_issuers_key_and_reads_back() {
        let issuer = KeyPair::new_account();
        let claims = Claims::new(
            &issuer,
            "UXYZ",
            "POSFEE",
            serde_json::json!({"type": "user"}),
        );
        let token = encode(&claims, &issuer).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        KeyPair::from_public_key(&issuer.public_key())
            .unwrap()
            .verify(input.as_bytes(), &sig)
            .unwrap();
        let back: serde_json::Value = claims_of(&token).unwrap();
        assert_eq!(back["sub"], "UXYZ");
        assert_eq!(back["iss"], issuer.public_key());
        assert_eq!(back["nats"]["type"], "user");
    }
}
