//! The schema of an answer, and its runs turned into record batches.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};
use crate::query::{AnswerKeys, ValueKinds};
use crate::store::{MapFields, MapNames, RunView, Scalar};
use crate::value_map::ByKeyList;

/// How one `hparams.<k>` or `summary.<k>` column holds its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyType {
    Int,
    Float,
    Bool,
    Str,
    /// Each value's JSON text.
    Json,
}

impl KeyType {
    /// The typing rule of the module docs.
    fn of(kinds: ValueKinds) -> KeyType {
        if kinds.only_ints() {
            KeyType::Int
        } else if kinds.only_numbers() {
            KeyType::Float
        } else if kinds.single() == Some(ValueKinds::BOOL) {
            KeyType::Bool
        } else if kinds.single() == Some(ValueKinds::STR) {
            KeyType::Str
        } else {
            KeyType::Json
        }
    }

    fn data_type(self) -> DataType {
        match self {
            KeyType::Int => DataType::Int64,
            KeyType::Float => DataType::Float64,
            KeyType::Bool => DataType::Boolean,
            KeyType::Str | KeyType::Json => DataType::Utf8,
        }
    }
}

/// The columns of one answer: the fixed ones, then its keys.
pub(crate) struct Layout {
    schema: SchemaRef,
    /// The answer's statuses: every batch's `status` column has this one
    /// dictionary, which an Arrow IPC file requires (it allows no
    /// dictionary to be replaced between batches).
    statuses: StringArray,
    hparams: Vec<(String, KeyType)>,
    summary: Vec<(String, KeyType)>,
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

impl Layout {
    pub fn new(keys: &AnswerKeys, metadata: &HashMap<String, String>) -> Layout {
        let typed = |keys: &[(String, ValueKinds)]| -> Vec<(String, KeyType)> {
            keys.iter()
                .map(|(k, kinds)| (k.clone(), KeyType::of(*kinds)))
                .collect()
        };
        let hparams = typed(&keys.hparams);
        let summary = typed(&keys.summary);
        let mut fields = vec![
            Field::new("run_id", DataType::Utf8, false),
            Field::new(
                "status",
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                false,
            ),
            Field::new("alive", DataType::Boolean, false),
            Field::new("created_at", timestamp(), true),
            Field::new("updated_at", timestamp(), true),
            Field::new("ended_at", timestamp(), true),
            Field::new("run_dir", DataType::Utf8, false),
            Field::new("checkpoint_path", DataType::Utf8, true),
            Field::new("notes", DataType::Utf8, false),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                false,
            ),
            Field::new("config", DataType::Utf8, false),
        ];
        for (prefix, keys) in [("hparams", &hparams), ("summary", &summary)] {
            fields.extend(
                keys.iter()
                    .map(|(k, ty)| Field::new(format!("{prefix}.{k}"), ty.data_type(), true)),
            );
        }
        let mut metadata = metadata.clone();
        metadata.insert("runreg.version".into(), env!("CARGO_PKG_VERSION").into());
        Layout {
            schema: Arc::new(Schema::new_with_metadata(fields, metadata)),
            statuses: keys.statuses.iter().map(|s| Some(s.as_str())).collect(),
            hparams,
            summary,
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// A builder of one batch of this layout, of about `rows` runs.
    pub fn builder(&self, rows: usize) -> Result<BatchBuilder<'_>> {
        let n = rows;
        let column = |keys: &[(String, KeyType)]| KeyColumns {
            builders: keys.iter().map(|(_, ty)| KeyBuilder::new(*ty, n)).collect(),
            placements: ByKeyList::default(),
            row: vec![None; keys.len()],
        };
        Ok(BatchBuilder {
            layout: self,
            run_id: StringBuilder::with_capacity(n, n * 16),
            status: StringDictionaryBuilder::<Int32Type>::new_with_dictionary(n, &self.statuses)
                .map_err(|e| Error::Columnar { source: e.into() })?,
            alive: BooleanBuilder::with_capacity(n),
            times: std::array::from_fn(|_| {
                TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC")
            }),
            run_dir: StringBuilder::with_capacity(n, n * 64),
            checkpoint: StringBuilder::new(),
            notes: StringBuilder::new(),
            tags: ListBuilder::new(StringBuilder::new()),
            config: StringBuilder::new(),
            hparams: column(&self.hparams),
            summary: column(&self.summary),
        })
    }
}

/// One batch of a [`Layout`], built a run at a time from the runs' views
/// (no record is built).
pub(crate) struct BatchBuilder<'l> {
    layout: &'l Layout,
    run_id: StringBuilder,
    status: StringDictionaryBuilder<Int32Type>,
    alive: BooleanBuilder,
    times: [TimestampMicrosecondBuilder; 3],
    run_dir: StringBuilder,
    checkpoint: StringBuilder,
    notes: StringBuilder,
    tags: ListBuilder<StringBuilder>,
    config: StringBuilder,
    hparams: KeyColumns,
    summary: KeyColumns,
}

