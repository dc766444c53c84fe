//! The cache's record encoding, in bincode (used only here, in `view` and in
//! `files`' derives).
//!
//! A run's record is stored as three bincode sections, so that a query reads
//! only what it needs:
//!
//! ```text
//! [u32 LE: hot length][hot][u32 LE: hparams length][hparams][cold]
//! ```
//!
//! - hot: status, times, heartbeat, tags and summary (filters and metric
//!   sorts);
//! - hparams: the flattened hyper-parameters (hparams filters and sorts);
//! - cold: run_dir, checkpoint, notes and config (only for whole records).
//!
//! The names of a map (summary, hparams, config) are stored in the record,
//! or, mostly, as the id of a list stored once for every record with the
//! same names (see `key_lists`).
//!
//! Decoding is bounded: every length is checked against [`DECODE_LIMIT`]
//! before anything is allocated, and nesting against [`MAX_DEPTH`], so
//! arbitrary bytes give an error, never a panic or an abort on allocation.

use std::sync::Arc;

use bincode::de::read::{Reader, SliceReader};
use bincode::de::{Decoder, DecoderImpl};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};

use crate::status::Status;
use crate::value::Value;
use crate::value_map::{KeyList, MapKind, ValueMap, recent_keys, remember_keys, shared_str};

/// Largest number of bytes one section may claim while decoding.
pub(crate) const DECODE_LIMIT: usize = 64 << 20;
/// Deepest nesting of arrays and objects accepted in a stored value.
pub(crate) const MAX_DEPTH: usize = 256;

/// The bincode configuration of every record: standard, with a limit.
pub(crate) type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_LIMIT>,
>;

pub(crate) fn config() -> Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// The fields filters and metric sorts read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Hot {
    pub status: Status,
    pub created_at: f64,
    pub updated_at: f64,
    pub ended_at: Option<f64>,
    pub heartbeat_at: Option<f64>,
    pub tags: Vec<String>,
    pub summary: ValueMap,
}

/// The fields only a whole record needs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cold {
    pub run_dir: String,
    pub checkpoint_path: Option<String>,
    pub notes: String,
    pub config: ValueMap,
}

/// A whole stored run: its three sections.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredRun {
    pub hot: Hot,
    pub hparams: ValueMap,
    pub cold: Cold,
}

/// The three sections of a record, undecoded.
pub(crate) struct Sections<'a> {
    pub hot: &'a [u8],
    pub hparams: &'a [u8],
    pub cold: &'a [u8],
}

/// Why a stored record could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("undecodable record: {0}")]
pub(crate) struct CorruptRecord(String);

impl From<DecodeError> for CorruptRecord {
    fn from(e: DecodeError) -> Self {
        CorruptRecord(e.to_string())
    }
}

/// Encodes a record's three sections.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn encode_record(run: &StoredRun) -> Vec<u8> {
    encode_record_with(run, &mut |_| None)
}

/// Encodes a record's three sections; `dictionary` gives the id of a stored
/// key list for the keys block of a map (see [`KeyLists`]), or `None` to
/// store the keys in the record.
pub(crate) fn encode_record_with(
    run: &StoredRun,
    dictionary: &mut dyn FnMut(&[u8]) -> Option<u32>,
) -> Vec<u8> {
    let mut keys = |map: &ValueMap| KeysRef::of(map, dictionary);
    let summary = keys(&run.hot.summary);
    let hparams = keys(&run.hparams);
    let config = keys(&run.cold.config);
    let mut out = Vec::with_capacity(1024);
    put_section(&mut out, &HotRef(&run.hot, summary));
    put_section(&mut out, &MapRef(&run.hparams, hparams));
    encode_into(&mut out, &ColdRef(&run.cold, config));
    out
}

fn put_section(out: &mut Vec<u8>, section: &impl Encode) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    encode_into(out, section);
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

fn encode_into(out: &mut Vec<u8>, value: &impl Encode) {
    // Encoding into a Vec cannot fail: bincode only fails on writer errors
    // and on types it cannot encode, and ours are all plain data.
    if let Err(e) = bincode::encode_into_std_write(value, out, config()) {
        unreachable!("encoding a record into memory failed: {e}");
    }
}

