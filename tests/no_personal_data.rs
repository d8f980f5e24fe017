//! No personal data where it does not belong. The whole system runs as real processes under
//! `posfee up`; a payer registers with a recognisable name, national id number and bank
//! account from the companion binary, pays once at a kiosk showing a code (mode A) and once
//! by showing the phone's code (mode B) with the pos-agent binary. Then every byte the
//! stores (paygate's included), the JetStream store, every log and the kiosk's output hold is
//! scanned for the three, in plain text and in the obvious encodings. Only the phone keeps
//! them in plain (the scan proves it finds them there); paygate keeps them sealed
//! (`services/paygate/src/vault.rs`).

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use posfee_harness::process::{wait_exit, wait_for_line};
use posfee_schemas::subjects::{self, Role};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const POSFEE: &str = env!("CARGO_BIN_EXE_posfee");
const NAME_CJK: &str = "测试隐私姓名";
const NAME_LATIN: &str = "Zyxwvut Privacyname";
const NATIONAL_ID: &str = "11010519491231002X";
const BANK_ACCOUNT: &str = "6222600260001072444";
const TERMINAL: &str = "kiosk-07";

/// The pos-agent and companion binaries, built beside `posfee`.
fn sibling(name: &str) -> PathBuf {
    posfee_harness::sibling_binary(POSFEE, name)
}

struct System {
    tmp: tempfile::TempDir,
    up: Child,
    url: String,
}

impl System {
    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }
    fn phone_home(&self) -> PathBuf {
        self.tmp.path().join("phone")
    }
    /// Where the test keeps the processes' own stdout and stderr.
    fn out(&self, name: &str) -> PathBuf {
        let dir = self.tmp.path().join("out");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn start() -> System {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let mut up = Command::new(POSFEE)
            .args(["up", "--port", "0", "--data-dir"])
            .arg(&data)
            // Every process logs as much as it can: more chances to leak, more to scan.
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(File::create(out.join("up.err")).unwrap())
            .spawn()
            .unwrap();
        let ready = posfee_operator::up::read_ready_line(up.stdout.take().unwrap()).unwrap();
        let (seen, lines) = (ready.before, ready.rest);
        let copy = out.join("up.out");
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = File::create(copy).unwrap();
            for l in seen.into_iter().map(Ok).chain(lines) {
                let Ok(l) = l else { break };
                let _ = writeln!(f, "{l}");
            }
        });
        let url = std::fs::read_to_string(data.join("run/nats.url")).unwrap();
        // The kiosk gets its key from the operator; the phone makes and enrols its own.
        let out = Command::new(POSFEE)
            .args(["keys", "terminal", TERMINAL])
            .arg("--data-dir")
            .arg(&data)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "posfee keys terminal: {out:?}");
        System { tmp, up, url }
    }

    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env("POSFEE_NATS_URL", &self.url)
            .env("POSFEE_ROOT_KEY", self.data().join("creds/root.pub"))
            .env("RUST_LOG", "debug")
            .env_remove("POSFEE_COMPANION_HOME");
        c
    }

    fn kiosk(&self) -> Command {
        let mut c = self.cmd(&sibling("pos-agent"));
        c.arg("--terminal-id")
            .arg(TERMINAL)
            .arg("--nkey-file")
            .arg(self.data().join(format!("creds/terminals/{TERMINAL}.nk")));
        c
    }

    fn phone(&self) -> Command {
        let mut c = self.cmd(&sibling("companion"));
        c.arg("--home").arg(self.phone_home());
        c
    }

    /// Runs a command to completion, its output kept under `out/<name>.{out,err}`.
    fn run(&self, name: &str, mut c: Command) -> Output {
        let output = c.output().unwrap();
        std::fs::write(self.out(&format!("{name}.out")), &output.stdout).unwrap();
        std::fs::write(self.out(&format!("{name}.err")), &output.stderr).unwrap();
        assert!(
            output.status.success(),
            "{name} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Starts a command in the background, its output going to `out/<name>.{out,err}`.
    fn spawn(&self, name: &str, mut c: Command) -> Child {
        c.stdout(File::create(self.out(&format!("{name}.out"))).unwrap())
            .stderr(File::create(self.out(&format!("{name}.err"))).unwrap())
            .spawn()
            .unwrap()
    }

    /// Stops the system the way an operator does, so every store and log is closed.
    fn stop(&mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.up.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        assert!(self.up.wait().unwrap().success(), "posfee up did not stop");
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = self.up.kill();
    }
}

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// The base64 text `secret` becomes inside any larger base64 blob, whatever byte offset it sits
/// at: for each of the three alignments, the characters that depend on the secret alone.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut forms = Vec::new();
    for alphabet in [STANDARD, URL_SAFE] {
        for offset in 0..3 {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(secret);
            let encoded = base64(&padded, alphabet);
            // Leading characters mix in the bytes before the secret, trailing ones the bytes
            // after it: keep the whole groups in between.
            let skip = if offset == 0 { 0 } else { 4 };
            let whole = (padded.len() / 3) * 4;
            // Eight characters (six bytes) at least, or chance matches in megabytes of store.
            if whole >= skip + 8 {
                forms.push(encoded[skip..whole].to_string());
            }
        }
    }
    forms
}

