//! The rows of the hot table, and the shape of a run read from one.
//!
//! A hot row is a record's hot section followed by the *shape* of its
//! hparams, framed as a record whose cold section is empty:
//!
//! ```text
//! [u32 LE: hot length][hot][u32 LE: shape length][hparams names][one tag byte a value]
//! ```
//!
//! The names are the hparams section's own (its length and the id of a
//! stored list, or its block of names); each value is kept as its tag byte
//! alone (null, false, true, int, float, string, or a nested value). Readers
//! of a hot row as a record (filters, metric sorts, the summary detail) never
//! read its hparams section. What the shape is for: the keys of an answer
//! (every hparams and summary name, with the kinds of values under it) are
//! gathered from the hot rows the first pass reads anyway, about sixty bytes
//! more a run, instead of from a second pass over whole records.

use bincode::de::read::{BorrowReader, Reader as _, SliceReader};
use bincode::de::{BorrowDecoder, Decoder as _, DecoderImpl};
use bincode::error::DecodeError;
use bincode::{BorrowDecode, Decode};

use super::codec::{self, CorruptRecord, FALSE, FLOAT, INT, NULL, RecordBytes, STR, TRUE};
use super::run_fields::{Head, MapNames, decoder, end_of_section, skip_tags};
use crate::status::Status;
use crate::value_kinds::ValueKinds;

/// The hot row of an encoded record. A record whose hparams section cannot
/// be read (never one `codec` wrote) gets an empty shape, and one whose
/// sections cannot be told apart an empty row: [`RunShape::read`] refuses
/// both, and the run is reported as damaged.
pub(crate) fn hot_row(record: &[u8]) -> Vec<u8> {
    let (hot, shape) = match codec::sections(record) {
        Ok(sections) => (sections.hot, hparams_shape(sections.hparams)),
        Err(_) => (&[][..], None),
    };
    let shape = shape.unwrap_or_default();
    let mut out = Vec::with_capacity(8 + hot.len() + shape.len());
    for section in [hot, &shape] {
        out.extend_from_slice(&(section.len() as u32).to_le_bytes());
        out.extend_from_slice(section);
    }
    out
}

/// The shape of an encoded hparams section: its names as they are, then
/// the tag of each value.
fn hparams_shape(section: &[u8]) -> Option<Vec<u8>> {
    let ((len, list), mut names_end): ((usize, u32), usize) =
        bincode::decode_from_slice(section, codec::config()).ok()?;
    if list == 0 {
        let rest = section.get(names_end..)?;
        let (_, block): (&[u8], usize) =
            bincode::borrow_decode_from_slice(rest, codec::config()).ok()?;
        names_end += block;
    }
    let (names, values) = section.split_at_checked(names_end)?;
    let mut shape = Vec::with_capacity(names.len() + len.min(values.len()));
    shape.extend_from_slice(names);
    let mut d = DecoderImpl::new(SliceReader::new(values), codec::config(), ());
    for _ in 0..len {
        let tag = u8::decode(&mut d).ok()?;
        skip_value(&mut d, tag).ok()?;
        shape.push(tag);
    }
    d.reader().peek_read(1).is_none().then_some(shape)
}

/// Skips the value of tag `tag` (a string's bytes are not checked: the
/// readers that use them do).
fn skip_value<'de, D: BorrowDecoder<'de>>(d: &mut D, tag: u8) -> Result<(), DecodeError> {
    match tag {
        NULL | FALSE | TRUE => {}
        INT => drop(i64::decode(d)?),
        FLOAT => drop(f64::decode(d)?),
        STR => drop(<&[u8]>::borrow_decode(d)?),
        tag => codec::skip_value(d, tag)?,
    }
    Ok(())
}

/// The kind of a value of tag `tag`.
fn kind_of(tag: u8) -> ValueKinds {
    match tag {
        NULL => ValueKinds::NULL,
        FALSE | TRUE => ValueKinds::BOOL,
        INT => ValueKinds::INT,
        FLOAT => ValueKinds::FLOAT,
        STR => ValueKinds::STR,
        _ => ValueKinds::NESTED,
    }
}

/// A run's status and the names of its summary and hparams: what the keys
/// of an answer are gathered from, read from its hot row. The kind of each
/// value goes to a [`ShapeKinds`] the caller keeps from run to run; no
/// string is decoded.
pub(crate) struct RunShape<'a> {
    pub status: Status,
    pub summary: MapNames<'a>,
    /// Empty unless asked for.
    pub hparams: MapNames<'a>,
}

/// The kind of each value of a [`RunShape`]'s maps, in the order of their
/// names.
#[derive(Default)]
pub(crate) struct ShapeKinds {
    pub summary: Vec<ValueKinds>,
    pub hparams: Vec<ValueKinds>,
}