/// The key lists stored apart from the records (a dictionary: most runs
/// share a few lists of hparam and metric names, ~1.1 KB each), by id.
pub(crate) trait KeyLists: Sync {
    /// The list stored under `id`, if there is one.
    fn key_list(&self, id: u32) -> Option<&KeyList>;
}

/// No stored key lists: records whose keys are all in the record.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) struct NoKeyLists;

#[cfg(any(test, feature = "fuzzing"))]
impl KeyLists for NoKeyLists {
    fn key_list(&self, _: u32) -> Option<&KeyList> {
        None
    }
}

/// The decoding context of a record: where its key lists are.
pub(crate) type Lists<'a> = &'a dyn KeyLists;

/// A stored record, borrowed from the database, with the key lists it may
/// refer to; sections decode on demand.
#[derive(Clone, Copy)]
pub(crate) struct RecordBytes<'a> {
    pub bytes: &'a [u8],
    pub lists: Lists<'a>,
}

impl<'a> RecordBytes<'a> {
    pub fn new(bytes: &'a [u8], lists: Lists<'a>) -> RecordBytes<'a> {
        RecordBytes { bytes, lists }
    }

    /// A record whose keys are all in the record (tests, fuzzing).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn plain(bytes: &'a [u8]) -> RecordBytes<'a> {
        RecordBytes::new(bytes, &NoKeyLists)
    }

    pub(crate) fn sections(self) -> Result<Sections<'a>, CorruptRecord> {
        sections(self.bytes)
    }

    pub fn hot(self) -> Result<Hot, CorruptRecord> {
        decode_section::<HotOwned>(self.sections()?.hot, self.lists).map(|h| h.0)
    }

    pub fn hparams(self) -> Result<ValueMap, CorruptRecord> {
        decode_section::<MapOwned>(self.sections()?.hparams, self.lists).map(|m| m.0)
    }

    pub fn cold(self) -> Result<Cold, CorruptRecord> {
        decode_section::<ColdOwned>(self.sections()?.cold, self.lists).map(|c| c.0)
    }

    pub fn whole(self) -> Result<StoredRun, CorruptRecord> {
        Ok(StoredRun {
            hot: self.hot()?,
            hparams: self.hparams()?,
            cold: self.cold()?,
        })
    }
}

/// The three sections of an encoded record.
pub(crate) fn sections(record: &[u8]) -> Result<Sections<'_>, CorruptRecord> {
    let (hot, rest) = take_section(record)?;
    let (hparams, cold) = take_section(rest)?;
    Ok(Sections { hot, hparams, cold })
}

fn take_section(bytes: &[u8]) -> Result<(&[u8], &[u8]), CorruptRecord> {
    let corrupt = || CorruptRecord("section length runs past the record".to_owned());
    let len_bytes: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(corrupt)?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let body = bytes.get(4..4 + len).ok_or_else(corrupt)?;
    Ok((body, &bytes[4 + len..]))
}

fn decode_all<T: Decode<()>>(bytes: &[u8]) -> Result<T, CorruptRecord> {
    let (value, read) = bincode::decode_from_slice::<T, _>(bytes, config())?;
    check_consumed(bytes, read)?;
    Ok(value)
}

/// Decodes one section of a record, whose maps may name stored key lists.
fn decode_section<'a, T: Decode<Lists<'a>>>(
    bytes: &[u8],
    lists: Lists<'a>,
) -> Result<T, CorruptRecord> {
    let (value, read) = bincode::decode_from_slice_with_context::<_, T, _>(bytes, config(), lists)?;
    check_consumed(bytes, read)?;
    Ok(value)
}

fn check_consumed(bytes: &[u8], read: usize) -> Result<(), CorruptRecord> {
    if read != bytes.len() {
        return Err(CorruptRecord(format!(
            "{} trailing bytes in a section",
            bytes.len() - read
        )));
    }
    Ok(())
}

/// Encodes any plain bincode value (scan state, meta).
pub(crate) fn encode_plain<T: Encode>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, value);
    out
}

/// Decodes a value written by [`encode_plain`].
pub(crate) fn decode_plain<T: Decode<()>>(bytes: &[u8]) -> Result<T, CorruptRecord> {
    decode_all(bytes)
}

// ---------------------------------------------------------------- values

