//! Every string the payer reads at the kiosk, in Chinese and English, in one table.

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
}

/// A message on the kiosk screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    Title,
    MenuQuery,
    MenuPay,
    MenuCancel,
    MenuExit,
    MenuLanguage,
    Choose,
    UnknownChoice,
    AskTenant,
    AskAccount,
    AskWallet,
    Payee,
    Account,
    Holder,
    Class,
    Total,
    NothingOwed,
    ScanWithPhone,
    TypeCode,
    SecondsLeft,
    CancelHint,
    Joined,
    WalletConfirmed,
    Receipt,
    PaymentId,
    Time,
    Terminal,
    Error,
    NothingToCancel,
    Bye,
    NotPaid,
    NotConfirmed,
    Paying,
}

/// (中文, English) for each message.
fn entry(m: Msg) -> (&'static str, &'static str) {
    match m {
        Msg::Title => ("自助缴费终端", "Self-service fee kiosk"),
        Msg::MenuQuery => ("查询", "Query"),
        Msg::MenuPay => ("缴费", "Pay"),
        Msg::MenuCancel => ("取消", "Cancel"),
        Msg::MenuExit => ("退出", "Exit"),
        Msg::MenuLanguage => ("English", "中文"),
        Msg::Choose => ("请选择", "Choose"),
        Msg::UnknownChoice => ("无此选项", "No such choice"),
        Msg::AskTenant => ("收费单位（编号、名称或代码）", "Payee (number, name or id)"),
        Msg::AskAccount => (
            "户号 / 房号 / 表号 / 手机号",
            "Account, room, meter or phone number",
        ),
        Msg::AskWallet => (
            "手机付款码（直接回车则由终端显示二维码）",
            "Phone wallet code (Enter: the kiosk shows a QR code)",
        ),
        Msg::Payee => ("收款单位", "Payee"),
        Msg::Holder => ("户主", "Holder"),
        Msg::Class => ("用户类别", "Customer class"),
        Msg::Account => ("户号", "Account"),
        Msg::Total => ("合计", "Total"),
        Msg::NothingOwed => ("当前无欠费", "Nothing is owed"),
        Msg::ScanWithPhone => ("请用手机扫码付款", "Scan with your phone to pay"),
        Msg::TypeCode => ("或在手机上输入", "or type on your phone"),
        Msg::SecondsLeft => ("剩余秒数", "seconds left"),
        Msg::CancelHint => ("输入 c 回车取消", "type c and Enter to cancel"),
        Msg::Joined => (
            "手机已接收账单，请在手机上确认付款",
            "The phone has the bill; confirm on the phone",
        ),
        Msg::WalletConfirmed => ("手机已确认，正在付款", "Confirmed on the phone; paying"),
        Msg::Receipt => ("缴费凭证", "Receipt"),
        Msg::PaymentId => ("支付编号", "Payment"),
        Msg::Time => ("时间", "Time"),
        Msg::Terminal => ("终端", "Terminal"),
        Msg::Error => ("出错了", "Error"),
        Msg::NothingToCancel => ("没有进行中的缴费", "Nothing to cancel"),
        Msg::Bye => ("再见", "Goodbye"),
        Msg::NotPaid => ("未付款", "Not paid"),
        Msg::NotConfirmed => ("支付结果尚未确认", "Payment not confirmed yet"),
        Msg::Paying => ("手机正在付款", "The phone is paying"),
    }
}

/// The line under the QR code: seconds left and how to cancel, in the language's own order.
pub fn countdown(lang: Lang, left: i64) -> String {
    match lang {
        Lang::Zh => format!("剩余 {left} 秒（{}）", t(lang, Msg::CancelHint)),
        Lang::En => format!(
            "{left} {} ({})",
            t(lang, Msg::SecondsLeft),
            t(lang, Msg::CancelHint)
        ),
    }
}

/// Why a payment ended without a receipt, in the kiosk's language; `None` for failures, which
/// are shown with their code and message.
pub fn reason(lang: Lang, code: ErrorCode) -> Option<&'static str> {
    let (zh, en) = match code {
        ErrorCode::NothingOwed => ("当前无欠费", "Nothing is owed"),
        ErrorCode::PayerDeclined => ("付款人已在手机上拒绝", "The payer declined on the phone"),
        ErrorCode::PairingGone => (
            "本次缴费已结束（已取消或超时），未扣款",
            "This payment ended (cancelled or timed out); nothing was charged",
        ),
        ErrorCode::InsufficientFunds => ("余额不足，未扣款", "Not enough money; nothing was charged"),
        ErrorCode::BillAlreadyPaid => ("该账单已缴清", "This bill is already paid"),
        ErrorCode::BillExpired => ("账单已过期，请重新查询", "The bill expired; please start again"),
        ErrorCode::OutcomeUnknown => (
            "将自动完成或退回；请稍后在手机的缴费凭证或本户缴费记录中查看",
            "it will complete or be released on its own; check the phone's receipts or this account's payments later",
        ),
        _ => return None,
    };
    Some(match lang {
        Lang::Zh => zh,
        Lang::En => en,
    })
}