/// Every way a secret is likely to show up in a file.
fn encodings(secret: &str) -> Vec<(String, Vec<u8>)> {
    let bytes = secret.as_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut forms = vec![
        ("plain".to_string(), bytes.to_vec()),
        ("lower-case".to_string(), secret.to_lowercase().into_bytes()),
        ("hex".to_string(), hex.clone().into_bytes()),
        ("HEX".to_string(), hex.to_uppercase().into_bytes()),
        (
            "percent-encoded".to_string(),
            bytes
                .iter()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>()
                .into_bytes(),
        ),
        (
            "utf-16le".to_string(),
            secret.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        ),
        (
            "utf-16be".to_string(),
            secret.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        ),
    ];
    if !secret.is_ascii() {
        for (what, upper) in [("json \\u escapes", false), ("JSON \\u escapes", true)] {
            let escaped: String = secret
                .encode_utf16()
                .map(|u| {
                    let e = format!("\\u{u:04x}");
                    if upper {
                        e.to_uppercase().replace("\\U", "\\u")
                    } else {
                        e
                    }
                })
                .collect();
            forms.push((what.to_string(), escaped.into_bytes()));
        }
    }
    for (i, b64) in base64_forms(bytes).into_iter().enumerate() {
        forms.push((format!("base64 #{i}"), b64.into_bytes()));
    }
    if secret.chars().all(|c| c.is_ascii_alphanumeric()) {
        let chars: Vec<char> = secret.chars().collect();
        for sep in [" ", "-", "\u{3000}"] {
            let grouped: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
            forms.push((
                format!("grouped by 4 with {sep:?}"),
                grouped.join(sep).into_bytes(),
            ));
        }
    }
    forms
}

fn secrets() -> Vec<&'static str> {
    // The latin name's parts too: a log might keep one of them.
    vec![
        NAME_CJK,
        NAME_LATIN,
        "Zyxwvut",
        "Privacyname",
        NATIONAL_ID,
        BANK_ACCOUNT,
    ]
}

fn files_under(dir: &Path, skip: &[PathBuf], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if skip.iter().any(|s| path.starts_with(s)) {
            continue;
        }
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            files_under(&path, skip, out);
        } else if ty.is_file() {
            out.push(path);
        }
    }
}

/// Every (file, secret, encoding) found.
fn scan(files: &[PathBuf]) -> Vec<String> {
    let needles: Vec<(String, Vec<u8>)> = secrets()
        .into_iter()
        .flat_map(|s| {
            encodings(s)
                .into_iter()
                .map(move |(how, bytes)| (format!("{s:?} as {how}"), bytes))
        })
        .collect();
    let mut found = Vec::new();
    for f in files {
        let content = std::fs::read(f).unwrap();
        for (what, needle) in &needles {
            if content
                .windows(needle.len())
                .any(|w| w == needle.as_slice())
            {
                found.push(format!("{}: {what}", f.display()));
            }
        }
    }
    found
}

/// The kiosk shows a code for `account` at `tenant`, the phone pays it, the kiosk prints.
fn pay_mode_a(system: &System, name: &str, (tenant, account): (&str, &str)) {
    pay_mode_a_with(system, name, (tenant, account), &|| system.phone());
}

/// The typed code the kiosk `out` (its output under `out/<out>.out`) shows.
fn shown_code(system: &System, out: &str, kiosk: &mut Child) -> String {
    let prefix = format!("{TERMINAL}:");
    wait_for_line(&system.out(&format!("{out}.out")), kiosk, |line| {
        let at = line.find(&prefix)?;
        let code: String = line[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':'))
            .collect();
        (code.len() > prefix.len() + 4).then_some(code)
    })
}

