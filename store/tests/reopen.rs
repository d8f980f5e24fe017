//! A store closed and opened again in one process: sled's I/O threads can still hold its
//! lock for a moment after the handle is dropped, and the phone's second open used to fail
//! on it now and then. `posfee_store::open` waits for the lock up to `LOCK_WAIT`; a store
//! that stays held is still refused, with the cause in the error.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

#[test]
fn an_open_waits_for_a_lock_that_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let held = posfee_store::open(dir.path()).unwrap();
    held.insert(b"k", b"v").unwrap();
    let path = dir.path().to_path_buf();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let opener = std::thread::spawn(move || {
        started_tx.send(()).unwrap();
        posfee_store::open(&path)
    });
    started_rx.recv().unwrap();
    drop(held);
    let db = opener
        .join()
        .unwrap()
        .expect("the lock was released inside the wait");
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_store_held_for_the_whole_wait_is_refused_naming_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let _held = posfee_store::open(dir.path()).unwrap();
    let start = Instant::now();
    let err = posfee_store::open(dir.path()).expect_err("the store is held");
    assert!(
        start.elapsed() >= posfee_store::LOCK_WAIT,
        "{:?}",
        start.elapsed()
    );
    let text = format!("{err:#}");
    assert!(text.contains("could not acquire lock"), "{text}");
}
