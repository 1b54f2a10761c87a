//! [`F32Op`]: one `Operator` implementation for the kernels whose inputs and outputs are all f32 and that read
//! no attributes — each is then a constant naming its op, its arity, its compute function and its shape
//! inference.
use ort::operator::{ComputeContext, KernelContext, Operator, OperatorInput, OperatorOutput, ShapeInferenceContext};
use ort::value::TensorElementType;

/// `n` required f32 inputs (also for the kernels that implement `Operator` themselves).
pub fn f32_inputs(n: usize) -> impl Iterator<Item = OperatorInput> {
    (0..n).map(|_| OperatorInput::required(TensorElementType::Float32))
}

/// `n` required f32 outputs.
pub fn f32_outputs(n: usize) -> impl Iterator<Item = OperatorOutput> {
    (0..n).map(|_| OperatorOutput::required(TensorElementType::Float32))
}

/// The compute function of an [`F32Op`] (a function pointer is a kernel: it keeps no state).
pub type Compute = fn(&ComputeContext) -> ort::Result<()>;

pub struct F32Op {
    /// The op type in the `ai.nerkit` domain (`nerkit_export::train_graph::cpu_ops`).
    pub name: &'static str,
    pub inputs: usize,
    pub outputs: usize,
    pub compute: Compute,
    /// Output types and shapes from the inputs', for ONNX Runtime's optimizer.
    pub infer: fn(&mut ShapeInferenceContext) -> ort::Result<()>,
}

impl Operator for F32Op {
    type Kernel<'attr> = Compute;

    fn name(&self) -> &str {
        self.name
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        f32_inputs(self.inputs)
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        f32_outputs(self.outputs)
    }

    fn create_kernel<'attr>(&self, _: &KernelContext<'attr>) -> ort::Result<Self::Kernel<'attr>> {
        Ok(self.compute)
    }

    fn infer_shape(&self, ctx: &mut ShapeInferenceContext) -> ort::Result<()> {
        (self.infer)(ctx)
    }
}
