//! [`Weights`]: the f32 tensors of a BERT token classifier, keyed exactly like the state dict of
//! `transformers.BertForTokenClassification` (`bert.embeddings.word_embeddings.weight`, ...,
//! `classifier.weight`), so a [`Weights::save`]d file loads back into transformers.
//!
//! Checkpoints of a bare `BertModel` (no `bert.` prefix, as sentence-transformers ships them) are renamed on
//! load, old `LayerNorm.gamma/beta` keys become `weight/bias`, f16/bf16 are widened to f32, integer buffers
//! (`position_ids`) are skipped. A missing classifier head is initialised from a seed
//! ([`Weights::ensure_classifier`]).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::{rngs::StdRng, Rng, SeedableRng};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::config::BertConfig;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a safetensors file: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: tensor {name} has dtype {dtype}; expected F32, F16 or BF16")]
    Dtype { path: PathBuf, name: String, dtype: String },
    #[error("missing tensor {name} (expected shape {expected:?}); the checkpoint has {available} tensors")]
    Missing { name: String, expected: Vec<usize>, available: usize },
    #[error("tensor {name} has shape {actual:?}; expected {expected:?}")]
    Shape { name: String, expected: Vec<usize>, actual: Vec<usize> },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// A dense row-major f32 tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape {shape:?} vs {} values", data.len());
        Tensor { shape, data }
    }

    pub fn filled(shape: Vec<usize>, v: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor { shape, data: vec![v; n] }
    }

    pub fn dims_i64(&self) -> Vec<i64> {
        self.shape.iter().map(|&d| d as i64).collect()
    }
}

/// Named f32 tensors with HF `BertForTokenClassification` keys.
#[derive(Clone, Debug, Default)]
pub struct Weights {
    tensors: BTreeMap<String, Tensor>,
}

/// Maps a checkpoint key to its `BertForTokenClassification` name.
pub fn canonical_name(key: &str) -> String {
    let key = key.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias");
    if ["embeddings.", "encoder.", "pooler."].iter().any(|p| key.starts_with(p)) {
        format!("bert.{key}")
    } else {
        key
    }
}

