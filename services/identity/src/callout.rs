//! The server's auth callout: nats-server asks, for every connection that is not a service
//! role, who it is; the answer is a user JWT with that one identity's permissions.
//!
//! The client proves its nkey by signing the server's nonce; the server forwards the key, the
//! signature, the nonce and the connection's name, and this service checks the signature
//! before it believes the key. An issued key gets its holder's permissions
//! ([`posfee_authz::perms`]); a key nobody enrolled yet may only ask to enrol as the
//! phone its fingerprint names, if its name carries a stamp of a little work
//! ([`posfee_schemas::identity::stamp_bits`]), and only for [`UNENROLLED_TTL_SECS`]. A
//! revoked key, or one whose device id another key holds, is let in for
//! [`EXPLAIN_TTL_SECS`] to ask one thing: why (`posfee.identity.status.<nkey>`), so the phone
//! or kiosk can tell the payer what to do instead of retrying blind. Every connection may ask
//! that about its own key. No key may hold more than [`crate::live::MAX_PER_HOLDER`]
//! connections, nor open them faster than [`ADMISSION_RATE`].

use crate::jwt::{self, Claims};
use crate::live::Live;
use crate::store::{Lookup, Store};
use nkeys::KeyPair;
use posfee_authz::{self as authz, Perms};
use posfee_runtime::limit::{Limiter, Rate};
use posfee_schemas::identity::{stamp_bits, stamp_in_name, Holder};
use posfee_schemas::ids::{DeviceId, PublicNkey};
use posfee_schemas::subjects::Identity;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How long a key nobody enrolled yet stays connected: long enough to enrol and reconnect.
pub const UNENROLLED_TTL_SECS: i64 = 30;
/// How long a refused key stays connected to ask why.
pub const EXPLAIN_TTL_SECS: i64 = 10;
/// Subscriptions one kiosk, phone or clerk connection may hold (a phone holds a handful: its
/// inbox, a wallet code, an answer it waits for), so no key can fill the server's memory.
pub const MAX_SUBSCRIPTIONS: i64 = 64;
/// Journal looks for keys this view does not know, across all keys: a city's new phones
/// reconnecting right after they enrol, with room to spare. Past it a key is answered from
/// the view (it may enrol, which answers the truth).
pub const FRESH_LOOK_RATE: Rate = Rate {
    per_sec: 200.0,
    burst: 400.0,
};
/// New connections of one key: a few at once, then one a second.
pub const ADMISSION_RATE: Rate = Rate {
    per_sec: 1.0,
    burst: 8.0,
};

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
    /// The connection's name: a new key's stamp travels in it (`stamp=<n>`).
    #[serde(default)]
    pub name: String,
}

/// Who a connection is, once its key is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An issued key: its holder's name (which the server lists the connection under) and rules.
    Known(Holder),
    /// A key nobody issued: it may ask to enrol as this phone, nothing else.
    Unenrolled(DeviceId),
    /// A key the system refuses for a reason its holder can act on (revoked, its device id
    /// taken): let in only to ask why.
    Explain(String),
    Refused(String),
}

impl Verdict {
    /// The connection's name, permissions and lifetime in seconds (none: until it closes).
    fn grant(&self, key: &PublicNkey, unenrolled_ttl: i64) -> Option<(String, Perms, Option<i64>)> {
        let (name, perms, ttl) = match self {
            Verdict::Known(h) => (
                h.connection_name(),
                authz::perms(&Identity::from(h.clone())),
                None,
            ),
            Verdict::Unenrolled(d) => (
                unenrolled_name(d),
                authz::unenrolled(d),
                Some(unenrolled_ttl),
            ),
            Verdict::Explain(_) => (
                explaining_name(key.as_str()),
                Perms::default(),
                Some(EXPLAIN_TTL_SECS),
            ),
            Verdict::Refused(_) => return None,
        };
        Some((name, authz::with_key_status(perms, key), ttl))
    }
}

fn unenrolled_name(d: &DeviceId) -> String {
    format!("unenrolled/{d}")
}

/// The name of a refused key's connection, asking why.
fn explaining_name(nkey: &str) -> String {
    format!("refused/{}", nkey.get(..16).unwrap_or(nkey))
}