pub(crate) const NULL: u8 = 0;
pub(crate) const FALSE: u8 = 1;
pub(crate) const TRUE: u8 = 2;
pub(crate) const INT: u8 = 3;
pub(crate) const FLOAT: u8 = 4;
pub(crate) const STR: u8 = 5;
const LIST: u8 = 6;
const MAP: u8 = 7;

fn encode_value<E: Encoder>(value: &Value, e: &mut E) -> Result<(), EncodeError> {
    match value {
        Value::Null => NULL.encode(e),
        Value::Bool(false) => FALSE.encode(e),
        Value::Bool(true) => TRUE.encode(e),
        Value::Int(i) => {
            INT.encode(e)?;
            i.encode(e)
        }
        Value::Float(f) => {
            FLOAT.encode(e)?;
            f.encode(e)
        }
        Value::Str(s) => {
            STR.encode(e)?;
            s.encode(e)
        }
        Value::List(items) => {
            LIST.encode(e)?;
            items.len().encode(e)?;
            items.iter().try_for_each(|item| encode_value(item, e))
        }
        Value::Map(entries) => {
            MAP.encode(e)?;
            entries.len().encode(e)?;
            entries.iter().try_for_each(|(k, v)| {
                k.encode(e)?;
                encode_value(v, e)
            })
        }
    }
}

/// Skips a value whose tag byte was read (decoding it, bounded, and
/// dropping it).
pub(crate) fn skip_value<D: Decoder>(d: &mut D, tag: u8) -> Result<(), DecodeError> {
    decode_value_after_tag(d, tag, 0).map(drop)
}

/// A map's value whose tag byte was read, decoded (bounded, as every
/// value): for the arrays and objects a borrowed view does not hold.
pub(crate) fn decode_nested<D: Decoder>(d: &mut D, tag: u8) -> Result<Value, DecodeError> {
    decode_value_after_tag(d, tag, 0)
}

fn decode_value<D: Decoder>(d: &mut D, depth: usize) -> Result<Value, DecodeError> {
    let tag = u8::decode(d)?;
    decode_value_after_tag(d, tag, depth)
}

fn decode_value_after_tag<D: Decoder>(
    d: &mut D,
    tag: u8,
    depth: usize,
) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::Other("value nested too deeply"));
    }
    Ok(match tag {
        NULL => Value::Null,
        FALSE => Value::Bool(false),
        TRUE => Value::Bool(true),
        INT => Value::Int(i64::decode(d)?),
        FLOAT => Value::Float(f64::decode(d)?),
        STR => Value::Str(decode_str(d)?),
        LIST => {
            let len = claim_len::<Value, D>(d)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(decode_value(d, depth + 1)?);
            }
            Value::List(items)
        }
        MAP => {
            let len = claim_len::<(String, Value), D>(d)?;
            let mut entries = Vec::with_capacity(len);
            for _ in 0..len {
                entries.push((String::decode(d)?, decode_value(d, depth + 1)?));
            }
            Value::Map(entries)
        }
        found => {
            return Err(DecodeError::UnexpectedVariant {
                type_name: "Value",
                allowed: &bincode::error::AllowedEnumVariants::Range { min: 0, max: 7 },
                found: u32::from(found),
            });
        }
    })
}

/// A stored string, shared with equal ones decoded before on this thread
/// when short (see [`shared_str`]).
fn decode_str<D: Decoder>(d: &mut D) -> Result<Arc<str>, DecodeError> {
    let len = claim_len::<u8, D>(d)?;
    let reader = d.reader();
    if let Some(bytes) = reader.peek_read(len) {
        let s = std::str::from_utf8(bytes).map_err(|inner| DecodeError::Utf8 { inner })?;
        let shared = shared_str(s);
        reader.consume(len);
        return Ok(shared);
    }
    let mut bytes = vec![0; len];
    reader.read(&mut bytes)?;
    let s = String::from_utf8(bytes).map_err(|e| DecodeError::Utf8 {
        inner: e.utf8_error(),
    })?;
    Ok(shared_str(&s))
}

/// Reads a container length and claims its memory against the decode limit
/// before anything is allocated.
fn claim_len<T, D: Decoder>(d: &mut D) -> Result<usize, DecodeError> {
    let len = usize::decode(d)?;
    d.claim_container_read::<T>(len)?;
    Ok(len)
}

