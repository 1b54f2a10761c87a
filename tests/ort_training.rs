//! The optional `ort-training` path (`nerkit train --ort-training-artifacts DIR`, ONNX Runtime's own training
//! API). Its training loop needs a libonnxruntime built with --enable_training_apis, which is not obtainable
//! prebuilt (see src/train/ort_training.rs), so these tests pin what a user of the official library gets: a
//! refusal that names the problem and the way out. Built only with `--features ort-training`
//! (`make test` runs it in a second step). Needs the provisioned ONNX Runtime library (`make setup`).
#![cfg(feature = "ort-training")]

use nerkit::train::ort_training::{check, ARTIFACT_FILES};
use nerkit::train::TrainError;

#[test]
fn a_directory_without_artifacts_is_refused_naming_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("training_model.onnx"), b"").unwrap();
    match check(dir.path()) {
        Err(e @ TrainError::Artifacts { missing, .. }) => {
            assert_eq!(missing, "eval_model.onnx");
            assert!(e.to_string().contains(&dir.path().display().to_string()), "{e}");
        }
        other => panic!("expected a missing-artifact error, got {other:?}"),
    }
}

#[test]
fn the_official_library_is_refused_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    for f in ARTIFACT_FILES {
        std::fs::write(dir.path().join(f), b"").unwrap();
    }
    let library = nerkit::runtime::find_library().expect("ONNX Runtime library: run `make setup`");
    match check(dir.path()) {
        Err(e @ TrainError::NoTrainingApi { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&library.display().to_string()), "{msg}");
            assert!(msg.contains("without --ort-training-artifacts"), "{msg}");
        }
        Ok(()) => eprintln!("this libonnxruntime has the training API: nothing to refuse"),
        Err(other) => panic!("expected NoTrainingApi, got {other}"),
    }
}
