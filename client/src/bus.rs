//! Connecting to the bus as one role.

use posfee_schemas::subjects::{Identity, Role};
use std::path::PathBuf;
use std::time::Duration;

/// How long a request waits for its answer unless the caller says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 5_000;
/// How long connecting may take before we give up and report.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;

/// Where the bus is and who we are on it.
#[derive(Debug, Clone, clap::Args)]
pub struct BusArgs {
    /// NATS server URL, or a cluster's URLs separated by commas.
    #[arg(long, env = "POSFEE_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// File holding this process's nkey seed.
    #[arg(long, env = "POSFEE_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
}

/// Connects as `who` (a role, one terminal or one phone): its seed signs the server's nonce,
/// and replies come back under its own inbox prefix, the only inbox the server lets it
/// subscribe. A kiosk, phone or clerk then asks what the system takes its key for
/// ([`key_status`]): a key the system refuses for a reason (revoked, its device id another
/// key's), or another holder's key, is reported as refused with what to do, not left to time
/// out on every request.
pub async fn connect(
    url: &str,
    who: impl Into<Identity>,
    seed: Option<String>,
    name: &str,
) -> anyhow::Result<async_nats::Client> {
    let who = who.into();
    let client = connect_only(url, &who, seed.clone(), name).await?;
    if let (Some(seed), false) = (seed, matches!(who, Identity::Role(_))) {
        if let Err(e) = check_key(&client, &who, &seed).await {
            let _ = client.drain().await;
            return Err(e);
        }
    }
    Ok(client)
}

/// Whether the system takes `seed`'s key for `who`; a key nobody enrolled yet passes (it is
/// connecting to enrol). When the identity service cannot answer, the caller goes on.
async fn check_key(client: &async_nats::Client, who: &Identity, seed: &str) -> anyhow::Result<()> {
    use posfee_schemas::identity::KeyState;
    let status = match key_status(client, seed).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "the identity service did not say whose key this is; going on");
            return Ok(());
        }
    };
    let holder = status.holder.clone().map(Identity::from);
    match status.state {
        KeyState::Active if holder.as_ref() == Some(who) => Ok(()),
        KeyState::Unenrolled if matches!(who, Identity::Device(_)) => Ok(()),
        KeyState::Active => anyhow::bail!(
            "{}{who}: it is the key of {}, not of {who}; {}",
            crate::words::KEY_REFUSED,
            holder.map_or_else(|| "someone else".to_string(), |h| h.to_string()),
            key_remedy(who)
        ),
        state => anyhow::bail!(
            "{}{who} ({}): {}; {}",
            crate::words::KEY_REFUSED,
            match state {
                KeyState::Revoked => "revoked",
                KeyState::Conflict => "its device id is another key's",
                _ => "not issued",
            },
            status.message,
            key_remedy(who)
        ),
    }
}

async fn connect_only(
    url: &str,
    who: &Identity,
    seed: Option<String>,
    name: &str,
) -> anyhow::Result<async_nats::Client> {
    attempt(url, who, seed, name)
        .await?
        .map_err(|e| connect_failure(url, who, &e))
}

/// One connection attempt; the outer error is a URL that is not one.
async fn attempt(
    url: &str,
    who: &Identity,
    seed: Option<String>,
    name: &str,
) -> anyhow::Result<Result<async_nats::Client, async_nats::ConnectError>> {
    let who = who.clone();
    let mut opts = async_nats::ConnectOptions::new()
        .name(name)
        .custom_inbox_prefix(who.inbox_prefix())
        .connection_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
        .request_timeout(Some(Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS)));
    if let Some(seed) = seed {
        opts = opts.nkey(seed);
    }
    // The first connect is not retried (retry_on_initial_connect stays off): a refused key
    // or a system that is not running is reported at once, with what to do about it.
    let watched = who.clone();
    opts = opts.event_callback(move |event| {
        let who = watched.clone();
        async move { report_lost_key(&who, &event) }
    });
    Ok(opts.connect(server_addrs(url)?).await)
}

/// How long a service waits between attempts to reach a server that is not up yet.
pub const SERVER_WAIT_MS: u64 = 200;

/// Connects a service as `role`, waiting for a server that cannot be reached yet (starting, or
/// its node restarting) instead of exiting: a supervisor would count such an exit as a crash
/// and pause longer each time. A refused key still fails at once. Gives up when `shutdown`
/// triggers.
pub async fn connect_waiting(
    url: &str,
    role: Role,
    seed: Option<String>,
    name: &str,
    shutdown: &crate::Shutdown,
) -> anyhow::Result<async_nats::Client> {
    use async_nats::ConnectErrorKind as K;
    let who = Identity::Role(role);
    let started = std::time::Instant::now();
    let mut next_report = started;
    loop {
        let e = match attempt(url, &who, seed.clone(), name).await? {
            Ok(client) => return Ok(client),
            Err(e) => e,
        };
        if !matches!(e.kind(), K::Io | K::TimedOut) || shutdown.is_triggered() {
            return Err(connect_failure(url, &who, &e));
        }
        if std::time::Instant::now() >= next_report {
            let waited_s = started.elapsed().as_secs();
            tracing::warn!(%url, error = %e, waited_s, "no server to connect to yet; waiting");
            next_report += Duration::from_secs(30);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(SERVER_WAIT_MS)) => {}
            _ = shutdown.wait() => return Err(connect_failure(url, &who, &e)),
        }
    }
}