/// A map is stored as its length, where its keys are, then its values:
///
/// ```text
/// [len][0][keys block length][key 0][key 1]...[value 0][value 1]...
/// [len][id][value 0][value 1]...
/// ```
///
/// The keys (sorted and unique: [`ValueMap`] keeps them so; decoding
/// checks it) are either in the record, as one block, so that a map with
/// the same names as one decoded just before is recognized by one
/// comparison (see [`recent_keys`]), or a stored key list's id (see
/// [`KeyLists`]): the same ~1.1 KB of hparam names then take a few bytes
/// in each of thousands of records.
fn encode_map<E: Encoder>(map: &ValueMap, keys: KeysRef, e: &mut E) -> Result<(), EncodeError> {
    map.len().encode(e)?;
    match keys {
        KeysRef::Stored(id) => id.encode(e)?,
        KeysRef::Inline => {
            0u32.encode(e)?;
            let block: usize = map.keys().map(|k| varint_len(k.len()) + k.len()).sum();
            block.encode(e)?;
            map.keys().try_for_each(|k| k.encode(e))?;
        }
    }
    map.values().try_for_each(|v| encode_value(v, e))
}

/// Where a map's keys are stored.
#[derive(Clone, Copy, Debug)]
enum KeysRef {
    /// In the record.
    Inline,
    /// In the stored key list of this id (never 0).
    Stored(u32),
}

impl KeysRef {
    fn of(map: &ValueMap, dictionary: &mut dyn FnMut(&[u8]) -> Option<u32>) -> KeysRef {
        if map.is_empty() {
            return KeysRef::Inline;
        }
        match dictionary(&key_block(map)) {
            Some(id) if id != 0 => KeysRef::Stored(id),
            _ => KeysRef::Inline,
        }
    }
}

/// The keys of `map` as a record stores them: bincode strings back to back.
pub(crate) fn key_block(map: &ValueMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(map.keys().map(|k| k.len() + 1).sum());
    for key in map.keys() {
        encode_into(&mut out, &key);
    }
    out
}

/// A stored key list read back: checked as the keys block of a record is
/// (UTF-8, sorted, unique, nothing left over).
pub(crate) fn parse_key_list(block: &[u8]) -> Result<KeyList, CorruptRecord> {
    let mut d = DecoderImpl::new(SliceReader::new(block), config(), ());
    let mut keys: Vec<Arc<str>> = Vec::new();
    while d.reader().peek_read(1).is_some() {
        let key = <&str>::borrow_decode(&mut d)?;
        if keys.last().is_some_and(|last| **last >= *key) {
            return Err(CorruptRecord("stored key list out of order".to_owned()));
        }
        keys.push(shared_str(key));
    }
    Ok(Arc::new(keys))
}

/// The stored key list `id` of a map of `len` entries.
pub(crate) fn stored_keys<'a>(
    lists: Lists<'a>,
    id: u32,
    len: usize,
) -> Result<&'a KeyList, DecodeError> {
    let keys = lists.key_list(id).ok_or(DecodeError::Other(
        "the map names a key list the cache lacks",
    ))?;
    if keys.len() != len {
        return Err(DecodeError::Other("map keys do not fill their block"));
    }
    Ok(keys)
}

