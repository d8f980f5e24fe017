//! The temporary connection between a kiosk and a phone.
//!
//! Mode A: the terminal listens on `posfee.pair.<terminal>.<token>`; the companion's join is a
//! request there and its reply inbox is the other half of the connection, which receives the
//! [`BillOffer`]. Mode B: the companion listens on `posfee.wallet.<device>.<token>`; the terminal sends
//! the [`BillOffer`] there as a request and gets a [`WalletAnswer`].

use crate::fee::IssuedBill;
use crate::ids::{BillId, DeviceId, PairToken, PaymentId, TerminalId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which side shows the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairMode {
    /// The terminal presents, the phone scans (`posfee.pair.…`).
    TerminalPresents,
    /// The phone presents, the terminal scans (`posfee.wallet.…`).
    PhonePresents,
}

/// How a kiosk's pairing was shown, as the kiosk tells it (since 0.5.0): in its offer, which
/// the phone hands on in its pay request, so that the hold at paygate carries the
/// `pairing.joined` event; a pairing that ends without a hold is told in the bill's close
/// ([`PairingClosed`]). No pairing is a stream write of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingShown {
    pub mode: PairMode,
    /// When the code was shown (A) or the offer sent (B).
    pub opened_at: DateTime<Utc>,
    /// When the pairing would have expired had nobody joined.
    pub expires_at: DateTime<Utc>,
}

/// The longest a pairing may stay open, as a [`PairingShown`] may claim it.
pub const MAX_PAIRING_SECS: i64 = 3_600;

impl PairingShown {
    /// A pairing that closes after it opens, and within [`MAX_PAIRING_SECS`].
    pub fn check(&self, field: &str) -> Result<(), crate::WireError> {
        let open = self.expires_at - self.opened_at;
        if open < chrono::Duration::zero() || open > chrono::Duration::seconds(MAX_PAIRING_SECS) {
            return Err(crate::WireError::field(
                field,
                format!("a pairing expires between its opening and {MAX_PAIRING_SECS} s after it"),
            ));
        }
        Ok(())
    }
}

/// How a pairing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingEnd {
    /// A phone took the bill (and then declined, or did not pay).
    Joined,
    /// Nobody joined in time.
    Expired,
    /// Cancelled at the kiosk before a phone took the bill.
    Cancelled,
}

/// A kiosk's pairing, told in the close of its bill (since 0.5.0): the close's ledger entry
/// carries the `pairing.<end>` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingClosed {
    pub end: PairingEnd,
    pub shown: PairingShown,
    /// A basket's other bills, offered in the same pairing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_bills: Vec<BillId>,
}

/// Mode A: the companion joins the pairing it scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairJoin {
    /// The terminal the companion believes it is talking to (from the code it scanned).
    pub terminal: TerminalId,
    /// The bill the code was shown for, when the code carried one.
    #[serde(default)]
    pub bill_id: Option<BillId>,
    /// Where the kiosk tells this phone that the pairing ended before it paid (cancelled at
    /// the kiosk, expired): a wallet subject of the phone's own that it listens on.
    #[serde(default)]
    pub notify: Option<PhoneChannel>,
}

/// A subject only one phone hears: `posfee.wallet.<device>.<token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneChannel {
    pub device: DeviceId,
    pub token: PairToken,
}

/// The signed bill sent over the temporary connection (mode A reply, mode B request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillOffer {
    pub terminal: TerminalId,
    pub bill: IssuedBill,
    /// When the pairing (not the bill) stops accepting.
    pub pairing_expires_at: DateTime<Utc>,
    /// Where the phone reports the payer's decision and a payment that failed:
    /// `posfee.pair.<terminal>.<updates>`, a subject only the kiosk and this phone know.
    #[serde(default)]
    pub updates: Option<PairToken>,
    /// A basket's other bills (`bill` is its first): the phone shows them all and pays them
    /// in one order ([`crate::basket`]). Since 0.4.0; the pairing's messages name the basket
    /// by its first bill.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_bills: Vec<IssuedBill>,
    /// How the kiosk showed this pairing: the phone hands it on in its
    /// [`crate::paygate::PayRequest`]. Since 0.5.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing: Option<PairingShown>,
}

