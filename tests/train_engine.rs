//! The training step binds parameters and moments in two pre-allocated buffer sets and ping-pongs between
//! them (ONNX Runtime IoBinding). It must compute exactly what a plain `Session::run` of the same graph computes
//! when the updated outputs are fed back as the next step's inputs. Needs the ONNX Runtime library
//! (`make setup`).
use ndarray::Array2;
use nerkit::config::{Device, TrainConfig};
use nerkit::infer::PaddedBatch;
use nerkit::prepare::batch::LabelledBatch;
use nerkit::train::engine::{session, step_inputs, train_step, Step};
use nerkit::train::graphs;
use nerkit::train::state::TrainState;
use nerkit_export::config::BertConfig;
use nerkit_export::train_graph::names;
use nerkit_export::weights::Weights;

/// A random-weight BERT small enough for a step in milliseconds.
fn tiny_bert(layers: usize) -> BertConfig {
    BertConfig {
        vocab_size: 40,
        hidden_size: 16,
        num_hidden_layers: layers,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 16,
        ..BertConfig::default()
    }
}

fn batch(step: i64) -> LabelledBatch {
    let ids = Array2::from_shape_fn((2, 6), |(b, t)| 5 + (b as i64 * 7 + t as i64 * 3 + step) % 20);
    let mut mask = Array2::<i64>::ones((2, 6));
    mask[[1, 5]] = 0;
    let labels = Array2::from_shape_fn((2, 6), |(b, t)| if mask[[b, t]] == 0 { -100 } else { ((b + t) % 4) as i64 });
    LabelledBatch {
        inputs: PaddedBatch { input_ids: ids, attention_mask: mask, token_type_ids: Array2::zeros((2, 6)) },
        labels,
    }
}

#[test]
fn ping_pong_step_equals_feeding_outputs_back() {
    nerkit::runtime::environment().expect("ONNX Runtime library (make setup)");
    let cfg = tiny_bert(2);
    let weights = Weights::random(&cfg, 4, 3);
    let tc = TrainConfig { lr: 1e-2, ..TrainConfig::default() };
    let built = graphs::build(&cfg, &weights, &tc, 4, false).unwrap();
    assert!(built.clips);
    let cw = [1.0f32, 2.0, 2.0, 1.5];
    let mut bound = session(&built.train, Device::Cpu, 1).unwrap();
    let mut plain = session(&built.train, Device::Cpu, 1).unwrap();
    let mut state = TrainState::new(&built.params).unwrap();
    let mut fed = TrainState::new(&built.params).unwrap();

    // Three steps: the state goes set 0 → 1 → 0 → 1, so both buffer sets are read and written.
    for step in 1..=3u64 {
        let b = batch(step as i64);
        let seed = 11 + step as i64;
        let settings = Step { number: step, lr: 1e-2, seed, ema_decay: 0.0 };
        let out = train_step(&mut bound, &mut state, &b, &cw, &settings, true).unwrap();

        let run = plain.run(step_inputs(&fed, &b, &cw, &settings).unwrap()).unwrap();
        let loss = run[names::LOSS].try_extract_tensor::<f32>().unwrap().1[0];
        let grad_norm = run[names::GRAD_NORM].try_extract_tensor::<f32>().unwrap().1[0];
        assert_eq!((out.loss, out.grad_norm), (loss, Some(grad_norm)), "step {step}");
        let mut next = Vec::new();
        for name in &fed.names {
            for (old, new) in [
                (name.clone(), names::new_param(name)),
                (names::adam_m(name), names::new_adam_m(name)),
                (names::adam_v(name), names::new_adam_v(name)),
            ] {
                let data = run[new.as_str()].try_extract_tensor::<f32>().unwrap().1.to_vec();
                let shape = fed.shapes[fed.names.iter().position(|n| n == name).unwrap()].clone();
                next.push(nerkit::train::checkpoint::NamedTensor { name: old, shape, data });
            }
        }
        drop(run);
        fed.load_tensors(&next).unwrap();
        let (a, b) = (state.checkpoint_tensors().unwrap(), fed.checkpoint_tensors().unwrap());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.data, y.data, "{} after step {step}", x.name);
        }
    }
}

#[test]
fn diverged_step_leaves_the_state_untouched() {
    nerkit::runtime::environment().expect("ONNX Runtime library (make setup)");
    let cfg = tiny_bert(1);
    let built = graphs::build(&cfg, &Weights::random(&cfg, 4, 3), &TrainConfig::default(), 4, false).unwrap();
    let mut s = session(&built.train, Device::Cpu, 1).unwrap();
    let mut state = TrainState::new(&built.params).unwrap();
    let step = |n: u64| Step { number: n, lr: 1e-3, seed: n as i64, ema_decay: 0.0 };
    train_step(&mut s, &mut state, &batch(1), &[1.0; 4], &step(1), true).unwrap();
    let before = state.checkpoint_tensors().unwrap();
    // A NaN class weight makes the loss NaN.
    let err = train_step(&mut s, &mut state, &batch(2), &[f32::NAN; 4], &step(2), true).unwrap_err();
    assert!(err.to_string().contains("diverged"), "{err}");
    let after = state.checkpoint_tensors().unwrap();
    assert!(before.iter().zip(&after).all(|(x, y)| x.data == y.data), "state changed by a diverged step");
    // And the next good step still runs from it.
    train_step(&mut s, &mut state, &batch(2), &[1.0; 4], &step(2), true).unwrap();
}

/// With a moving average on, the graph updates it every step: `ema ← d·ema + (1 − d)·params` with the step's
/// decay, starting from the initial parameters.
#[test]
fn moving_average_follows_the_parameters_in_graph() {
    nerkit::runtime::environment().expect("ONNX Runtime library (make setup)");
    let cfg = tiny_bert(1);
    let tc = TrainConfig { lr: 1e-2, ema_decay: 0.9, ..TrainConfig::default() };
    let built = graphs::build(&cfg, &Weights::random(&cfg, 4, 3), &tc, 4, false).unwrap();
    let mut s = session(&built.train, Device::Cpu, 1).unwrap();
    let mut state = TrainState::new(&built.params).unwrap();
    state.enable_ema().unwrap();
    let tensors = |state: &TrainState, suffix: &str| -> Vec<Vec<f32>> {
        let all = state.checkpoint_tensors().unwrap();
        state
            .names
            .iter()
            .map(|n| all.iter().find(|t| t.name == format!("{n}{suffix}")).unwrap().data.clone())
            .collect()
    };
    let mut expected = tensors(&state, "");
    for (n, d) in [(1u64, 0.2f32), (2, 0.5), (3, 0.9)] {
        let step = Step { number: n, lr: 1e-2, seed: n as i64, ema_decay: d };
        train_step(&mut s, &mut state, &batch(n as i64), &[1.0; 4], &step, true).unwrap();
        let params = tensors(&state, "");
        for (e, p) in expected.iter_mut().zip(&params) {
            for (e, p) in e.iter_mut().zip(p) {
                *e = d * *e + (1.0 - d) * p;
            }
        }
        let got = tensors(&state, ".ema");
        let worst = got.iter().flatten().zip(expected.iter().flatten()).map(|(g, e)| (g - e).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-6, "step {n}: average off by {worst}");
        assert_ne!(got, params, "the average must lag the parameters");
    }
    // Validation and the shipped model read the average.
    let shipped: Vec<Vec<f32>> = state.model_tensors().unwrap().into_iter().map(|t| t.data).collect();
    assert_eq!(shipped, tensors(&state, ".ema"));
}