/// Bytes of bincode's variable-length encoding of `n`.
fn varint_len(n: usize) -> usize {
    match n as u64 {
        0..=250 => 1,
        251..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

fn decode_map<'a, D: Decoder<Context = Lists<'a>>>(
    d: &mut D,
    kind: MapKind,
) -> Result<ValueMap, DecodeError> {
    let len = claim_len::<Value, D>(d)?;
    let keys = match u32::decode(d)? {
        0 => {
            let block_len = claim_len::<u8, D>(d)?;
            let reader = d.reader();
            // Records are decoded from slices, which lend the block; other
            // readers copy it.
            if let Some(block) = reader.peek_read(block_len) {
                let keys = decode_keys(kind, len, block)?;
                reader.consume(block_len);
                keys
            } else {
                let mut block = vec![0; block_len];
                reader.read(&mut block)?;
                decode_keys(kind, len, &block)?
            }
        }
        id => Arc::clone(stored_keys(*d.context(), id, len)?),
    };
    let mut values = Vec::with_capacity(len);
    for _ in 0..len {
        values.push(decode_value(d, 0)?);
    }
    Ok(ValueMap::from_parts(keys, values))
}

/// The `len` keys stored in `block`: a list decoded before on this thread
/// when the bytes are the same, else read, checked (UTF-8, sorted, unique,
/// nothing left over) and remembered.
fn decode_keys(kind: MapKind, len: usize, block: &[u8]) -> Result<KeyList, DecodeError> {
    let keys = match recent_keys(kind, block) {
        Some(keys) => keys,
        None => {
            let mut d = DecoderImpl::new(SliceReader::new(block), config(), ());
            let mut keys: Vec<Arc<str>> = Vec::with_capacity(len);
            for _ in 0..len {
                let key = <&str>::borrow_decode(&mut d)?;
                if keys.last().is_some_and(|last| **last >= *key) {
                    return Err(DecodeError::Other("map keys out of order"));
                }
                keys.push(shared_str(key));
            }
            let keys = Arc::new(keys);
            if d.reader().peek_read(1).is_some() {
                return Err(DecodeError::Other("map keys do not fill their block"));
            }
            remember_keys(kind, block, &keys);
            keys
        }
    };
    if keys.len() != len {
        return Err(DecodeError::Other("map keys do not fill their block"));
    }
    Ok(keys)
}

fn encode_status<E: Encoder>(status: &Status, e: &mut E) -> Result<(), EncodeError> {
    let tag: u8 = match status {
        Status::Running => 0,
        Status::Completed => 1,
        Status::Failed => 2,
        Status::Interrupted => 3,
        Status::Orphaned => 4,
        Status::Other(_) => 5,
    };
    tag.encode(e)?;
    match status {
        Status::Other(s) => s.encode(e),
        _ => Ok(()),
    }
}

pub(crate) fn decode_status<D: Decoder>(d: &mut D) -> Result<Status, DecodeError> {
    Ok(match u8::decode(d)? {
        0 => Status::Running,
        1 => Status::Completed,
        2 => Status::Failed,
        3 => Status::Interrupted,
        4 => Status::Orphaned,
        5 => Status::Other(String::decode(d)?),
        found => {
            return Err(DecodeError::UnexpectedVariant {
                type_name: "Status",
                allowed: &bincode::error::AllowedEnumVariants::Range { min: 0, max: 5 },
                found: u32::from(found),
            });
        }
    })
}

// Borrowing wrappers to encode, owning wrappers to decode.

struct HotRef<'a>(&'a Hot, KeysRef);
struct MapRef<'a>(&'a ValueMap, KeysRef);
struct ColdRef<'a>(&'a Cold, KeysRef);
struct HotOwned(Hot);
struct MapOwned(ValueMap);
struct ColdOwned(Cold);

impl Encode for HotRef<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let h = self.0;
        encode_status(&h.status, e)?;
        h.created_at.encode(e)?;
        h.updated_at.encode(e)?;
        h.ended_at.encode(e)?;
        h.heartbeat_at.encode(e)?;
        h.tags.encode(e)?;
        encode_map(&h.summary, self.1, e)
    }
}

impl<'a> Decode<Lists<'a>> for HotOwned {
    fn decode<D: Decoder<Context = Lists<'a>>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(HotOwned(Hot {
            status: decode_status(d)?,
            created_at: f64::decode(d)?,
            updated_at: f64::decode(d)?,
            ended_at: Option::<f64>::decode(d)?,
            heartbeat_at: Option::<f64>::decode(d)?,
            tags: Vec::<String>::decode(d)?,
            summary: decode_map(d, MapKind::Summary)?,
        }))
    }
}

impl Encode for MapRef<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        encode_map(self.0, self.1, e)
    }
}

impl<'a> Decode<Lists<'a>> for MapOwned {
    fn decode<D: Decoder<Context = Lists<'a>>>(d: &mut D) -> Result<Self, DecodeError> {
        decode_map(d, MapKind::Hparams).map(MapOwned)
    }
}

impl Encode for ColdRef<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let c = self.0;
        c.run_dir.encode(e)?;
        c.checkpoint_path.encode(e)?;
        c.notes.encode(e)?;
        encode_map(&c.config, self.1, e)
    }
}