/// Phone to kiosk, a request on the offer's `updates` subject: what the payer decided and
/// how the payment went, so the kiosk never waits for a receipt that will not come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerUpdate {
    pub bill_id: BillId,
    pub step: PayerStep,
    /// `paying` and `not_paid`: the payment the phone made.
    #[serde(default)]
    pub payment_id: Option<PaymentId>,
    /// `not_paid`: the payment platform's error code (`INSUFFICIENT_FUNDS` …).
    #[serde(default)]
    pub code: Option<String>,
    /// `not_paid`: the reason, for the kiosk's screen.
    #[serde(default)]
    pub message: Option<String>,
}

/// What the phone reports to the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayerStep {
    /// The payer declined on the phone.
    Declined,
    /// The payer confirmed; the payment is on its way.
    Paying,
    /// The payment platform refused the payment for good; nothing was paid.
    NotPaid,
}

/// Kiosk to phone, published (not a request) on the phone's [`PhoneChannel`] or wallet code:
/// the kiosk ended the pairing and closed the bill at the ledger, so it can no longer be paid
/// through this pairing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskNotice {
    pub bill_id: BillId,
    pub reason: CloseReason,
}

/// Why a kiosk closed a bill without a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Cancelled at the kiosk.
    Cancelled,
    /// No phone took the bill in time.
    Expired,
    /// The payer declined on the phone.
    Declined,
    /// The payment platform refused the payment.
    NotPaid,
    /// No receipt came within the kiosk's wait.
    NoReceipt,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Cancelled => "cancelled",
            CloseReason::Expired => "expired",
            CloseReason::Declined => "declined",
            CloseReason::NotPaid => "not_paid",
            CloseReason::NoReceipt => "no_receipt",
        }
    }
}

/// Mode B: the phone's answer to an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletAnswer {
    /// The payment the phone will make for this bill; the terminal watches for its receipt.
    pub payment_id: PaymentId,
    pub bill_id: BillId,
}

/// What a code (QR or typed) carries: a terminal's pairing (mode A) or a phone's wallet code
/// (mode B), never a mix of the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum PairCode {
    /// Mode A: the terminal showing the code, for one bill when the code says which.
    TerminalPresents {
        terminal: TerminalId,
        token: PairToken,
        #[serde(default)]
        bill_id: Option<BillId>,
    },
    /// Mode B: the phone showing the code.
    PhonePresents { device: DeviceId, token: PairToken },
}

// --- code formats ---------------------------------------------------------------------------
//
// A pairing code travels two ways: as a QR code (the URI) and as a short code a person can
// type when the camera fails. Both carry exactly a [`PairCode`]:
//
//   mode A  URI    posfee://pair/<terminal>/<token-hex>?bill=<uuid>
//           typed  <terminal>:XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX
//   mode B  URI    posfee://wallet/<device>/<token-hex>
//           typed  <device>:XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX
//
// The typed token is the 128-bit token in Crockford base32 (26 symbols, the top two bits
// zero) followed by two check symbols: ten bits of a CRC over the mode, the terminal or
// device and the token. The mode is in the check, not in the text: a reader that knows which
// side it is on uses [`PairCode::parse_mode`]; [`PairCode::parse`] tries the terminal's
// check first, so one wallet code in 1,024 reads as a terminal code there. A mistyped symbol is caught here with a clear message instead of reaching a subject
// nobody listens on. Symbols are case-insensitive, `O` reads as `0`, `I` and `L` as `1`, and
// spaces and dashes inside the token are ignored. The terminal id is kept as typed (terminal
// ids are case-sensitive subject tokens).