/// The servers in `url`: one URL, or a comma-separated list of a cluster's nodes (what
/// `posfee up --cluster` writes and `--nats-url` accepts). The client connects to any that
/// answers and moves to another when its node goes away.
pub fn server_addrs(url: &str) -> anyhow::Result<Vec<async_nats::ServerAddr>> {
    let addrs = url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<async_nats::ServerAddr>()
                .map_err(|e| anyhow::anyhow!("{u:?} is not a NATS server URL: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if addrs.is_empty() {
        anyhow::bail!("no NATS server URL given (expected nats://host:port[,nats://host:port…])");
    }
    Ok(addrs)
}

/// A round trip through the server on `client`'s connection, for a kiosk or a phone (which
/// have no JetStream rights to ask anything of the server itself): a request on a subject the
/// identity may publish but nobody can be listening on (a fresh random token), answered by the
/// server with "no responders". Once it returns, every subscription made before it is in
/// place at the server. (`flush` only empties the socket.)
pub async fn round_trip(client: &async_nats::Client, who: &Identity) -> anyhow::Result<()> {
    use posfee_schemas::ids::{DeviceId, PairToken, TerminalId};
    let token = PairToken::generate();
    let probe = match who {
        Identity::Terminal(_) => {
            posfee_schemas::subjects::wallet(&DeviceId::parse("phroundtr")?, &token)
        }
        Identity::Device(_) => {
            posfee_schemas::subjects::pair(&TerminalId::parse("round-trip")?, &token)
        }
        Identity::Role(_) | Identity::Clerk(_) => "$JS.API.INFO".to_string(),
    };
    let request = async_nats::Request::new()
        .payload(bytes::Bytes::new())
        .timeout(Some(Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS)));
    match client.send_request(probe, request).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(anyhow::anyhow!("no round trip through the server: {e}")),
    }
}

/// Who a connection is, read from the inbox prefix it was made with ([`connect`] sets it from
/// the identity): what shared request subjects end with ([`Identity::path`]).
pub fn asker_of(client: &async_nats::Client) -> anyhow::Result<Identity> {
    let inbox = client.new_inbox();
    let tokens: Vec<&str> = inbox.split('.').collect();
    match tokens.as_slice() {
        ["_INBOX", who @ .., _unique] => Ok(Identity::from_path(who)?),
        _ => anyhow::bail!("the connection's inbox {inbox} names no posfee identity"),
    }
}

/// Connects as the identity service's user in the server's system account, with replies
/// under that user's own inbox prefix.
pub async fn connect_system(
    url: &str,
    seed: String,
    name: &str,
) -> anyhow::Result<async_nats::Client> {
    async_nats::ConnectOptions::new()
        .name(name)
        .nkey(seed)
        .custom_inbox_prefix(posfee_schemas::subjects::SYSTEM_INBOX)
        .connection_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
        .request_timeout(Some(Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS)))
        .connect(server_addrs(url)?)
        .await
        .map_err(|e| {
            anyhow::anyhow!("connecting to {url} as the identity service's system user: {e}")
        })
}

/// The failure to connect as one clear sentence: what happened, where, and the next step.
/// The client's own error repeats its cause two or three times and names no remedy.
pub fn connect_failure(url: &str, who: &Identity, e: &async_nats::ConnectError) -> anyhow::Error {
    use async_nats::ConnectErrorKind as K;
    match e.kind() {
        K::AuthorizationViolation | K::Authentication => anyhow::anyhow!(
            "{}{who} at {url} (wrong, revoked or missing): {}",
            crate::words::KEY_REFUSED,
            key_remedy(who)
        ),
        K::Io if is_refused(e) => anyhow::anyhow!(
            "{}{url} (connection refused): start it with `posfee up`, or point --nats-url at the system's URL (`posfee status` shows it)",
            crate::words::NOT_RUNNING
        ),
        K::TimedOut => anyhow::anyhow!(
            "{}{url} within {CONNECT_TIMEOUT_MS} ms: is the system up there (`posfee status`), and is it the right address?",
            crate::words::NO_ANSWER
        ),
        _ => anyhow::anyhow!("connecting to {url} as {who}: {e}"),
    }
}

/// Which command issues the key `who` connects with.
fn key_remedy(who: &Identity) -> String {
    match who {
        Identity::Terminal(t) => format!(
            "issue one with `posfee keys terminal {t}` (add --replace if it has one) and give the kiosk its seed file"
        ),
        Identity::Device(_) => "the phone's key was revoked, or the identity service is not running: a revoked phone makes a new key (start with a new --home, or remove its bus.nk) and enrols it".to_string(),
        Identity::Role(r) => format!(
            "role keys are written by `posfee up` to <data-dir>/creds/{r}.nk; use the seed from the data dir of the running system"
        ),
        Identity::Clerk(t) => format!("issue one with `posfee keys clerk {t}`"),
    }
}