impl<'a> Decode<Lists<'a>> for ColdOwned {
    fn decode<D: Decoder<Context = Lists<'a>>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(ColdOwned(Cold {
            run_dir: String::decode(d)?,
            checkpoint_path: Option::<String>::decode(d)?,
            notes: String::decode(d)?,
            config: decode_map(d, MapKind::Config)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredRun {
        let hot = Hot {
            status: Status::Other("paused".into()),
            created_at: 1.0,
            updated_at: 2.0,
            ended_at: Some(3.0),
            heartbeat_at: None,
            tags: vec!["sweep:1".into(), "a_b".into()],
            summary: [("loss".to_owned(), Value::Float(f64::INFINITY))].into(),
        };
        let hparams = [
            ("optim.lr".to_owned(), Value::Float(0.1)),
            (
                "layers".to_owned(),
                Value::List(vec![Value::Int(1), Value::Null]),
            ),
        ]
        .into();
        let cold = Cold {
            run_dir: "/x/runs/1".into(),
            checkpoint_path: Some("/x/c.ckpt".into()),
            notes: "n".into(),
            config: [(
                "m".to_owned(),
                Value::Map(vec![("k".into(), Value::Bool(true))]),
            )]
            .into(),
        };
        StoredRun { hot, hparams, cold }
    }

    #[test]
    fn sections_round_trip_independently() {
        let run = sample();
        let bytes = encode_record(&run);
        let record = RecordBytes::plain(&bytes);
        assert_eq!(record.hot().unwrap(), run.hot);
        assert_eq!(record.hparams().unwrap(), run.hparams);
        assert_eq!(record.cold().unwrap(), run.cold);
        assert_eq!(record.whole().unwrap(), run);
    }

    #[test]
    fn keys_of_every_length_class_round_trip() {
        // bincode writes lengths in 1, 3, 5 or 9 bytes: the keys block's
        // length is computed, and decoding checks it exactly.
        for n in [0, 1, 250, 251, 0xFFFF, 0x1_0000] {
            let mut run = sample();
            run.hparams = [
                ("k".repeat(n), Value::Int(1)),
                ("z".repeat(n + 1), Value::Null),
            ]
            .into();
            let bytes = encode_record(&run);
            assert_eq!(
                RecordBytes::plain(&bytes).whole().unwrap(),
                run,
                "keys of {n} bytes"
            );
            let borrowed = RecordBytes::plain(&bytes).hparams_ref().unwrap();
            assert_eq!(borrowed.len(), 2);
        }
        assert_eq!(varint_len(0x1_0000_0000), 9);
    }

    #[test]
    fn records_with_the_same_names_share_one_list_of_them() {
        let run = sample();
        let (a, b) = (encode_record(&run), encode_record(&run));
        let (a, b) = (
            RecordBytes::plain(&a).hparams().unwrap(),
            RecordBytes::plain(&b).hparams().unwrap(),
        );
        assert!(a.shares_keys_with(&b));
        let mut other = sample();
        other.hparams.insert("zzz", Value::Null);
        let c = encode_record(&other);
        let c = RecordBytes::plain(&c).hparams().unwrap();
        assert!(!a.shares_keys_with(&c));
        assert_eq!(c, other.hparams);
    }

    #[test]
    fn short_string_values_are_shared_between_records() {
        let mut run = sample();
        run.hparams.insert("optim.name", Value::from("adamw"));
        let (a, b) = (encode_record(&run), encode_record(&run));
        let (a, b) = (
            RecordBytes::plain(&a).hparams().unwrap(),
            RecordBytes::plain(&b).hparams().unwrap(),
        );
        match (a.get("optim.name"), b.get("optim.name")) {
            (Some(Value::Str(a)), Some(Value::Str(b))) => assert!(Arc::ptr_eq(a, b)),
            other => panic!("{other:?}"),
        }
    }

    /// Key lists 1, 2, ... in a vector.
    struct Lists(Vec<KeyList>);

    impl KeyLists for Lists {
        fn key_list(&self, id: u32) -> Option<&KeyList> {
            self.0.get((id as usize).checked_sub(1)?)
        }
    }

