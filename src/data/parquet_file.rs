//! Parquet reader (row API, no arrow): columns `tokens` (list<string>) and `ner_tags` (list<string>, or
//! list<int32/int64> class ids mapped through the [`LabelSet`]); other columns (`pos_tags`) are not read.
//! This is the Hugging Face layout of PLOD-CW-25 (`PLOD-CW-25-{Train,Val,Test}.parquet`). Origins are
//! `file#row N`, N counted from 0 as in the hub viewer.
use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;

use super::source::file_label;
use super::tags::{id_to_name, RawTag};
use super::{DataError, Sentence};
use crate::labels::LabelSet;

const TOKENS: &str = "tokens";
const TAGS: &str = "ner_tags";

pub(crate) fn read(path: &Path, labels: &LabelSet) -> Result<Vec<Sentence>, DataError> {
    let pq = |cause| DataError::Parquet { path: path.to_path_buf(), cause: Box::new(cause) };
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(pq)?;
    let label = file_label(path);

    let root = reader.metadata().file_metadata().schema_descr().root_schema().clone();
    let fields = root.get_fields();
    for wanted in [TOKENS, TAGS] {
        if !fields.iter().any(|f| f.name() == wanted) {
            let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
            return Err(DataError::format(&label, format!("no `{wanted}` column (columns: {})", names.join(", "))));
        }
    }
    let projected: Vec<_> = fields.iter().filter(|f| [TOKENS, TAGS].contains(&f.name())).cloned().collect();
    let projection = Type::group_type_builder(root.name()).with_fields(projected).build().map_err(pq)?;

    let mut out = Vec::new();
    for (row_index, row) in reader.get_row_iter(Some(projection)).map_err(pq)?.enumerate() {
        let row = row.map_err(pq)?;
        let origin = format!("{label}#row {row_index}");
        let (mut words, mut raw) = (None, None);
        for (name, field) in row.get_column_iter() {
            match name.as_str() {
                TOKENS => words = Some(list_items(field, &origin, TOKENS)?),
                TAGS => raw = Some(list_items(field, &origin, TAGS)?),
                _ => {}
            }
        }
        let words = words.unwrap_or_default();
        let words = words
            .into_iter()
            .enumerate()
            .map(|(i, w)| match w {
                RawTag::Name(s) => Ok(s),
                RawTag::Id(_) => Err(DataError::format(&origin, format!("`{TOKENS}` word {i} is a number"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tags = raw
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, t)| match t {
                RawTag::Name(s) => Ok(s),
                RawTag::Id(id) => id_to_name(id, labels, &origin, i),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Sentence { origin, words, tags });
    }
    Ok(out)
}

/// The elements of a list cell as strings or integers; a null list is empty, a null element is an error.
fn list_items(field: &Field, origin: &str, column: &str) -> Result<Vec<RawTag>, DataError> {
    let list = match field {
        Field::ListInternal(list) => list,
        Field::Null => return Ok(Vec::new()),
        other => return Err(DataError::format(origin, format!("`{column}` is not a list: {other}"))),
    };
    list.elements()
        .iter()
        .enumerate()
        .map(|(i, e)| match e {
            Field::Str(s) => Ok(RawTag::Name(s.clone())),
            Field::Bytes(b) => b
                .as_utf8()
                .map(|s| RawTag::Name(s.to_string()))
                .map_err(|_| DataError::format(origin, format!("`{column}` element {i} is not UTF-8"))),
            Field::Byte(v) => Ok(RawTag::Id(i64::from(*v))),
            Field::Short(v) => Ok(RawTag::Id(i64::from(*v))),
            Field::Int(v) => Ok(RawTag::Id(i64::from(*v))),
            Field::Long(v) => Ok(RawTag::Id(*v)),
            Field::UByte(v) => Ok(RawTag::Id(i64::from(*v))),
            Field::UShort(v) => Ok(RawTag::Id(i64::from(*v))),
            Field::UInt(v) => Ok(RawTag::Id(i64::from(*v))),
            other => Err(DataError::format(
                origin,
                format!("`{column}` element {i} has unsupported value `{other}` (expected a string or an integer)"),
            )),
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use super::*;

    /// Writes a PLOD-CW-25-shaped parquet file: `tokens`, `pos_tags` (list<string>), and `ner_tags` as
    /// list<string> or (with `ids`) list<int64> (unknown tags get id 99).
    pub(crate) fn write_plod_parquet(path: &Path, rows: &[(&[&str], &[&str])], ids: bool) {
        let owned = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let tokens: Vec<Vec<String>> = rows.iter().map(|r| owned(r.0)).collect();
        let pos: Vec<Vec<String>> = rows.iter().map(|r| r.0.iter().map(|_| "NOUN".to_string()).collect()).collect();
        let tags: Vec<Vec<String>> = rows.iter().map(|r| owned(r.1)).collect();
        write_list_columns(path, &[("tokens", tokens, false), ("pos_tags", pos, false), ("ner_tags", tags, ids)]);
    }

    /// Writes list columns `(name, one list per row, as int64 class ids)`.
    fn write_list_columns(path: &Path, columns: &[(&str, Vec<Vec<String>>, bool)]) {
        let fields: String = columns
            .iter()
            .map(|(name, _, ids)| {
                let element = if *ids { "int64 element" } else { "binary element (UTF8)" };
                format!("optional group {name} (LIST) {{ repeated group list {{ optional {element}; }} }}\n")
            })
            .collect();
        let schema = Arc::new(parse_message_type(&format!("message schema {{ {fields} }}")).unwrap());
        let file = std::fs::File::create(path).unwrap();
        let mut writer = SerializedFileWriter::new(file, schema, Arc::new(WriterProperties::new())).unwrap();
        let mut group = writer.next_row_group().unwrap();
        let labels = LabelSet::plod();
        for (_, lists, ids) in columns {
            // Levels for list<optional element>: definition 3 = present element, 1 = empty list; repetition 0
            // starts a row, 1 continues the list.
            let (mut def, mut rep) = (Vec::new(), Vec::new());
            for l in lists {
                if l.is_empty() {
                    def.push(1);
                    rep.push(0);
                }
                for i in 0..l.len() {
                    def.push(3);
                    rep.push(i16::from(i > 0));
                }
            }
            let flat: Vec<&String> = lists.iter().flatten().collect();
            let mut cw = group.next_column().unwrap().unwrap();
            if *ids {
                let v: Vec<i64> = flat.iter().map(|t| labels.id(t).map_or(99, |i| i as i64)).collect();
                cw.typed::<Int64Type>().write_batch(&v, Some(&def), Some(&rep)).unwrap();
            } else {
                let v: Vec<ByteArray> = flat.iter().map(|s| ByteArray::from(s.as_bytes())).collect();
                cw.typed::<ByteArrayType>().write_batch(&v, Some(&def), Some(&rep)).unwrap();
            }
            cw.close().unwrap();
        }
        group.close().unwrap();
        writer.close().unwrap();
    }

    const ROWS: &[(&[&str], &[&str])] = &[
        (&["magnetic", "resonance", "imaging", "(", "MRI", ")"], &["B-LF", "I-LF", "I-LF", "O", "B-AC", "O"]),
        (&[], &[]),
        (&["HR", "rose"], &["B-AC", "O"]),
    ];

    #[test]
    fn reads_string_and_id_tags() {
        let dir = tempfile::tempdir().unwrap();
        for ids in [false, true] {
            let path = dir.path().join(format!("PLOD-CW-25-Train-{ids}.parquet"));
            write_plod_parquet(&path, ROWS, ids);
            let s = read(&path, &LabelSet::plod()).unwrap();
            assert_eq!(s.len(), 3);
            assert_eq!(s[0].words, ROWS[0].0);
            assert_eq!(s[0].tags, ROWS[0].1);
            assert!(s[1].words.is_empty() && s[1].tags.is_empty());
            assert_eq!(s[2].origin, format!("PLOD-CW-25-Train-{ids}.parquet#row 2"));
            assert_eq!(s[2].tags, ["B-AC", "O"]);
        }
    }

    #[test]
    fn id_outside_label_set_names_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        write_plod_parquet(&path, &[(&["a"], &["O"]), (&["b"], &["B-XX"])], true);
        let msg = read(&path, &LabelSet::plod()).unwrap_err().to_string();
        assert!(msg.starts_with("x.parquet#row 1: word 0: class id 99"), "{msg}");
    }

    #[test]
    fn missing_tags_column_lists_the_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.parquet");
        write_list_columns(
            &path,
            &[("tokens", vec![vec!["a".into()]], false), ("labels", vec![vec!["O".into()]], false)],
        );
        let msg = read(&path, &LabelSet::plod()).unwrap_err().to_string();
        assert_eq!(msg, "m.parquet: no `ner_tags` column (columns: tokens, labels)");
    }

    #[test]
    fn not_parquet_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.parquet");
        std::fs::write(&path, b"not parquet at all").unwrap();
        let err = read(&path, &LabelSet::plod()).unwrap_err();
        assert!(matches!(err, DataError::Parquet { .. }) && err.to_string().contains("fake.parquet"), "{err}");
    }
}