/// The URI scheme of pairing codes.
pub const URI_SCHEME: &str = "posfee://";
/// Base32 symbols that carry the 128-bit token (26 × 5 = 130 bits; the top two must be 0).
pub const TYPED_TOKEN_SYMBOLS: usize = 26;
/// Check symbols after the token (10 bits).
pub const TYPED_CHECK_SYMBOLS: usize = 2;
/// Symbols per group when a typed code is shown.
pub const TYPED_GROUP_SYMBOLS: usize = 4;
/// A typed code longer than this is refused before any parsing.
pub const MAX_CODE_CHARS: usize = 256;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Why a code was not accepted. Messages are shown to the person who typed or scanned it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is empty")]
    Empty,
    #[error("the code is longer than {MAX_CODE_CHARS} characters")]
    TooLong,
    #[error("not a posfee code: {0}")]
    NotPosfee(String),
    #[error("malformed code: {0}")]
    Malformed(String),
    #[error("the token must be exactly 128 bits: {0}")]
    BadToken(String),
    #[error("the code does not check out (a symbol is mistyped or missing)")]
    BadCheck,
    #[error("this is a {found} code, a {expected} code is needed here")]
    WrongMode {
        expected: &'static str,
        found: &'static str,
    },
}

impl PairMode {
    fn other(self) -> PairMode {
        match self {
            PairMode::TerminalPresents => PairMode::PhonePresents,
            PairMode::PhonePresents => PairMode::TerminalPresents,
        }
    }

    fn label(self) -> &'static str {
        match self {
            PairMode::TerminalPresents => "terminal pairing",
            PairMode::PhonePresents => "phone wallet",
        }
    }
}

impl PairCode {
    /// Mode A: the code a terminal shows for one bill.
    pub fn terminal(terminal: TerminalId, token: PairToken, bill_id: Option<BillId>) -> PairCode {
        PairCode::TerminalPresents {
            terminal,
            token,
            bill_id,
        }
    }

    /// Mode B: the code a phone shows.
    pub fn wallet(device: DeviceId, token: PairToken) -> PairCode {
        PairCode::PhonePresents { device, token }
    }

    pub fn mode(&self) -> PairMode {
        match self {
            PairCode::TerminalPresents { .. } => PairMode::TerminalPresents,
            PairCode::PhonePresents { .. } => PairMode::PhonePresents,
        }
    }

    pub fn token(&self) -> &PairToken {
        match self {
            PairCode::TerminalPresents { token, .. } | PairCode::PhonePresents { token, .. } => {
                token
            }
        }
    }

    /// Mode A: the terminal showing the code.
    pub fn terminal_id(&self) -> Option<&TerminalId> {
        match self {
            PairCode::TerminalPresents { terminal, .. } => Some(terminal),
            PairCode::PhonePresents { .. } => None,
        }
    }

    /// Mode B: the phone showing the code.
    pub fn device_id(&self) -> Option<&DeviceId> {
        match self {
            PairCode::PhonePresents { device, .. } => Some(device),
            PairCode::TerminalPresents { .. } => None,
        }
    }

    /// Mode A: the bill the code was shown for, when it says.
    pub fn bill_id(&self) -> Option<BillId> {
        match self {
            PairCode::TerminalPresents { bill_id, .. } => *bill_id,
            PairCode::PhonePresents { .. } => None,
        }
    }

    /// Who shows the code: the terminal (mode A) or the phone (mode B).
    fn presenter(&self) -> &str {
        match self {
            PairCode::TerminalPresents { terminal, .. } => terminal.as_str(),
            PairCode::PhonePresents { device, .. } => device.as_str(),
        }
    }

    /// The URI for the QR code.
    pub fn uri(&self) -> String {
        match self {
            PairCode::TerminalPresents {
                terminal,
                token,
                bill_id,
            } => {
                let mut s = format!("{URI_SCHEME}pair/{terminal}/{token}");
                if let Some(b) = bill_id {
                    s.push_str(&format!("?bill={b}"));
                }
                s
            }
            PairCode::PhonePresents { device, token } => {
                format!("{URI_SCHEME}wallet/{device}/{token}")
            }
        }
    }

    /// The short code a person types. Mode A does not carry the bill id: the terminal knows
    /// which bill it shows, and the phone learns it from the signed offer.
    pub fn typed(&self) -> String {
        let value = token_value(self.token());
        let check = checksum(self.mode(), Some(self.presenter()), value);
        let mut symbols = String::with_capacity(TYPED_TOKEN_SYMBOLS + TYPED_CHECK_SYMBOLS);
        for i in (0..TYPED_TOKEN_SYMBOLS).rev() {
            symbols.push(symbol((value >> (5 * i)) as usize & 31));
        }
        symbols.push(symbol(usize::from(check >> 5) & 31));
        symbols.push(symbol(usize::from(check) & 31));
        let grouped: Vec<String> = symbols
            .as_bytes()
            .chunks(TYPED_GROUP_SYMBOLS)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let grouped = grouped.join("-");
        format!("{}:{grouped}", self.presenter())
    }

