//! Every string the payer reads at the kiosk, in Chinese and English, in one table.

use posfee_client::words;
use posfee_schemas::{ErrorCode, WireError};

pub use posfee_client::words::Lang;

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
    BasketSoFar,
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
            "手机付款码（直接回车则由终端显示二维码；输入 + 再加一笔账单一起缴）",
            "Phone wallet code (Enter: the kiosk shows a QR code; + adds another bill to pay at once)",
        ),
        Msg::BasketSoFar => ("本次一起缴纳的账单", "Bills to pay at once"),
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

/// How a payment that ended without a receipt is shown: a result, an unknown outcome, or an
/// error with its code; every code in the kiosk's language ([`posfee_client::words`]), the
/// service's English message only in English.
pub fn ending(lang: Lang, e: &WireError) -> String {
    use posfee_client::ending::Ending;
    let meaning = lang.pick(words::meaning(e.code));
    match posfee_client::ending::ending(e) {
        Ending::Outcome if e.code == ErrorCode::NothingOwed => meaning.to_string(),
        Ending::Outcome => format!("{}: {meaning}", t(lang, Msg::NotPaid)),
        Ending::Unknown => match lang {
            Lang::Zh => meaning.to_string(),
            Lang::En => format!("{meaning} ({})", e.message),
        },
        Ending::Failure => format!("{}: {}", t(lang, Msg::Error), words::said(lang, e)),
    }
}

pub fn t(lang: Lang, m: Msg) -> &'static str {
    lang.pick(entry(m))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // Every other code is said in Chinese too, never with the service's English.
        let odd = WireError::new(ErrorCode::BadRequest, "truncated");
        assert!(ending(Lang::Zh, &odd).starts_with("出错了: "));
        assert!(!ending(Lang::Zh, &odd).contains("truncated"));
        let unknown = WireError::new(ErrorCode::OutcomeUnknown, "ask paygate later");
        assert!(!ending(Lang::Zh, &unknown).contains("paygate"));
    }
}