pub struct Callout {
    pub store: Store,
    pub issuer: KeyPair,
    /// New connections per key.
    pub admissions: Limiter,
    /// Journal looks for keys the view does not know ([`FRESH_LOOK_RATE`]).
    pub fresh_looks: Limiter,
    /// Live connections per holder.
    pub live: Arc<Live>,
    /// The stamp bits a key nobody enrolled needs to connect.
    pub stamp_bits: u32,
    /// How long such a key stays connected.
    pub unenrolled_ttl_secs: i64,
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
        let verdict = match self.store.lookup(nkey) {
            Ok(Lookup::Active(holder)) => Verdict::Known(holder),
            Ok(Lookup::Revoked(holder)) => {
                Verdict::Explain(format!("the key of {holder} was revoked"))
            }
            Ok(Lookup::Unknown) => self.unknown_key(nkey, &req.connect_opts.name),
            Err(e) => {
                tracing::error!(error = %e, "reading the key store");
                Verdict::Refused("the identity store could not be read".into())
            }
        };
        // Counted only past the cheap checks, so keys that fail them (no stamp) leave no
        // trace in the limiter.
        if matches!(verdict, Verdict::Refused(_)) {
            return verdict;
        }
        if !self.admissions.allow(nkey) {
            return Verdict::Refused(
                "this key opens connections too fast; close some and try again shortly".into(),
            );
        }
        self.within_limits(&req.server_id.id, nkey, verdict)
    }

    /// The phone a connecting key would be if it is unknown to this view: worth a look at the
    /// journal before answering, in case it enrolled a moment ago through another instance.
    /// A stamped key may be a new phone; an unstamped one may be a phone that has just enrolled
    /// and reconnects without its stamp, as a phone may (docs/contract.md section 1), to an
    /// instance whose view has not applied its enrolment yet.
    /// The key must have signed the server's nonce, and looks are rationed across all keys
    /// ([`FRESH_LOOK_RATE`]), stamped and unstamped keys apart: a crowd of made-up keys cannot
    /// turn connection attempts into more journal reads than that, nor an unstamped crowd
    /// take the new phones' looks.
    pub fn unseen_phone(&self, req: &AuthRequest) -> Option<DeviceId> {
        let nkey = &req.connect_opts.nkey;
        if nkey.is_empty() || !matches!(self.store.lookup(nkey), Ok(Lookup::Unknown)) {
            return None;
        }
        let device = DeviceId::of_nkey(nkey).ok()?;
        let stamped = stamp_in_name(&req.connect_opts.name).map_or(0, |s| stamp_bits(nkey, s));
        let ration = if stamped >= self.stamp_bits {
            "stamped"
        } else {
            "unstamped"
        };
        let proven = proves_key(nkey, &req.client_info.nonce, &req.connect_opts.sig);
        (proven && self.fresh_looks.allow(ration)).then_some(device)
    }

    /// The verdict if the connection fits the limits on live connections (it is counted from
    /// now), or a refusal saying which it does not fit.
    fn within_limits(&self, server: &str, nkey: &str, verdict: Verdict) -> Verdict {
        let name = match &verdict {
            Verdict::Known(h) => h.connection_name(),
            Verdict::Unenrolled(d) => unenrolled_name(d),
            Verdict::Explain(_) => explaining_name(nkey),
            Verdict::Refused(_) => return verdict,
        };
        match self.live.admit(server, &name) {
            Ok(()) => verdict,
            Err(why) => Verdict::Refused(why),
        }
    }

    /// A key nobody issued: it may ask to enrol as the phone its fingerprint names, if it
    /// carries a stamp, its device id is not another key's (it could then hear that phone's
    /// inbox) and it holds no more than a couple of connections.
    fn unknown_key(&self, nkey: &str, name: &str) -> Verdict {
        let d = match DeviceId::of_nkey(nkey) {
            Ok(d) => d,
            Err(e) => return Verdict::Refused(format!("not a phone key: {e}")),
        };
        let stamped = stamp_in_name(name).map_or(0, |s| stamp_bits(nkey, s));
        if stamped < self.stamp_bits {
            return Verdict::Refused(format!(
                "a new key connects with a stamp of {} bits in its name (stamp=<n>, docs/contract.md section 1); this one has {stamped}",
                self.stamp_bits
            ));
        }
        match self.store.current(&Holder::Device(d.clone())) {
            Ok(None) => {}
            Ok(Some(_)) => {
                return Verdict::Explain(format!(
                    "device id {d} belongs to another key; make a new key"
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the key store");
                return Verdict::Refused("the identity store could not be read".into());
            }
        }
        Verdict::Unenrolled(d)
    }

    /// The signed answer for the server: a user JWT with the verdict's permissions, or the
    /// reason for refusing.
    pub fn answer(&self, req: &AuthRequest, verdict: &Verdict) -> anyhow::Result<String> {
        let key = PublicNkey::parse(req.connect_opts.nkey.clone()).ok();
        let grant = key.and_then(|k| verdict.grant(&k, self.unenrolled_ttl_secs));
        let response = match grant {
            Some((name, perms, ttl)) => {
                let mut user = Claims::new(
                    &self.issuer,
                    &req.user_nkey,
                    authz::ACCOUNT,
                    UserNats::from(&perms),
                );
                user.name = name;
                user.exp = ttl.map(|t| user.iat + t);
                ResponseNats::jwt(jwt::encode(&user, &self.issuer)?)
            }
            None => ResponseNats::error(match verdict {
                Verdict::Refused(why) => why.clone(),
                _ => "not a user nkey".to_string(),
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

impl From<&Perms> for UserNats {
    fn from(p: &Perms) -> UserNats {
        UserNats {
            publish: Permission::only(&p.publish),
            subscribe: Permission::only(&p.subscribe),
            subs: MAX_SUBSCRIPTIONS,
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
    use posfee_schemas::identity::find_stamp;

    /// A connection of `kp` answering `nonce`, named with a stamp of `bits` bits.
    fn request(kp: &KeyPair, nonce: &str, bits: u32) -> AuthRequest {
        let sig = URL_SAFE_NO_PAD.encode(kp.sign(nonce.as_bytes()).unwrap());
        let stamp = find_stamp(&kp.public_key(), bits, 0);
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
                name: format!("a phone stamp={stamp}"),
            },
        }
    }

    const BITS: u32 = 8;

    fn callout() -> (Callout, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = posfee_store::open(dir.path()).unwrap();
        let store = Store::open(&db).unwrap();
        let c = Callout {
            store,
            issuer: KeyPair::new_account(),
            admissions: Limiter::new(ADMISSION_RATE),
            fresh_looks: Limiter::new(FRESH_LOOK_RATE),
            live: Arc::new(Live::default()),
            stamp_bits: BITS,
            unenrolled_ttl_secs: UNENROLLED_TTL_SECS,
        };
        (c, dir)
    }

    #[test]
    fn an_unknown_key_with_a_stamp_may_only_enrol_and_without_one_is_refused() {
        let (c, _dir) = callout();
        let kp = KeyPair::new_user();
        let d = DeviceId::of_nkey(&kp.public_key()).unwrap();
        assert_eq!(c.verdict(&request(&kp, "n1", BITS)), Verdict::Unenrolled(d));
        let mut unstamped = request(&kp, "n2", BITS);
        unstamped.connect_opts.name = "a phone".into();
        assert!(matches!(c.verdict(&unstamped), Verdict::Refused(_)));
        // A stamp of too few bits: take the first one below the bar.
        let weak = (0..)
            .find(|s| stamp_bits(&kp.public_key(), *s) < BITS)
            .unwrap();
        let mut too_weak = request(&kp, "n3", BITS);
        too_weak.connect_opts.name = format!("stamp={weak}");
        assert!(matches!(c.verdict(&too_weak), Verdict::Refused(_)));
    }

    #[test]
    fn an_unknown_key_is_looked_up_with_or_without_a_stamp_only_if_it_signed_the_nonce() {
        let (c, _dir) = callout();
        let kp = KeyPair::new_user();
        let d = DeviceId::of_nkey(&kp.public_key()).unwrap();
        assert_eq!(c.unseen_phone(&request(&kp, "n1", BITS)), Some(d.clone()));
        // A phone that enrolled through another instance reconnects without its stamp.
        let mut unstamped = request(&kp, "n2", BITS);
        unstamped.connect_opts.name = "a phone".into();
        assert_eq!(c.unseen_phone(&unstamped), Some(d));
        let mut unproven = request(&kp, "n3", BITS);
        unproven.client_info.nonce = "another nonce".into();
        assert_eq!(c.unseen_phone(&unproven), None);
        // A crowd of unstamped keys takes its own ration, not the new phones'.
        let looked = (0..2_000)
            .filter(|_| {
                let mut r = request(&KeyPair::new_user(), "n", 0);
                r.connect_opts.name = "a phone".into();
                c.unseen_phone(&r).is_some()
            })
            .count();
        assert!(looked < 1_000, "{looked} unstamped looks allowed at once");
        assert!(c
            .unseen_phone(&request(&KeyPair::new_user(), "n4", BITS))
            .is_some());
    }

    #[test]
    fn one_key_opens_only_a_few_connections_at_once() {
        let (c, _dir) = callout();
        let kp = KeyPair::new_user();
        let let_in = (0..20)
            .filter(|i| {
                !matches!(
                    c.verdict(&request(&kp, &format!("n{i}"), BITS)),
                    Verdict::Refused(_)
                )
            })
            .count();
        // Counted as they are admitted, before any connect event: the few an unenrolled key
        // may hold.
        assert_eq!(let_in, crate::live::MAX_UNENROLLED);
        // Another key is not held back by it.
        let other = KeyPair::new_user();
        assert!(matches!(
            c.verdict(&request(&other, "n", BITS)),
            Verdict::Unenrolled(_)
        ));
    }

    #[test]
    fn an_unknown_key_whose_device_id_another_key_holds_may_only_ask_why() {
        let (c, _dir) = callout();
        let enrolled = KeyPair::new_user();
        let d = DeviceId::of_nkey(&enrolled.public_key()).unwrap();
        crate::journal::apply_for_test(
            &c.store,
            vec![crate::journal::Entry::Issued {
                key: posfee_schemas::identity::IssuedKey {
                    holder: Holder::Device(d.clone()),
                    nkey: enrolled.public_key(),
                    issued_at: chrono::Utc::now(),
                    revoked_at: None,
                },
                replaces: None,
            }],
        );
        // The probe can succeed: the enrolled key is that phone, and an unknown key whose id
        // is free may enrol.
        assert_eq!(
            c.verdict(&request(&enrolled, "n", BITS)),
            Verdict::Known(Holder::Device(d.clone()))
        );
        let other = KeyPair::new_user().public_key();
        let free = DeviceId::of_nkey(&other).unwrap();
        let stamp = format!("stamp={}", find_stamp(&other, BITS, 0));
        assert_eq!(c.unknown_key(&other, &stamp), Verdict::Unenrolled(free));
        // A key with the enrolled one's fingerprint (spliced here; 40 bits to grind).
        let clash = format!("{}{}", &enrolled.public_key()[..10], &other[10..]);
        assert_eq!(DeviceId::of_nkey(&clash).unwrap(), d);
        let stamp = format!("stamp={}", find_stamp(&clash, BITS, 0));
        assert!(matches!(c.unknown_key(&clash, &stamp), Verdict::Explain(_)));
    }

    #[test]
    fn a_signature_over_another_nonce_is_refused() {
        let (c, _dir) = callout();
        let kp = KeyPair::new_user();
        let mut req = request(&kp, "nonce-a", BITS);
        req.client_info.nonce = "nonce-b".into();
        assert!(matches!(c.verdict(&req), Verdict::Refused(_)));
    }

    #[test]
    fn the_answer_is_for_the_servers_user_key_with_the_holders_rules_and_its_own_status() {
        let (c, _dir) = callout();
        let kp = KeyPair::new_user();
        let req = request(&kp, "n", BITS);
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
        assert!(
            user.get("exp").is_none(),
            "an issued key's connection does not expire"
        );
        let subs = user["nats"]["sub"]["allow"].as_array().unwrap();
        assert!(subs.iter().any(|s| s == "posfee.receipt.kiosk-07"));
        let status = format!("posfee.identity.status.{}", kp.public_key());
        let pubs = user["nats"]["pub"]["allow"].as_array().unwrap();
        assert!(pubs.iter().any(|s| *s == status), "{pubs:?}");
        assert!(
            user["nats"].get("resp").is_none(),
            "a kiosk answers nothing blindly"
        );
        assert_eq!(
            user["nats"]["subs"], MAX_SUBSCRIPTIONS,
            "a kiosk's subscriptions are bounded"
        );
    }

    #[test]
    fn a_refused_key_may_ask_only_why_and_only_briefly() {
        let (c, _dir) = callout();
        let kp = KeyPair::new_user();
        let req = request(&kp, "n", BITS);
        let token = c.answer(&req, &Verdict::Explain("revoked".into())).unwrap();
        let outer: serde_json::Value = jwt::claims_of(&token).unwrap();
        let user: serde_json::Value =
            jwt::claims_of(outer["nats"]["jwt"].as_str().unwrap()).unwrap();
        let pubs = user["nats"]["pub"]["allow"].as_array().unwrap();
        assert_eq!(
            pubs,
            &[serde_json::json!(format!(
                "posfee.identity.status.{}",
                kp.public_key()
            ))]
        );
        let subs = user["nats"]["sub"]["allow"].as_array().unwrap();
        assert_eq!(
            subs,
            &[serde_json::json!(format!(
                "_INBOX.key.{}.>",
                kp.public_key()
            ))]
        );
        assert_eq!(
            user["exp"].as_i64().unwrap() - user["iat"].as_i64().unwrap(),
            EXPLAIN_TTL_SECS
        );
    }
}
