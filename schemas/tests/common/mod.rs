//! What the contract tests share: the AsyncAPI document, a MessagePack reader of their own (so
//! the bytes are checked by something other than the encoder that wrote them), a schema
//! checker that compares each value's MessagePack type with the type the document gives it,
//! and the readable views the contract document shows.

#![allow(dead_code)]

use serde_yaml::Value;
use std::fmt::Write;

pub fn doc() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/asyncapi.yaml"))
        .expect("asyncapi.yaml");
    serde_yaml::from_str(&text).expect("asyncapi.yaml parses")
}

/// A MessagePack value as it is on the wire: `Str` and `Bin` stay apart, unlike in serde.
#[derive(Debug, Clone, PartialEq)]
pub enum Mp {
    Nil,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Mp>),
    Map(Vec<(Mp, Mp)>),
    Ext(i8, Vec<u8>),
}

impl Mp {
    pub fn kind(&self) -> &'static str {
        match self {
            Mp::Nil => "nil",
            Mp::Bool(_) => "bool",
            Mp::Int(_) => "int",
            Mp::Float(_) => "float",
            Mp::Str(_) => "str",
            Mp::Bin(_) => "bin",
            Mp::Array(_) => "array",
            Mp::Map(_) => "map",
            Mp::Ext(..) => "ext",
        }
    }

    /// The value under string key `k` of a map.
    pub fn get(&self, k: &str) -> Option<&Mp> {
        match self {
            Mp::Map(entries) => entries
                .iter()
                .find(|(key, _)| matches!(key, Mp::Str(s) if s == k))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Reads exactly one MessagePack value that fills `bytes`.
pub fn parse(bytes: &[u8]) -> Mp {
    let mut r = Reader { b: bytes, at: 0 };
    let v = r.value();
    assert_eq!(
        r.at,
        bytes.len(),
        "trailing bytes after the MessagePack value"
    );
    v
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        s
    }
    fn uint(&mut self, n: usize) -> u64 {
        self.take(n)
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    }
    fn int(&mut self, n: usize) -> i128 {
        let u = self.uint(n);
        let bits = 8 * n as u32;
        let sign = 1u64 << (bits - 1);
        if u & sign != 0 {
            i128::from(u) - (1i128 << bits)
        } else {
            i128::from(u)
        }
    }
    fn str(&mut self, n: usize) -> Mp {
        Mp::Str(String::from_utf8(self.take(n).to_vec()).expect("str is UTF-8"))
    }
    fn array(&mut self, n: usize) -> Mp {
        Mp::Array((0..n).map(|_| self.value()).collect())
    }
    fn map(&mut self, n: usize) -> Mp {
        Mp::Map((0..n).map(|_| (self.value(), self.value())).collect())
    }
    fn ext(&mut self, n: usize) -> Mp {
        let t = self.take(1)[0] as i8;
        Mp::Ext(t, self.take(n).to_vec())
    }
    fn value(&mut self) -> Mp {
        let m = self.take(1)[0];
        match m {
            0x00..=0x7f => Mp::Int(i128::from(m)),
            0x80..=0x8f => self.map(usize::from(m & 0x0f)),
            0x90..=0x9f => self.array(usize::from(m & 0x0f)),
            0xa0..=0xbf => self.str(usize::from(m & 0x1f)),
            0xc0 => Mp::Nil,
            0xc2 => Mp::Bool(false),
            0xc3 => Mp::Bool(true),
            0xc4..=0xc6 => {
                let n = self.uint(1 << (m - 0xc4)) as usize;
                Mp::Bin(self.take(n).to_vec())
            }
            0xc7..=0xc9 => {
                let n = self.uint(1 << (m - 0xc7)) as usize;
                self.ext(n)
            }
            0xca => Mp::Float(f64::from(f32::from_bits(self.uint(4) as u32))),
            0xcb => Mp::Float(f64::from_bits(self.uint(8))),
            0xcc..=0xcf => Mp::Int(i128::from(self.uint(1 << (m - 0xcc)))),
            0xd0..=0xd3 => Mp::Int(self.int(1 << (m - 0xd0))),
            0xd4..=0xd8 => self.ext(1 << (m - 0xd4)),
            0xd9..=0xdb => {
                let n = self.uint(1 << (m - 0xd9)) as usize;
                self.str(n)
            }
            0xdc | 0xdd => {
                let n = self.uint(2 << (m - 0xdc)) as usize;
                self.array(n)
            }
            0xde | 0xdf => {
                let n = self.uint(2 << (m - 0xde)) as usize;
                self.map(n)
            }
            0xe0..=0xff => Mp::Int(i128::from(m as i8)),
            0xc1 => panic!("0xc1 is never used in MessagePack"),
        }
    }
}

/// Bytes as the contract document shows them: two hex digits a byte, 16 bytes a line.
pub fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|c| {
            c.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads hex digits, ignoring whitespace.
pub fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).expect("hex digit"))
        .collect()
}

