//! nerkit's fused CPU kernels (`nerkit::train::kernels`: dropout masks, AdamW, AdamW over a row-sparse
//! gradient) compute the standard training graph's values bit for bit: a training run with them and one with
//! standard ONNX ops only end in identical parameters and moments, and report identical losses and gradient
//! norms. The model is big enough that every kernel splits its work over the two threads (tables and
//! attention maps of several 32 K-element chunks). Needs the ONNX Runtime library (`make setup`).
use ndarray::Array2;
use nerkit::config::{Device, TrainConfig};
use nerkit::infer::PaddedBatch;
use nerkit::prepare::batch::LabelledBatch;
use nerkit::train::engine::{session, train_step, Step};
use nerkit::train::graphs;
use nerkit::train::state::TrainState;
use nerkit_export::config::BertConfig;
use nerkit_export::train_graph::cpu_ops;
use nerkit_export::weights::Weights;

/// Random weights; a 6,000-row vocabulary (192 K values in the table) and 64-token rows (attention maps of
/// 8 × 4 × 64 × 64 = 131 K values).
fn model() -> (BertConfig, Weights) {
    let cfg = BertConfig {
        vocab_size: 6000,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 64,
        max_position_embeddings: 64,
        hidden_dropout_prob: 0.1,
        attention_probs_dropout_prob: 0.1,
        ..BertConfig::default()
    };
    let weights = Weights::random(&cfg, 4, 7);
    (cfg, weights)
}

/// Batch `step`: 8 rows of 64 tokens, the last row half padding, some ids repeated.
fn batch(step: u64) -> LabelledBatch {
    let (rows, width) = (8, 64);
    let ids = Array2::from_shape_fn((rows, width), |(b, t)| {
        5 + ((b * 977 + t * 131 + step as usize * 389) % 5990) as i64 * ((t % 5 != 0) as i64)
    });
    let mask = Array2::from_shape_fn((rows, width), |(b, t)| i64::from(b < rows - 1 || t < width / 2));
    let labels =
        Array2::from_shape_fn((rows, width), |(b, t)| if mask[[b, t]] == 0 { -100 } else { ((b + 3 * t) % 4) as i64 });
    LabelledBatch {
        inputs: PaddedBatch { input_ids: ids, attention_mask: mask, token_type_ids: Array2::zeros((rows, width)) },
        labels,
    }
}

const STEPS: u64 = 3;

fn count(graph: &[u8], op: &str) -> usize {
    let model = nerkit_export::builder::parse_model(graph).unwrap();
    model.graph.unwrap().node.iter().filter(|n| n.op_type == op).count()
}

