//! nerkit's CPU kernels (crate `nerkit-kernels`) against the standard-op training graph. With
//! `cpu_kernels = "exact"` (dropout, AdamW, AdamW over a row-sparse gradient) a training run ends in bitwise
//! the same parameters and moments and reports bitwise the same losses and gradient norms; with `all` (also
//! the masked softmax, GELU, LayerNorm and their gradients) the same to rounding, and every gradient equals the
//! standard graph's. The model is big enough that every kernel splits its work over the two threads (tables
//! and attention maps of several 32 K-element chunks). Needs the ONNX Runtime library (`make setup`).
use ndarray::Array2;
use nerkit::config::{CpuKernels, Device, TrainConfig};
use nerkit::infer::PaddedBatch;
use nerkit::prepare::batch::LabelledBatch;
use nerkit::train::engine::{session, train_step, Step};
use nerkit::train::graphs::{self, Graphs};
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

/// What a run reports: (loss, gradient norm) bits per step, and the final parameters and moments.
type Run = (Vec<(u32, Option<u32>)>, Vec<nerkit::train::checkpoint::NamedTensor>);

/// `STEPS` training steps of `graph` on the CPU with two threads.
fn run(graph: &Graphs) -> Run {
    let cw = [1.0f32, 2.0, 2.0, 1.5];
    let mut sess = session(&graph.train, Device::Cpu, 2).unwrap();
    let mut state = TrainState::new(&graph.params).unwrap();
    let mut reports = vec![];
    for step in 1..=STEPS {
        let settings = Step { number: step, lr: 1e-2, seed: 100 + step as i64, ema_decay: 0.0 };
        let out = train_step(&mut sess, &mut state, &batch(step), &cw, &settings, graph.clips).unwrap();
        reports.push((out.loss.to_bits(), out.grad_norm.map(f32::to_bits)));
    }
    (reports, state.checkpoint_tensors().unwrap())
}

/// The standard-op graph and the graph with `kernels`, with and without clipping.
fn graph_pairs(kernels: CpuKernels) -> Vec<(f64, Graphs, Graphs)> {
    let (cfg, weights) = model();
    [0.0, 1.0]
        .into_iter()
        .map(|clip_norm| {
            let tc = TrainConfig { lr: 1e-2, clip_norm, ..TrainConfig::default() };
            let build =
                |cpu_kernels| graphs::build(&cfg, &weights, &TrainConfig { cpu_kernels, ..tc.clone() }, 4, false);
            (clip_norm, build(CpuKernels::Off).unwrap(), build(kernels).unwrap())
        })
        .collect()
}

