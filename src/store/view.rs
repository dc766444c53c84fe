//! Borrowed views of a record's sections: what a query needs to filter and
//! sort, decoded without allocating a string or a map per entry.

use bincode::de::read::{BorrowReader, Reader as _};
use bincode::de::{BorrowDecoder as _, Decoder as _};
use bincode::error::DecodeError;
use bincode::{BorrowDecode, Decode};

use super::codec::{
    CorruptRecord, FALSE, FLOAT, INT, NULL, RecordBytes, STR, TRUE, skip_value, stored_keys,
};
use super::run_fields::{Decoder, Head, decoder, read_tags};
use crate::status::Status;
use crate::value::Value;

/// A scalar borrowed from a record; arrays and objects are `Nested`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ValueRef<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    /// An array or object (not compared by the fast paths).
    Nested,
}

impl ValueRef<'_> {
    /// The owned value, when it is a scalar.
    pub fn to_value(self) -> Option<Value> {
        Some(match self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Str(s) => Value::from(s),
            ValueRef::Nested => return None,
        })
    }

    /// Numeric-aware equality with an owned value, as `Value`'s.
    pub fn equals(self, other: &Value) -> bool {
        match (self, other) {
            (ValueRef::Str(a), Value::Str(b)) => a == &**b,
            (ValueRef::Nested, _) | (ValueRef::Str(_), _) => false,
            (scalar, other) => scalar.to_value().is_some_and(|v| v == *other),
        }
    }
}

/// The hot section, borrowed.
#[derive(Debug, PartialEq)]
pub(crate) struct HotRef<'a> {
    pub status: Status,
    pub created_at: f64,
    pub updated_at: f64,
    pub ended_at: Option<f64>,
    pub heartbeat_at: Option<f64>,
    pub tags: Vec<&'a str>,
    pub summary: Entries<'a>,
}

/// Entries of a map section, borrowed. Keys stay bytes: they are only
/// compared with the names a query gives, so they need no UTF-8 check (the
/// most expensive part of reading a hot row otherwise).
pub(crate) type Entries<'a> = Vec<(&'a [u8], ValueRef<'a>)>;

impl<'a> HotRef<'a> {
    /// The summary metric `key`, if present.
    pub fn metric(&self, key: &str) -> Option<ValueRef<'a>> {
        self.summary
            .iter()
            .rev()
            .find(|(k, _)| *k == key.as_bytes())
            .map(|(_, v)| *v)
    }
}

fn value_ref<'a>(d: &mut Decoder<'a>) -> Result<ValueRef<'a>, DecodeError> {
    let tag = u8::decode(d)?;
    Ok(match tag {
        NULL => ValueRef::Null,
        FALSE => ValueRef::Bool(false),
        TRUE => ValueRef::Bool(true),
        INT => ValueRef::Int(i64::decode(d)?),
        FLOAT => ValueRef::Float(f64::decode(d)?),
        STR => ValueRef::Str(<&str>::borrow_decode(d)?),
        _ => {
            skip_value(d, tag)?;
            ValueRef::Nested
        }
    })
}

fn entries<'a>(d: &mut Decoder<'a>) -> Result<Entries<'a>, DecodeError> {
    // The layout of `codec::encode_map`: length, where the keys are, values.
    let len = usize::decode(d)?;
    d.claim_container_read::<(&[u8], ValueRef<'_>)>(len)?;
    let mut out = Vec::with_capacity(len);
    match u32::decode(d)? {
        0 => {
            let block_len = usize::decode(d)?;
            let lists = *d.context();
            let mut keys = decoder(d.borrow_reader().take_bytes(block_len)?, lists);
            for _ in 0..len {
                let key = <&[u8]>::borrow_decode(&mut keys)?;
                out.push((key, value_ref(d)?));
            }
            if keys.reader().peek_read(1).is_some() {
                return Err(DecodeError::Other("map keys do not fill their block"));
            }
        }
        id => {
            for key in stored_keys(*d.context(), id, len)?.iter() {
                out.push((key.as_bytes(), value_ref(d)?));
            }
        }
    }
    Ok(out)
}

impl<'a> RecordBytes<'a> {
    /// The hot section, borrowed; its tags and summary only when
    /// `tags_and_summary`, else left empty (and unread: a query that names
    /// neither skips the larger part of the section).
    pub fn hot_ref(self, tags_and_summary: bool) -> Result<HotRef<'a>, CorruptRecord> {
        let mut d = decoder(self.sections()?.hot, self.lists);
        let head = Head::read(&mut d)?;
        let (tags, summary) = if tags_and_summary {
            (read_tags(&mut d)?, entries(&mut d)?)
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(HotRef {
            status: head.status,
            created_at: head.created_at,
            updated_at: head.updated_at,
            ended_at: head.ended_at,
            heartbeat_at: head.heartbeat_at,
            tags,
            summary,
        })
    }