    /// Reads a URI or a typed code, of either mode.
    pub fn parse(input: &str) -> Result<PairCode, CodeError> {
        PairCode::read(input, None)
    }

    fn read(input: &str, want: Option<PairMode>) -> Result<PairCode, CodeError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(CodeError::Empty);
        }
        if s.chars().count() > MAX_CODE_CHARS {
            return Err(CodeError::TooLong);
        }
        if s.len() >= URI_SCHEME.len()
            && s.is_char_boundary(URI_SCHEME.len())
            && s[..URI_SCHEME.len()].eq_ignore_ascii_case(URI_SCHEME)
        {
            return parse_uri(&s[URI_SCHEME.len()..]);
        }
        if s.contains("://") {
            return Err(CodeError::NotPosfee(format!(
                "the link must start with {URI_SCHEME}"
            )));
        }
        let Some(i) = s.find([':', '/']) else {
            return Err(CodeError::Malformed(
                "a typed code starts with the terminal or phone id and a colon".into(),
            ));
        };
        let (id, symbols) = (s[..i].trim(), &s[i + 1..]);
        let as_terminal = || {
            let terminal =
                TerminalId::parse(id).map_err(|e| CodeError::Malformed(e.to_string()))?;
            let token = parse_typed_token(symbols, PairMode::TerminalPresents, Some(id))?;
            Ok(PairCode::terminal(terminal, token, None))
        };
        let as_wallet = || {
            let device = DeviceId::parse(id).map_err(|e| CodeError::Malformed(e.to_string()))?;
            let token = parse_typed_token(symbols, PairMode::PhonePresents, Some(id))?;
            Ok(PairCode::wallet(device, token))
        };
        match want {
            Some(PairMode::TerminalPresents) => as_terminal(),
            Some(PairMode::PhonePresents) => as_wallet(),
            // The check tells the modes apart: a code that fails as a terminal's is tried
            // as a phone's, and the terminal's error is kept unless that one passes.
            None => as_terminal().or_else(|e| match e {
                CodeError::BadCheck => as_wallet().map_err(|_| e),
                other => Err(other),
            }),
        }
    }

    /// Reads a code that must be of `mode`. A code of the other mode is named as such.
    pub fn parse_mode(input: &str, mode: PairMode) -> Result<PairCode, CodeError> {
        let wrong = |found: PairMode| CodeError::WrongMode {
            expected: mode.label(),
            found: found.label(),
        };
        match PairCode::read(input, Some(mode)) {
            // A link says its mode itself.
            Ok(code) if code.mode() != mode => Err(wrong(code.mode())),
            Ok(code) => Ok(code),
            Err(e) => match PairCode::read(input, Some(mode.other())) {
                Ok(other) => Err(wrong(other.mode())),
                Err(_) => Err(e),
            },
        }
    }
}

impl std::str::FromStr for PairCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, CodeError> {
        PairCode::parse(s)
    }
}

fn symbol(v: usize) -> char {
    char::from(CROCKFORD[v & 31])
}

fn symbol_value(c: char) -> Option<u8> {
    let c = c.to_ascii_uppercase();
    let c = match c {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    CROCKFORD
        .iter()
        .position(|&s| char::from(s) == c)
        .and_then(|p| u8::try_from(p).ok())
}

fn token_value(token: &PairToken) -> u128 {
    token.value()
}

fn token_from_value(v: u128) -> Result<PairToken, CodeError> {
    Ok(PairToken::of_value(v))
}

/// CRC-16/CCITT-FALSE over the mode, the terminal or device and the token, cut to ten bits.
fn checksum(mode: PairMode, presenter: Option<&str>, token: u128) -> u16 {
    let mut crc: u16 = 0xFFFF;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
    };
    feed(match mode {
        PairMode::TerminalPresents => b"posfee-pair\0",
        PairMode::PhonePresents => b"posfee-wallet\0",
    });
    if let Some(t) = presenter {
        feed(t.as_bytes());
        feed(b"\0");
    }
    feed(&token.to_be_bytes());
    crc & 0x03FF
}

