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
use crate::record::RunRecord;
use crate::value::Value;
use crate::value_map::ValueMap;

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

    /// `runs` as one batch of this layout.
    pub fn batch(&self, runs: &[RunRecord]) -> Result<RecordBatch> {
        let n = runs.len();
        let mut run_id = StringBuilder::with_capacity(n, n * 16);
        let mut status =
            StringDictionaryBuilder::<Int32Type>::new_with_dictionary(n, &self.statuses)
                .map_err(|e| Error::Columnar { source: e.into() })?;
        let mut alive = BooleanBuilder::with_capacity(n);
        let mut times: [TimestampMicrosecondBuilder; 3] = std::array::from_fn(|_| {
            TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC")
        });
        let mut run_dir = StringBuilder::with_capacity(n, n * 64);
        let mut checkpoint = StringBuilder::new();
        let mut notes = StringBuilder::new();
        let mut tags = ListBuilder::new(StringBuilder::new());
        let mut config = StringBuilder::new();
        for run in runs {
            run_id.append_value(&run.run_id);
            status.append_value(run.status.as_str());
            alive.append_value(run.alive);
            for (builder, t) in
                times
                    .iter_mut()
                    .zip([Some(run.created_at), Some(run.updated_at), run.ended_at])
            {
                builder.append_option(t.and_then(micros));
            }
            run_dir.append_value(&run.run_dir);
            checkpoint.append_option(run.checkpoint_path.as_deref());
            notes.append_value(&run.notes);
            for tag in &run.tags {
                tags.values().append_value(tag);
            }
            tags.append(true);
            config.append_value(json_text(&run.config)?);
        }
        let [created, updated, ended] = times;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(run_id.finish()),
            Arc::new(status.finish()),
            Arc::new(alive.finish()),
        ];
        for mut builder in [created, updated, ended] {
            columns.push(Arc::new(builder.finish()));
        }
        columns.push(Arc::new(run_dir.finish()));
        columns.push(Arc::new(checkpoint.finish()));
        columns.push(Arc::new(notes.finish()));
        columns.push(Arc::new(tags.finish()));
        columns.push(Arc::new(config.finish()));
        for (keys, map) in [
            (
                &self.hparams,
                (|r: &RunRecord| &r.hparams) as fn(&RunRecord) -> &ValueMap,
            ),
            (&self.summary, |r: &RunRecord| &r.summary),
        ] {
            columns.extend(key_columns(keys, runs.iter().map(map), n)?);
        }
        RecordBatch::try_new(self.schema.clone(), columns)
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

/// The columns of `keys` (sorted, as [`AnswerKeys`] gives them) over
/// `maps`, one map a run. Each map's names are placed once per list of
/// names the maps share (runs of one sweep share theirs), not looked up
/// once per run and key. A value whose kind the column does not hold
/// (impossible within one snapshot) is a null.
fn key_columns<'r>(
    keys: &[(String, KeyType)],
    maps: impl Iterator<Item = &'r ValueMap>,
    rows: usize,
) -> Result<Vec<ArrayRef>> {
    let mut builders: Vec<KeyBuilder> = keys
        .iter()
        .map(|(_, ty)| KeyBuilder::new(*ty, rows))
        .collect();
    // The column of each name of a list, by the list's `names_id`; every map
    // is alive until this function returns, so no id is reused meanwhile.
    let mut placements: HashMap<usize, Vec<Option<usize>>> = HashMap::new();
    let mut row: Vec<Option<&Value>> = vec![None; keys.len()];
    for map in maps {
        let columns = placements
            .entry(map.names_id())
            .or_insert_with(|| place(keys, map.names()));
        row.fill(None);
        for (column, value) in columns.iter().zip(map.values()) {
            if let Some(column) = *column {
                row[column] = Some(value);
            }
        }
        for (builder, value) in builders.iter_mut().zip(&row) {
            builder.append(value.filter(|v| !matches!(v, Value::Null)))?;
        }
    }
    Ok(builders.into_iter().map(KeyBuilder::finish).collect())
}

/// For each of `names` (sorted), its column among `keys` (sorted), by one
/// merge of the two lists.
fn place(keys: &[(String, KeyType)], names: &[Arc<str>]) -> Vec<Option<usize>> {
    let mut column = 0;
    names
        .iter()
        .map(|name| {
            while column < keys.len() && keys[column].0.as_str() < &**name {
                column += 1;
            }
            (column < keys.len() && keys[column].0.as_str() == &**name).then_some(column)
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
    fn append(&mut self, value: Option<&Value>) -> Result<()> {
        match self {
            KeyBuilder::Int(b) => b.append_option(match value {
                Some(Value::Int(i)) => Some(*i),
                _ => None,
            }),
            KeyBuilder::Float(b) => b.append_option(match value {
                Some(Value::Int(i)) => Some(*i as f64),
                Some(Value::Float(x)) => Some(*x),
                _ => None,
            }),
            KeyBuilder::Bool(b) => b.append_option(match value {
                Some(Value::Bool(x)) => Some(*x),
                _ => None,
            }),
            KeyBuilder::Str(b) => b.append_option(match value {
                Some(Value::Str(s)) => Some(&**s),
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
        let names: Vec<Arc<str>> = ["a", "b", "c", "e", "f"]
            .iter()
            .map(|&n| n.into())
            .collect();
        assert_eq!(place(&keys, &names), [None, Some(0), None, Some(2), None]);
        assert_eq!(place(&keys, &[]), []);
        assert_eq!(place(&[], &names), [None; 5]);
    }

    #[test]
    fn maps_sharing_names_or_not_fill_the_same_columns() {
        let keys: Vec<(String, KeyType)> = vec![
            ("lr".into(), KeyType::Float),
            ("name".into(), KeyType::Str),
            ("steps".into(), KeyType::Int),
        ];
        let a: ValueMap = [
            ("lr".to_owned(), Value::Float(0.5)),
            ("steps".to_owned(), Value::Int(3)),
        ]
        .into();
        let shared = a.clone(); // the same list of names
        let b: ValueMap = [
            ("name".to_owned(), Value::from("x")),
            ("lr".to_owned(), Value::Int(2)),
        ]
        .into();
        let empty = ValueMap::new();
        let columns = key_columns(&keys, [&a, &b, &shared, &empty].into_iter(), 4).unwrap();
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
            [Some(0.5), Some(2.0), Some(0.5), None]
        );
        assert_eq!(
            name.iter().collect::<Vec<_>>(),
            [None, Some("x"), None, None]
        );
        assert_eq!(
            steps.iter().collect::<Vec<_>>(),
            [Some(3), None, Some(3), None]
        );
    }
}
