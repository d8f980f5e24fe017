//! Progress bars (indicatif) as every operator command draws them: rates in whole numbers
//! per second (`1234/s`, not `1234.5678/s`).

use indicatif::{ProgressState, ProgressStyle};
use std::fmt::Write;

/// A style from an indicatif template whose `{per_sec}` is a whole number per second.
pub fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("per_sec", |state: &ProgressState, w: &mut dyn Write| {
            let _ = w.write_str(&whole_per_sec(state.per_sec()));
        })
}

/// `1234.5678` as `1235/s`.
pub fn whole_per_sec(rate: f64) -> String {
    if rate.is_finite() {
        format!("{rate:.0}/s")
    } else {
        "-/s".to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rates_are_whole_numbers_per_second() {
        assert_eq!(whole_per_sec(1234.5678), "1235/s");
        assert_eq!(whole_per_sec(0.2), "0/s");
        assert_eq!(whole_per_sec(f64::INFINITY), "-/s");
    }

    /// A terminal that keeps what is written to it.
    #[derive(Debug, Clone, Default)]
    struct Screen(std::sync::Arc<std::sync::Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)?;
            self.write_str("\n")
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_style_draws_per_sec_as_a_whole_number() {
        let screen = Screen::default();
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(1_000_000),
            indicatif::ProgressDrawTarget::term_like(Box::new(screen.clone())),
        );
        bar.set_style(style("{pos} rows {per_sec}"));
        bar.inc(1_000);
        bar.inc(1_000);
        bar.finish();
        let shown = screen.0.lock().unwrap().clone();
        let rate = shown
            .split_whitespace()
            .rfind(|w| w.ends_with("/s"))
            .unwrap_or_else(|| panic!("no rate in {shown:?}"));
        let number = rate.trim_end_matches("/s");
        assert!(
            !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
            "not a whole number: {shown:?}"
        );
    }
}
