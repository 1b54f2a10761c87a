//! Writes the tiny test fixture `onnx/fixtures/tiny-bert/` (committed; see onnx/README.md): a 2-layer BERT with
//! hidden size 32 and random weights (seed 7), a 4-label head (O, B-AC, B-LF, I-LF), a WordPiece tokenizer over a
//! ~110-token character vocabulary, and the exported `model.onnx` + `model.int8.onnx`.
//!
//! `cargo run --example make_fixture [OUT_DIR]` (default `onnx/fixtures/tiny-bert`).
use std::collections::BTreeMap;
use std::path::PathBuf;

use nerkit_export::config::BertConfig;
use nerkit_export::pipeline::{export_model_dir, ExportRequest};
use nerkit_export::weights::Weights;
use tokenizers::Tokenizer;

fn main() -> anyhow::Result<()> {
    let out = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("onnx/fixtures/tiny-bert"));
    let mut tokens: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(String::from).to_vec();
    let chars: Vec<char> = ('a'..='z').chain('0'..='9').collect();
    tokens.extend(chars.iter().map(|c| c.to_string()));
    tokens.extend(chars.iter().map(|c| format!("##{c}")));
    tokens.extend("()[]{}.,;:-/%+=<>'\"!?&*".chars().map(|c| c.to_string()));
    let vocab: BTreeMap<String, u32> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();

    let specials: Vec<serde_json::Value> = tokens[..5]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                               "normalized": false, "special": true})
        })
        .collect();
    // the layout of a Hugging Face BERT tokenizer.json (bert-base-uncased's pipeline, a tiny vocabulary)
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": specials,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    });
    let tokenizer: Tokenizer = json.to_string().parse().map_err(|e| anyhow::anyhow!("tokenizer: {e}"))?;
    let probe = tokenizer.encode("MRI (x)", true).map_err(|e| anyhow::anyhow!("tokenizer: {e}"))?;
    anyhow::ensure!(
        probe.get_tokens() == ["[CLS]", "m", "##r", "##i", "(", "x", ")", "[SEP]"],
        "{:?}",
        probe.get_tokens()
    );

    let src = tempfile::tempdir()?;
    let mut cfg: BertConfig = serde_json::from_value(serde_json::json!({
        "vocab_size": tokens.len(), "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 64, "max_position_embeddings": 512, "model_type": "bert"
    }))?;
    let labels: Vec<String> = ["O", "B-AC", "B-LF", "I-LF"].map(String::from).to_vec();
    cfg.set_labels(&labels);
    std::fs::write(src.path().join("config.json"), serde_json::to_string_pretty(&cfg)?)?;
    Weights::random(&cfg, labels.len(), 7).save(&src.path().join("model.safetensors"))?;
    std::fs::write(src.path().join("tokenizer.json"), serde_json::to_string_pretty(&json)?)?;

    std::fs::create_dir_all(&out)?;
    let req = ExportRequest { seed: 7, int8: Some(Default::default()), ..ExportRequest::new(src.path(), &out) };
    export_model_dir(&req)?;
    println!("wrote {} ({} vocabulary tokens)", out.display(), tokens.len());
    Ok(())
}
