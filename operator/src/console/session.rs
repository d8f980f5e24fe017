//! Signing in to the console with the operator's key, which never leaves the browser: the
//! console hands out a single-use challenge, the browser signs it with the operator's nkey
//! seed, and a valid signature by the operator's public key opens a session (an `HttpOnly`,
//! `SameSite=Strict` cookie holding a random token, valid for [`SESSION_SECS`]). Every data
//! request needs that cookie; nothing else is open to whoever reaches the port.

use super::{ApiError, Console};
use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a session lasts.
pub const SESSION_SECS: u64 = 12 * 3600;
/// How long a challenge may wait for its signature.
pub const CHALLENGE_SECS: u64 = 120;
/// At most this many challenges wait, and this many sessions live; the oldest go first.
const MAX_CHALLENGES: usize = 256;
const MAX_SESSIONS: usize = 64;
/// The cookie's name.
pub const COOKIE: &str = "posfee_console";
/// What the browser signs: this, then the challenge (so a signature made here means nothing
/// anywhere else).
pub const SIGNED_PREFIX: &str = "posfee console sign-in ";

/// Open challenges and sessions, each with when it ends.
#[derive(Default)]
pub struct Sessions {
    challenges: HashMap<String, Instant>,
    sessions: HashMap<String, Instant>,
}

impl Sessions {
    fn challenge(&mut self, now: Instant) -> String {
        let nonce = random_token();
        keep_room(&mut self.challenges, now, MAX_CHALLENGES);
        self.challenges
            .insert(nonce.clone(), now + Duration::from_secs(CHALLENGE_SECS));
        nonce
    }

    /// Takes the challenge if it is open: each is good for one try.
    fn take_challenge(&mut self, nonce: &str, now: Instant) -> bool {
        self.challenges.remove(nonce).is_some_and(|ends| ends > now)
    }

    fn open(&mut self, now: Instant) -> String {
        let token = random_token();
        keep_room(&mut self.sessions, now, MAX_SESSIONS);
        self.sessions
            .insert(token.clone(), now + Duration::from_secs(SESSION_SECS));
        token
    }

    fn is_open(&self, token: &str, now: Instant) -> bool {
        self.sessions.get(token).is_some_and(|ends| *ends > now)
    }

    fn close(&mut self, token: &str) {
        self.sessions.remove(token);
    }
}

/// Drops what has ended, then the oldest while there is no room for one more.
fn keep_room(map: &mut HashMap<String, Instant>, now: Instant, max: usize) {
    map.retain(|_, ends| *ends > now);
    while map.len() >= max {
        let Some(oldest) = map.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) else {
            break;
        };
        map.remove(&oldest);
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[derive(Debug, Serialize)]
pub struct Challenge {
    pub challenge: String,
    /// What to sign: `signed_prefix` followed by `challenge`, as UTF-8.
    pub signed_prefix: &'static str,
}

/// `GET /api/challenge`.
pub async fn challenge(State(c): State<Arc<Console>>) -> Json<Challenge> {
    Json(Challenge {
        challenge: c.sessions().challenge(Instant::now()),
        signed_prefix: SIGNED_PREFIX,
    })
}

#[derive(Debug, Deserialize)]
pub struct SignIn {
    /// The signer's public key (`U…`).
    pub public_key: String,
    pub challenge: String,
    /// The Ed25519 signature of `SIGNED_PREFIX` + `challenge`, in hex.
    pub signature: String,
}

#[derive(Debug, Serialize)]
pub struct SignedIn {
    pub operator: String,
}

/// `POST /api/session`: a valid signature of an open challenge by the operator's key opens a
/// session.
pub async fn sign_in(
    State(c): State<Arc<Console>>,
    Json(req): Json<SignIn>,
) -> Result<Response, ApiError> {
    let now = Instant::now();
    if !c.sessions().take_challenge(&req.challenge, now) {
        return Err(ApiError::refused(
            "SIGN_IN_EXPIRED",
            "challenge",
            "this sign-in challenge is unknown, used or expired",
            "sign in again",
        ));
    }
    if req.public_key != c.operator_key {
        return Err(ApiError::refused(
            "NOT_AN_OPERATOR",
            "public_key",
            "this key is not the operator's key of this system",
            "sign in with the operator's key file (<data-dir>/creds/operator.nk)",
        ));
    }
    let signed = format!("{SIGNED_PREFIX}{}", req.challenge);
    let valid = hex::decode(&req.signature).ok().is_some_and(|sig| {
        nkeys::KeyPair::from_public_key(&req.public_key)
            .and_then(|k| k.verify(signed.as_bytes(), &sig))
            .is_ok()
    });
    if !valid {
        return Err(ApiError::refused(
            "BAD_SIGNATURE",
            "signature",
            "the signature does not verify with the operator's key",
            "sign in again with the operator's key file",
        ));
    }
    let token = c.sessions().open(now);
    tracing::info!("an operator signed in to the console");
    let cookie =
        format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_SECS}");
    let mut res = Json(SignedIn {
        operator: req.public_key,
    })
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `POST /api/sign-out`.
pub async fn sign_out(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Some(token) = token(&headers) {
        c.sessions().close(&token);
    }
    let mut res = Json(serde_json::json!({"signed_out": true})).into_response();
    let gone = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&gone) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// The session cookie's token, if the request carries one.
fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then(|| value.to_string())
        })
}

/// A request from a signed-in operator: handlers that take one answer nobody else.
pub struct Operator;

impl FromRequestParts<Arc<Console>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, c: &Arc<Console>) -> Result<Operator, ApiError> {
        match token(&parts.headers) {
            Some(t) if c.sessions().is_open(&t, Instant::now()) => Ok(Operator),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_challenge_is_good_once_and_until_it_expires_and_sessions_end() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let c = s.challenge(t0);
        assert!(s.take_challenge(&c, t0));
        assert!(!s.take_challenge(&c, t0), "used twice");
        let late = s.challenge(t0);
        assert!(!s.take_challenge(&late, t0 + Duration::from_secs(CHALLENGE_SECS + 1)));
        let token = s.open(t0);
        assert!(s.is_open(&token, t0 + Duration::from_secs(60)));
        assert!(!s.is_open(&token, t0 + Duration::from_secs(SESSION_SECS + 1)));
        assert!(!s.is_open("not-a-token", t0));
        s.close(&token);
        assert!(!s.is_open(&token, t0));
    }

    #[test]
    fn the_session_table_keeps_its_size_dropping_the_oldest() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let first = s.open(t0);
        for i in 1..=MAX_SESSIONS as u64 {
            s.open(t0 + Duration::from_millis(i));
        }
        assert_eq!(s.sessions.len(), MAX_SESSIONS);
        assert!(!s.is_open(&first, t0), "the oldest made room");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; posfee_console=abc; b=2"),
        );
        assert_eq!(token(&h).as_deref(), Some("abc"));
        assert_eq!(token(&HeaderMap::new()), None);
    }
}
