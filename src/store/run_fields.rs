//! [`RunFields`]: the fields of a stored run, borrowed from the cache's
//! bytes, for what takes a run's values one by one (the columns of a
//! batch) without building its record: strings are not copied, and the
//! names of a map are the stored list many runs share. Also the pieces of
//! the record's layout that every borrowed reader of it starts from (the
//! head of the hot section, the start of the cold one, a map's names and
//! values): `RunView`'s serde, `JsonWriter` and the query's `HotRef` use
//! them too.

// `RunFields` is read by the columnar builder alone (the `arrow` feature).
#![cfg_attr(not(feature = "arrow"), allow(dead_code))]

use bincode::de::read::{BorrowReader, Reader as _, SliceReader};
use bincode::de::{BorrowDecoder as _, Decoder as _, DecoderImpl};
use bincode::error::DecodeError;
use bincode::{BorrowDecode, Decode};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::codec::{
    self, CorruptRecord, FALSE, FLOAT, INT, Lists, NULL, RecordBytes, STR, TRUE, stored_keys,
};
use crate::status::Status;
use crate::value::{Value, serialize_f64};
use crate::value_map::KeyList;

/// A run's fields, borrowed; for a view of the summary detail, `hparams`
/// and `config` are empty, and so are `run_dir` and `notes`.
pub(crate) struct RunFields<'a> {
    pub status: Status,
    pub created_at: f64,
    pub updated_at: f64,
    pub ended_at: Option<f64>,
    pub run_dir: &'a str,
    pub checkpoint_path: Option<&'a str>,
    pub notes: &'a str,
    pub tags: Vec<&'a str>,
    pub config: MapFields<'a>,
    pub hparams: MapFields<'a>,
    pub summary: MapFields<'a>,
}

/// A map of a run (its hparams, summary or config), borrowed: its names in
/// key order, and their values.
pub(crate) struct MapFields<'a> {
    pub names: MapNames<'a>,
    pub values: Vec<Scalar<'a>>,
}

/// The names of a map.
pub(crate) enum MapNames<'a> {
    /// A stored key list, the same (`Arc`) for every run of a snapshot that
    /// names it.
    Stored(&'a KeyList),
    /// The record's own.
    Inline(Vec<&'a str>),
}

impl MapNames<'_> {
    pub fn get(&self, i: usize) -> &str {
        match self {
            MapNames::Stored(list) => &list[i],
            MapNames::Inline(names) => names[i],
        }
    }
}

/// A value of a map, borrowed; arrays and objects (rare) decoded.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Nested(Value),
}

impl Serialize for Scalar<'_> {
    /// As [`Value`] serializes.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Scalar::Null => s.serialize_unit(),
            Scalar::Bool(b) => s.serialize_bool(*b),
            Scalar::Int(i) => s.serialize_i64(*i),
            Scalar::Float(f) => serialize_f64(f, s),
            Scalar::Str(v) => s.serialize_str(v),
            Scalar::Nested(v) => v.serialize(s),
        }
    }
}

impl Serialize for MapFields<'_> {
    /// As [`ValueMap`](crate::ValueMap) serializes: an object in key order.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.values.len()))?;
        for (i, value) in self.values.iter().enumerate() {
            map.serialize_entry(self.names.get(i), value)?;
        }
        map.end()
    }
}

impl<'a> MapFields<'a> {
    fn empty() -> MapFields<'a> {
        MapFields {
            names: MapNames::Inline(Vec::new()),
            values: Vec::new(),
        }
    }

    /// The map a section ends with (the layout of `codec::encode_map`);
    /// checks that it ends its section.
    fn read(d: &mut Decoder<'a>) -> Result<MapFields<'a>, DecodeError> {
        let names = MapNames::read(d)?;
        let mut values = Vec::with_capacity(names.len());
        for _ in 0..names.len() {
            values.push(scalar(d)?);
        }
        end_of_section(d)?;
        Ok(MapFields { names, values })
    }
}