/// [`pay_mode_a`] with the phone `phone` makes.
fn pay_mode_a_with(
    system: &System,
    name: &str,
    (tenant, account): (&str, &str),
    phone: &dyn Fn() -> Command,
) {
    let mut kiosk = system.kiosk();
    kiosk.args(["pay", "--tenant", tenant, "--account", account]);
    let out = format!("kiosk-{name}");
    let mut child = system.spawn(&out, kiosk);
    let code = shown_code(system, &out, &mut child);
    let mut pay = phone();
    pay.args(["pay", &code, "--yes"]);
    system.run(&format!("phone-pay-{name}"), pay);
    let status = wait_exit(&format!("kiosk (mode A, {tenant})"), &mut child);
    assert!(status.success(), "{status}");
}

/// The settlements every biller and the operator read name the payer by a handle of that
/// biller's: one phone paying two billers is two handles, neither the one paygate gave it.
fn billers_see_handles_of_their_own(system: &System, registered: &Output) -> String {
    let said = String::from_utf8_lossy(&registered.stdout).to_string();
    let own = said
        .split(|c: char| c.is_whitespace() || c == ',')
        .find(|w| w.starts_with("p-"))
        .unwrap_or_else(|| panic!("no payer handle in the registration: {said}"))
        .to_string();
    let mut events = system.cmd(Path::new(POSFEE));
    events
        .args(["events", "--since", "start", "--no-follow", "--json"])
        .args(["--kind", "payment.settled", "--data-dir"])
        .arg(system.data());
    let listed = system.run("operator-events", events);
    let mut seen: Vec<(String, String)> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let d = &v["event"]["body"]["data"];
            (
                d["tenant"].as_str().unwrap().to_string(),
                d["payer"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let (property, water) = (&seen[0], &seen[1..]);
    assert_eq!(property.0, "acme-property");
    assert!(water.iter().all(|(t, _)| t == "city-water"), "{seen:?}");
    assert_eq!(
        water[0].1, water[1].1,
        "one biller sees one handle: {seen:?}"
    );
    assert_ne!(property.1, water[0].1, "two billers, one handle: {seen:?}");
    for (_, handle) in &seen {
        assert_ne!(handle, &own, "a biller sees paygate's own handle");
    }
    // The ledger's books hold only the billers' handles.
    let mut books = Vec::new();
    files_under(&system.data().join("ledger"), &[], &mut books);
    let own_bytes = own.as_bytes();
    let leaked = books.iter().find(|f| {
        std::fs::read(f)
            .map(|b| b.windows(own_bytes.len()).any(|w| w == own_bytes))
            .unwrap_or(false)
    });
    assert!(
        leaked.is_none(),
        "paygate's handle in the ledger's {leaked:?}"
    );
    own
}

/// A second payer registers with `--lock`: their phone's home never holds their identity in
/// plain; it pays with the passphrase given, and without it says what is missing.
fn a_locked_phone_keeps_nothing_in_plain_and_pays_with_its_passphrase(system: &System) {
    const NAME: &str = "测试锁定姓名";
    const ID: &str = "110105198001011238";
    const CARD: &str = "4111111111111111";
    let home = system.tmp.path().join("phone-locked");
    let phone = |passphrase: bool| {
        let mut c = system.cmd(&sibling("companion"));
        c.arg("--home").arg(&home);
        if passphrase {
            c.env("POSFEE_COMPANION_PASSPHRASE", "correct horse battery");
        }
        c
    };
    let mut register = phone(true);
    register.args(["register", "--lock", "--name", NAME]).args([
        "--national-id",
        ID,
        "--bank-account",
        CARD,
    ]);
    system.run("phone-locked-register", register);
    pay_mode_a_with(system, "locked", ("city-water", "W-000013"), &|| {
        phone(true)
    });
    let mut bare = phone(false);
    bare.args(["--json", "register", "--name", NAME]).args([
        "--national-id",
        ID,
        "--bank-account",
        CARD,
    ]);
    let refused = bare.output().unwrap();
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(
        !refused.status.success() && said.contains("POSFEE_COMPANION_PASSPHRASE"),
        "a locked phone without its passphrase: {said}"
    );
    // The scan finds the three where they are in plain (a control), and not in the home.
    let control = system.tmp.path().join("control");
    std::fs::create_dir_all(&control).unwrap();
    std::fs::write(control.join("plain"), format!("{NAME} {ID} {CARD}")).unwrap();
    let (mut in_control, mut in_home) = (Vec::new(), Vec::new());
    files_under(&control, &[], &mut in_control);
    files_under(&home, &[], &mut in_home);
    let holds = |files: &[PathBuf], s: &str| {
        files.iter().any(|f| {
            std::fs::read(f)
                .map(|b| b.windows(s.len()).any(|w| w == s.as_bytes()))
                .unwrap_or(false)
        })
    };
    for s in [NAME, ID, CARD] {
        assert!(holds(&in_control, s), "the scan misses {s}");
        assert!(
            !holds(&in_home, s),
            "{s} in plain in the locked phone's home"
        );
    }
}

/// The operator rotates the master key; paygate wraps the payer's data key again under the
/// new one without stopping, the old one is then removed from the file, and the payer's
/// identity still opens: a correction from the phone (which reads it back) goes through.
fn a_new_master_key_takes_over_while_paygate_runs(system: &System) {
    let mut rotate = system.cmd(Path::new(POSFEE));
    rotate
        .args(["keys", "rotate-payer-master", "--data-dir"])
        .arg(system.data());
    system.run("operator-rotate", rotate);
    let log = system.data().join("logs/paygate.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("is wrapped by master key m2")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "paygate did not take the new master key"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let file = system.data().join("creds/authorities/paygate.master");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("m2 ") && text.contains("\nm1 "),
        "{}",
        text.len()
    );
    std::fs::write(&file, text.lines().next().unwrap()).unwrap();
    let mut correct = system.phone();
    correct
        .arg("register")
        .arg("--name")
        .arg(format!("{NAME_CJK} {NAME_LATIN}"))
        .args([
            "--national-id",
            NATIONAL_ID,
            "--bank-account",
            "6222600260001072451",
        ]);
    system.run("phone-correct", correct);
}

/// The payer's wrapped data key as paygate's bucket holds it (read with paygate's own role).
fn payer_key(system: &System, own: &str) -> Option<Vec<u8>> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let data = posfee_deploy::layout::DataDir::new(system.data());
        let seed = posfee_client::creds::read_seed(&data.role_seed(Role::Paygate)).unwrap();
        let client = posfee_client::bus::connect(&system.url, Role::Paygate, Some(seed), "test")
            .await
            .unwrap();
        let bucket = async_nats::jetstream::new(client)
            .get_key_value(subjects::PAYER_KEYS_BUCKET)
            .await
            .unwrap();
        bucket.get(own).await.unwrap().map(|v| v.to_vec())
    })
}