impl Weights {
    /// Reads a `.safetensors` file.
    pub fn load(path: &Path) -> Result<Weights, WeightsError> {
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Io { path: path.into(), source })?;
        Self::from_safetensors(&bytes, path)
    }

    /// Parses safetensors bytes; `origin` only names the source in errors.
    pub fn from_safetensors(bytes: &[u8], origin: &Path) -> Result<Weights, WeightsError> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| WeightsError::Format { path: origin.into(), message: e.to_string() })?;
        let mut tensors = BTreeMap::new();
        for (key, view) in st.iter() {
            let data = match view.dtype() {
                Dtype::F32 => f32s_from_bytes(view.data()),
                Dtype::BF16 => {
                    view.data().chunks_exact(2).map(|b| bf16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()
                }
                Dtype::F16 => {
                    view.data().chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()
                }
                Dtype::I64 | Dtype::I32 | Dtype::U8 | Dtype::BOOL => continue, // buffers such as position_ids
                other => {
                    return Err(WeightsError::Dtype {
                        path: origin.into(),
                        name: key.into(),
                        dtype: format!("{other:?}"),
                    })
                }
            };
            tensors.insert(canonical_name(key), Tensor { shape: view.shape().to_vec(), data });
        }
        Ok(Weights { tensors })
    }

    /// Writes all tensors (f32) to a safetensors file, atomically.
    pub fn save(&self, path: &Path) -> Result<(), WeightsError> {
        let werr = |message: String| WeightsError::Write { path: path.into(), message };
        let bytes: Vec<(String, &[u8])> = self.tensors.iter().map(|(k, t)| (k.clone(), f32_bytes(&t.data))).collect();
        let views = bytes
            .iter()
            .map(|(k, b)| Ok((k.as_str(), TensorView::new(Dtype::F32, self.tensors[k].shape.clone(), b)?)))
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()
            .map_err(|e| werr(e.to_string()))?;
        let meta = Some([("format".to_string(), "pt".to_string())].into_iter().collect());
        let out = safetensors::serialize(views, meta).map_err(|e| werr(e.to_string()))?;
        let tmp = path.with_extension("safetensors.tmp");
        std::fs::write(&tmp, out).and_then(|_| std::fs::rename(&tmp, path)).map_err(|e| werr(e.to_string()))
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// The tensor `name`, checked against `expected` shape.
    pub fn require(&self, name: &str, expected: &[usize]) -> Result<&Tensor, WeightsError> {
        let t = self.tensors.get(name).ok_or_else(|| WeightsError::Missing {
            name: name.into(),
            expected: expected.to_vec(),
            available: self.tensors.len(),
        })?;
        if t.shape != expected {
            return Err(WeightsError::Shape {
                name: name.into(),
                expected: expected.to_vec(),
                actual: t.shape.clone(),
            });
        }
        Ok(t)
    }

    pub fn insert(&mut self, name: &str, t: Tensor) {
        self.tensors.insert(name.to_string(), t);
    }

    pub fn remove(&mut self, name: &str) -> Option<Tensor> {
        self.tensors.remove(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Tensor)> {
        self.tensors.iter()
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Adds `classifier.weight` [num_labels, hidden] ~ N(0, std²) truncated at ±2 std and a zero
    /// `classifier.bias` (as transformers' `_init_weights`), unless a classifier of that shape exists.
    /// Returns true when it initialised one. A classifier with another label count is replaced.
    pub fn ensure_classifier(&mut self, num_labels: usize, hidden: usize, std: f32, seed: u64) -> bool {
        let ok = self.require("classifier.weight", &[num_labels, hidden]).is_ok()
            && self.require("classifier.bias", &[num_labels]).is_ok();
        if ok {
            return false;
        }
        let mut rng = StdRng::seed_from_u64(seed);
        self.insert(
            "classifier.weight",
            Tensor::new(vec![num_labels, hidden], trunc_normal(&mut rng, num_labels * hidden, std)),
        );
        self.insert("classifier.bias", Tensor::filled(vec![num_labels], 0.0));
        true
    }

    /// A complete random `BertForTokenClassification` for `cfg` (tests, fixtures): linear and embedding
    /// weights ~ truncated N(0, initializer_range²), LayerNorm scales near 1, small random biases.
    pub fn random(cfg: &BertConfig, num_labels: usize, seed: u64) -> Weights {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut w = Weights::default();
        let std = cfg.initializer_range;
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let mut add = |w: &mut Weights, name: String, shape: Vec<usize>, kind: Init| {
            let n: usize = shape.iter().product();
            let data = match kind {
                Init::Normal => trunc_normal(&mut rng, n, std),
                Init::Bias => trunc_normal(&mut rng, n, std),
                Init::Scale => trunc_normal(&mut rng, n, 0.1).into_iter().map(|v| 1.0 + v).collect(),
            };
            w.insert(&name, Tensor::new(shape, data));
        };
        let e = "bert.embeddings";
        add(&mut w, format!("{e}.word_embeddings.weight"), vec![cfg.vocab_size, h], Init::Normal);
        add(&mut w, format!("{e}.position_embeddings.weight"), vec![cfg.max_position_embeddings, h], Init::Normal);
        add(&mut w, format!("{e}.token_type_embeddings.weight"), vec![cfg.type_vocab_size, h], Init::Normal);
        add(&mut w, format!("{e}.LayerNorm.weight"), vec![h], Init::Scale);
        add(&mut w, format!("{e}.LayerNorm.bias"), vec![h], Init::Bias);
        for l in 0..cfg.num_hidden_layers {
            let p = format!("bert.encoder.layer.{l}");
            for (name, out, inp) in [
                ("attention.self.query", h, h),
                ("attention.self.key", h, h),
                ("attention.self.value", h, h),
                ("attention.output.dense", h, h),
                ("intermediate.dense", i, h),
                ("output.dense", h, i),
            ] {
                add(&mut w, format!("{p}.{name}.weight"), vec![out, inp], Init::Normal);
                add(&mut w, format!("{p}.{name}.bias"), vec![out], Init::Bias);
            }
            for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
                add(&mut w, format!("{p}.{ln}.weight"), vec![h], Init::Scale);
                add(&mut w, format!("{p}.{ln}.bias"), vec![h], Init::Bias);
            }
        }
        add(&mut w, "classifier.weight".into(), vec![num_labels, h], Init::Normal);
        add(&mut w, "classifier.bias".into(), vec![num_labels], Init::Bias);
        w
    }
}

enum Init {
    Normal,
    Bias,
    Scale,
}

/// `n` samples of N(0, std²) truncated to ±2 std (Box–Muller, resampling outliers).
pub fn trunc_normal(rng: &mut StdRng, n: usize, std: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        for z in [r * (std::f64::consts::TAU * u2).cos(), r * (std::f64::consts::TAU * u2).sin()] {
            if z.abs() <= 2.0 && out.len() < n {
                out.push((z * std as f64) as f32);
            }
        }
    }
    out
}

