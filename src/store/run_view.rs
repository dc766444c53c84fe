//! [`RunView`]: a run as the cache stores it, borrowed, which serializes to
//! exactly what the [`RunRecord`](crate::RunRecord) it decodes to does,
//! straight from the stored bytes: no string, value or map is built per
//! entry (the cost of a whole record, most of `ls --json`'s otherwise).

use std::cell::RefCell;

use bincode::error::DecodeError;
use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

use super::codec::{CorruptRecord, RecordBytes};
#[cfg(any(feature = "arrow", test))]
use super::run_fields::RunFields;
use super::run_fields::{
    ColdHead, Decoder, Head, MapNames, decoder, end_of_section, read_tags, scalar,
};
use crate::status::Status;
use crate::value::{serialize_f64, serialize_opt_f64};

/// One run of an answer, borrowed from the cache while the answer is
/// streamed ([`Registry::stream_views`](crate::Registry::stream_views)).
///
/// It serializes (with serde, to JSON or any format) to the same output as
/// the [`RunRecord`](crate::RunRecord) it stands for, field for field and
/// byte for byte, but reads the values from the stored bytes as it writes
/// them. A view of a query of [`Detail::Summary`](crate::Detail::Summary)
/// serializes as that query's records do: `hparams` and `config` empty,
/// `run_dir` and `notes` empty, no `checkpoint_path`.
///
/// A record that cannot be decoded makes serialization fail with an error
/// naming the run.
#[derive(Clone, Copy)]
pub struct RunView<'a> {
    run_id: &'a str,
    alive: bool,
    bytes: RecordBytes<'a>,
    /// Whether the hparams and cold sections are read (else only the hot
    /// section, as [`Detail::Summary`](crate::Detail::Summary) does).
    full: bool,
}

impl<'a> RunView<'a> {
    /// A view of `bytes`, which hold the run's whole record when `full`,
    /// else its hot row; `alive` judges the run from its status and last
    /// heartbeat.
    pub(crate) fn new(
        run_id: &'a str,
        bytes: RecordBytes<'a>,
        full: bool,
        alive: impl FnOnce(&Status, Option<f64>) -> bool,
    ) -> Result<RunView<'a>, CorruptRecord> {
        let head = Head::read(&mut decoder(bytes.sections()?.hot, bytes.lists))?;
        Ok(RunView {
            run_id,
            alive: alive(&head.status, head.heartbeat_at),
            bytes,
            full,
        })
    }

    /// The run's id.
    pub fn run_id(&self) -> &'a str {
        self.run_id
    }

    /// Whether the run is alive (as [`RunRecord::alive`](crate::RunRecord::alive)).
    pub fn alive(&self) -> bool {
        self.alive
    }

    /// The stored bytes.
    pub(super) fn bytes(&self) -> RecordBytes<'a> {
        self.bytes
    }

    /// Whether the view reads the whole record (else its hot row).
    pub(super) fn is_full(&self) -> bool {
        self.full
    }

    /// The run's fields, borrowed (for the columnar builder).
    #[cfg(any(feature = "arrow", test))]
    pub(crate) fn fields(&self) -> Result<RunFields<'a>, CorruptRecord> {
        RunFields::read(self.bytes, self.full)
    }

    fn fail<E: serde::ser::Error>(&self, e: impl std::fmt::Display) -> E {
        E::custom(format_args!(
            "run {}: undecodable record in the cache: {e}",
            self.run_id
        ))
    }
}

impl std::fmt::Debug for RunView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunView")
            .field("run_id", &self.run_id)
            .field("alive", &self.alive)
            .field("bytes", &self.bytes.bytes.len())
            .finish()
    }
}

impl Serialize for RunView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sections = self.bytes.sections().map_err(|e| self.fail(e))?;
        let lists = self.bytes.lists;
        let mut hot = decoder(sections.hot, lists);
        let head = Head::read(&mut hot).map_err(|e| self.fail(e))?;
        let tags = read_tags(&mut hot).map_err(|e| self.fail(e))?;
        let mut cold = decoder(sections.cold, lists);
        let mut hparams = decoder(sections.hparams, lists);
        let cold_head = if self.full {
            ColdHead::read(&mut cold).map_err(|e| self.fail(e))?
        } else {
            ColdHead::default()
        };
        // The fields of `RunRecord`, in its order (`heartbeat_at` is not
        // serialized).
        let mut out = s.serialize_struct("RunRecord", 13)?;
        out.serialize_field("run_id", self.run_id)?;
        out.serialize_field("status", &head.status)?;
        out.serialize_field("created_at", &Float(head.created_at))?;
        out.serialize_field("updated_at", &Float(head.updated_at))?;
        out.serialize_field("ended_at", &OptFloat(head.ended_at))?;
        out.serialize_field("alive", &self.alive)?;
        out.serialize_field("run_dir", cold_head.run_dir)?;
        out.serialize_field("checkpoint_path", &cold_head.checkpoint_path)?;
        let map = |d| StoredMap {
            decoder: RefCell::new(d),
            run: self,
        };
        if self.full {
            out.serialize_field("config", &map(Some(&mut cold)))?;
            out.serialize_field("hparams", &map(Some(&mut hparams)))?;
        } else {
            out.serialize_field("config", &map(None))?;
            out.serialize_field("hparams", &map(None))?;
        }
        out.serialize_field("summary", &map(Some(&mut hot)))?;
        out.serialize_field("tags", &tags)?;
        out.serialize_field("notes", cold_head.notes)?;
        out.end()
    }
}

