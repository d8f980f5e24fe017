//! What an answer means to the person at a kiosk or phone, in Chinese and English: one table
//! for every error code of the contract, used by the kiosk and the phone alike. The services'
//! own messages are English and for operators; in Chinese they are left out, and only the
//! code (and, for a field, its name) is shown beside the sentence.

use posfee_schemas::{ErrorCode, WireError};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The Chinese or the English of a pair.
    pub fn pick(self, (zh, en): (&'static str, &'static str)) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// A sender's text in this language: the Chinese when the sender gave one, else the
    /// English (an older sender, or a word given no Chinese).
    pub fn text<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::Zh if !zh.is_empty() => zh,
            _ => en,
        }
    }
}

/// (中文, English) for what each code means to a payer: what happened, and what to do.
pub fn meaning(code: ErrorCode) -> (&'static str, &'static str) {
    use ErrorCode::*;
    match code {
        BadRequest | PayloadTooLarge | NoReplySubject => (
            "请求无法处理，请联系终端管理员",
            "The request could not be read; please tell the kiosk's operator",
        ),
        InvalidField => ("填写有误，请核对后重试", "Something entered is not right; check it and try again"),
        BadSignature => (
            "签名校验未通过，未扣款；请重新扫码",
            "A signature did not check out; nothing was charged; scan again",
        ),
        Forbidden => ("无权进行此操作", "This is not allowed here"),
        PayerDeclined => ("付款人已在手机上拒绝", "The payer declined on the phone"),
        TenantNotFound => ("没有这个收费单位", "No such payee"),
        AccountNotFound => ("没有这个户号，请核对后重试", "No such account; check the number and try again"),
        BillNotFound => ("没有这张账单，请重新查询", "No such bill; please start again"),
        PaymentNotFound => ("没有这笔付款", "No such payment"),
        PayerNotFound => ("本手机尚未注册，请先注册", "This phone is not registered; register first"),
        PairingNotFound => (
            "付款码无效或已用过，请重新获取",
            "This code is not valid or was used; get a new one",
        ),
        KeyNotFound => ("密钥未签发，请联系管理员", "No key is issued for this; ask the operator"),
        KeyConflict => ("密钥冲突，请换用新密钥", "This key clashes with another; make a new key"),
        IdempotencyConflict => (
            "与之前的请求冲突，请重新开始",
            "This clashes with an earlier request; start again",
        ),
        BillAlreadyPaid => ("该账单已缴清", "This bill is already paid"),
        PairingConflict => (
            "该付款码已被其他手机使用",
            "Another phone already has this code",
        ),
        PaymentStateConflict => (
            "该付款正在处理中，请稍后查看",
            "This payment is being handled; check again shortly",
        ),
        BillExpired => ("账单已过期，请重新查询", "The bill expired; please start again"),
        PairingGone => (
            "本次缴费已结束（已取消或超时），未扣款",
            "This payment ended (cancelled or timed out); nothing was charged",
        ),
        RuleViolation => (
            "暂时无法计算应缴金额，请联系收费单位",
            "The amount owed cannot be worked out now; please ask the payee",
        ),
        AmountMismatch => (
            "金额与账单不符，未扣款；请重新查询",
            "The amount does not match the bill; nothing was charged; start again",
        ),
        InsufficientFunds => ("余额不足，未扣款", "Not enough money; nothing was charged"),
        RefundExceedsPayment => ("退款超过了付款金额", "The refund is more than was paid"),
        NothingOwed => ("当前无欠费", "Nothing is owed"),
        RateLimited | StampTooWeak => ("操作太频繁，请稍等几秒再试", "Too many tries; wait a few seconds"),
        Internal => ("系统出错，请稍后再试", "Something went wrong; please try again later"),
        Unavailable => ("系统繁忙，请稍后再试", "The system is busy; please try again later"),
        OutcomeUnknown => (
            "付款结果尚未确认：将自动完成或退回，请稍后在缴费凭证中查看",
            "Not confirmed yet: it will complete or be released on its own; check the receipts later",
        ),
    }
}

/// How the client's own messages about its connection begin ([`crate::bus`]): a person is
/// told these in their language, with the command to type when there is one.
pub const KEY_REFUSED: &str = "the server refused the key of ";
pub const NOT_RUNNING: &str = "posfee is not running at ";
pub const NO_SYSTEM: &str = "no running posfee found: ";
pub const NO_ANSWER: &str = "the system did not answer at ";
pub const GONE: &str = "the connection to the system has been gone for ";
pub const NO_KEY: &str = " has no key: ";
pub const NO_KEY_FILE: &str = "reading credentials ";