    #[test]
    fn maps_may_name_stored_key_lists_which_must_fit() {
        let run = sample();
        let mut stored = Vec::new();
        let bytes = encode_record_with(&run, &mut |block| {
            stored.push(parse_key_list(block).unwrap());
            Some(stored.len() as u32)
        });
        assert!(bytes.len() < encode_record(&run).len());
        let lists = Lists(stored);
        assert_eq!(RecordBytes::new(&bytes, &lists).whole().unwrap(), run);
        let summary = RecordBytes::new(&bytes, &lists).hot_ref(true).unwrap();
        assert!(summary.metric("loss").is_some());
        assert_eq!(
            RecordBytes::new(&bytes, &lists)
                .hparams_ref()
                .unwrap()
                .len(),
            2
        );
        // A list the record names but the cache lacks, or of another length.
        for lists in [
            Lists(Vec::new()),
            Lists((0..3).map(|_| Arc::new(Vec::new())).collect()),
        ] {
            let record = RecordBytes::new(&bytes, &lists);
            assert!(record.hot().is_err() && record.hparams().is_err() && record.cold().is_err());
            assert!(record.hot_ref(true).is_err() && record.hparams_ref().is_err());
        }
    }

    /// An hparams section holding `body`, in a record with empty sections.
    fn with_hparams(body: &[u8]) -> Vec<u8> {
        let mut bytes = 0u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn stored_keys_out_of_order_duplicated_or_miscounted_are_refused() {
        // [len][0: keys in the record][keys block length][keys...][values: null tags]
        let cases: [(&[u8], &str); 4] = [
            (
                &encode_plain(&(2usize, 0u32, 4usize, "b", "a", NULL, NULL)),
                "out of order",
            ),
            (
                &encode_plain(&(2usize, 0u32, 4usize, "a", "a", NULL, NULL)),
                "out of order",
            ),
            (
                &encode_plain(&(1usize, 0u32, 4usize, "a", "b", NULL)),
                "do not fill",
            ),
            (
                &encode_plain(&(2usize, 0u32, 2usize, "a", "b", NULL, NULL)),
                "",
            ),
        ];
        for (body, why) in cases {
            let bytes = with_hparams(body);
            let err = RecordBytes::plain(&bytes)
                .hparams()
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{err}");
            // A second decoding of the same bytes (which the first may have
            // remembered) is refused as well.
            assert!(RecordBytes::plain(&bytes).hparams().is_err());
        }
        let good = with_hparams(&encode_plain(&(2usize, 0u32, 4usize, "a", "b", NULL, TRUE)));
        let map = RecordBytes::plain(&good).hparams().unwrap();
        assert_eq!(
            map,
            ValueMap::from([("a", Value::Null), ("b", Value::Bool(true))])
        );
        // The same block with another count, after it was remembered.
        let miscounted = with_hparams(&encode_plain(&(1usize, 0u32, 4usize, "a", "b", NULL)));
        assert!(RecordBytes::plain(&miscounted).hparams().is_err());
        assert!(RecordBytes::plain(&miscounted).hparams_ref().is_err());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = encode_record(&sample());
        for end in 0..bytes.len() {
            let record = RecordBytes::plain(&bytes[..end]);
            let all_ok = record.hot().is_ok() && record.hparams().is_ok() && record.cold().is_ok();
            assert!(!all_ok, "truncated at {end} decoded whole");
        }
    }

    #[test]
    fn a_huge_claimed_length_is_refused_before_allocation() {
        // hot section: status 0, then created_at ... replaced by a string
        // length prefix of 2^40 inside tags.
        let mut section = vec![0u8];
        section.extend_from_slice(&[0; 16]); // created_at, updated_at
        section.extend_from_slice(&[0, 0]); // two None options
        section.push(1); // one tag
        section.push(253); // u64 varint marker
        section.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let mut bytes = (section.len() as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(&section);
        bytes.extend_from_slice(&[1, 0, 0, 0, 0]); // an empty hparams section
        let err = RecordBytes::plain(&bytes).hot().unwrap_err();
        assert!(err.to_string().contains("LimitExceeded"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut v = Value::Null;
        for _ in 0..(MAX_DEPTH + 2) {
            v = Value::List(vec![v]);
        }
        let mut run = sample();
        run.hparams = [("deep".to_owned(), v)].into();
        let bytes = encode_record(&run);
        assert!(RecordBytes::plain(&bytes).hparams().is_err());
    }
}