/// The operator erases the payer: the key their identity is sealed under is deleted from
/// paygate's bucket and its bytes from the server's disk (they were both there before), the
/// same command again answers the same erasure, and reconcile still finds the books balanced.
fn an_erased_payer_cannot_be_read_and_the_books_still_balance(system: &System, own: &str) {
    let wrapped = payer_key(system, own).expect("the payer's data key is not in the bucket");
    let store = system.data().join("nats");
    let on_disk = || {
        let mut files = Vec::new();
        files_under(&store, &[], &mut files);
        files.iter().any(|f| {
            std::fs::read(f)
                .map(|b| b.windows(wrapped.len()).any(|w| w == wrapped.as_slice()))
                .unwrap_or(false)
        })
    };
    assert!(on_disk(), "the scan does not find the key where it is");
    let erase = || {
        let mut c = system.cmd(Path::new(POSFEE));
        c.args(["erase-payer", own, "--json", "--data-dir"])
            .arg(system.data());
        let out = system.run("operator-erase", c);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["erased_at"].as_str().unwrap().to_string()
    };
    let first = erase();
    assert_eq!(erase(), first, "erasing twice is one erasure");
    assert!(
        payer_key(system, own).is_none(),
        "the payer's data key outlived the erasure"
    );
    assert!(
        !on_disk(),
        "the payer's data key is still on the server's disk"
    );
    // The erased payer's phone pays no more; the kiosk prints no receipt.
    let mut kiosk = system.kiosk();
    kiosk.args(["pay", "--tenant", "city-water", "--account", "W-000009"]);
    let mut child = system.spawn("kiosk-erased", kiosk);
    let code = shown_code(system, "kiosk-erased", &mut child);
    let refused = system
        .phone()
        .args(["pay", &code, "--yes"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stdout).to_string()
        + &String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "an erased payer paid: {said}");
    assert!(said.contains("erased"), "the phone is not told why: {said}");
    let status = wait_exit("kiosk (erased payer)", &mut child);
    let kiosk_said = std::fs::read_to_string(system.out("kiosk-erased.out")).unwrap();
    assert!(
        !status.success() && !kiosk_said.contains("缴费凭证"),
        "the kiosk printed a receipt for an erased payer: {kiosk_said}"
    );
    let mut reconcile = system.cmd(Path::new(POSFEE));
    reconcile
        .args(["reconcile", "--data-dir"])
        .arg(system.data());
    system.run("operator-reconcile", reconcile);
}