#[test]
fn exact_kernels_train_bitwise_like_standard_ops() {
    nerkit::runtime::environment().expect("ONNX Runtime library (make setup)");
    for (clip_norm, standard, fused) in graph_pairs(CpuKernels::Exact) {
        // The fused graph holds the kernels: each dropout site (2 layers × 3 + embeddings + classifier) forward
        // and backward, an AdamW per parameter, the word-embedding table's from its rows; no GELU kernel.
        let params = fused.params.len();
        assert_eq!(count(&fused.train, cpu_ops::SEEDED_DROPOUT), 2 * 8, "each site forward and backward");
        assert_eq!(count(&fused.train, cpu_ops::ADAMW), params - 1);
        assert_eq!(count(&fused.train, cpu_ops::ADAMW_ROWS), 1);
        assert_eq!(count(&fused.train, cpu_ops::ERF_GELU), 0);
        assert_eq!(count(&standard.train, cpu_ops::ADAMW) + count(&standard.train, cpu_ops::SEEDED_DROPOUT), 0);
        assert_eq!(count(&fused.train, "Mod"), 0, "the dropout hashes are all in the kernel");

        let (standard_run, fused_run) = (run(&standard), run(&fused));
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

/// With the GELU, softmax and LayerNorm kernels too (their erf and exp are not MLAS's, their sums run in
/// another order; their gradients are thereby checked against the standard rules, which are checked by finite
/// differences),
/// the run matches the standard graph to rounding:
/// losses and gradient norms within 1e-5 relative, every parameter within 1 % of one learning-rate step.
#[test]
fn all_kernels_train_like_standard_ops_to_rounding() {
    nerkit::runtime::environment().expect("ONNX Runtime library (make setup)");
    for (clip_norm, standard, fused) in graph_pairs(CpuKernels::All) {
        assert_eq!(count(&fused.train, cpu_ops::ERF_GELU), 2);
        assert_eq!(count(&fused.train, cpu_ops::ERF_GELU_GRAD), 2);
        assert_eq!(count(&fused.train, "Erf"), 0);
        assert_eq!(count(&fused.train, cpu_ops::MASKED_SOFTMAX), 2);
        assert_eq!(count(&fused.train, cpu_ops::SOFTMAX_GRAD), 2);
        // Embeddings + 2 per layer.
        assert_eq!(count(&fused.train, cpu_ops::LAYER_NORM), 5);
        assert_eq!(count(&fused.train, cpu_ops::LAYER_NORM_GRAD), 5);
        assert_eq!(count(&fused.train, "LayerNormalization"), 0);
        let (standard_run, fused_run) = (run(&standard), run(&fused));
        for (step, (a, b)) in standard_run.0.iter().zip(&fused_run.0).enumerate() {
            let close = |x: u32, y: u32| {
                let (x, y) = (f32::from_bits(x) as f64, f32::from_bits(y) as f64);
                (x - y).abs() <= 1e-5 * x.abs()
            };
            assert!(close(a.0, b.0), "step {}: loss {} vs {}", step + 1, f32::from_bits(a.0), f32::from_bits(b.0));
            if let (Some(x), Some(y)) = (a.1, b.1) {
                assert!(close(x, y), "step {}: gradient norm (clip {clip_norm})", step + 1);
            }
        }
        let mut worst = (0.0f32, String::new());
        for (a, b) in standard_run.1.iter().zip(&fused_run.1).filter(|(a, _)| !a.name.contains(".adam_")) {
            let gap = a.data.iter().zip(&b.data).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
            if gap > worst.0 {
                worst = (gap, a.name.clone());
            }
        }
        eprintln!("clip {clip_norm}: largest parameter difference {:e} ({})", worst.0, worst.1);
        assert!(worst.0 <= 0.01 * 1e-2, "{} differs by {:e} (clip {clip_norm})", worst.1, worst.0);
    }
}

/// The dropout kernel gives the standard graph's `x · mask`, for several seeds and shapes (two threads; the
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
        let y = dropout::dropout_with(&mut g, &x, 0.1, 7, "site", ops);
        g.output(&y, ElemType::F32, &dims);
        model_bytes(&g.into_model(17, &[]))
    };
    let (standard, fused) = (graph(dropout::MaskOps::Standard), graph(dropout::MaskOps::Kernel));
    assert_eq!((count(&standard, cpu_ops::SEEDED_DROPOUT), count(&fused, cpu_ops::SEEDED_DROPOUT)), (0, 1));
    let mut sessions = [session(&standard, Device::Cpu, 2).unwrap(), session(&fused, Device::Cpu, 2).unwrap()];
    for (seed, shape) in
        [(1i64, [2usize, 3, 5]), (102, [8, 64, 32]), (5, [1, 1, 1]), (99_999, [4, 300, 301]), (i64::MIN, [3, 2, 7])]
    {
        let masks: Vec<Vec<f32>> = sessions
            .iter_mut()
            .map(|s| {
                let n: usize = shape.iter().product();
                let data = (0..n).map(|k| ((k * 31 % 97) as f32 - 48.0) / 7.0).collect();
                let values = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), data).unwrap();
                let x = Tensor::from_array(values).unwrap();
                let seed = Tensor::from_array(ndarray::arr0(seed)).unwrap();
                let out = s.run(ort::inputs!["x" => x, "seed" => seed]).unwrap();
                out[0].try_extract_tensor::<f32>().unwrap().1.to_vec()
            })
            .collect();
        let differing = masks[0].iter().zip(&masks[1]).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differing, 0, "seed {seed}, shape {shape:?}: {differing} of {} values differ", masks[0].len());
        let dropped = masks[1].iter().filter(|v| **v == 0.0).count() as f64 / masks[1].len() as f64;
        assert!(masks[1].len() < 1000 || (dropped - 0.1).abs() < 0.02, "{dropped} of the values dropped");
    }
}

/// Every parameter's gradient from the graph with all kernels equals the standard graph's (whose rules are
/// checked by finite differences) to rounding, on one batch with dropout on: a direct check of the kernels'
/// backward passes (the runs above compare through AdamW, which is blind to a gradient's scale).
#[test]
fn kernel_gradients_equal_standard_gradients() {
    use nerkit::train::engine::step_inputs;
    use nerkit_export::builder::model_bytes;
    use nerkit_export::train_graph::cpu_ops::CpuKernels as Kernels;
    use nerkit_export::train_graph::{bert_train_graph, names, TrainGraphConfig};
    nerkit::runtime::environment().expect("ONNX Runtime library (make setup)");
    let (cfg, weights) = model();
    let mut grads = vec![];
    for cpu_kernels in [Kernels::Off, Kernels::All] {
        let tc = TrainGraphConfig { output_gradients: true, cpu_kernels, ..TrainGraphConfig::new("logits", 4) };
        let tg = bert_train_graph(&cfg, &weights, &tc).unwrap();
        let mut sess = session(&model_bytes(&tg.model), Device::Cpu, 2).unwrap();
        let state = TrainState::new(&tg.params).unwrap();
        let batch = batch(1);
        let cw = [1.0f32, 2.0, 2.0, 1.5];
        let step = Step { number: 1, lr: 1e-2, seed: 5, ema_decay: 0.0 };
        let out = sess.run(step_inputs(&state, &batch, &cw, &step).unwrap()).unwrap();
        let g: Vec<(String, Vec<f32>)> = tg
            .params
            .iter()
            .map(|p| {
                (p.name.clone(), out[names::grad(&p.name).as_str()].try_extract_tensor::<f32>().unwrap().1.to_vec())
            })
            .collect();
        grads.push(g);
    }
    let largest = grads[0].iter().flat_map(|(_, g)| g).fold(0.0f32, |m, v| m.max(v.abs()));
    for ((name, want), (_, got)) in grads[0].iter().zip(&grads[1]) {
        let scale = want.iter().fold(1e-3 * largest, |m, v| m.max(v.abs()));
        let err = want.iter().zip(got).fold(0.0f32, |m, (a, b)| m.max((a - b).abs())) / scale;
        assert!(err <= 1e-4, "{name}: gradients differ by {err:e} of their largest value");
    }
}
