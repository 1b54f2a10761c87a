//! The one vocabulary for inference engines: an [`EngineSpec`] says which runtime runs which exported graph
//! on which device, and prints as the name every command, log line, `/info` answer and bench row uses
//! (`ort`, `ort-int8`, `ort-fused`, `ort-fused-int8`, `ort-cuda`, `ort-cuda-fp16`, `tract`). An
//! [`EngineChoice`] is what a user asks for: a spec, or `auto` (see [`super::select`]).
use std::fmt;
use std::str::FromStr;

use super::{FP16_FILE, FP32_FILE, FUSED_FILE, FUSED_INT8_FILE, INT8_FILE};
use crate::runtime::Device;

/// What executes the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// ONNX Runtime (CPU or CUDA execution provider).
    Ort,
    /// tract, pure Rust (CPU, the standard fp32 graph).
    Tract,
}

/// Which exported graph file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Graph {
    /// `model.onnx`.
    Fp32,
    /// `model.int8.onnx` (`nerkit export --int8`).
    Int8,
    /// `model.fused.onnx`, ONNX Runtime's fused `com.microsoft` ops (`nerkit export --fused`).
    Fused,
    /// `model.fused.int8.onnx`.
    FusedInt8,
    /// `model.fp16.onnx` (`nerkit export --fp16`; converted from `model.onnx` on first use).
    Fp16,
}

impl Graph {
    /// The graph a file name holds (`model.int8.onnx` → [`Graph::Int8`]); anything else is fp32.
    pub fn of_file(path: &std::path::Path) -> Graph {
        match path.file_name().and_then(|f| f.to_str()) {
            Some(INT8_FILE) => Graph::Int8,
            Some(FUSED_FILE) => Graph::Fused,
            Some(FUSED_INT8_FILE) => Graph::FusedInt8,
            Some(FP16_FILE) => Graph::Fp16,
            _ => Graph::Fp32,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Graph::Fp32 => "",
            Graph::Int8 => "-int8",
            Graph::Fused => "-fused",
            Graph::FusedInt8 => "-fused-int8",
            Graph::Fp16 => "-fp16",
        }
    }
}

/// One engine: runtime × graph × device. `Display` / `FromStr` use the names above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EngineSpec {
    pub runtime: Runtime,
    pub graph: Graph,
    pub device: Device,
}

impl EngineSpec {
    pub const ORT: EngineSpec = EngineSpec::ort(Graph::Fp32, Device::Cpu);
    pub const ORT_INT8: EngineSpec = EngineSpec::ort(Graph::Int8, Device::Cpu);
    pub const ORT_FUSED: EngineSpec = EngineSpec::ort(Graph::Fused, Device::Cpu);
    pub const ORT_FUSED_INT8: EngineSpec = EngineSpec::ort(Graph::FusedInt8, Device::Cpu);
    pub const ORT_CUDA: EngineSpec = EngineSpec::ort(Graph::Fp32, Device::Cuda);
    pub const ORT_CUDA_FP16: EngineSpec = EngineSpec::ort(Graph::Fp16, Device::Cuda);
    pub const TRACT: EngineSpec = EngineSpec { runtime: Runtime::Tract, graph: Graph::Fp32, device: Device::Cpu };

    /// Every named engine: its name and help line (the command-line values, in this order).
    pub const ALL: [(EngineSpec, &'static str, &'static str); 7] = [
        (EngineSpec::ORT, "ort", "ONNX Runtime, model.onnx (fp32) on the CPU"),
        (EngineSpec::ORT_INT8, "ort-int8", "ONNX Runtime, model.int8.onnx on the CPU"),
        (
            EngineSpec::ORT_FUSED,
            "ort-fused",
            "ONNX Runtime, model.fused.onnx (its fused ops; `nerkit export --fused`) on the CPU",
        ),
        (EngineSpec::ORT_FUSED_INT8, "ort-fused-int8", "ONNX Runtime, model.fused.int8.onnx on the CPU"),
        (EngineSpec::ORT_CUDA, "ort-cuda", "ONNX Runtime, model.onnx on CUDA (an error when CUDA cannot be used)"),
        (
            EngineSpec::ORT_CUDA_FP16,
            "ort-cuda-fp16",
            "ONNX Runtime, model.fp16.onnx on CUDA (converted from model.onnx when missing)",
        ),
        (EngineSpec::TRACT, "tract", "tract (pure Rust), model.onnx on the CPU"),
    ];

    pub const fn ort(graph: Graph, device: Device) -> EngineSpec {
        EngineSpec { runtime: Runtime::Ort, graph, device }
    }

    /// Runs on ONNX Runtime (as opposed to tract).
    pub fn is_ort(self) -> bool {
        self.runtime == Runtime::Ort
    }

    /// The graph files this engine takes, best first; the last is always `model.onnx`.
    pub fn files(self) -> &'static [&'static str] {
        match (self.runtime, self.graph) {
            (Runtime::Tract, _) | (_, Graph::Fp32) => &[FP32_FILE],
            (_, Graph::Int8) => &[INT8_FILE, FP32_FILE],
            (_, Graph::Fused) => &[FUSED_FILE, FP32_FILE],
            (_, Graph::FusedInt8) => &[FUSED_INT8_FILE, INT8_FILE, FP32_FILE],
            (_, Graph::Fp16) => &[FP16_FILE, FP32_FILE],
        }
    }

    /// The same runtime and device on another graph.
    pub fn with_graph(self, graph: Graph) -> EngineSpec {
        EngineSpec { graph, ..self }
    }
}