#[test]
fn fused_kernels_train_bitwise_like_standard_ops() {
    nerkit::runtime::environment().expect("ONNX Runtime library (make setup)");
    let (cfg, weights) = model();
    for clip_norm in [0.0, 1.0] {
        let tc = TrainConfig { lr: 1e-2, clip_norm, ..TrainConfig::default() };
        let standard =
            graphs::build(&cfg, &weights, &TrainConfig { cpu_kernels: false, ..tc.clone() }, 4, false).unwrap();
        let fused = graphs::build(&cfg, &weights, &TrainConfig { cpu_kernels: true, ..tc.clone() }, 4, false).unwrap();

        // The fused graph holds the kernels: a mask per dropout site (2 layers × 3 + embeddings + classifier),
        // an AdamW per parameter, the word-embedding table's from its rows.
        let params = fused.params.len();
        assert_eq!(count(&fused.train, cpu_ops::DROPOUT_MASK), 8);
        assert_eq!(count(&fused.train, cpu_ops::ADAMW), params - 1);
        assert_eq!(count(&fused.train, cpu_ops::ADAMW_ROWS), 1);
        assert_eq!(count(&standard.train, cpu_ops::ADAMW) + count(&standard.train, cpu_ops::DROPOUT_MASK), 0);
        assert!(count(&fused.train, "Gather") < count(&standard.train, "Gather"));
        assert_eq!(count(&fused.train, "Mod"), 0, "the dropout hashes are all in the kernel");

        let cw = [1.0f32, 2.0, 2.0, 1.5];
        let mut runs = vec![];
        for graph in [&standard, &fused] {
            let mut sess = session(&graph.train, Device::Cpu, 2).unwrap();
            let mut state = TrainState::new(&graph.params).unwrap();
            let mut reports = vec![];
            for step in 1..=STEPS {
                let settings = Step { number: step, lr: 1e-2, seed: 100 + step as i64, ema_decay: 0.0 };
                let out = train_step(&mut sess, &mut state, &batch(step), &cw, &settings, graph.clips).unwrap();
                reports.push((out.loss.to_bits(), out.grad_norm.map(f32::to_bits)));
            }
            runs.push((reports, state.checkpoint_tensors().unwrap()));
        }
        let (standard_run, fused_run) = (&runs[0], &runs[1]);
        assert_eq!(standard_run.1.len(), fused_run.1.len());
        for (a, b) in standard_run.1.iter().zip(&fused_run.1) {
            assert_eq!(a.name, b.name);
            let differing = a.data.iter().zip(&b.data).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
            assert_eq!(differing, 0, "{} (clip {clip_norm}): {differing} of {} values differ", a.name, a.data.len());
        }
        assert_eq!(standard_run.0, fused_run.0, "losses and gradient norms (clip {clip_norm})");
        // And training did move the parameters (the comparison is not between two untouched states).
        let initial = TrainState::new(&fused.params).unwrap().checkpoint_tensors().unwrap();
        let moved = initial.iter().zip(&fused_run.1).filter(|(a, b)| a.data != b.data).count();
        assert!(moved >= params, "only {moved} tensors changed");
    }
}

/// The dropout-mask kernel gives the standard graph's masks, for several seeds and shapes (two threads; the
/// largest shape spans several chunks).
#[test]
fn dropout_mask_kernel_equals_standard_ops() {
    use nerkit_export::builder::{model_bytes, Dim, ElemType, GraphBuilder};
    use nerkit_export::train_graph::dropout;
    use ort::value::Tensor;
    nerkit::runtime::environment().expect("ONNX Runtime library (make setup)");
    let graph = |ops: dropout::MaskOps| {
        let mut g = GraphBuilder::new("mask");
        let dims = [Dim::sym("a"), Dim::sym("b"), Dim::sym("c")];
        let x = g.input("x", ElemType::F32, &dims);
        let mask = match ops {
            dropout::MaskOps::Standard => dropout::scaled_mask(&mut g, &x, 0.1, 7, "site"),
            dropout::MaskOps::Kernel => dropout::kernel_mask(&mut g, &x, 0.1, 7, "site"),
        };
        g.output(&mask, ElemType::F32, &dims);
        model_bytes(&g.into_model(17, &[]))
    };
    let (standard, fused) = (graph(dropout::MaskOps::Standard), graph(dropout::MaskOps::Kernel));
    assert_eq!((count(&standard, cpu_ops::DROPOUT_MASK), count(&fused, cpu_ops::DROPOUT_MASK)), (0, 1));
    let mut sessions = [session(&standard, Device::Cpu, 2).unwrap(), session(&fused, Device::Cpu, 2).unwrap()];
    for (seed, shape) in
        [(1i64, [2usize, 3, 5]), (102, [8, 64, 32]), (5, [1, 1, 1]), (99_999, [4, 300, 301]), (i64::MIN, [3, 2, 7])]
    {
        let masks: Vec<Vec<f32>> = sessions
            .iter_mut()
            .map(|s| {
                let x = Tensor::from_array(ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&shape))).unwrap();
                let seed = Tensor::from_array(ndarray::arr0(seed)).unwrap();
                let out = s.run(ort::inputs!["x" => x, "seed" => seed]).unwrap();
                out[0].try_extract_tensor::<f32>().unwrap().1.to_vec()
            })
            .collect();
        let differing = masks[0].iter().zip(&masks[1]).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differing, 0, "seed {seed}, shape {shape:?}: {differing} of {} mask values differ", masks[0].len());
    }
}