impl BatchBuilder<'_> {
    /// Appends a run's row.
    pub fn add(&mut self, run: &RunView<'_>) -> Result<()> {
        let fields = run
            .fields()
            .map_err(|e| Error::Columnar { source: e.into() })?;
        self.run_id.append_value(run.run_id());
        self.status.append_value(fields.status.as_str());
        self.alive.append_value(run.alive());
        for (builder, t) in self.times.iter_mut().zip([
            Some(fields.created_at),
            Some(fields.updated_at),
            fields.ended_at,
        ]) {
            builder.append_option(t.and_then(micros));
        }
        self.run_dir.append_value(fields.run_dir);
        self.checkpoint.append_option(fields.checkpoint_path);
        self.notes.append_value(fields.notes);
        for tag in &fields.tags {
            self.tags.values().append_value(tag);
        }
        self.tags.append(true);
        self.config.append_value(json_text(&fields.config)?);
        self.hparams.add(&self.layout.hparams, &fields.hparams)?;
        self.summary.add(&self.layout.summary, &fields.summary)
    }

    /// The batch of the runs added.
    pub fn finish(mut self) -> Result<RecordBatch> {
        let [created, updated, ended] = self.times;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.run_id.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.alive.finish()),
        ];
        for mut builder in [created, updated, ended] {
            columns.push(Arc::new(builder.finish()));
        }
        columns.push(Arc::new(self.run_dir.finish()));
        columns.push(Arc::new(self.checkpoint.finish()));
        columns.push(Arc::new(self.notes.finish()));
        columns.push(Arc::new(self.tags.finish()));
        columns.push(Arc::new(self.config.finish()));
        for keys in [self.hparams, self.summary] {
            columns.extend(keys.builders.into_iter().map(KeyBuilder::finish));
        }
        RecordBatch::try_new(self.layout.schema.clone(), columns)
            .map_err(|e| Error::Columnar { source: e.into() })
    }
}

/// Epoch seconds as whole microseconds; `None` for a non-finite time.
fn micros(seconds: f64) -> Option<i64> {
    let us = (seconds * 1e6).round();
    (us.is_finite() && us.abs() < 9.2e18).then_some(us as i64)
}

fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Columnar { source: e.into() })
}

/// The columns of the keys of one map (hparams or summary), in key order
/// (as [`AnswerKeys`] gives them). A map's names are placed once per
/// stored list of names (runs of one sweep share theirs), not looked up
/// once per run and key. A value whose kind the column does not hold
/// (impossible within one snapshot) is a null.
struct KeyColumns {
    builders: Vec<KeyBuilder>,
    /// The column of each name of the stored lists met.
    placements: ByKeyList<Vec<Option<usize>>>,
    /// For each column, the index of its value in the map at hand.
    row: Vec<Option<usize>>,
}

impl KeyColumns {
    fn add(&mut self, keys: &[(String, KeyType)], map: &MapFields<'_>) -> Result<()> {
        let inline;
        let placed: &[Option<usize>] = match &map.names {
            MapNames::Stored(list) => self
                .placements
                .get_or_make(list, |list| place(keys, list.iter().map(|n| &**n))),
            MapNames::Inline(names) => {
                inline = place(keys, names.iter().copied());
                &inline
            }
        };
        self.row.fill(None);
        for (i, column) in placed.iter().take(map.values.len()).enumerate() {
            if let Some(column) = *column {
                self.row[column] = Some(i);
            }
        }
        for (builder, at) in self.builders.iter_mut().zip(&self.row) {
            let value = at
                .map(|i| &map.values[i])
                .filter(|v| !matches!(v, Scalar::Null));
            builder.append(value)?;
        }
        Ok(())
    }
}

/// For each of `names` (sorted), its column among `keys` (sorted), by one
/// merge of the two lists.
fn place<'n>(
    keys: &[(String, KeyType)],
    names: impl Iterator<Item = &'n str>,
) -> Vec<Option<usize>> {
    let mut column = 0;
    names
        .map(|name| {
            while column < keys.len() && keys[column].0.as_str() < name {
                column += 1;
            }
            (column < keys.len() && keys[column].0.as_str() == name).then_some(column)
        })
        .collect()
}

/// The builder of one key's column.
enum KeyBuilder {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
    Json(StringBuilder),
}

impl KeyBuilder {
    fn new(ty: KeyType, rows: usize) -> KeyBuilder {
        match ty {
            KeyType::Int => KeyBuilder::Int(Int64Builder::with_capacity(rows)),
            KeyType::Float => KeyBuilder::Float(Float64Builder::with_capacity(rows)),
            KeyType::Bool => KeyBuilder::Bool(BooleanBuilder::with_capacity(rows)),
            KeyType::Str => KeyBuilder::Str(StringBuilder::new()),
            KeyType::Json => KeyBuilder::Json(StringBuilder::new()),
        }
    }

