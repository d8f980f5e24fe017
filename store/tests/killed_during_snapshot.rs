//! sled writes a snapshot of its page table each time a store opens: `snap.<lsn>.generating`,
//! synced, then renamed to `snap.<lsn>`. A process killed (kill -9, a power cut) while it
//! writes leaves that file partial. sled 0.34.7 read it as the newest snapshot, called it
//! corrupt and refused to open the store, so the service could never start again: the kill
//! -9 campaign met it as a fee-engine that stayed down. The vendored sled reads only
//! finished snapshots (`vendor/README.md`).

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn generating(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".generating"))
        .collect()
}

#[test]
fn a_store_killed_while_sled_wrote_its_snapshot_opens_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = posfee_store::open(dir.path()).unwrap();
        db.insert(b"bill", b"kept").unwrap();
        db.flush().unwrap();
    }
    // The snapshot the next open would have written, cut short by a kill: three bytes of
    // it, under a name that sorts after every finished one.
    let partial = "snap.FFFFFFFFFFFFFFFF.generating";
    std::fs::write(dir.path().join(partial), b"abc").unwrap();
    assert_eq!(generating(dir.path()), [partial]);

    let db = posfee_store::open(dir.path()).unwrap();
    assert_eq!(db.get(b"bill").unwrap().as_deref(), Some(&b"kept"[..]));
    db.insert(b"after", b"written").unwrap();
    db.flush().unwrap();
    drop(db);
    // The next snapshot written clears what the killed one left behind.
    let db = posfee_store::open(dir.path()).unwrap();
    assert_eq!(db.get(b"after").unwrap().as_deref(), Some(&b"written"[..]));
    assert!(
        generating(dir.path()).is_empty(),
        "{:?}",
        generating(dir.path())
    );
}
