// English and Chinese. The choice is kept in this origin's storage; the first visit follows
// the browser's language.

const en = {
  title: "posfee operator console",
  lang: "中文",
  signIn: "Sign in",
  signInLead: "Sign in with the operator's key. It stays in this browser: only a signature of a one-time challenge is sent.",
  keyFile: "Operator key file (creds/operator.nk)",
  orPaste: "or paste the seed (SU…)",
  signOut: "Sign out",
  signedInAs: "Signed in as",
  alerts: "Alerts",
  noAlerts: "No alerts: books reconciled, every service answering, every kiosk online.",
  reconciled: "Reconciled: {settled} settled, {captured} captured, {inFlight} in flight",
  collections: "Collections",
  today: "Today, net per biller",
  lastDays: "Last {n} days, net per biller",
  totalToday: "Today in total",
  kiosks: "Kiosks",
  events: "Events",
  statements: "Daily statements",
  statementLead: "A biller's statement for a day is issued after that day ends in its time zone (00:10 the next day).",
  download: "Download",
  verified: "Downloaded {name}: {bytes} bytes, SHA-256 {sha} verified",
  biller: "Biller",
  date: "Date",
  format: "Format",
  kind: "Kind",
  tenant: "Biller",
  terminal: "Terminal",
  account: "Account",
  payment: "Payment id",
  outcome: "Outcome",
  any: "any",
  apply: "Apply",
  live: "Live",
  seq: "Seq",
  time: "Time",
  amount: "Amount",
  summary: "What happened",
  state: "State",
  lastSeen: "Last seen",
  version: "Version",
  paymentsToday: "Payments today",
  collectedToday: "Collected today",
  online: "online",
  offline: "offline",
  revoked: "revoked",
  critical: "critical",
  warning: "warning",
  since: "since",
  stuck_hold: "Stuck hold",
  reconcile_difference: "Reconcile difference",
  service_down: "Service down",
  error_rate: "Error rate",
  kiosk_offline: "Kiosk offline",
  updated: "Updated {time}",
  unavailable: "Not available right now: {reason}",
  noEvents: "No events match.",
  noKiosks: "No kiosk has reported yet.",
  loading: "Loading…",
  paid: "paid",
  declined: "declined",
  cancelled: "cancelled",
  expired: "expired",
  not_paid: "not paid",
  no_receipt: "no receipt",
  voided: "voided",
  refunded: "refunded",
};

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  title: "posfee 运营控制台",
  lang: "English",
  signIn: "登录",
  signInLead: "使用运营方密钥登录。密钥只留在本浏览器中，只发送对一次性挑战的签名。",
  keyFile: "运营方密钥文件（creds/operator.nk）",
  orPaste: "或粘贴种子（SU…）",
  signOut: "退出",
  signedInAs: "当前登录",
  alerts: "告警",
  noAlerts: "没有告警：账已对平，所有服务在线，所有终端在线。",
  reconciled: "对账：已入账 {settled} 笔，已扣款 {captured} 笔，处理中 {inFlight} 笔",
  collections: "收款",
  today: "今日各收费单位净额",
  lastDays: "近 {n} 天各收费单位净额",
  totalToday: "今日合计",
  kiosks: "自助终端",
  events: "事件",
  statements: "日对账单",
  statementLead: "收费单位某日的对账单在该日（按其时区）结束后生成（次日 00:10）。",
  download: "下载",
  verified: "已下载 {name}：{bytes} 字节，SHA-256 {sha} 校验通过",
  biller: "收费单位",
  date: "日期",
  format: "格式",
  kind: "类型",
  tenant: "收费单位",
  terminal: "终端",
  account: "户号",
  payment: "支付单号",
  outcome: "结果",
  any: "全部",
  apply: "筛选",
  live: "实时",
  seq: "序号",
  time: "时间",
  amount: "金额",
  summary: "内容",
  state: "状态",
  lastSeen: "最后在线",
  version: "版本",
  paymentsToday: "今日笔数",
  collectedToday: "今日收款",
  online: "在线",
  offline: "离线",
  revoked: "已吊销",
  critical: "严重",
  warning: "警告",
  since: "始于",
  stuck_hold: "冻结未处理",
  reconcile_difference: "对账差异",
  service_down: "服务不可用",
  error_rate: "错误率",
  kiosk_offline: "终端离线",
  updated: "更新于 {time}",
  unavailable: "暂时无法获取：{reason}",
  noEvents: "没有符合条件的事件。",
  noKiosks: "还没有终端上报。",
  loading: "加载中…",
  paid: "已缴费",
  declined: "已拒绝",
  cancelled: "已取消",
  expired: "已过期",
  not_paid: "未支付",
  no_receipt: "无回执",
  voided: "已撤销",
  refunded: "已退款",
};

export type Lang = "en" | "zh";
const STORE = "posfee-console-lang";

export let lang: Lang =
  (localStorage.getItem(STORE) as Lang | null) ?? (navigator.language.startsWith("zh") ? "zh" : "en");

export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem(STORE, l);
  document.documentElement.lang = l === "zh" ? "zh-CN" : "en";
}

/** The text for `key`, with `{name}` replaced from `vars`. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const text = (lang === "zh" ? zh : en)[key];
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}

/** A label for a known word (a state, a severity, an alert kind), else the word itself. */
export function word(w: string): string {
  return w in en ? t(w as Key) : w;
}

/** An amount in fen as yuan with two decimals, exactly (integer arithmetic). */
export function money(fen: number): string {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  const yuan = Math.trunc(abs / 100).toLocaleString(lang === "zh" ? "zh-CN" : "en");
  const cents = String(abs % 100).padStart(2, "0");
  return `${sign}¥${yuan}.${cents}`;
}

let zone = "Asia/Shanghai";
export function setZone(z: string): void {
  zone = z;
}

/** A time in the console's zone, as receipts print it. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(d);
  const p = (type: string) => parts.find((x) => x.type === type)?.value ?? "";
  return `${p("year")}-${p("month")}-${p("day")} ${p("hour")}:${p("minute")}:${p("second")}`;
}

/** Today's date (YYYY-MM-DD) in the console's zone, `days` days back. */
export function dayInZone(daysBack = 0): string {
  const d = new Date(Date.now() - daysBack * 86_400_000);
  return localTime(d.toISOString()).slice(0, 10);
}