/// The readable view of a value: `{ key: value }`, `"str"`, `h'…'` for bin (bin longer than
/// 32 bytes shows its first 16 bytes and its length), `nil`.
pub fn diag(v: &Mp) -> String {
    let mut out = String::new();
    write_diag(&mut out, v, 0);
    out
}

fn write_diag(out: &mut String, v: &Mp, indent: usize) {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match v {
        Mp::Nil => out.push_str("nil"),
        Mp::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Mp::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Mp::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Mp::Str(s) => {
            let _ = write!(out, "{s:?}");
        }
        Mp::Bin(b) if b.len() > 32 => {
            let _ = write!(out, "h'{}…' ({} bytes)", hex(&b[..16]), b.len());
        }
        Mp::Bin(b) => {
            let _ = write!(out, "h'{}'", hex(b));
        }
        Mp::Ext(t, b) => {
            let _ = write!(out, "ext({t}, h'{}')", hex(b));
        }
        Mp::Array(items) if items.is_empty() => out.push_str("[]"),
        Mp::Array(items) => {
            out.push_str("[\n");
            for i in items {
                out.push_str(&pad);
                write_diag(out, i, indent + 1);
                out.push_str(",\n");
            }
            out.push_str(&end);
            out.push(']');
        }
        Mp::Map(entries) if entries.is_empty() => out.push_str("{}"),
        Mp::Map(entries) => {
            out.push_str("{\n");
            for (k, v) in entries {
                out.push_str(&pad);
                match k {
                    Mp::Str(s) => out.push_str(s),
                    other => write_diag(out, other, indent + 1),
                }
                out.push_str(": ");
                write_diag(out, v, indent + 1);
                out.push_str(",\n");
            }
            out.push_str(&end);
            out.push('}');
        }
    }
}

fn resolve<'a>(doc: &'a Value, r: &str) -> &'a Value {
    let mut node = doc;
    for part in r.trim_start_matches("#/").split('/') {
        node = &node[part];
    }
    assert!(!node.is_null(), "dangling $ref {r}");
    node
}

