//! The server's auth callout: nats-server asks, for every connection that is not a service
//! role, who it is; the answer is a user JWT with that one identity's permissions.
//!
//! The client proves its nkey by signing the server's nonce; the server forwards the key, the
//! signature and the nonce, and this service checks the signature before it believes the key.
//! An issued key gets its holder's permissions ([`posfee_deploy::authz::perms`]), a revoked one
//! is refused, and an unknown one may only ask to enrol as the phone it is (rate-limited per
//! client address).

use crate::jwt::{self, Claims};
use crate::limit::Limiter;
use crate::store::{Lookup, Store};
use nkeys::KeyPair;
use posfee_deploy::authz::{self, Perms};
use posfee_schemas::identity::Holder;
use posfee_schemas::ids::DeviceId;
use posfee_schemas::subjects::Identity;
use serde::{Deserialize, Serialize};

/// What the server sends (the `nats` part of its authorization request claims).
#[derive(Debug, Deserialize)]
pub struct Request {
    pub nats: AuthRequest,
}

#[derive(Debug, Deserialize)]
pub struct AuthRequest {
    pub server_id: ServerId,
    /// The per-connection key the answer must be issued to.
    pub user_nkey: String,
    #[serde(default)]
    pub client_info: ClientInfo,
    #[serde(default)]
    pub connect_opts: ConnectOpts,
}

#[derive(Debug, Default, Deserialize)]
pub struct ServerId {
    #[serde(default)]
    pub id: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ClientInfo {
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub nonce: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ConnectOpts {
    #[serde(default)]
    pub nkey: String,
    #[serde(default)]
    pub sig: String,
}

/// Who a connection is, once its key is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An issued key: its holder's name (which the server lists the connection under) and rules.
    Known(Holder),
    /// A key nobody issued: it may ask to enrol as this phone, nothing else.
    Unenrolled(DeviceId),
    Refused(String),
}

impl Verdict {
    fn grant(&self) -> Option<(String, Perms)> {
        match self {
            Verdict::Known(h) => Some((
                h.connection_name(),
                authz::perms(&Identity::from(h.clone())),
            )),
            Verdict::Unenrolled(d) => Some((format!("unenrolled/{d}"), authz::unenrolled(d))),
            Verdict::Refused(_) => None,
        }
    }
}

pub struct Callout {
    pub store: Store,
    pub issuer: KeyPair,
    /// Connections of unknown keys, per client address.
    pub unknown: Limiter,
}

impl Callout {
    /// Decides who the connection is.
    pub fn verdict(&self, req: &AuthRequest) -> Verdict {
        let nkey = &req.connect_opts.nkey;
        if nkey.is_empty() || req.connect_opts.sig.is_empty() {
            return Verdict::Refused("posfee accepts nkey connections only".into());
        }
        if !proves_key(nkey, &req.client_info.nonce, &req.connect_opts.sig) {
            return Verdict::Refused("the nonce signature does not verify with this key".into());
        }
        match self.store.lookup(nkey) {
            Ok(Lookup::Active(holder)) => Verdict::Known(holder),
            Ok(Lookup::Revoked(holder)) => {
                Verdict::Refused(format!("the key of {holder} was revoked"))
            }
            Ok(Lookup::Unknown) => self.unknown_key(nkey, &req.client_info.host),
            Err(e) => {
                tracing::error!(error = %e, "reading the key store");
                Verdict::Refused("the identity store could not be read".into())
            }
        }
    }

