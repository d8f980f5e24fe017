//! Pages of a view, cut one way for every listing (the query service's payments and readings,
//! the ledger's settlements, paygate's payments): in key order, at most a page size of items
//! and no more bytes than [`PAGE_BYTES_BUDGET`], continued with an opaque cursor (the last
//! key given, in hex) that the same listing hands out and takes back (`page_size`, `cursor`
//! in the request; `next_cursor` in the answer, absent on the last page).

use posfee_schemas::WireError;
use serde::Serialize;
use std::ops::Bound;

/// What a paged answer may fill: the payload limit less room for the envelope.
pub const PAGE_BYTES_BUDGET: usize = posfee_schemas::MAX_PAYLOAD_BYTES * 3 / 4;

/// The page size a request asks for, `default` if it names none; 0 or more than `max` is
/// refused with the field named.
pub fn size(page_size: Option<u32>, default: u32, max: u32) -> Result<usize, WireError> {
    match page_size.unwrap_or(default) {
        n if n == 0 || n > max => Err(WireError::field("page_size", format!("must be 1 to {max}"))),
        n => Ok(n as usize),
    }
}

/// Where a page starts: after the request's cursor, which must lie in the listing's
/// `within` (a key prefix: one account's records; empty for a whole tree), or at the start
/// of `within` for the first page.
pub fn start(cursor: &Option<String>, within: &[u8]) -> Result<Bound<Vec<u8>>, WireError> {
    let Some(c) = cursor else {
        return Ok(Bound::Included(within.to_vec()));
    };
    let key = hex::decode(c)
        .map_err(|_| WireError::field("cursor", "is not a cursor this service gave out"))?;
    if !key.starts_with(within) {
        return Err(WireError::field("cursor", "belongs to another listing"));
    }
    Ok(Bound::Excluded(key))
}

/// What one stored record is to the page being cut.
pub enum Step<T> {
    /// An item of the page.
    Take(T),
    /// Not in the listing (filtered out): passed over.
    Skip,
    /// Past the listing's end: the page ends here, the last one.
    End,
}

/// One page of `tree` from `start` on: each record (key, value) read by `step`, at most
/// `limit` items and [`PAGE_BYTES_BUDGET`] bytes. Returns the items and the next page's
/// cursor (`None` on the last page).
pub fn cut<T: Serialize>(
    tree: &posfee_store::Tree,
    start: Bound<Vec<u8>>,
    limit: usize,
    mut step: impl FnMut(&[u8], &[u8]) -> Result<Step<T>, WireError>,
) -> Result<(Vec<T>, Option<String>), WireError> {
    let mut items = Vec::new();
    let (mut used, mut last_key) = (0, None);
    for record in tree.range((start, Bound::Unbounded)) {
        let (k, v) = record.map_err(crate::serve::internal)?;
        let item = match step(&k, &v)? {
            Step::Take(item) => item,
            Step::Skip => continue,
            Step::End => return Ok((items, None)),
        };
        let bytes = posfee_schemas::encode(&item).len();
        if items.len() == limit || used + bytes > PAGE_BYTES_BUDGET {
            return Ok((items, last_key.map(hex::encode)));
        }
        used += bytes;
        last_key = Some(k.to_vec());
        items.push(item);
    }
    Ok((items, None))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every page of `tree` within `prefix`, `limit` at a time, followed by its cursors.
    fn all_pages(tree: &posfee_store::Tree, prefix: &[u8], limit: usize) -> Vec<Vec<u32>> {
        let (mut pages, mut cursor) = (Vec::new(), None);
        loop {
            let start = start(&cursor, prefix).unwrap();
            let (items, next) = cut(tree, start, limit, |k, v| {
                if !k.starts_with(prefix) {
                    return Ok(Step::End);
                }
                let n = u32::from_be_bytes(v.try_into().unwrap());
                Ok(if n % 5 == 0 {
                    Step::Skip
                } else {
                    Step::Take(n)
                })
            })
            .unwrap();
            pages.push(items);
            match next {
                Some(c) => cursor = Some(c),
                None => return pages,
            }
        }
    }

    #[test]
    fn pages_follow_one_another_to_the_end_of_their_listing() {
        let db = posfee_store::temporary().unwrap();
        let tree = db.open_tree("t").unwrap();
        for (prefix, n) in [("a", 1u32..=12), ("b", 100..=102)] {
            for i in n {
                let key = format!("{prefix}/{i:04}");
                tree.insert(key.as_bytes(), &i.to_be_bytes()).unwrap();
            }
        }
        // Multiples of five are passed over; the pages stop at the end of `a/`.
        let pages = all_pages(&tree, b"a/", 4);
        assert_eq!(
            pages,
            vec![vec![1, 2, 3, 4], vec![6, 7, 8, 9], vec![11, 12]]
        );
        assert_eq!(
            all_pages(&tree, b"", 100),
            vec![vec![1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 101, 102]]
        );
    }

    #[test]
    fn a_cursor_from_another_listing_or_not_a_cursor_is_refused() {
        let foreign = Some(hex::encode(b"b/0100"));
        let e = start(&foreign, b"a/").unwrap_err();
        assert!(e.message.starts_with("cursor"), "{e}");
        let e = start(&Some("zz".into()), b"a/").unwrap_err();
        assert!(e.message.starts_with("cursor"), "{e}");
        // The probe can succeed: the listing's own cursor is taken.
        assert!(start(&Some(hex::encode(b"a/0003")), b"a/").is_ok());
        assert_eq!(size(None, 50, 500).unwrap(), 50);
        assert!(size(Some(0), 50, 500).is_err() && size(Some(501), 50, 500).is_err());
    }
}
