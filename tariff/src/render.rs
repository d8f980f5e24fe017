//! A quote as a plain-text table for the CLI and for reviewing rule changes.

use posfee_schemas::fee::Quote;

const HEADERS: [&str; 8] = [
    "KIND",
    "PERIOD",
    "QUANTITY",
    "UNIT",
    "UNIT PRICE",
    "AMOUNT",
    "RULE@VERSION",
    "EXPLANATION",
];

/// Columns that hold numbers are right-aligned.
const RIGHT: [bool; 8] = [false, false, true, false, true, true, false, false];

/// One row per line (kind, period, quantity, unit, unit price, amount, rule@version,
/// explanation), then the total under the amounts.
pub fn render_quote(q: &Quote) -> String {
    let rows: Vec<[String; 8]> = q
        .lines
        .iter()
        .map(|l| {
            let rule = if l.rule_version == "-" {
                l.rule_id.clone()
            } else {
                format!("{}@{}", l.rule_id, l.rule_version)
            };
            [
                l.kind.to_string(),
                l.period.clone(),
                l.quantity.to_string(),
                l.unit.clone(),
                l.unit_price.to_string(),
                l.amount.to_string(),
                rule,
                l.explanation.clone(),
            ]
        })
        .collect();
    let total = q.total.to_string();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    widths[5] = widths[5].max(total.chars().count());

    let mut out = format!(
        "{} ({}) · account {} · as of {} · {}\n",
        q.tenant_name, q.tenant, q.account, q.as_of, q.currency
    );
    let header = HEADERS.map(str::to_string);
    for row in std::iter::once(&header).chain(rows.iter()) {
        out.push_str(&format_row(row, &widths));
    }
    let mut total_row: [String; 8] = Default::default();
    total_row[0] = "TOTAL".to_string();
    total_row[5] = total;
    out.push_str(&format_row(&total_row, &widths));
    out
}

fn format_row(row: &[String; 8], widths: &[usize; 8]) -> String {
    let last = row.len() - 1;
    let cells: Vec<String> = row
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i == last {
                cell.clone()
            } else if RIGHT[i] {
                format!("{}{cell}", " ".repeat(pad))
            } else {
                format!("{cell}{}", " ".repeat(pad))
            }
        })
        .collect();
    format!("{}\n", cells.join("  ").trim_end())
}
