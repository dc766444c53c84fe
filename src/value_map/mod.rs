//! [`ValueMap`]: a run's flat `name -> value` maps (hparams, summary, config).

mod by_list;
mod keys;

use std::borrow::Cow;
use std::fmt;
use std::ops::Index;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::value::Value;

pub(crate) use by_list::ByKeyList;
pub(crate) use keys::{MapKind, recent_keys, remember_keys, shared_str};

/// A map from names to [`Value`]s, sorted by name: a run's `hparams`,
/// `summary` and `config`.
///
/// It reads like a `BTreeMap<String, Value>` (`get`, `insert`, `iter` in
/// key order, last insert wins) but holds its names apart from its values,
/// as one shared list: the ~60 hparam names of a run are the same for
/// thousands of runs, so materializing a record from the cache costs one
/// vector of values per map, and its names a reference count. A map that is
/// changed gets a list of names of its own first (copy on write).
///
/// # Examples
///
/// ```
/// use runreg::{Value, ValueMap};
///
/// let mut hparams = ValueMap::new();
/// hparams.insert("optim.lr", Value::Float(0.1));
/// hparams.insert("data.batch_size", Value::Int(256));
/// assert_eq!(hparams.get("optim.lr"), Some(&Value::Float(0.1)));
/// let names: Vec<&str> = hparams.keys().collect();
/// assert_eq!(names, ["data.batch_size", "optim.lr"]);
/// ```
#[derive(Clone, Default)]
pub struct ValueMap {
    /// Sorted, unique; `None` when the map has never had an entry.
    keys: Option<KeyList>,
    /// `values[i]` is the value of `keys[i]`.
    values: Vec<Value>,
}

/// The names of a map, sorted and unique, shared between maps.
pub(crate) type KeyList = Arc<Vec<Arc<str>>>;

impl ValueMap {
    /// An empty map (allocates nothing).
    pub const fn new() -> Self {
        ValueMap {
            keys: None,
            values: Vec::new(),
        }
    }

