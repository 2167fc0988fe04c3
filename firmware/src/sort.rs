//! Sorting for the firmware's short lists, in a few hundred bytes of code.
//!
//! `core`'s `sort_by_key` and `sort_unstable` are built for millions of elements: each
//! instantiation brings a driftsort or an introsort of 2-4 KB, and the firmware had twelve
//! (50 KB of the image). Its lists are memory maps, BARs of one window, CPUs and
//! page frames: tens to a few thousand entries, where an insertion sort (stable, for the
//! lists whose ties must keep their order) and a heapsort (for the long ones, which
//! have no ties worth keeping) are quick enough and tiny.

use alloc::vec::Vec;

/// A map kept as a vector sorted by key: for the few entries the firmware keys by index
/// (BARs left out, reservations given up), where `BTreeMap` would bring 3 KB of node code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SortedMap<K, V>(Vec<(K, V)>);

impl<K: Ord, V> SortedMap<K, V> {
    pub const fn new() -> Self {
        SortedMap(Vec::new())
    }

    /// Inserts or replaces the value of `key`.
    pub fn insert(&mut self, key: K, value: V) {
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (key, value)),
        }
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.0.binary_search_by(|(k, _)| k.cmp(key)).is_ok()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = alloc::vec::IntoIter<(K, V)>;

    /// The entries in key order.
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Sorts `items` by `key`, keeping the order of equal keys (as `slice::sort_by_key`).
///
/// Insertion sort: quadratic, for lists of at most a few hundred entries.
pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    for sorted_end in 1..items.len() {
        let mut i = sorted_end;
        while i > 0 && key(&items[i - 1]) > key(&items[i]) {
            items.swap(i - 1, i);
            i -= 1;
        }
    }
}

/// Sorts `items` in ascending order, equal elements in any order (as
/// `slice::sort_unstable`).
///
/// Heapsort: n log n whatever the input, for lists of thousands (page frames).
pub fn sort_unstable<T: Ord>(items: &mut [T]) {
    let len = items.len();
    for root in (0..len / 2).rev() {
        sift_down(items, root, len);
    }
    for end in (1..len).rev() {
        items.swap(0, end);
        sift_down(items, 0, end);
    }
}

/// Moves `items[root]` down the max-heap `items[..end]` until both children are smaller.
fn sift_down<T: Ord>(items: &mut [T], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && items[child] < items[child + 1] {
            child += 1;
        }
        if items[root] >= items[child] {
            return;
        }
        items.swap(root, child);
        root = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sorted_map_keeps_keys_in_order_and_replaces() {
        let mut map = SortedMap::new();
        for (k, v) in [(3, 'a'), (1, 'b'), (2, 'c'), (1, 'd')] {
            map.insert(k, v);
        }
        assert!(map.contains_key(&2) && !map.contains_key(&4));
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(map.into_iter().collect::<Vec<_>>(), [(1, 'd'), (2, 'c'), (3, 'a')]);
    }

    proptest! {
        #[test]
        fn sort_by_key_matches_the_standard_stable_sort(
            mut items in proptest::collection::vec((0u8..8, any::<u16>()), 0..64)
        ) {
            let mut expected = items.clone();
            expected.sort_by_key(|&(key, _)| key);
            sort_by_key(&mut items, |&(key, _)| key);
            prop_assert_eq!(items, expected);
        }

        #[test]
        fn sort_unstable_sorts(mut items in proptest::collection::vec(any::<u32>(), 0..300)) {
            let mut expected = items.clone();
            expected.sort_unstable();
            sort_unstable(&mut items);
            prop_assert_eq!(items, expected);
        }
    }
}