    /// Appends a run's value, `None` when it has none (or `null`).
    fn append(&mut self, value: Option<&Scalar<'_>>) -> Result<()> {
        match self {
            KeyBuilder::Int(b) => b.append_option(match value {
                Some(Scalar::Int(i)) => Some(*i),
                _ => None,
            }),
            KeyBuilder::Float(b) => b.append_option(match value {
                Some(Scalar::Int(i)) => Some(*i as f64),
                Some(Scalar::Float(x)) => Some(*x),
                _ => None,
            }),
            KeyBuilder::Bool(b) => b.append_option(match value {
                Some(Scalar::Bool(x)) => Some(*x),
                _ => None,
            }),
            KeyBuilder::Str(b) => b.append_option(match value {
                Some(Scalar::Str(s)) => Some(*s),
                _ => None,
            }),
            KeyBuilder::Json(b) => match value {
                Some(v) => b.append_value(json_text(v)?),
                None => b.append_null(),
            },
        }
        Ok(())
    }

    fn finish(self) -> ArrayRef {
        match self {
            KeyBuilder::Int(mut b) => Arc::new(b.finish()),
            KeyBuilder::Float(mut b) => Arc::new(b.finish()),
            KeyBuilder::Bool(mut b) => Arc::new(b.finish()),
            KeyBuilder::Str(mut b) | KeyBuilder::Json(mut b) => Arc::new(b.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value_map::KeyList;

    #[test]
    fn key_types_follow_the_values() {
        let k = |kinds| KeyType::of(kinds);
        assert_eq!(k(ValueKinds::INT | ValueKinds::NULL), KeyType::Int);
        assert_eq!(k(ValueKinds::INT | ValueKinds::FLOAT), KeyType::Float);
        assert_eq!(k(ValueKinds::FLOAT), KeyType::Float);
        assert_eq!(k(ValueKinds::BOOL), KeyType::Bool);
        assert_eq!(k(ValueKinds::STR | ValueKinds::NULL), KeyType::Str);
        assert_eq!(k(ValueKinds::STR | ValueKinds::INT), KeyType::Json);
        assert_eq!(k(ValueKinds::BOOL | ValueKinds::INT), KeyType::Json);
        assert_eq!(k(ValueKinds::NESTED), KeyType::Json);
        assert_eq!(k(ValueKinds::NULL), KeyType::Json);
    }

    #[test]
    fn times_are_whole_microseconds() {
        assert_eq!(micros(1.5), Some(1_500_000));
        assert_eq!(micros(1_795_162_320.123_456), Some(1_795_162_320_123_456));
        assert_eq!(micros(f64::NAN), None);
        assert_eq!(micros(f64::INFINITY), None);
    }

    #[test]
    fn names_are_placed_in_their_columns_by_one_merge() {
        let keys: Vec<(String, KeyType)> = ["b", "d", "e"]
            .iter()
            .map(|k| (k.to_string(), KeyType::Int))
            .collect();
        let names = ["a", "b", "c", "e", "f"];
        assert_eq!(
            place(&keys, names.into_iter()),
            [None, Some(0), None, Some(2), None]
        );
        assert_eq!(place(&keys, std::iter::empty()), []);
        assert_eq!(place(&[], names.into_iter()), [None; 5]);
    }

    #[test]
    fn maps_sharing_names_or_not_fill_the_same_columns() {
        let keys: Vec<(String, KeyType)> = vec![
            ("lr".into(), KeyType::Float),
            ("name".into(), KeyType::Str),
            ("steps".into(), KeyType::Int),
        ];
        let list: KeyList = Arc::new(vec!["lr".into(), "steps".into()]);
        let stored = |values| MapFields {
            names: MapNames::Stored(&list),
            values,
        };
        let a = stored(vec![Scalar::Float(0.5), Scalar::Int(3)]);
        // The same stored list again: placed once, filled the same way.
        let shared = stored(vec![Scalar::Int(1), Scalar::Null]);
        let b = MapFields {
            names: MapNames::Inline(vec!["lr", "name"]),
            values: vec![Scalar::Int(2), Scalar::Str("x")],
        };
        let empty = MapFields {
            names: MapNames::Inline(vec![]),
            values: vec![],
        };
        let mut columns = KeyColumns {
            builders: keys.iter().map(|(_, ty)| KeyBuilder::new(*ty, 4)).collect(),
            placements: ByKeyList::default(),
            row: vec![None; keys.len()],
        };
        for map in [&a, &b, &shared, &empty] {
            columns.add(&keys, map).unwrap();
        }
        assert_eq!(columns.placements.len(), 1);
        let columns: Vec<ArrayRef> = columns
            .builders
            .into_iter()
            .map(KeyBuilder::finish)
            .collect();
        let lr = columns[0]
            .as_any()
            .downcast_ref::<arrow_array::Float64Array>()
            .unwrap();
        let name = columns[1]
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        let steps = columns[2]
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap();
        use arrow_array::Array;
        assert_eq!(
            lr.iter().collect::<Vec<_>>(),
            [Some(0.5), Some(2.0), Some(1.0), None]
        );
        assert_eq!(
            name.iter().collect::<Vec<_>>(),
            [None, Some("x"), None, None]
        );
        assert_eq!(
            steps.iter().collect::<Vec<_>>(),
            [Some(3), None, None, None]
        );
    }
}