    /// An empty map with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        ValueMap {
            keys: Some(Arc::new(Vec::with_capacity(capacity))),
            values: Vec::with_capacity(capacity),
        }
    }

    /// A map of `keys` (sorted and unique) and their `values`, in the same
    /// order.
    pub(crate) fn from_parts(keys: KeyList, values: Vec<Value>) -> Self {
        debug_assert_eq!(keys.len(), values.len());
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        ValueMap {
            keys: Some(keys),
            values,
        }
    }

    /// The map of `entries` as a parser read them, names borrowed. Their
    /// names become a key list shared with the last map of the same `kind`
    /// parsed on this thread when they are the same. Entries in any order
    /// are sorted first (once: inserting them one by one into the sorted
    /// names would be quadratic); of a name repeated, the last value wins.
    pub(crate) fn from_parsed(kind: MapKind, mut entries: Vec<(Cow<'_, str>, Value)>) -> Self {
        if entries.is_empty() {
            return ValueMap::new();
        }
        if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
            sort_keeping_last(&mut entries);
        }
        let keys = keys::parsed_keys(kind, entries.iter().map(|(k, _)| &**k));
        ValueMap::from_parts(keys, entries.into_iter().map(|(_, v)| v).collect())
    }

    /// Whether `self` and `other` share one list of names.
    #[cfg(test)]
    pub(crate) fn shares_keys_with(&self, other: &ValueMap) -> bool {
        matches!((&self.keys, &other.keys), (Some(a), Some(b)) if Arc::ptr_eq(a, b))
    }

    fn key_slice(&self) -> &[Arc<str>] {
        self.keys.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The names, ready to change: copied first if they are shared.
    fn keys_mut(&mut self) -> &mut Vec<Arc<str>> {
        Arc::make_mut(self.keys.get_or_insert_with(Default::default))
    }

    /// The entries with nested maps and lists flattened into dotted names
    /// (`optim.lr`, `layers.0`), in key order at each level; an empty map or
    /// list stays one entry. How a nested `config` is shown and compared.
    ///
    /// ```
    /// use runreg::{Value, ValueMap};
    ///
    /// let mut config = ValueMap::new();
    /// config.insert("optim", Value::Map(vec![("lr".into(), Value::Float(0.1))]));
    /// config.insert("layers", Value::List(vec![Value::Int(64), Value::Int(32)]));
    /// let flat: Vec<(String, &Value)> = config.flattened();
    /// assert_eq!(flat[0], ("layers.0".to_owned(), &Value::Int(64)));
    /// assert_eq!(flat[2], ("optim.lr".to_owned(), &Value::Float(0.1)));
    /// ```
    pub fn flattened(&self) -> Vec<(String, &Value)> {
        fn walk<'a>(prefix: String, value: &'a Value, out: &mut Vec<(String, &'a Value)>) {
            match value {
                Value::Map(entries) if !entries.is_empty() => {
                    for (k, v) in entries {
                        walk(format!("{prefix}.{k}"), v, out);
                    }
                }
                Value::List(items) if !items.is_empty() => {
                    for (i, v) in items.iter().enumerate() {
                        walk(format!("{prefix}.{i}"), v, out);
                    }
                }
                leaf => out.push((prefix, leaf)),
            }
        }
        let mut out = Vec::new();
        for (k, v) in self {
            walk(k.to_owned(), v, &mut out);
        }
        out
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.key_slice().binary_search_by(|k| (**k).cmp(key))
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.values[i])
    }

    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).ok().map(|i| &mut self.values[i])
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaces.
    pub fn insert(&mut self, key: impl AsRef<str>, value: Value) -> Option<Value> {
        let key = key.as_ref();
        // Keys mostly arrive in order (sorted JSON, flattening): append.
        let at = if self.key_slice().last().is_none_or(|last| **last < *key) {
            Err(self.len())
        } else {
            self.position(key)
        };
        match at {
            Ok(i) => Some(std::mem::replace(&mut self.values[i], value)),
            Err(i) => {
                self.keys_mut().insert(i, shared_str(key));
                self.values.insert(i, value);
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key).ok()?;
        self.keys_mut().remove(i);
        Some(self.values.remove(i))
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.keys = None;
        self.values.clear();
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.key_slice().iter().zip(self.values.iter()))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.key_slice().iter().map(|k| &**k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.values.iter()
    }
}

impl PartialEq for ValueMap {
    fn eq(&self, other: &Self) -> bool {
        self.key_slice() == other.key_slice() && self.values == other.values
    }
}

/// The entries of a [`ValueMap`], in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::iter::Zip<std::slice::Iter<'a, Arc<str>>, std::slice::Iter<'a, Value>>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (&**k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (&**k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a ValueMap {
    type Item = (&'a str, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The entries of a [`ValueMap`], owned, in key order.
#[derive(Debug)]
pub struct IntoIter(std::iter::Zip<std::vec::IntoIter<Arc<str>>, std::vec::IntoIter<Value>>);

impl Iterator for IntoIter {
    type Item = (Arc<str>, Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back()
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for ValueMap {
    type Item = (Arc<str>, Value);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        let keys = self.keys.map(Arc::unwrap_or_clone).unwrap_or_default();
        IntoIter(keys.into_iter().zip(self.values))
    }
}

/// Entries added one by one at most; more are sorted in with the map's
/// own, in O(n log n) where inserting them one by one could be quadratic.
const INSERTED_ONE_BY_ONE: usize = 16;

impl<K: AsRef<str>> Extend<(K, Value)> for ValueMap {
    /// Later entries win over earlier ones (and over the map's own) with
    /// the same key, as in a `BTreeMap`.
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, entries: I) {
        let entries: Vec<(K, Value)> = entries.into_iter().collect();
        if entries.len() <= INSERTED_ONE_BY_ONE {
            for (k, v) in entries {
                self.insert(k, v);
            }
            return;
        }
        let mut all: Vec<(Arc<str>, Value)> = std::mem::take(self).into_iter().collect();
        all.extend(
            entries
                .into_iter()
                .map(|(k, v)| (shared_str(k.as_ref()), v)),
        );
        if !all.windows(2).all(|w| w[0].0 < w[1].0) {
            sort_keeping_last(&mut all);
        }
        let (keys, values) = all.into_iter().unzip();
        *self = ValueMap::from_parts(Arc::new(keys), values);
    }
}

impl<K: AsRef<str>> FromIterator<(K, Value)> for ValueMap {
    /// Later entries win over earlier ones with the same key, as in a
    /// `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(entries: I) -> Self {
        let mut map = ValueMap::new();
        map.extend(entries);
        map
    }
}