/// What a failure the payer may meet means, in the kiosk's language (the service's own
/// message is in English and for operators); `None` for failures only an operator can read.
pub fn failure(lang: Lang, code: ErrorCode) -> Option<&'static str> {
    let (zh, en) = match code {
        ErrorCode::TenantNotFound => ("没有这个收费单位", "No such payee"),
        ErrorCode::AccountNotFound => (
            "没有这个户号，请核对后重试",
            "No such account; check the number and try again",
        ),
        ErrorCode::RuleViolation => (
            "暂时无法计算应缴金额，请联系收费单位",
            "The amount owed cannot be worked out now; please ask the payee",
        ),
        ErrorCode::Unavailable => (
            "系统繁忙，请稍后再试",
            "The system is busy; please try again later",
        ),
        ErrorCode::Internal => (
            "系统出错，请稍后再试",
            "Something went wrong; please try again later",
        ),
        _ => return None,
    };
    Some(match lang {
        Lang::Zh => zh,
        Lang::En => en,
    })
}

/// How a payment that ended without a receipt is shown: a result, an unknown outcome, or an
/// error with its code (in Chinese the English message of the service is left out).
pub fn ending(lang: Lang, e: &WireError) -> String {
    use posfee_client::ending::Ending;
    let said = reason(lang, e.code);
    match (posfee_client::ending::ending(e), said) {
        (Ending::Outcome, Some(r)) if e.code == ErrorCode::NothingOwed => r.to_string(),
        (Ending::Outcome, Some(r)) => format!("{}: {r}", t(lang, Msg::NotPaid)),
        (Ending::Unknown, Some(r)) => {
            format!("{}: {r} ({})", t(lang, Msg::NotConfirmed), e.message)
        }
        _ => match (lang, failure(lang, e.code)) {
            (Lang::Zh, Some(f)) => format!("{}: {f}（{}）", t(lang, Msg::Error), e.code.name()),
            (Lang::En, Some(f)) => format!("{}: {f} ({e})", t(lang, Msg::Error)),
            (_, None) => format!("{}: {e}", t(lang, Msg::Error)),
        },
    }
}

pub fn t(lang: Lang, m: Msg) -> &'static str {
    let (zh, en) = entry(m);
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_languages() {
        use Msg::*;
        for m in [
            Title,
            MenuQuery,
            MenuPay,
            MenuCancel,
            MenuExit,
            MenuLanguage,
            Choose,
            UnknownChoice,
            AskTenant,
            AskAccount,
            AskWallet,
            Payee,
            Account,
            Holder,
            Class,
            Total,
            NothingOwed,
            ScanWithPhone,
            TypeCode,
            SecondsLeft,
            CancelHint,
            Joined,
            WalletConfirmed,
            Receipt,
            PaymentId,
            Time,
            Terminal,
            Error,
            NothingToCancel,
            Bye,
            NotPaid,
            NotConfirmed,
            Paying,
        ] {
            let (zh, en) = entry(m);
            assert!(!zh.is_empty() && !en.is_empty(), "{m:?}");
            assert_ne!(zh, en, "{m:?}");
        }
    }

    #[test]
    fn a_failure_the_payer_meets_is_said_in_chinese_without_the_english_message() {
        let e = WireError::new(
            ErrorCode::AccountNotFound,
            "account W-9 is not known to city-water",
        );
        assert_eq!(
            ending(Lang::Zh, &e),
            "出错了: 没有这个户号，请核对后重试（ACCOUNT_NOT_FOUND）"
        );
        assert_eq!(
            ending(Lang::En, &e),
            format!("Error: No such account; check the number and try again ({e})")
        );
        // Outcomes keep their reasons: nothing owed is a result, not an error.
        let none = WireError::new(ErrorCode::NothingOwed, "account W-9 owes nothing");
        assert_eq!(ending(Lang::Zh, &none), "当前无欠费");
        // A failure only an operator can read keeps its code and message.
        let odd = WireError::new(ErrorCode::BadRequest, "truncated");
        assert!(ending(Lang::Zh, &odd).starts_with("出错了: "));
    }
}