impl<'a> RunShape<'a> {
    /// The shape of the run whose hot row is `row` (see [`hot_row`]), its
    /// hparams only when `hparams`, the kinds of its values in `kinds`.
    pub(crate) fn read(
        row: RecordBytes<'a>,
        hparams: bool,
        kinds: &mut ShapeKinds,
    ) -> Result<RunShape<'a>, CorruptRecord> {
        let sections = row.sections()?;
        let mut hot = decoder(sections.hot, row.lists);
        let status = Head::read(&mut hot)?.status;
        skip_tags(&mut hot)?;
        let summary = MapNames::read(&mut hot)?;
        kinds.summary.clear();
        for _ in 0..summary.len() {
            let tag = u8::decode(&mut hot)?;
            kinds.summary.push(kind_of(tag));
            skip_value(&mut hot, tag)?;
        }
        end_of_section(&mut hot)?;
        kinds.hparams.clear();
        let hparams = if hparams {
            let mut shape = decoder(sections.hparams, row.lists);
            let names = MapNames::read(&mut shape)?;
            let tags = shape.borrow_reader().take_bytes(names.len())?;
            kinds.hparams.extend(tags.iter().map(|&tag| kind_of(tag)));
            end_of_section(&mut shape)?;
            names
        } else {
            MapNames::Inline(Vec::new())
        };
        Ok(RunShape {
            status,
            summary,
            hparams,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::store::run_view::RunView;
    use crate::store::run_view::tests::{
        StoredLists, a_stored_run, encoded, record_of, stored_run,
    };
    use crate::value_map::ValueMap;

    /// The kinds of each value of `map`, in key order.
    fn kinds_of(map: &ValueMap) -> Vec<(String, ValueKinds)> {
        map.iter()
            .map(|(name, value)| (name.to_owned(), ValueKinds::of(value)))
            .collect()
    }

    fn named(names: &MapNames<'_>, kinds: &[ValueKinds]) -> Vec<(String, ValueKinds)> {
        assert_eq!(names.len(), kinds.len());
        (0..names.len())
            .map(|i| (names.get(i).to_owned(), kinds[i]))
            .collect()
    }

    proptest! {
        #[test]
        fn the_shape_of_a_run_is_its_record_s_names_and_kinds(
            run in stored_run(),
            stored_lists: bool,
        ) {
            let lists = StoredLists::default();
            let bytes = encoded(&run, &lists, stored_lists);
            let row = hot_row(&bytes);
            let record = record_of("r", &run, false, true);
            // One buffer for every read, as a pass over many runs keeps it.
            let mut kinds = ShapeKinds::default();
            for hparams in [true, false, true] {
                let shape = RunShape::read(RecordBytes::new(&row, &lists), hparams, &mut kinds).unwrap();
                prop_assert_eq!(&shape.status, &record.status);
                prop_assert_eq!(named(&shape.summary, &kinds.summary), kinds_of(&record.summary));
                let expected = if hparams { kinds_of(&record.hparams) } else { Vec::new() };
                prop_assert_eq!(named(&shape.hparams, &kinds.hparams), expected);
                prop_assert_eq!(
                    matches!(shape.summary, MapNames::Stored(_)),
                    stored_lists && !record.summary.is_empty()
                );
                prop_assert_eq!(
                    matches!(shape.hparams, MapNames::Stored(_)),
                    hparams && stored_lists && !record.hparams.is_empty()
                );
            }
        }

        #[test]
        fn a_hot_row_reads_as_its_record_s_summary_detail(run in stored_run(), stored_lists: bool) {
            let lists = StoredLists::default();
            let bytes = encoded(&run, &lists, stored_lists);
            let row = hot_row(&bytes);
            let view = RunView::new("r", RecordBytes::new(&row, &lists), false, |_, _| false).unwrap();
            // Compared as JSON: NaN is not equal to itself.
            prop_assert_eq!(
                serde_json::to_string(&view).unwrap(),
                serde_json::to_string(&record_of("r", &run, false, false)).unwrap()
            );
            prop_assert_eq!(codec::sections(&row).unwrap().hot, codec::sections(&bytes).unwrap().hot);
        }
    }

    #[test]
    fn damaged_rows_give_an_error_never_a_panic() {
        let lists = StoredLists::default();
        let run = a_stored_run();
        let row = hot_row(&encoded(&run, &lists, false));
        let mut kinds = ShapeKinds::default();
        for end in 0..row.len() {
            // Every cut is refused: the shape's tags end the row.
            assert!(
                RunShape::read(RecordBytes::new(&row[..end], &lists), true, &mut kinds).is_err()
            );
        }
        for at in 0..row.len() {
            let mut damaged = row.clone();
            damaged[at] ^= 0xff;
            let _ = RunShape::read(RecordBytes::new(&damaged, &lists), true, &mut kinds);
        }
        // A record whose hparams cannot be read (a length cut short) has
        // an empty shape, refused; its hot section is kept.
        let record = encoded(&run, &lists, false);
        let hot = codec::sections(&record).unwrap().hot;
        let mut broken = record[..4 + hot.len()].to_vec();
        broken.extend_from_slice(&[1, 0, 0, 0, 0xfb]);
        let row = hot_row(&broken);
        assert_eq!(codec::sections(&row).unwrap().hot, hot);
        assert!(RunShape::read(RecordBytes::new(&row, &lists), false, &mut kinds).is_ok());
        assert!(RunShape::read(RecordBytes::new(&row, &lists), true, &mut kinds).is_err());
        // One whose sections cannot be told apart has an empty row.
        let row = hot_row(&record[..4 + hot.len() + 2]);
        assert!(RunShape::read(RecordBytes::new(&row, &lists), false, &mut kinds).is_err());
    }
}
