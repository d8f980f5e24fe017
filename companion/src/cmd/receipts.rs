//! `companion receipts`: what this phone paid, from its own store (no network).

use crate::home::Home;
use crate::render;
use std::process::ExitCode;

pub fn run(home: &Home, json: bool) -> ExitCode {
    let receipts = match home.receipts() {
        Ok(r) => r,
        Err(e) => return super::fail(json, &e),
    };
    if json {
        let all: Vec<serde_json::Value> = receipts.iter().map(render::json_receipt).collect();
        super::emit(&serde_json::Value::Array(all));
    } else if receipts.is_empty() {
        println!("no receipts yet 暂无缴费凭证");
    } else {
        for r in &receipts {
            println!("{}", render::receipt(r));
        }
    }
    ExitCode::SUCCESS
}
