//! Checkpoints: one safetensors file holding parameters (HF names, so transformers can load it), optimizer
//! moments (`<param>.adam_m`, `<param>.adam_v`) and the trainer state as safetensors `__metadata__`.
//! Written atomically: a temp file in the same directory, fsync, then rename — a killed write leaves the
//! previous checkpoint intact.
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, View};

/// A named f32 tensor in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a valid safetensors checkpoint: {source}")]
    Format { path: PathBuf, source: safetensors::SafeTensorError },
    #[error("{path}: tensor `{name}` has dtype {dtype:?}, expected F32")]
    Dtype { path: PathBuf, name: String, dtype: Dtype },
    #[error("tensor `{name}`: shape {shape:?} holds {expected} values but {got} were given")]
    Shape { name: String, shape: Vec<usize>, expected: usize, got: usize },
}

struct F32View<'a>(&'a NamedTensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(nerkit_export::weights::f32_bytes(&self.0.data))
    }
    fn data_len(&self) -> usize {
        self.0.data.len() * 4
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io { path: path.to_path_buf(), source }
}

/// Writes `tensors` + `metadata` to `path` atomically.
pub fn write(path: &Path, tensors: &[NamedTensor], metadata: HashMap<String, String>) -> Result<(), CheckpointError> {
    for t in tensors {
        let expected: usize = t.shape.iter().product();
        if expected != t.data.len() {
            return Err(CheckpointError::Shape {
                name: t.name.clone(),
                shape: t.shape.clone(),
                expected,
                got: t.data.len(),
            });
        }
    }
    let bytes = safetensors::serialize(
        tensors.iter().map(|t| (t.name.as_str(), F32View(t))),
        (!metadata.is_empty()).then_some(metadata),
    )
    .map_err(|source| CheckpointError::Format { path: path.to_path_buf(), source })?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(&bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Reads every tensor (must be F32) and the metadata of a checkpoint.
pub fn read(path: &Path) -> Result<(Vec<NamedTensor>, HashMap<String, String>), CheckpointError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let format = |source| CheckpointError::Format { path: path.to_path_buf(), source };
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(format)?;
    let st = SafeTensors::deserialize(&bytes).map_err(format)?;
    let mut names: Vec<&str> = st.names();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let view = st.tensor(name).map_err(format)?;
        if view.dtype() != Dtype::F32 {
            return Err(CheckpointError::Dtype { path: path.to_path_buf(), name: name.into(), dtype: view.dtype() });
        }
        let data = nerkit_export::weights::f32s_from_bytes(view.data());
        tensors.push(NamedTensor { name: name.to_string(), shape: view.shape().to_vec(), data });
    }
    Ok((tensors, meta.metadata().clone().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, shape: &[usize], start: f32) -> NamedTensor {
        let n = shape.iter().product();
        NamedTensor { name: name.into(), shape: shape.to_vec(), data: (0..n).map(|i| start + i as f32).collect() }
    }

    #[test]
    fn round_trip_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last.safetensors");
        let tensors = vec![t("classifier.bias", &[4], 0.5), t("classifier.weight", &[4, 3], -2.0)];
        let meta = HashMap::from([("step".to_string(), "42".to_string())]);
        write(&path, &tensors, meta.clone()).unwrap();
        let (back, back_meta) = read(&path).unwrap();
        assert_eq!(back, tensors);
        assert_eq!(back_meta, meta);
    }

    #[test]
    fn failed_write_keeps_previous_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last.safetensors");
        let good = vec![t("w", &[2], 1.0)];
        write(&path, &good, HashMap::new()).unwrap();
        // A tensor whose data does not match its shape is refused before anything is written.
        let bad = vec![NamedTensor { name: "w".into(), shape: vec![3], data: vec![0.0] }];
        assert!(matches!(write(&path, &bad, HashMap::new()), Err(CheckpointError::Shape { .. })));
        // A write interrupted after the temp file was created (simulated: stray temp file) changes nothing.
        std::fs::write(dir.path().join(".last.safetensors.tmp"), b"partial").unwrap();
        assert_eq!(read(&path).unwrap().0, good);
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        std::fs::write(&path, b"not a checkpoint").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("bad.safetensors") && err.contains("not a valid safetensors"), "{err}");
    }
}