/// (中文, English) of each: what happened and what to do; a command named in the message
/// follows the Chinese.
const SITUATIONS: [(&str, (&str, &str)); 7] = [
    (
        KEY_REFUSED,
        (
            "系统拒绝了本机的密钥（已吊销、已更换或不是本机的），需要新的密钥",
            "The system refused this device's key (revoked, replaced or someone else's)",
        ),
    ),
    (
        NO_KEY,
        (
            "本机还没有密钥，需要先签发",
            "This device has no key yet; one must be issued first",
        ),
    ),
    (
        NO_KEY_FILE,
        (
            "读不到本机的密钥文件，请核对路径或重新签发",
            "This device's key file cannot be read; check its path or issue a new key",
        ),
    ),
    (
        NOT_RUNNING,
        ("系统未运行，请先启动系统", "The system is not running; start it first"),
    ),
    (
        NO_SYSTEM,
        ("找不到运行中的系统，请先启动系统", "No running system was found; start it first"),
    ),
    (
        NO_ANSWER,
        ("系统没有应答，请检查地址和网络", "The system did not answer; check its address and the network"),
    ),
    (
        GONE,
        (
            "与系统的连接已断开：系统已停止或网络中断；恢复后请重新开始（进行中的付款会自动结束，凭证在手机上）",
            "The connection to the system is gone: it stopped, or the network is down; start again once it is back",
        ),
    ),
];

/// The client's own situation a message tells of, if it is one.
fn situation(message: &str) -> Option<(&'static str, &'static str)> {
    SITUATIONS
        .iter()
        .find(|(phrase, _)| message.contains(phrase))
        .map(|(_, words)| *words)
}

/// The first command a message names (between backticks), to show in any language.
fn command(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// The words of a field a person fills in, for "填写有误：身份证号".
fn field_words(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field {
        "name" => ("姓名", "name"),
        "national_id" => ("身份证号", "national id"),
        "bank_account" => ("银行卡号", "bank card number"),
        "account" | "quote.account" => ("户号", "account"),
        "tenant" | "quote.tenant" => ("收费单位", "payee"),
        "code" | "wallet" | "token" => ("付款码", "code"),
        _ => return None,
    })
}

/// An error as a person reads it: the sentence, then the code (and a field's name). In
/// English the service's own message follows, which says exactly what to change.
pub fn said(lang: Lang, e: &WireError) -> String {
    if let Some(words) = situation(&e.message) {
        return match (lang, command(&e.message)) {
            (Lang::Zh, Some(cmd)) => format!("{}：`{cmd}`", words.0),
            (Lang::Zh, None) => words.0.to_string(),
            (Lang::En, _) => format!("{} ({e})", words.1),
        };
    }
    let sentence = lang.pick(meaning(e.code));
    let field = (e.code == ErrorCode::InvalidField)
        .then(|| e.message.split(':').next().map(str::trim))
        .flatten();
    match (lang, field.and_then(field_words)) {
        (Lang::Zh, Some((zh, _))) => format!("{sentence}：{zh}（{}）", e.code.name()),
        (Lang::Zh, None) => format!("{sentence}（{}）", e.code.name()),
        (Lang::En, _) => format!("{sentence} ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_sentence_in_both_languages_and_chinese_carries_no_english() {
        for code in ErrorCode::ALL {
            let (zh, en) = meaning(*code);
            assert!(!zh.is_empty() && !en.is_empty(), "{code}");
            assert!(!zh.chars().any(|c| c.is_ascii_alphabetic()), "{code}: {zh}");
            let e = WireError::new(*code, "the service's own words");
            assert!(!said(Lang::Zh, &e).contains("service"), "{code}");
            assert!(said(Lang::En, &e).contains("service"), "{code}");
        }
    }

    #[test]
    fn a_refused_key_is_said_with_the_command_that_issues_one() {
        let e = WireError::new(
            ErrorCode::Unavailable,
            format!("connecting: {KEY_REFUSED}terminal kiosk-34 (revoked): issue one with `posfee keys terminal kiosk-34`"),
        );
        assert_eq!(
            said(Lang::Zh, &e),
            "系统拒绝了本机的密钥（已吊销、已更换或不是本机的），需要新的密钥：`posfee keys terminal kiosk-34`"
        );
        assert!(said(Lang::En, &e).starts_with("The system refused this device's key"));
        for (_, (zh, _)) in SITUATIONS {
            assert!(!zh.chars().any(|c| c.is_ascii_alphabetic()), "{zh}");
        }
    }

    #[test]
    fn a_field_is_named_in_the_payers_words() {
        let e = WireError::field("national_id", "check character does not match");
        assert_eq!(
            said(Lang::Zh, &e),
            "填写有误，请核对后重试：身份证号（INVALID_FIELD）"
        );
        assert!(said(Lang::En, &e).contains("check character"));
    }
}