struct Float(f64);

impl Serialize for Float {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_f64(&self.0, s)
    }
}

struct OptFloat(Option<f64>);

impl Serialize for OptFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_opt_f64(&self.0, s)
    }
}

/// The map a section ends with (summary, hparams, config), serialized as
/// it is decoded; `None`: an empty map. Checks that it ends its section.
struct StoredMap<'d, 'a> {
    decoder: RefCell<Option<&'d mut Decoder<'a>>>,
    run: &'d RunView<'a>,
}

impl Serialize for StoredMap<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut section = self.decoder.borrow_mut();
        let Some(d) = section.as_deref_mut() else {
            return s.serialize_map(Some(0))?.end();
        };
        let fail = |e: DecodeError| self.run.fail::<S::Error>(e);
        let names = MapNames::read(d).map_err(fail)?;
        let mut map = s.serialize_map(Some(names.len()))?;
        for i in 0..names.len() {
            map.serialize_entry(names.get(i), &StoredValue(RefCell::new(&mut *d), self.run))?;
        }
        end_of_section(d).map_err(fail)?;
        map.end()
    }
}

/// The next value of a map, serialized as it is decoded.
struct StoredValue<'r, 'd, 'a>(RefCell<&'r mut Decoder<'a>>, &'d RunView<'a>);