/// Checks `v` against the schema `s` of the AsyncAPI document: MessagePack types (a
/// `format: binary` string is bin, any other string is str, an integer is int …), lengths of
/// bin (`x-bytes`), enums, patterns, formats, required and undocumented fields. A field the
/// document does not require may be absent or nil (the encoder writes `None` as nil).
pub fn check(doc: &Value, v: &Mp, s: &Value, path: &str) -> Result<(), String> {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return check(doc, v, resolve(doc, r), path);
    }
    if let Some(alts) = s.get("oneOf").and_then(Value::as_sequence) {
        let errs: Vec<String> = alts
            .iter()
            .filter_map(|a| check(doc, v, a, path).err())
            .collect();
        return if errs.len() < alts.len() {
            Ok(())
        } else {
            Err(format!("{path}: matches no oneOf alternative: {errs:?}"))
        };
    }
    let want = s
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}: schema without a type"))?;
    let mismatch = || {
        format!(
            "{path}: documented as {want}{}, but the wire has {}",
            match s.get("format").and_then(Value::as_str) {
                Some(f) => format!(" ({f})"),
                None => String::new(),
            },
            v.kind()
        )
    };
    match (want, v) {
        ("object", Mp::Map(entries)) => {
            let props = s.get("properties").and_then(Value::as_mapping);
            let extra = s.get("additionalProperties").filter(|a| a.is_mapping());
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_sequence)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (k, val) in entries {
                let Mp::Str(k) = k else {
                    return Err(format!("{path}: map key is {}, not str", k.kind()));
                };
                let sub = format!("{path}.{k}");
                match props.and_then(|p| p.get(k.as_str())) {
                    Some(_) if *val == Mp::Nil && !required.contains(&k.as_str()) => {}
                    Some(ps) => check(doc, val, ps, &sub)?,
                    None => match extra {
                        Some(es) => check(doc, val, es, &sub)?,
                        None => return Err(format!("{sub}: not in the document")),
                    },
                }
            }
            for r in required {
                match v.get(r) {
                    None | Some(Mp::Nil) => {
                        return Err(format!("{path}.{r}: required, not written"))
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        }
        ("array", Mp::Array(items)) => {
            let is = s
                .get("items")
                .ok_or_else(|| format!("{path}: array without items"))?;
            for (i, item) in items.iter().enumerate() {
                check(doc, item, is, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        ("string", Mp::Bin(b)) if s.get("format").and_then(Value::as_str) == Some("binary") => {
            match s.get("x-bytes").and_then(Value::as_u64) {
                Some(n) if b.len() as u64 != n => {
                    Err(format!("{path}: {} bytes, documented {n}", b.len()))
                }
                _ => Ok(()),
            }
        }
        ("string", Mp::Str(text)) if s.get("format").and_then(Value::as_str) != Some("binary") => {
            if let Some(e) = s.get("enum").and_then(Value::as_sequence) {
                if !e.iter().any(|x| x.as_str() == Some(text)) {
                    return Err(format!("{path}: {text:?} is not one of {e:?}"));
                }
            }
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                if !matches_pattern(p, text)? {
                    return Err(format!("{path}: {text:?} does not match {p}"));
                }
            }
            if let Some(n) = s.get("maxLength").and_then(Value::as_u64) {
                if text.chars().count() as u64 > n {
                    return Err(format!("{path}: longer than {n}"));
                }
            }
            Ok(())
        }
        ("integer", Mp::Int(i)) => {
            if let Some(m) = s.get("minimum").and_then(Value::as_i64) {
                if *i < i128::from(m) {
                    return Err(format!("{path}: {i} is below {m}"));
                }
            }
            if s.get("format").and_then(Value::as_str) == Some("int64")
                && i64::try_from(*i).is_err()
            {
                return Err(format!("{path}: {i} does not fit int64"));
            }
            Ok(())
        }
        ("boolean", Mp::Bool(_)) => Ok(()),
        _ => Err(mismatch()),
    }
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// The document's patterns, each checked by hand (the tests carry no regex engine). A pattern
/// this function does not know fails the test, so a new one cannot go unchecked.
fn matches_pattern(p: &str, s: &str) -> Result<bool, String> {
    Ok(match p {
        r"^-?[0-9]+(\.[0-9]+)?$" => {
            let s = s.strip_prefix('-').unwrap_or(s);
            let (w, f) = s.split_once('.').unwrap_or((s, "0"));
            !w.is_empty() && !f.is_empty() && digits(w, w.len()) && digits(f, f.len())
        }
        r"^[A-Za-z0-9_-]{1,64}$" => {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        r"^[0-9a-f]{32}$" => {
            s.len() == 32
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" => date_form(s),
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3}|\.[0-9]{6}|\.[0-9]{9})?Z$" => {
            instant_form(s)
        }
        r"^ph[a-z2-7]{8}$" => {
            s.len() == 10
                && s.starts_with("ph")
                && s[2..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        }
        r"^U[A-Z2-7]{55}$" => {
            s.len() == 56
                && s.starts_with('U')
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        }
        other => return Err(format!("the checker does not know the pattern {other}")),
    })
}

fn date_form(s: &str) -> bool {
    s.len() == 10
        && digits(&s[0..4], 4)
        && &s[4..5] == "-"
        && digits(&s[5..7], 2)
        && &s[7..8] == "-"
        && digits(&s[8..10], 2)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z`, what the encoder writes.
pub fn instant_form(s: &str) -> bool {
    let Some(s) = s.strip_suffix('Z') else {
        return false;
    };
    if s.len() < 19 || !s.is_char_boundary(19) {
        return false;
    }
    let (dt, frac) = s.split_at(19);
    let b = dt.as_bytes();
    let base = date_form(&dt[..10])
        && b[10] == b'T'
        && digits(&dt[11..13], 2)
        && b[13] == b':'
        && digits(&dt[14..16], 2)
        && b[16] == b':'
        && digits(&dt[17..19], 2);
    base && match frac.strip_prefix('.') {
        None => frac.is_empty(),
        Some(f) => [3, 6, 9].contains(&f.len()) && digits(f, f.len()),
    }
}