    /// A key nobody issued: it may ask to enrol as the phone its fingerprint names, unless
    /// that device id is another key's (it could then hear that phone's inbox) or its client
    /// address brings too many new keys.
    fn unknown_key(&self, nkey: &str, host: &str) -> Verdict {
        let d = match DeviceId::of_nkey(nkey) {
            Ok(d) => d,
            Err(e) => return Verdict::Refused(format!("not a phone key: {e}")),
        };
        match self.store.current(&Holder::Device(d.clone())) {
            Ok(None) => {}
            Ok(Some(_)) => {
                return Verdict::Refused(format!(
                    "device id {d} belongs to another key; make a new key"
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the key store");
                return Verdict::Refused("the identity store could not be read".into());
            }
        }
        if !self.unknown.allow(host) {
            return Verdict::Refused(
                "too many new keys from this address; try again shortly".into(),
            );
        }
        Verdict::Unenrolled(d)
    }

    /// The signed answer for the server: a user JWT with the verdict's permissions, or the
    /// reason for refusing.
    pub fn answer(&self, req: &AuthRequest, verdict: &Verdict) -> anyhow::Result<String> {
        let response = match verdict.grant() {
            Some((name, perms)) => {
                let mut user = Claims::new(
                    &self.issuer,
                    &req.user_nkey,
                    authz::ACCOUNT,
                    UserNats::from(&perms),
                );
                user.name = name;
                ResponseNats::jwt(jwt::encode(&user, &self.issuer)?)
            }
            None => ResponseNats::error(match verdict {
                Verdict::Refused(why) => why.clone(),
                _ => String::new(),
            }),
        };
        let claims = Claims::new(&self.issuer, &req.user_nkey, &req.server_id.id, response);
        jwt::encode(&claims, &self.issuer)
    }
}

/// Whether `sig` is `nkey`'s signature over the server's `nonce`.
fn proves_key(nkey: &str, nonce: &str, sig: &str) -> bool {
    let (Ok(key), Some(sig)) = (KeyPair::from_public_key(nkey), jwt::decode_sig(sig)) else {
        return false;
    };
    !nonce.is_empty() && key.verify(nonce.as_bytes(), &sig).is_ok()
}

/// A user's permissions as a user JWT writes them (nats-io/jwt v2 `User`).
#[derive(Debug, Serialize)]
struct UserNats {
    #[serde(rename = "pub")]
    publish: Permission,
    #[serde(rename = "sub")]
    subscribe: Permission,
    #[serde(skip_serializing_if = "Option::is_none")]
    resp: Option<ResponsePermission>,
    subs: i64,
    data: i64,
    payload: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    version: u8,
}

/// An empty allow list would mean "everything" to the server, so nothing allowed is written
/// as a deny of everything.
#[derive(Debug, Serialize)]
struct Permission {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deny: Vec<String>,
}

impl Permission {
    fn only(allow: &[String]) -> Permission {
        if allow.is_empty() {
            return Permission {
                allow: Vec::new(),
                deny: vec![">".into()],
            };
        }
        Permission {
            allow: allow.to_vec(),
            deny: Vec::new(),
        }
    }
}

/// One answer per request, within the server's default two minutes.
#[derive(Debug, Serialize)]
struct ResponsePermission {
    max: i64,
    ttl: i64,
}

impl From<&Perms> for UserNats {
    fn from(p: &Perms) -> UserNats {
        UserNats {
            publish: Permission::only(&p.publish),
            subscribe: Permission::only(&p.subscribe),
            resp: p
                .allow_responses
                .then_some(ResponsePermission { max: 1, ttl: 0 }),
            subs: -1,
            data: -1,
            payload: -1,
            kind: "user",
            version: 2,
        }
    }
}

/// The `nats` part of the authorization response claims.
#[derive(Debug, Serialize)]
struct ResponseNats {
    #[serde(skip_serializing_if = "String::is_empty")]
    jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    #[serde(rename = "type")]
    kind: &'static str,
    version: u8,
}

impl ResponseNats {
    fn jwt(jwt: String) -> ResponseNats {
        ResponseNats {
            jwt,
            error: String::new(),
            kind: "authorization_response",
            version: 2,
        }
    }
    fn error(error: String) -> ResponseNats {
        ResponseNats {
            jwt: String::new(),
            error,
            kind: "authorization_response",
            version: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn request(kp: &KeyPair, nonce: &str) -> AuthRequest {
        let sig = URL_SAFE_NO_PAD.encode(kp.sign(nonce.as_bytes()).unwrap());
        AuthRequest {
            server_id: ServerId {
                id: "NSERVER".into(),
            },
            user_nkey: KeyPair::new_user().public_key(),
            client_info: ClientInfo {
                host: "127.0.0.1".into(),
                nonce: nonce.into(),
            },
            connect_opts: ConnectOpts {
                nkey: kp.public_key(),
                sig,
            },
        }
    }

    fn callout() -> (Callout, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = Store::open(&db).unwrap();
        let c = Callout {
            store,
            issuer: KeyPair::new_account(),
            unknown: Limiter::new(crate::limit::Rate {
                per_sec: 0.0,
                burst: 2.0,
            }),
        };
        (c, dir)
    }

    #[test]
    fn an_unknown_key_that_signs_the_nonce_may_only_enrol_and_only_so_often() {
        let (c, _dir) = callout();
        let kp = KeyPair::new_user();
        let d = DeviceId::of_nkey(&kp.public_key()).unwrap();
        assert_eq!(c.verdict(&request(&kp, "n1")), Verdict::Unenrolled(d));
        let _ = c.verdict(&request(&kp, "n2"));
        assert!(matches!(
            c.verdict(&request(&kp, "n3")),
            Verdict::Refused(_)
        ));
    }

    #[test]
    fn an_unknown_key_whose_device_id_another_key_holds_is_refused() {
        let (c, _dir) = callout();
        let enrolled = KeyPair::new_user();
        let d = DeviceId::of_nkey(&enrolled.public_key()).unwrap();
        c.store
            .insert(&posfee_schemas::identity::IssuedKey {
                holder: Holder::Device(d.clone()),
                nkey: enrolled.public_key(),
                issued_at: chrono::Utc::now(),
                revoked_at: None,
            })
            .unwrap();
        // The probe can succeed: the enrolled key is that phone, and an unknown key whose id
        // is free may enrol.
        assert_eq!(
            c.verdict(&request(&enrolled, "n")),
            Verdict::Known(Holder::Device(d.clone()))
        );
        let other = KeyPair::new_user().public_key();
        let free = DeviceId::of_nkey(&other).unwrap();
        assert_eq!(c.unknown_key(&other, "h"), Verdict::Unenrolled(free));
        // A key with the enrolled one's fingerprint (spliced here; 40 bits to grind) is refused.
        let clash = format!("{}{}", &enrolled.public_key()[..10], &other[10..]);
        assert_eq!(DeviceId::of_nkey(&clash).unwrap(), d);
        assert!(matches!(c.unknown_key(&clash, "h"), Verdict::Refused(_)));
    }

    #[test]
    fn a_signature_over_another_nonce_is_refused() {
        let (c, _dir) = callout();
        let kp = KeyPair::new_user();
        let mut req = request(&kp, "nonce-a");
        req.client_info.nonce = "nonce-b".into();
        assert!(matches!(c.verdict(&req), Verdict::Refused(_)));
    }

    #[test]
    fn the_answer_is_for_the_servers_user_key_with_the_holders_rules() {
        let (c, _dir) = callout();
        let kp = KeyPair::new_user();
        let req = request(&kp, "n");
        let t = posfee_schemas::ids::TerminalId::parse("kiosk-07").unwrap();
        let token = c
            .answer(&req, &Verdict::Known(Holder::Terminal(t)))
            .unwrap();
        let outer: serde_json::Value = jwt::claims_of(&token).unwrap();
        assert_eq!(outer["sub"], req.user_nkey.as_str());
        assert_eq!(outer["aud"], "NSERVER");
        let user: serde_json::Value =
            jwt::claims_of(outer["nats"]["jwt"].as_str().unwrap()).unwrap();
        assert_eq!(user["name"], "terminal/kiosk-07");
        assert_eq!(user["aud"], authz::ACCOUNT);
        let subs = user["nats"]["sub"]["allow"].as_array().unwrap();
        assert!(subs.iter().any(|s| s == "posfee.receipt.kiosk-07"));
    }
}