fn is_refused(e: &async_nats::ConnectError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        source = s.source();
    }
    e.to_string().contains("Connection refused")
}

/// A connection that loses its key (revoked while connected) keeps reconnecting and being
/// refused; say so in the log with the remedy, instead of leaving only timeouts to see.
fn report_lost_key(who: &Identity, event: &async_nats::Event) {
    use async_nats::{ClientError, Event, ServerError};
    let refused = match event {
        Event::ServerError(ServerError::AuthorizationViolation) => true,
        Event::ClientError(ClientError::Other(e)) => e.contains("authorization violation"),
        _ => false,
    };
    if refused {
        tracing::error!(who = %who, "the server refused this key (revoked or replaced?): {}", key_remedy(who));
    }
}

/// How long asking what the system takes a key for may take.
pub const KEY_STATUS_TIMEOUT_MS: u64 = 3_000;

/// What the system takes the key `seed` for (`posfee.identity.status.<nkey>`, answered on the
/// key's own status inbox): every connection may ask this of its own key, a refused one
/// included, so a kiosk or phone learns whether it is who it thinks it is, revoked, or a key
/// nobody enrolled, and what to do.
pub async fn key_status(
    client: &async_nats::Client,
    seed: &str,
) -> Result<posfee_schemas::identity::KeyStatus, crate::CallError> {
    use posfee_schemas::ids::PublicNkey;
    let bad = |e: String| {
        crate::CallError::Remote(posfee_schemas::WireError::new(
            posfee_schemas::ErrorCode::InvalidField,
            format!("nkey: {e}"),
        ))
    };
    let key = crate::creds::public_key(seed)
        .map_err(|e| bad(format!("{e:#}")))
        .and_then(|k| PublicNkey::parse(k).map_err(|e| bad(e.to_string())))?;
    let reply = format!(
        "{}.{}",
        posfee_schemas::subjects::status_inbox(&key),
        posfee_schemas::ids::PairToken::generate()
    );
    crate::call::call_via(
        client,
        posfee_schemas::subjects::identity_status(&key),
        reply,
        &(),
        Duration::from_millis(KEY_STATUS_TIMEOUT_MS),
    )
    .await
}

impl BusArgs {
    pub async fn connect(&self, role: Role, name: &str) -> anyhow::Result<async_nats::Client> {
        let seed = match &self.nkey_file {
            Some(p) => Some(crate::creds::read_seed(p)?),
            None => None,
        };
        connect(&self.nats_url, role, seed, name).await
    }

    /// [`connect_waiting`] with this process's URL and seed.
    pub async fn connect_waiting(
        &self,
        role: Role,
        name: &str,
        shutdown: &crate::Shutdown,
    ) -> anyhow::Result<async_nats::Client> {
        let seed = match &self.nkey_file {
            Some(p) => Some(crate::creds::read_seed(p)?),
            None => None,
        };
        connect_waiting(&self.nats_url, role, seed, name, shutdown).await
    }
}

/// How often [`lost`] looks at the connection.
const WATCH_MS: u64 = 250;
/// How long a kiosk or phone stays without its connection before it says the system is gone.
pub const AWAY_LIMIT_MS: u64 = 3_000;

/// Resolves once this kiosk's or phone's connection is of no use any more, with why and what
/// to do: its key was refused after a reconnect (revoked, replaced, or another holder's), or
/// no server took the connection back within [`AWAY_LIMIT_MS`] (the system stopped, or the
/// network is down). Never resolves while the connection is up and the key is taken. A
/// screen or a wait selects on it, so a revoked kiosk or a stopped system is said within
/// seconds instead of every later request timing out as "busy".
pub async fn lost(
    client: &async_nats::Client,
    who: &Identity,
    seed: &str,
) -> posfee_schemas::WireError {
    use async_nats::connection::State;
    use posfee_schemas::{ErrorCode, WireError};
    use std::sync::atomic::Ordering;
    let stats = client.statistics();
    let mut connects = stats.connects.load(Ordering::Relaxed);
    let mut away_since: Option<std::time::Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(WATCH_MS));
    loop {
        tick.tick().await;
        if client.connection_state() != State::Connected {
            let since = *away_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() >= Duration::from_millis(AWAY_LIMIT_MS) {
                return WireError::new(
                    ErrorCode::Unavailable,
                    format!(
                        "{}{} s: it was stopped, or the network is down; start again once it is back (a payment under way ends on its own, and its receipt is on the phone)",
                        crate::words::GONE,
                        AWAY_LIMIT_MS / 1000
                    ),
                );
            }
            continue;
        }
        away_since = None;
        // Connected again since the last look (a cut is followed by a reconnect within
        // milliseconds): is the key still taken?
        let now = stats.connects.load(Ordering::Relaxed);
        if now != connects {
            connects = now;
            if let Err(e) = check_key(client, who, seed).await {
                return WireError::new(ErrorCode::Forbidden, format!("{e:#}"));
            }
        }
    }
}