fn parse_typed_token(
    s: &str,
    mode: PairMode,
    presenter: Option<&str>,
) -> Result<PairToken, CodeError> {
    let mut values = Vec::with_capacity(TYPED_TOKEN_SYMBOLS + TYPED_CHECK_SYMBOLS);
    for c in s.chars() {
        if c == '-' || c.is_whitespace() {
            continue;
        }
        match symbol_value(c) {
            Some(v) => values.push(v),
            None => {
                return Err(CodeError::Malformed(format!(
                    "{c:?} is not a code symbol (digits and letters except U)"
                )))
            }
        }
    }
    let want = TYPED_TOKEN_SYMBOLS + TYPED_CHECK_SYMBOLS;
    if values.len() != want {
        return Err(CodeError::BadToken(format!(
            "expected {want} symbols, found {}",
            values.len()
        )));
    }
    let (token_symbols, check_symbols) = values.split_at(TYPED_TOKEN_SYMBOLS);
    // 26 symbols hold 130 bits; the first symbol may only use its low three bits, or the
    // value would not fit in 128 bits.
    if token_symbols.first().copied().unwrap_or(0) > 0b111 {
        return Err(CodeError::BadToken(
            "the value is larger than 128 bits".into(),
        ));
    }
    let value = token_symbols
        .iter()
        .fold(0u128, |acc, &v| (acc << 5) | u128::from(v));
    let check = check_symbols
        .iter()
        .fold(0u16, |acc, &v| (acc << 5) | u16::from(v));
    if check != checksum(mode, presenter, value) {
        return Err(CodeError::BadCheck);
    }
    token_from_value(value)
}

fn parse_uri(rest: &str) -> Result<PairCode, CodeError> {
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.contains('#') || query.is_some_and(|q| q.contains('#')) {
        return Err(CodeError::Malformed("a fragment (#) is not allowed".into()));
    }
    let parts: Vec<&str> = path.split('/').collect();
    let token = |hex: &str| {
        if hex.len() != PairToken::HEX_LEN {
            return Err(CodeError::BadToken(format!(
                "expected {} hex digits, found {}",
                PairToken::HEX_LEN,
                hex.len()
            )));
        }
        PairToken::parse(hex.to_ascii_lowercase()).map_err(|e| CodeError::BadToken(e.to_string()))
    };
    match parts.as_slice() {
        ["pair", terminal, hex] => {
            let terminal =
                TerminalId::parse(*terminal).map_err(|e| CodeError::Malformed(e.to_string()))?;
            let token = token(hex)?;
            let bill_id = match query {
                None => None,
                Some(q) => Some(parse_bill_query(q)?),
            };
            Ok(PairCode::terminal(terminal, token, bill_id))
        }
        ["wallet", device, hex] => {
            if query.is_some() {
                return Err(CodeError::Malformed(
                    "a wallet link takes no parameters".into(),
                ));
            }
            let device =
                DeviceId::parse(*device).map_err(|e| CodeError::Malformed(e.to_string()))?;
            Ok(PairCode::wallet(device, token(hex)?))
        }
        _ => Err(CodeError::NotPosfee(format!(
            "expected {URI_SCHEME}pair/<terminal>/<token> or {URI_SCHEME}wallet/<device>/<token>"
        ))),
    }
}

