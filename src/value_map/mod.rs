//! [`ValueMap`]: a run's flat `name -> value` maps (hparams, summary, config).

mod keys;

use std::fmt;
use std::ops::Index;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::value::Value;

pub(crate) use keys::{MapKind, decoded_key, shared_key};

/// A map from names to [`Value`]s, sorted by name: a run's `hparams`,
/// `summary` and `config`.
///
/// It reads like a `ValueMap` (`get`, `insert`, `iter` in key
/// order, last insert wins) but holds its entries in one sorted vector and
/// its names as shared `Arc<str>`s: the ~60 names of a run's hparams are the
/// same for thousands of runs, so materializing a record costs one
/// allocation per map instead of one per name.
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
#[derive(Clone, Default, PartialEq)]
pub struct ValueMap {
    /// Sorted by key, keys unique.
    entries: Vec<(Arc<str>, Value)>,
}

impl ValueMap {
    /// An empty map (allocates nothing).
    pub const fn new() -> Self {
        ValueMap {
            entries: Vec::new(),
        }
    }

    /// An empty map with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        ValueMap {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaces.
    pub fn insert(&mut self, key: impl AsRef<str>, value: Value) -> Option<Value> {
        self.insert_with(key.as_ref(), shared_key, value)
    }

    /// [`ValueMap::insert`] with a key already shared.
    pub(crate) fn insert_shared(&mut self, key: Arc<str>, value: Value) -> Option<Value> {
        self.insert_with(key, |key| key, value)
    }

    /// Inserts under `key`, turned into the stored key by `shared` only
    /// when a new entry is made.
    fn insert_with<K: AsRef<str>>(
        &mut self,
        key: K,
        shared: impl FnOnce(K) -> Arc<str>,
        value: Value,
    ) -> Option<Value> {
        // Keys mostly arrive in order (decoding, sorted JSON): append.
        let at = if self
            .entries
            .last()
            .is_none_or(|(last, _)| **last < *key.as_ref())
        {
            Err(self.entries.len())
        } else {
            self.position(key.as_ref())
        };
        match at {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (shared(key), value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.position(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| &**k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// The entries of a [`ValueMap`], in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, (Arc<str>, Value)>);

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

impl IntoIterator for ValueMap {
    type Item = (Arc<str>, Value);
    type IntoIter = std::vec::IntoIter<(Arc<str>, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: AsRef<str>> Extend<(K, Value)> for ValueMap {
    fn extend<I: IntoIterator<Item = (K, Value)>>(&mut self, entries: I) {
        for (k, v) in entries {
            self.insert(k, v);
        }
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
        let (ka, kb) = (&a.entries[0].0, &b.entries[0].0);
        assert!(Arc::ptr_eq(ka, kb));
    }

    proptest! {
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