/// Sorts `entries` by name and leaves one entry per name, with the value
/// that came last. A stable sort keeps equal names in the order they came.
fn sort_keeping_last<K: AsRef<str>>(entries: &mut Vec<(K, Value)>) {
    entries.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    // `dedup_by` keeps the first of equal neighbours: move the later value
    // into it before dropping the later entry.
    entries.dedup_by(|later, kept| {
        let same = later.0.as_ref() == kept.0.as_ref();
        if same {
            std::mem::swap(&mut later.1, &mut kept.1);
        }
        same
    });
}

impl<K: AsRef<str>, const N: usize> From<[(K, Value); N]> for ValueMap {
    fn from(entries: [(K, Value); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl From<std::collections::BTreeMap<String, Value>> for ValueMap {
    fn from(map: std::collections::BTreeMap<String, Value>) -> Self {
        map.into_iter().collect()
    }
}

impl Index<&str> for ValueMap {
    type Output = Value;

    /// # Panics
    ///
    /// When `key` is absent, as `BTreeMap`'s index does; [`ValueMap::get`]
    /// does not panic.
    fn index(&self, key: &str) -> &Value {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no entry {key:?} in the map"),
        }
    }
}

impl fmt::Debug for ValueMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for ValueMap {
    /// A JSON object in key order.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn out_of_order_inserts_keep_keys_sorted_and_the_last_value() {
        let mut map = ValueMap::new();
        for (k, v) in [("b", 1), ("a", 2), ("c", 3), ("a", 4)] {
            map.insert(k, Value::Int(v));
        }
        let entries: Vec<(&str, &Value)> = map.iter().collect();
        assert_eq!(
            entries,
            [
                ("a", &Value::Int(4)),
                ("b", &Value::Int(1)),
                ("c", &Value::Int(3))
            ]
        );
        assert_eq!(map.remove("b"), Some(Value::Int(1)));
        assert_eq!(map.get("b"), None);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn serializes_as_a_json_object_in_key_order() {
        let map = ValueMap::from([("z", Value::Float(f64::NAN)), ("a", Value::Null)]);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"a":null,"z":"NaN"}"#
        );
        assert_eq!(format!("{map:?}"), r#"{"a": Null, "z": Float(NaN)}"#);
    }

    #[test]
    fn equal_keys_share_one_allocation_on_a_thread() {
        let a = ValueMap::from([("optim.lr", Value::Int(1))]);
        let b = ValueMap::from([(String::from("optim.lr"), Value::Int(2))]);
        let (ka, kb) = (&a.key_slice()[0], &b.key_slice()[0]);
        assert!(Arc::ptr_eq(ka, kb));
    }

    #[test]
    fn a_shared_list_of_names_is_copied_before_a_change() {
        let keys: KeyList = Arc::new(vec![shared_str("a"), shared_str("b")]);
        let a = ValueMap::from_parts(Arc::clone(&keys), vec![Value::Int(1), Value::Int(2)]);
        let mut b = ValueMap::from_parts(keys, vec![Value::Int(3), Value::Int(4)]);
        assert!(a.shares_keys_with(&b));
        b.insert("c", Value::Null);
        assert_eq!(b.remove("a"), Some(Value::Int(3)));
        assert!(!a.shares_keys_with(&b));
        assert_eq!(a.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(b.keys().collect::<Vec<_>>(), ["b", "c"]);
        // A value can change without copying the names.
        let mut c = a.clone();
        *c.get_mut("a").unwrap() = Value::Int(9);
        assert!(a.shares_keys_with(&c));
        assert_eq!(a["a"], Value::Int(1));
    }

    #[test]
    fn emptied_and_never_filled_maps_are_equal() {
        let mut a = ValueMap::from([("k", Value::Null)]);
        a.remove("k");
        assert_eq!(a, ValueMap::new());
        let mut b = ValueMap::from([("k", Value::Null)]);
        b.clear();
        assert_eq!(b, ValueMap::with_capacity(4));
        assert_eq!(ValueMap::new().into_iter().count(), 0);
        let owned: Vec<(Arc<str>, Value)> =
            ValueMap::from([("x", Value::Int(1))]).into_iter().collect();
        assert_eq!(owned, [(Arc::from("x"), Value::Int(1))]);
    }

    #[test]
    fn parsed_names_out_of_order_are_sorted_and_the_last_value_wins() {
        let entries = [("b", 1), ("a", 2), ("c", 3), ("a", 4), ("b", 5)]
            .map(|(k, v)| (Cow::Borrowed(k), Value::Int(v)))
            .to_vec();
        let map = ValueMap::from_parsed(MapKind::Hparams, entries);
        let got: Vec<(&str, &Value)> = map.iter().collect();
        assert_eq!(
            got,
            [
                ("a", &Value::Int(4)),
                ("b", &Value::Int(5)),
                ("c", &Value::Int(3))
            ]
        );
    }

    proptest! {
        /// Collecting entries, and extending a map with them (past the
        /// few inserted one by one), is the same as inserting them one by
        /// one into a `BTreeMap`: sorted, the last of a name winning.
        #[test]
        fn collecting_and_extending_behave_like_a_btreemap(
            first in prop::collection::vec(("[a-f]{0,2}", any::<i64>()), 0..40),
            more in prop::collection::vec(("[a-f]{0,2}", any::<i64>()), 0..40),
        ) {
            let ints = |entries: &[(String, i64)]| -> Vec<(String, Value)> {
                entries.iter().map(|(k, n)| (k.clone(), Value::Int(*n))).collect()
            };
            let mut model: BTreeMap<String, Value> = ints(&first).into_iter().collect();
            let mut map: ValueMap = ints(&first).into_iter().collect();
            let parsed = ValueMap::from_parsed(
                MapKind::Summary,
                ints(&first).into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect(),
            );
            prop_assert_eq!(&parsed, &map);
            model.extend(ints(&more));
            map.extend(ints(&more));
            let got: Vec<(&str, &Value)> = map.iter().collect();
            let want: Vec<(&str, &Value)> = model.iter().map(|(k, v)| (k.as_str(), v)).collect();
            prop_assert_eq!(got, want);
        }

        /// Any sequence of inserts and removes leaves the map equal to a
        /// `BTreeMap` given the same sequence.
        #[test]
        fn behaves_like_a_btreemap(
            ops in prop::collection::vec((any::<bool>(), "[a-e]{0,2}", any::<i64>()), 0..64),
        ) {
            let mut model = BTreeMap::new();
            let mut map = ValueMap::new();
            for (insert, key, n) in ops {
                if insert {
                    prop_assert_eq!(
                        map.insert(&key, Value::Int(n)),
                        model.insert(key.clone(), Value::Int(n))
                    );
                } else {
                    prop_assert_eq!(map.remove(&key), model.remove(&key));
                }
                prop_assert_eq!(map.len(), model.len());
            }
            let got: Vec<(&str, &Value)> = map.iter().collect();
            let want: Vec<(&str, &Value)> = model.iter().map(|(k, v)| (k.as_str(), v)).collect();
            prop_assert_eq!(got, want);
            for key in ["", "a", "ab", "e", "zz"] {
                prop_assert_eq!(map.get(key), model.get(key));
            }
        }
    }
}