impl fmt::Display for EngineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.runtime {
            Runtime::Tract => f.write_str("tract"),
            Runtime::Ort => {
                let device = match self.device {
                    Device::Cpu => "",
                    Device::Cuda => "-cuda",
                    Device::Auto => "-auto",
                };
                write!(f, "ort{device}{}", self.graph.suffix())
            }
        }
    }
}

impl FromStr for EngineSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        EngineSpec::ALL.iter().find(|(_, name, _)| *name == s).map(|(spec, ..)| *spec).ok_or_else(|| {
            let names: Vec<&str> = EngineSpec::ALL.iter().map(|(_, name, _)| *name).collect();
            format!("unknown engine `{s}` (one of: {})", names.join(", "))
        })
    }
}

impl clap::ValueEnum for EngineSpec {
    fn value_variants<'a>() -> &'a [Self] {
        const SPECS: [EngineSpec; 7] = {
            let mut out = [EngineSpec::ORT; 7];
            let mut i = 0;
            while i < 7 {
                out[i] = EngineSpec::ALL[i].0;
                i += 1;
            }
            out
        };
        &SPECS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let (_, name, help) = EngineSpec::ALL.iter().find(|(spec, ..)| spec == self)?;
        Some(clap::builder::PossibleValue::new(*name).help(*help))
    }
}

/// The engine a user asks for: `auto`, or one [`EngineSpec`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EngineChoice {
    /// CUDA when it loads, else ONNX Runtime int8 on the CPU, else fp32, else tract.
    #[default]
    Auto,
    Exact(EngineSpec),
}

impl fmt::Display for EngineChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineChoice::Auto => f.write_str("auto"),
            EngineChoice::Exact(spec) => spec.fmt(f),
        }
    }
}

impl FromStr for EngineChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(EngineChoice::Auto);
        }
        s.parse().map(EngineChoice::Exact).map_err(|e: String| e.replace("(one of: ", "(one of: auto, "))
    }
}

impl clap::ValueEnum for EngineChoice {
    fn value_variants<'a>() -> &'a [Self] {
        const CHOICES: [EngineChoice; 8] = {
            let mut out = [EngineChoice::Auto; 8];
            let mut i = 0;
            while i < 7 {
                out[i + 1] = EngineChoice::Exact(EngineSpec::ALL[i].0);
                i += 1;
            }
            out
        };
        &CHOICES
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self {
            EngineChoice::Auto => Some(
                clap::builder::PossibleValue::new("auto")
                    .help("CUDA when it loads, else ONNX Runtime int8 on the CPU, else fp32, else tract"),
            ),
            EngineChoice::Exact(spec) => spec.to_possible_value(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for EngineChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for (spec, name, _) in EngineSpec::ALL {
            assert_eq!(spec.to_string(), name);
            assert_eq!(spec.to_string().parse::<EngineSpec>(), Ok(spec));
            assert_eq!(spec.to_string().parse::<EngineChoice>(), Ok(EngineChoice::Exact(spec)));
        }
        let names: Vec<String> = EngineSpec::ALL.iter().map(|(s, ..)| s.to_string()).collect();
        assert_eq!(names, ["ort", "ort-int8", "ort-fused", "ort-fused-int8", "ort-cuda", "ort-cuda-fp16", "tract"]);
        assert_eq!("auto".parse::<EngineChoice>(), Ok(EngineChoice::Auto));
        let err = "ort-cpu".parse::<EngineChoice>().unwrap_err();
        assert!(err.contains("unknown engine `ort-cpu` (one of: auto, ort, ort-int8"), "{err}");
    }

    #[test]
    fn graphs_fall_back_to_fp32_and_files_name_their_graph() {
        assert_eq!(EngineSpec::ORT_FUSED_INT8.files(), [FUSED_INT8_FILE, INT8_FILE, FP32_FILE]);
        assert_eq!(EngineSpec::TRACT.files(), [FP32_FILE]);
        assert_eq!(
            EngineSpec::ort(Graph::Int8, Device::Cuda).to_string(),
            "ort-cuda-int8",
            "unnamed combinations print too"
        );
        for (spec, ..) in EngineSpec::ALL {
            assert_eq!(Graph::of_file(std::path::Path::new(spec.files()[0])), spec.graph);
        }
    }

    #[test]
    fn the_command_line_lists_auto_first_with_help() {
        use clap::ValueEnum;
        let values: Vec<String> =
            EngineChoice::value_variants().iter().map(|c| c.to_possible_value().unwrap().get_name().into()).collect();
        assert_eq!(values[0], "auto");
        assert_eq!(values.len(), 8);
        assert_eq!(
            <EngineChoice as ValueEnum>::from_str("ort-int8", false),
            Ok(EngineChoice::Exact(EngineSpec::ORT_INT8))
        );
    }
}
