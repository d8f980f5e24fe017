//! Waiting on the processes a test starts (`posfee up`, a kiosk, a phone): for a line in
//! their output, and for them to end. One home for what each CLI test used to loop over.

use std::path::Path;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How long one step of a process test may take: a start, a line, an exit.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a waiting test looks again.
const LOOK: Duration = Duration::from_millis(50);

/// Waits until `file` (the process's output) holds a line for which `find` answers, and
/// returns the answer; fails the test if the process ends first or [`STEP_TIMEOUT`] passes.
#[allow(clippy::panic)]
pub fn wait_for_line<T>(file: &Path, child: &mut Child, find: impl Fn(&str) -> Option<T>) -> T {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Some(found) = text.lines().find_map(&find) {
            return found;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{} ended ({status}) without it:\n{text}", file.display());
        }
        if Instant::now() >= deadline {
            panic!("timed out on {}:\n{text}", file.display());
        }
        std::thread::sleep(LOOK);
    }
}

/// The process's exit status once it ends within `within`; `None`, with the process killed,
/// if it does not.
pub fn exits_within(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(LOOK);
    }
    let _ = child.kill();
    None
}

/// The exit status of `name`, which must end within [`STEP_TIMEOUT`] (it is killed and the
/// test fails if it does not).
#[allow(clippy::panic)]
pub fn wait_exit(name: &str, child: &mut Child) -> ExitStatus {
    exits_within(child, STEP_TIMEOUT).unwrap_or_else(|| panic!("{name} did not finish"))
}