#[test]
fn the_payers_identity_is_in_plain_nowhere_but_on_the_phone() {
    let mut system = System::start();
    let data = system.data();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    for (kind, file) in [("accounts", "accounts.csv"), ("readings", "readings.csv")] {
        let mut c = system.cmd(Path::new(POSFEE));
        c.args(["import", kind])
            .arg(samples.join(file))
            .arg("--data-dir")
            .arg(&data)
            .arg("--quiet");
        system.run(&format!("import-{kind}"), c);
    }

    let mut register = system.phone();
    register
        .arg("register")
        .arg("--name")
        .arg(format!("{NAME_CJK} {NAME_LATIN}"))
        .args(["--national-id", NATIONAL_ID, "--bank-account", BANK_ACCOUNT]);
    let registered = system.run("phone-register", register);

    // Mode A: the kiosk shows a code, the phone pays it; at a second biller too.
    pay_mode_a(&system, "a", ("city-water", "W-000001"));
    pay_mode_a(&system, "a2", ("acme-property", "1-1-0000"));

    // Mode B: the phone shows its code, the kiosk offers the bill to it.
    let mut show = system.phone();
    show.args(["show-code", "--yes", "--json"]);
    let mut phone_b = system.spawn("phone-b", show);
    let wallet = wait_for_line(&system.out("phone-b.out"), &mut phone_b, |line| {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        v["wallet"]["code"].as_str().map(str::to_string)
    });
    let mut kiosk = system.kiosk();
    kiosk.args([
        "pay",
        "--tenant",
        "city-water",
        "--account",
        "W-000005",
        "--wallet",
        &wallet,
        "--json",
    ]);
    let receipt = system.run("kiosk-b", kiosk);
    {
        let status = wait_exit("phone (mode B)", &mut phone_b);
        assert!(status.success(), "{status}");
    }
    assert!(
        String::from_utf8_lossy(&receipt.stdout).contains("W-000005"),
        "no receipt at the kiosk"
    );

    let own = billers_see_handles_of_their_own(&system, &registered);
    a_locked_phone_keeps_nothing_in_plain_and_pays_with_its_passphrase(&system);
    a_new_master_key_takes_over_while_paygate_runs(&system);
    an_erased_payer_cannot_be_read_and_the_books_still_balance(&system, &own);

    let phone_home = system.phone_home();
    let out_dir = system.tmp.path().join("out");
    system.stop();
    // The scan finds what it looks for: the phone does keep the identity, in plain.
    for allowed in [&phone_home] {
        let mut files = Vec::new();
        files_under(allowed, &[], &mut files);
        let found = scan(&files);
        for s in [NATIONAL_ID, BANK_ACCOUNT] {
            assert!(
                found.iter().any(|f| f.contains(&format!("{s:?} as plain"))),
                "{s} not found under {}: the scan would miss it elsewhere too",
                allowed.display()
            );
        }
    }

    // Everything else: every store, paygate's too (it keeps who payers are sealed, under keys
    // of their own wrapped by a master key outside its store), JetStream, logs, the kiosk's
    // and the operator CLI's output.
    let mut files = Vec::new();
    files_under(&data, &[], &mut files);
    let kiosk_and_operator: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with("phone-")
        })
        .collect();
    files.extend(kiosk_and_operator);
    for must in [
        "fee-engine",
        "query",
        "ledger",
        "paygate",
        "nats/jetstream",
        "logs",
    ] {
        assert!(
            files.iter().any(|f| f.starts_with(data.join(must))),
            "nothing under {must} was scanned"
        );
    }
    assert!(
        files.iter().any(|f| f.ends_with("kiosk-a.out")),
        "the kiosk's output was not scanned"
    );
    let found = scan(&files);
    assert!(
        found.is_empty(),
        "personal data outside the phone:\n{}",
        found.join("\n")
    );
    drop(system);
}