    /// The hparams section, borrowed: entries in key order.
    pub fn hparams_ref(self) -> Result<Entries<'a>, CorruptRecord> {
        let mut d = decoder(self.sections()?.hparams, self.lists);
        Ok(entries(&mut d)?)
    }
}

/// The value of `key` in entries sorted by key (as the hparams section is).
pub(crate) fn lookup<'a>(entries: &[(&'a [u8], ValueRef<'a>)], key: &str) -> Option<ValueRef<'a>> {
    entries
        .binary_search_by(|(k, _)| (*k).cmp(key.as_bytes()))
        .ok()
        .map(|i| entries[i].1)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::store::codec::{Cold, Hot, StoredRun, encode_record};

    #[test]
    fn borrowed_views_agree_with_owned_decoding() {
        let run = StoredRun {
            hot: Hot {
                status: Status::Other("paused".into()),
                created_at: 1.5,
                updated_at: 2.5,
                ended_at: Some(3.0),
                heartbeat_at: None,
                tags: vec!["a".into(), "sweep:1".into()],
                summary: [
                    ("acc".to_owned(), Value::Float(0.5)),
                    ("loss".to_owned(), Value::Float(f64::NAN)),
                    ("n".to_owned(), Value::Int(-7)),
                    (
                        "nested".to_owned(),
                        Value::List(vec![Value::Int(1), Value::Map(vec![])]),
                    ),
                    ("s".to_owned(), Value::Str("x".into())),
                ]
                .into(),
            },
            hparams: [
                ("a".to_owned(), Value::Bool(true)),
                ("b".to_owned(), Value::Null),
                ("optim.lr".to_owned(), Value::Float(0.1)),
            ]
            .into(),
            cold: Cold {
                run_dir: "/r".into(),
                checkpoint_path: None,
                notes: String::new(),
                config: crate::ValueMap::new(),
            },
        };
        let bytes = encode_record(&run);
        let hot = RecordBytes::plain(&bytes).hot_ref(true).unwrap();
        assert_eq!(hot.status, run.hot.status);
        assert_eq!(
            (
                hot.created_at,
                hot.updated_at,
                hot.ended_at,
                hot.heartbeat_at
            ),
            (1.5, 2.5, Some(3.0), None)
        );
        assert_eq!(hot.tags, ["a", "sweep:1"]);
        assert_eq!(hot.metric("acc"), Some(ValueRef::Float(0.5)));
        assert!(matches!(hot.metric("loss"), Some(ValueRef::Float(f)) if f.is_nan()));
        assert_eq!(hot.metric("n"), Some(ValueRef::Int(-7)));
        assert_eq!(hot.metric("nested"), Some(ValueRef::Nested));
        assert_eq!(hot.metric("s"), Some(ValueRef::Str("x")));
        assert_eq!(hot.metric("nope"), None);
        let hparams = RecordBytes::plain(&bytes).hparams_ref().unwrap();
        assert_eq!(lookup(&hparams, "optim.lr"), Some(ValueRef::Float(0.1)));
        assert_eq!(lookup(&hparams, "a"), Some(ValueRef::Bool(true)));
        assert_eq!(lookup(&hparams, "b"), Some(ValueRef::Null));
        assert_eq!(lookup(&hparams, "c"), None);
        assert!(ValueRef::Int(1).equals(&Value::Float(1.0)));
        assert!(!ValueRef::Str("1").equals(&Value::Int(1)));
    }

    #[test]
    fn borrowed_views_refuse_truncated_records() {
        let run = StoredRun {
            hot: Hot {
                status: Status::Running,
                created_at: 1.0,
                updated_at: 1.0,
                ended_at: None,
                heartbeat_at: None,
                tags: vec!["t".into()],
                summary: [("m".to_owned(), Value::Float(1.0))].into(),
            },
            hparams: [("k".to_owned(), Value::Str("v".into()))].into(),
            cold: Cold {
                run_dir: String::new(),
                checkpoint_path: None,
                notes: String::new(),
                config: crate::ValueMap::new(),
            },
        };
        let bytes = encode_record(&run);
        let whole = RecordBytes::plain(&bytes);
        let (hot, hparams) = (whole.hot_ref(true).unwrap(), whole.hparams_ref().unwrap());
        // The views read the hot and hparams sections only: a record cut
        // before the cold section starts is refused; one cut inside it
        // still gives both views whole (the owned decoding refuses it).
        let sections = whole.sections().unwrap();
        let cold_starts = 8 + sections.hot.len() + sections.hparams.len();
        assert!(cold_starts < bytes.len());
        for end in 0..bytes.len() {
            let r = RecordBytes::plain(&bytes[..end]);
            if end < cold_starts {
                assert!(r.hot_ref(true).is_err(), "cut at {end}");
                assert!(r.hparams_ref().is_err(), "cut at {end}");
            } else {
                assert_eq!(r.hot_ref(true).unwrap(), hot, "cut at {end}");
                assert_eq!(r.hparams_ref().unwrap(), hparams, "cut at {end}");
                assert!(r.whole().is_err(), "cut at {end}");
            }
        }
    }
}
