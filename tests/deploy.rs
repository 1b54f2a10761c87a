//! `deploy/`: the Dockerfiles pass hadolint, every Kubernetes manifest and both kustomize overlays pass the
//! Kubernetes 1.37 schemas in strict mode (kubernetes-validate; a broken copy is rejected, so the check can
//! fail), and the Indexed Job's shard contract holds for real: N `nerkit predict` processes with
//! `JOB_COMPLETION_INDEX=0..N-1` and `NERKIT_SHARDS=N` produce, together, exactly the one-process output.
//! The tools come from `make setup` (`$NERKIT_HOME/venv`). No container runtime or cluster is used.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn tool(name: &str) -> PathBuf {
    let p = nerkit::paths::nerkit_home().join("venv/bin").join(name);
    assert!(p.is_file(), "{} missing: run `make setup`", p.display());
    p
}

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn dockerfiles_pass_hadolint() {
    for f in ["Dockerfile", "Dockerfile.cuda"] {
        let (ok, out) = run(Command::new(tool("hadolint")).arg(deploy().join(f)));
        assert!(ok, "{f}: {out}");
    }
}

fn validate(files: &[PathBuf]) -> (bool, String) {
    run(Command::new(tool("kubernetes-validate")).args(["--strict", "-k", "1.37.0"]).args(files))
}

#[test]
fn manifests_and_overlays_pass_the_kubernetes_schemas() {
    let k8s = deploy().join("k8s");
    let plain: Vec<PathBuf> =
        ["base/deployment.yaml", "base/service.yaml", "base/hpa.yaml", "base/pdb.yaml", "predict-job.yaml"]
            .iter()
            .map(|f| k8s.join(f))
            .collect();
    let (ok, out) = validate(&plain);
    assert!(ok, "{out}");
    let tmp = tempfile::tempdir().unwrap();
    for overlay in ["cpu", "gpu"] {
        let (ok, built) = run(Command::new(tool("kubectl")).arg("kustomize").arg(k8s.join("overlays").join(overlay)));
        assert!(ok, "kustomize {overlay}: {built}");
        for kind in ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"] {
            assert!(built.contains(&format!("kind: {kind}")), "{overlay} lacks a {kind}");
        }
        if overlay == "gpu" {
            assert!(built.contains("nvidia.com/gpu: \"1\"") && built.contains("ort-cuda"), "{built}");
        }
        let file = tmp.path().join(format!("{overlay}.yaml"));
        std::fs::write(&file, &built).unwrap();
        let (ok, out) = validate(&[file]);
        assert!(ok, "{overlay}: {out}");
    }
    // the validator does reject a broken manifest
    let broken = tmp.path().join("broken.yaml");
    let text =
        std::fs::read_to_string(k8s.join("base/deployment.yaml")).unwrap().replace("replicas: 2", "replicas: two");
    std::fs::write(&broken, text).unwrap();
    assert!(!validate(&[broken]).0, "a string replica count passed validation");
    // drain timing: the pod's grace period outlasts the preStop sleep plus the server's shutdown timeout
    let dep = std::fs::read_to_string(k8s.join("base/deployment.yaml")).unwrap();
    let grab = |key: &str| -> u64 {
        let at = dep.find(key).unwrap_or_else(|| panic!("{key} missing")) + key.len();
        dep[at..]
            .trim_start_matches([' ', ':', '"', '{'])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    let (grace, sleep) = (grab("terminationGracePeriodSeconds"), grab("sleep: {seconds"));
    let shutdown = grab("\"--shutdown-timeout\", ");
    assert!(grace > sleep + shutdown, "grace {grace} <= preStop {sleep} + shutdown {shutdown}");
}

#[test]
fn indexed_job_shards_together_equal_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let model = nerkit::infer::select::exported_dir(&common::token_classifier_dir(tmp.path())).unwrap();
    let input = tmp.path().join("corpus.jsonl");
    let docs: String = (0..23)
        .map(|i| {
            serde_json::json!({"id": format!("doc{i}"), "text": format!("In study {i}, magnetic resonance imaging (MRI) and computed tomography (CT) were used.")})
                .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(&input, docs).unwrap();
    let predict = |out: &Path, env: &[(&str, String)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nerkit"));
        cmd.args(["predict", "--model"]).arg(&model).arg("--input").arg(&input).arg("--output").arg(out);
        cmd.env_remove("JOB_COMPLETION_INDEX").env_remove("NERKIT_SHARDS");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (ok, text) = run(&mut cmd);
        assert!(ok, "{text}");
    };
    let whole = tmp.path().join("whole.jsonl");
    predict(&whole, &[]);
    let n = 4;
    let mut lines: Vec<String> = Vec::new();
    for i in 0..n {
        let part = tmp.path().join(format!("part-{i}.jsonl"));
        predict(&part, &[("JOB_COMPLETION_INDEX", i.to_string()), ("NERKIT_SHARDS", n.to_string())]);
        let text = std::fs::read_to_string(&part).unwrap();
        assert!(!text.is_empty(), "shard {i} is empty");
        lines.extend(text.lines().map(String::from));
    }
    let mut expected: Vec<String> = std::fs::read_to_string(&whole).unwrap().lines().map(String::from).collect();
    assert_eq!(expected.len(), 23);
    let id = |l: &String| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string();
    lines.sort_by_key(id);
    expected.sort_by_key(id);
    assert_eq!(lines, expected, "the shards together differ from one process");
}