fn parse_bill_query(q: &str) -> Result<BillId, CodeError> {
    let Some(v) = q.strip_prefix("bill=") else {
        return Err(CodeError::Malformed(format!(
            "unknown link parameter {q:?} (only bill=<id>)"
        )));
    };
    if v.contains('&') {
        return Err(CodeError::Malformed(
            "only one link parameter (bill=<id>) is allowed".into(),
        ));
    }
    v.parse::<BillId>()
        .map_err(|e| CodeError::Malformed(format!("bill id {v:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kiosk() -> TerminalId {
        TerminalId::parse("kiosk-01").unwrap()
    }
    fn token() -> PairToken {
        PairToken::parse("00112233445566778899aabbccddeeff").unwrap()
    }
    fn phone() -> DeviceId {
        DeviceId::parse("phabcd2345").unwrap()
    }

    #[test]
    fn uris_look_as_documented_and_round_trip() {
        let bill = BillId::new_random();
        let a = PairCode::terminal(kiosk(), token(), Some(bill));
        assert_eq!(
            a.uri(),
            format!("posfee://pair/kiosk-01/00112233445566778899aabbccddeeff?bill={bill}")
        );
        assert_eq!(PairCode::parse(&a.uri()).unwrap(), a);
        let b = PairCode::wallet(phone(), token());
        assert_eq!(
            b.uri(),
            "posfee://wallet/phabcd2345/00112233445566778899aabbccddeeff"
        );
        assert_eq!(PairCode::parse(&b.uri()).unwrap(), b);
        let no_bill = PairCode::terminal(kiosk(), token(), None);
        assert_eq!(PairCode::parse(&no_bill.uri()).unwrap(), no_bill);
    }

    #[test]
    fn typed_codes_are_grouped_and_round_trip_without_the_bill() {
        let a = PairCode::terminal(kiosk(), token(), Some(BillId::new_random()));
        let typed = a.typed();
        let (t, groups) = typed.split_once(':').unwrap();
        assert_eq!(t, "kiosk-01");
        assert_eq!(groups.split('-').count(), 7);
        assert!(groups.split('-').all(|g| g.len() == TYPED_GROUP_SYMBOLS));
        let back = PairCode::parse(&typed).unwrap();
        assert_eq!(back, PairCode::terminal(kiosk(), token(), None));

        let b = PairCode::wallet(phone(), token());
        assert!(b.typed().starts_with("phabcd2345:"));
        assert_eq!(PairCode::parse(&b.typed()).unwrap(), b);
    }

    #[test]
    fn typed_codes_forgive_case_spaces_dashes_and_lookalikes() {
        let b = PairCode::wallet(phone(), token());
        let typed = b.typed();
        let sloppy = format!("  {}  ", typed.replace('-', " "));
        assert_eq!(PairCode::parse(&sloppy).unwrap(), b);
        let (id, groups) = typed.split_once(':').unwrap();
        let squashed = groups
            .to_lowercase()
            .replace('-', "")
            .replace('0', "o")
            .replace('1', "l");
        assert_eq!(PairCode::parse(&format!("{id}:{squashed}")).unwrap(), b);
        let a = PairCode::terminal(kiosk(), token(), None);
        let typed = a.typed();
        let (t, groups) = typed.split_once(':').unwrap();
        let spaced = format!("{t} / {}", groups.replace('-', " "));
        assert_eq!(PairCode::parse(&spaced).unwrap(), a);
    }

    #[test]
    fn a_mistyped_symbol_or_a_swapped_terminal_is_caught_by_the_check() {
        let a = PairCode::terminal(kiosk(), token(), None);
        let typed = a.typed();
        let last = typed.chars().last().unwrap();
        let other = if last == 'X' { 'Y' } else { 'X' };
        let wrong = format!("{}{other}", &typed[..typed.len() - 1]);
        assert_eq!(PairCode::parse(&wrong), Err(CodeError::BadCheck));
        let moved = typed.replace("kiosk-01", "kiosk-02");
        assert_eq!(PairCode::parse(&moved), Err(CodeError::BadCheck));
        // A wallet code's symbols under a terminal's id do not pass, as either kind.
        let wallet = PairCode::wallet(phone(), token()).typed();
        let (_, wallet_groups) = wallet.split_once(':').unwrap();
        assert_eq!(
            PairCode::parse(&format!("kiosk-01:{wallet_groups}")),
            Err(CodeError::BadCheck)
        );
    }

    #[test]
    fn tokens_that_are_not_128_bits_are_refused() {
        let typed = PairCode::wallet(phone(), token()).typed();
        let (_, groups) = typed.split_once(':').unwrap();
        let b = groups.replace('-', "");
        // One symbol short, one too many.
        assert!(matches!(
            PairCode::parse(&format!("phabcd2345:{}", &b[1..])),
            Err(CodeError::BadToken(_))
        ));
        assert!(matches!(
            PairCode::parse(&format!("phabcd2345:0{b}")),
            Err(CodeError::BadToken(_))
        ));
        // 26 symbols whose value needs 129 or 130 bits.
        let big = format!("phabcd2345:Z{}", &b[1..]);
        assert!(matches!(PairCode::parse(&big), Err(CodeError::BadToken(_))));
        for bad in [
            "posfee://wallet/phabcd2345/0011",
            "posfee://wallet/phabcd2345/00112233445566778899aabbccddeeff00",
            "posfee://wallet/phabcd2345/00112233445566778899aabbccddeefg",
            "posfee://pair/kiosk-01/00112233445566778899aabbccddee",
        ] {
            assert!(
                matches!(PairCode::parse(bad), Err(CodeError::BadToken(_))),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn malformed_codes_get_clear_errors() {
        for (bad, what) in [
            ("", "empty"),
            (
                "https://pair/kiosk-01/00112233445566778899aabbccddeeff",
                "posfee",
            ),
            (
                "posfee://pay/kiosk-01/00112233445566778899aabbccddeeff",
                "posfee",
            ),
            (
                "posfee://pair/kiosk-01/00112233445566778899aabbccddeeff/x",
                "posfee",
            ),
            (
                "posfee://pair/kiosk.01/00112233445566778899aabbccddeeff",
                "terminal",
            ),
            (
                "posfee://pair/kiosk-01/00112233445566778899aabbccddeeff?bill=nope",
                "bill",
            ),
            (
                "posfee://pair/kiosk-01/00112233445566778899aabbccddeeff?x=1",
                "parameter",
            ),
            (
                "posfee://wallet/phabcd2345/00112233445566778899aabbccddeeff?bill=1",
                "parameters",
            ),
            (
                "posfee://wallet/phabcd2345/00112233445566778899aabbccddeeff#x",
                "fragment",
            ),
            ("posfee://wallet/00112233445566778899aabbccddeeff", "posfee"),
            (
                "posfee://wallet/ph.1/00112233445566778899aabbccddeeff",
                "device id",
            ),
            ("kiosk*:ABCD", "terminal id"),
            ("kiosk:UUUU-UUUU", "symbol"),
            ("ABCD-EFGH", "starts with"),
        ] {
            let err = PairCode::parse(bad).unwrap_err().to_string();
            assert!(err.contains(what), "{bad:?}: {err}");
        }
        assert_eq!(
            PairCode::parse(&"A".repeat(MAX_CODE_CHARS + 1)),
            Err(CodeError::TooLong)
        );
    }

    #[test]
    fn parse_mode_refuses_the_other_kind_of_code() {
        let b = PairCode::wallet(phone(), token());
        let err = PairCode::parse_mode(&b.uri(), PairMode::TerminalPresents).unwrap_err();
        assert!(matches!(err, CodeError::WrongMode { .. }), "{err}");
        let err = PairCode::parse_mode(&b.typed(), PairMode::TerminalPresents).unwrap_err();
        assert!(matches!(err, CodeError::WrongMode { .. }), "{err}");
        assert_eq!(
            PairCode::parse_mode(&b.typed(), PairMode::PhonePresents).unwrap(),
            b
        );
        let a = PairCode::terminal(kiosk(), token(), None);
        let err = PairCode::parse_mode(&a.typed(), PairMode::PhonePresents).unwrap_err();
        assert!(matches!(err, CodeError::WrongMode { .. }), "{err}");
    }

    proptest! {
        #[test]
        fn every_token_round_trips_in_both_formats(bits in any::<u128>(), wallet in any::<bool>()) {
            let tok = PairToken::parse(format!("{bits:032x}")).unwrap();
            let code = if wallet {
                PairCode::wallet(phone(), tok)
            } else {
                PairCode::terminal(kiosk(), tok, None)
            };
            prop_assert_eq!(PairCode::parse(&code.uri()).unwrap(), code.clone());
            prop_assert_eq!(PairCode::parse_mode(&code.typed(), code.mode()).unwrap(), code);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = PairCode::parse(&s);
        }
    }
}