impl<'a> MapNames<'a> {
    /// The names of the map `d` is at (its length, then where its names
    /// are: a block in the record, checked sorted and unique, or a stored
    /// list's id), leaving `d` at its first value. Each reader of a stored
    /// map starts here.
    pub(super) fn read(d: &mut Decoder<'a>) -> Result<MapNames<'a>, DecodeError> {
        let len = usize::decode(&mut *d)?;
        d.claim_container_read::<(&str, u8)>(len)?;
        Ok(match u32::decode(&mut *d)? {
            0 => {
                let block_len = usize::decode(&mut *d)?;
                let block = d.borrow_reader().take_bytes(block_len)?;
                let mut keys = decoder(block, *d.context());
                let mut names: Vec<&str> = Vec::with_capacity(len);
                for _ in 0..len {
                    let key = <&str>::borrow_decode(&mut keys)?;
                    if names.last().is_some_and(|last| *last >= key) {
                        return Err(DecodeError::Other("map keys out of order"));
                    }
                    names.push(key);
                }
                if keys.reader().peek_read(1).is_some() {
                    return Err(DecodeError::Other("map keys do not fill their block"));
                }
                MapNames::Inline(names)
            }
            id => MapNames::Stored(stored_keys(*d.context(), id, len)?),
        })
    }

    pub fn len(&self) -> usize {
        match self {
            MapNames::Stored(list) => list.len(),
            MapNames::Inline(names) => names.len(),
        }
    }
}

/// Checks that a section's last map ended it.
pub(super) fn end_of_section(d: &mut Decoder<'_>) -> Result<(), DecodeError> {
    match d.reader().peek_read(1) {
        Some(_) => Err(DecodeError::Other("trailing bytes in a section")),
        None => Ok(()),
    }
}

/// The next value of a map.
#[inline]
pub(super) fn scalar<'a>(d: &mut Decoder<'a>) -> Result<Scalar<'a>, DecodeError> {
    Ok(match u8::decode(&mut *d)? {
        NULL => Scalar::Null,
        FALSE => Scalar::Bool(false),
        TRUE => Scalar::Bool(true),
        INT => Scalar::Int(i64::decode(&mut *d)?),
        FLOAT => Scalar::Float(f64::decode(&mut *d)?),
        STR => Scalar::Str(<&str>::borrow_decode(&mut *d)?),
        tag => Scalar::Nested(codec::decode_nested(d, tag)?),
    })
}

impl<'a> RunFields<'a> {
    /// The fields of a stored record (a hot row only unless `full`).
    pub(super) fn read(bytes: RecordBytes<'a>, full: bool) -> Result<RunFields<'a>, CorruptRecord> {
        let sections = bytes.sections()?;
        let mut hot = decoder(sections.hot, bytes.lists);
        let head = Head::read(&mut hot)?;
        let tags = read_tags(&mut hot)?;
        let summary = MapFields::read(&mut hot)?;
        let (cold, hparams, config) = if full {
            let mut cold = decoder(sections.cold, bytes.lists);
            let cold_head = ColdHead::read(&mut cold)?;
            let config = MapFields::read(&mut cold)?;
            let hparams = MapFields::read(&mut decoder(sections.hparams, bytes.lists))?;
            (cold_head, hparams, config)
        } else {
            (ColdHead::default(), MapFields::empty(), MapFields::empty())
        };
        Ok(RunFields {
            status: head.status,
            created_at: head.created_at,
            updated_at: head.updated_at,
            ended_at: head.ended_at,
            run_dir: cold.run_dir,
            checkpoint_path: cold.checkpoint_path,
            notes: cold.notes,
            tags,
            config,
            hparams,
            summary,
        })
    }
}

pub(super) type Decoder<'a> = DecoderImpl<SliceReader<'a>, codec::Config, Lists<'a>>;

pub(super) fn decoder<'a>(bytes: &'a [u8], lists: Lists<'a>) -> Decoder<'a> {
    DecoderImpl::new(SliceReader::new(bytes), codec::config(), lists)
}

/// The fields at the start of the hot section.
pub(super) struct Head {
    pub status: Status,
    pub created_at: f64,
    pub updated_at: f64,
    pub ended_at: Option<f64>,
    pub heartbeat_at: Option<f64>,
}

impl Head {
    pub fn read(d: &mut Decoder<'_>) -> Result<Head, DecodeError> {
        Ok(Head {
            status: codec::decode_status(d)?,
            created_at: f64::decode(d)?,
            updated_at: f64::decode(d)?,
            ended_at: Option::<f64>::decode(d)?,
            heartbeat_at: Option::<f64>::decode(d)?,
        })
    }
}

/// The start of the cold section, borrowed (empty for the summary
/// detail).
#[derive(Default)]
pub(super) struct ColdHead<'a> {
    pub run_dir: &'a str,
    pub checkpoint_path: Option<&'a str>,
    pub notes: &'a str,
}