/// The little-endian bytes of `data`, borrowed (safetensors and ONNX raw data are little-endian, as are the
/// targets nerkit supports).
pub fn f32_bytes(data: &[f32]) -> &[u8] {
    bytemuck::cast_slice(data)
}

/// f32 values from little-endian bytes of any alignment (one copy).
pub fn f32s_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytemuck::pod_collect_to_vec(bytes)
}

#[cfg(target_endian = "big")]
compile_error!("nerkit reads and writes little-endian tensor bytes in place");

fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits((bits as u32) << 16)
}

fn f16_to_f32(bits: u16) -> f32 {
    let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = ((bits >> 10) & 0x1f) as i32;
    let mant = (bits & 0x3ff) as f32;
    sign * match exp {
        0 => mant * 2f32.powi(-24),
        0x1f if mant == 0.0 => f32::INFINITY,
        0x1f => f32::NAN,
        e => (1.0 + mant / 1024.0) * 2f32.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_follow_bert_for_token_classification() {
        assert_eq!(canonical_name("embeddings.word_embeddings.weight"), "bert.embeddings.word_embeddings.weight");
        assert_eq!(canonical_name("bert.encoder.layer.0.output.dense.bias"), "bert.encoder.layer.0.output.dense.bias");
        assert_eq!(
            canonical_name("encoder.layer.1.output.LayerNorm.gamma"),
            "bert.encoder.layer.1.output.LayerNorm.weight"
        );
        assert_eq!(canonical_name("classifier.weight"), "classifier.weight");
    }

    #[test]
    fn half_precision_widening() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
    }

    #[test]
    fn require_names_missing_and_misshaped_tensors() {
        let mut w = Weights::default();
        w.insert("a", Tensor::filled(vec![2, 3], 0.0));
        let e = w.require("a", &[3, 2]).unwrap_err().to_string();
        assert!(e.contains("tensor a has shape [2, 3]; expected [3, 2]"), "{e}");
        let e = w.require("b", &[1]).unwrap_err().to_string();
        assert!(e.contains("missing tensor b"), "{e}");
    }

    #[test]
    fn classifier_init_is_seeded_truncated_and_zero_biased() {
        let mut a = Weights::default();
        assert!(a.ensure_classifier(4, 64, 0.02, 7));
        assert!(!a.ensure_classifier(4, 64, 0.02, 8), "an existing head of the right shape is kept");
        let mut b = Weights::default();
        b.ensure_classifier(4, 64, 0.02, 7);
        let wa = &a.get("classifier.weight").unwrap().data;
        assert_eq!(wa, &b.get("classifier.weight").unwrap().data);
        assert!(wa.iter().all(|v| v.abs() <= 0.04));
        let mean = wa.iter().sum::<f32>() / wa.len() as f32;
        let var = wa.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / wa.len() as f32;
        assert!(mean.abs() < 0.005 && (0.012..0.02).contains(&var.sqrt()), "mean {mean} std {}", var.sqrt());
        assert!(a.get("classifier.bias").unwrap().data.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = std::env::temp_dir().join(format!("nerkit-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.safetensors");
        let cfg: BertConfig = serde_json::from_str(r#"{"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 16, "vocab_size": 10, "max_position_embeddings": 6}"#).unwrap();
        let w = Weights::random(&cfg, 3, 1);
        w.save(&path).unwrap();
        let back = Weights::load(&path).unwrap();
        assert_eq!(back.len(), w.len());
        for (k, t) in w.iter() {
            assert_eq!(back.get(k), Some(t), "{k}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