impl Serialize for StoredValue<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut d = self.0.borrow_mut();
        scalar(&mut d)
            .map_err(|e| self.1.fail::<S::Error>(e))?
            .serialize(s)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::record::RunRecord;
    use crate::store::codec::{Cold, Hot, StoredRun, encode_record, encode_record_with};
    use crate::store::hot_row::hot_row;
    use crate::value::Value;
    use crate::value_map::ValueMap;

    pub(crate) fn record_of(run_id: &str, run: &StoredRun, alive: bool, full: bool) -> RunRecord {
        let cold = if full {
            run.cold.clone()
        } else {
            Cold {
                run_dir: String::new(),
                checkpoint_path: None,
                notes: String::new(),
                config: ValueMap::new(),
            }
        };
        RunRecord {
            run_id: run_id.to_owned(),
            status: run.hot.status.clone(),
            created_at: run.hot.created_at,
            updated_at: run.hot.updated_at,
            ended_at: run.hot.ended_at,
            alive,
            run_dir: cold.run_dir,
            checkpoint_path: cold.checkpoint_path,
            config: cold.config,
            hparams: if full {
                run.hparams.clone()
            } else {
                ValueMap::new()
            },
            summary: run.hot.summary.clone(),
            tags: run.hot.tags.clone(),
            notes: cold.notes,
            heartbeat_at: run.hot.heartbeat_at,
        }
    }

    fn value() -> impl Strategy<Value = Value> {
        let scalar = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(-0.0),
            ]
            .prop_map(Value::Float),
            "[a-z\u{e9}\"\\\\\n\t\u{1}☃]{0,6}".prop_map(|s| Value::Str(s.as_str().into())),
        ];
        scalar.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::List),
                prop::collection::vec(("[a-z\"]{0,3}", inner), 0..3).prop_map(Value::Map),
            ]
        })
    }

    fn map() -> impl Strategy<Value = ValueMap> {
        prop::collection::vec(("[a-c.\u{e9}\"]{1,4}", value()), 0..6)
            .prop_map(|entries| entries.into_iter().collect())
    }

    fn status() -> impl Strategy<Value = Status> {
        prop_oneof![
            Just(Status::Running),
            Just(Status::Completed),
            Just(Status::Failed),
            Just(Status::Interrupted),
            Just(Status::Orphaned),
            "[a-z]{1,5}".prop_map(Status::Other),
        ]
    }

    prop_compose! {
        pub(crate) fn stored_run()(
            status in status(),
            times in any::<(f64, f64)>(),
            ended_at in prop::option::of(any::<f64>()),
            heartbeat_at in prop::option::of(any::<f64>()),
            tags in prop::collection::vec("[a-z:\"\u{e9}]{0,5}", 0..4),
            summary in map(),
            hparams in map(),
            run_dir in "[/a-z\u{e9}]{0,8}",
            checkpoint_path in prop::option::of("[/a-z]{0,8}"),
            notes in "[a-z \n\"]{0,8}",
            config in map(),
        ) -> StoredRun {
            StoredRun {
                hot: Hot { status, created_at: times.0, updated_at: times.1, ended_at, heartbeat_at, tags, summary },
                hparams,
                cold: Cold { run_dir, checkpoint_path, notes, config },
            }
        }
    }

    /// One run of [`stored_run`], the same at every call: for the tests
    /// that damage a record byte by byte.
    pub(crate) fn a_stored_run() -> StoredRun {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        proptest::strategy::ValueTree::current(&stored_run().new_tree(&mut runner).unwrap())
    }

    /// Key lists as a cache stores them: every map's names under an id.
    #[derive(Default)]
    pub(crate) struct StoredLists(
        std::sync::Mutex<Vec<Vec<u8>>>,
        std::sync::OnceLock<Vec<crate::value_map::KeyList>>,
    );

    impl crate::store::codec::KeyLists for StoredLists {
        fn key_list(&self, id: u32) -> Option<&crate::value_map::KeyList> {
            let parsed = self.1.get_or_init(|| {
                self.0
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|block| crate::store::codec::parse_key_list(block).unwrap())
                    .collect()
            });
            parsed.get((id as usize).checked_sub(1)?)
        }
    }

    /// `run` encoded, its maps' names in `lists` when `stored_lists`.
    pub(crate) fn encoded(run: &StoredRun, lists: &StoredLists, stored_lists: bool) -> Vec<u8> {
        if stored_lists {
            encode_record_with(run, &mut |block| {
                let mut blocks = lists.0.lock().unwrap();
                blocks.push(block.to_vec());
                Some(blocks.len() as u32)
            })
        } else {
            encode_record(run)
        }
    }

    proptest! {
        #[test]
        fn a_view_serializes_as_its_record(run in stored_run(), alive: bool, stored_lists: bool) {
            let lists = StoredLists::default();
            let bytes = encoded(&run, &lists, stored_lists);
            let hot = hot_row(&bytes);
            for (full, bytes) in [(true, &bytes), (false, &hot)] {
                let view = RunView::new("r\"1", RecordBytes::new(bytes, &lists), full, |_, _| alive).unwrap();
                let record = record_of("r\"1", &run, alive, full);
                prop_assert_eq!(view.run_id(), "r\"1");
                prop_assert_eq!(
                    serde_json::to_string(&view).unwrap(),
                    serde_json::to_string(&record).unwrap()
                );
                prop_assert_eq!(
                    serde_json::to_string_pretty(&[view, view]).unwrap(),
                    serde_json::to_string_pretty(&[&record, &record]).unwrap()
                );
            }
        }
    }

    #[test]
    fn alive_is_judged_from_the_status_and_the_last_heartbeat() {
        let run = StoredRun {
            hot: Hot {
                status: Status::Running,
                created_at: 1.0,
                updated_at: 2.0,
                ended_at: None,
                heartbeat_at: Some(5.0),
                tags: vec![],
                summary: ValueMap::new(),
            },
            hparams: ValueMap::new(),
            cold: Cold {
                run_dir: "/r".into(),
                checkpoint_path: None,
                notes: String::new(),
                config: ValueMap::new(),
            },
        };
        let bytes = encode_record(&run);
        let mut judged = None;
        let view = RunView::new("r", RecordBytes::plain(&bytes), true, |status, beat| {
            judged = Some((status.clone(), beat));
            true
        })
        .unwrap();
        assert!(view.alive());
        assert_eq!(judged, Some((Status::Running, Some(5.0))));
    }

    #[test]
    fn a_damaged_record_fails_to_serialize_naming_the_run_and_never_panics() {
        let run = StoredRun {
            hot: Hot {
                status: Status::Completed,
                created_at: 1.0,
                updated_at: 2.0,
                ended_at: Some(3.0),
                heartbeat_at: None,
                tags: vec!["a".into(), "b".into()],
                summary: [("acc".to_owned(), Value::Float(0.5))].into(),
            },
            hparams: [
                ("lr".to_owned(), Value::Float(0.1)),
                ("name".to_owned(), Value::Str("x".into())),
            ]
            .into(),
            cold: Cold {
                run_dir: "/r".into(),
                checkpoint_path: Some("/c".into()),
                notes: "n".into(),
                config: [("m".to_owned(), Value::List(vec![Value::Int(1)]))].into(),
            },
        };
        let bytes = encode_record(&run);
        let whole = RecordBytes::plain(&bytes);
        assert!(whole.whole().is_ok());
        let mut refused = 0;
        for end in 0..bytes.len() {
            let cut = RecordBytes::plain(&bytes[..end]);
            let Ok(view) = RunView::new("r9", cut, true, |_, _| false) else {
                refused += 1;
                continue;
            };
            let e = serde_json::to_string(&view).unwrap_err();
            assert!(e.to_string().contains("run r9"), "cut at {end}: {e}");
        }
        assert!(refused > 0);
        // Every byte flipped: an error or the record's own JSON, never a
        // panic.
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0xff;
            if let Ok(view) = RunView::new("r9", RecordBytes::plain(&damaged), true, |_, _| false) {
                let _ = serde_json::to_string(&view);
            }
        }
    }
}