impl<'a> ColdHead<'a> {
    pub fn read(d: &mut Decoder<'a>) -> Result<ColdHead<'a>, DecodeError> {
        Ok(ColdHead {
            run_dir: <&str>::borrow_decode(d)?,
            checkpoint_path: Option::<&str>::borrow_decode(d)?,
            notes: <&str>::borrow_decode(d)?,
        })
    }
}

pub(super) fn skip_tags(d: &mut Decoder<'_>) -> Result<(), DecodeError> {
    let len = usize::decode(&mut *d)?;
    d.claim_container_read::<&str>(len)?;
    for _ in 0..len {
        <&[u8]>::borrow_decode(&mut *d)?;
    }
    Ok(())
}

pub(super) fn read_tags<'a>(d: &mut Decoder<'a>) -> Result<Vec<&'a str>, DecodeError> {
    let len = usize::decode(d)?;
    d.claim_container_read::<&str>(len)?;
    let mut tags = Vec::with_capacity(len);
    for _ in 0..len {
        tags.push(<&str>::borrow_decode(d)?);
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::store::RecordBytes;
    use crate::store::hot_row::hot_row;
    use crate::store::run_view::RunView;
    use crate::store::run_view::tests::{
        StoredLists, a_stored_run, encoded, record_of, stored_run,
    };
    use crate::value_map::ValueMap;

    fn owned(map: &MapFields<'_>) -> ValueMap {
        (0..map.values.len())
            .map(|i| {
                let value = match &map.values[i] {
                    Scalar::Null => Value::Null,
                    Scalar::Bool(b) => Value::Bool(*b),
                    Scalar::Int(n) => Value::Int(*n),
                    Scalar::Float(f) => Value::Float(*f),
                    Scalar::Str(s) => Value::from(*s),
                    Scalar::Nested(v) => v.clone(),
                };
                (map.names.get(i).to_owned(), value)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn the_fields_of_a_view_are_its_record_s(run in stored_run(), stored_lists: bool) {
            let lists = StoredLists::default();
            let bytes = encoded(&run, &lists, stored_lists);
            let hot = hot_row(&bytes);
            for (full, bytes) in [(true, &bytes), (false, &hot)] {
                let view = RunView::new("r", RecordBytes::new(bytes, &lists), full, |_, _| false).unwrap();
                let fields = view.fields().unwrap();
                let record = record_of("r", &run, false, full);
                prop_assert_eq!(&fields.status, &record.status);
                prop_assert_eq!(
                    (fields.created_at.to_bits(), fields.updated_at.to_bits(), fields.ended_at.map(f64::to_bits)),
                    (record.created_at.to_bits(), record.updated_at.to_bits(), record.ended_at.map(f64::to_bits))
                );
                prop_assert_eq!(fields.run_dir, record.run_dir.as_str());
                prop_assert_eq!(fields.checkpoint_path, record.checkpoint_path.as_deref());
                prop_assert_eq!(fields.notes, record.notes.as_str());
                prop_assert_eq!(&fields.tags, &record.tags);
                for (map, expected) in [
                    (&fields.config, &record.config),
                    (&fields.hparams, &record.hparams),
                    (&fields.summary, &record.summary),
                ] {
                    // Compared as JSON: NaN is not equal to itself.
                    prop_assert_eq!(
                        serde_json::to_string(map).unwrap(),
                        serde_json::to_string(expected).unwrap()
                    );
                    prop_assert_eq!(
                        serde_json::to_string(&owned(map)).unwrap(),
                        serde_json::to_string(expected).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn damaged_records_give_an_error_never_a_panic() {
        let lists = StoredLists::default();
        let run = a_stored_run();
        let bytes = encoded(&run, &lists, false);
        let mut refused = 0;
        for end in 0..bytes.len() {
            if let Ok(view) = RunView::new(
                "r",
                RecordBytes::new(&bytes[..end], &lists),
                true,
                |_, _| false,
            ) {
                refused += usize::from(view.fields().is_err());
            }
        }
        assert!(refused > 0);
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0xff;
            if let Ok(view) =
                RunView::new("r", RecordBytes::new(&damaged, &lists), true, |_, _| false)
            {
                let _ = view.fields();
            }
        }
    }
}
