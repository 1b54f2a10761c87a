//! Reverse-mode differentiation of ONNX graphs, emitting the backward pass as more ONNX nodes.
//!
//! [`backward`] appends to a [`GraphBuilder`] the nodes that compute `d loss / d v` for each requested value
//! `v` (graph inputs or initializers), and returns the names of those gradient values.
//!
//! How it works (candle's `backprop.rs`, transposed to ONNX):
//! 1. Nodes are sorted topologically (Kahn), then pruned twice: a node takes part only if one of its float
//!    inputs depends on a requested value *and* one of its outputs leads to the loss.
//! 2. Nodes are visited in reverse order. A value's gradient is the sum (`Sum` node named `<value>.grad`) of
//!    the contributions of all its consumers, so fanned-out values are handled once, at their producer.
//! 3. Each op type has one rule (a function in `elementwise.rs`, `matmul.rs`, ...), looked up in
//!    [`rule_for`]. An op on the active path without a rule is an error ([`AutodiffError::NoRule`]), never a
//!    silent zero. Integer/bool values (indices, masks, shapes) never carry gradients, so inputs such as Gather
//!    indices, Where conditions, Reshape shapes or integer Casts are non-differentiable by construction.
//!    The same file holds the op's shape rule (`shape_rule`), which [`shapes::Facts`] uses.
//! 4. Gradient nodes are named `<node>.grad.<input value>` (helpers get a further `.<what>` suffix).
//!
//! Broadcasting: ONNX broadcasts implicitly, so binary rules reduce their gradient back to the operand's
//! shape ([`GradCtx::unbroadcast`]). The broadcast axes are decided statically from shape inference
//! ([`shapes::Facts`], symbolic dims allowed): leading axes the operand lacks, and axes where the operand's dim
//! is a known 1. A symbolic dim (`batch`) is assumed never to be broadcast; an operand whose dim cannot be
//! derived while another operand's can is an [`AutodiffError::AmbiguousBroadcast`]. Everything else that needs
//! a shape at run time (Reshape back, Expand for reductions, zeros for scatters) uses `Shape` of the forward
//! value, so the backward graph stays batch/sequence generic.
mod elementwise;
mod gather;
mod matmul;
mod norm;
mod reduce;
mod select;
mod shape;
pub mod shapes;
mod softmax;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::builder::{attr, pb, GraphBuilder};
use pb::tensor_proto::DataType;
use shapes::{is_float, Facts, SymDim};

/// Errors of the gradient builder. Each names the node and op it concerns.
#[derive(Debug, thiserror::Error)]
pub enum AutodiffError {
    #[error("no gradient rule for op `{op_type}` (node `{node}`), which lies between a parameter and the loss")]
    NoRule { op_type: String, node: String },
    #[error("node `{node}` ({op_type}): gradient not supported: {what}")]
    Unsupported { node: String, op_type: String, what: String },
    #[error("node `{node}` ({op_type}): shape inference could not derive the rank/dims of `{value}`")]
    UnknownShape { node: String, op_type: String, value: String },
    #[error("node `{node}` ({op_type}): cannot tell whether `{value}` is broadcast on axis {axis} ({dims})")]
    AmbiguousBroadcast { node: String, op_type: String, value: String, axis: usize, dims: String },
    #[error("loss `{loss}` is not a value of the graph")]
    UnknownLoss { loss: String },
    #[error("loss `{loss}` must be a float scalar, inferred dims {dims}")]
    LossNotScalar { loss: String, dims: String },
    #[error("cannot differentiate with respect to `{value}`: not a float graph input or initializer")]
    BadParameter { value: String },
    #[error("graph has a cycle or a node input that nothing produces: node `{node}` input `{input}`")]
    NotADag { node: String, input: String },
}

pub type Result<T> = std::result::Result<T, AutodiffError>;

/// A gradient rule: given the output gradients (None = no gradient reaches that output) and which inputs
/// need a gradient, returns one optional gradient per node input.
pub type Rule = fn(&mut GradCtx, &[Option<String>], &[bool]) -> Result<Vec<Option<String>>>;

/// Looks up the backward rule of an ONNX op type.
pub fn rule_for(op_type: &str) -> Option<Rule> {
    elementwise::rule(op_type)
        .or_else(|| matmul::rule(op_type))
        .or_else(|| shape::rule(op_type))
        .or_else(|| reduce::rule(op_type))
        .or_else(|| softmax::rule(op_type))
        .or_else(|| norm::rule(op_type))
        .or_else(|| gather::rule(op_type))
        .or_else(|| select::rule(op_type))
}

/// What a rule sees: the graph being extended, the inferred facts and the forward node.
pub struct GradCtx<'a> {
    pub g: &'a mut GraphBuilder,
    pub facts: &'a Facts,
    pub node: &'a pb::NodeProto,
    /// Tables whose gradient a rule may hand back row-sparse (see [`RowGrad`]).
    pub row_sparse: &'a HashSet<String>,
    /// Row-sparse gradient contributions, by table.
    pub row_grads: &'a mut HashMap<String, Vec<RowGrad>>,
}

/// The gradient of a table (rank 2) that is zero outside some rows, as an embedding lookup leaves it:
/// row `rows[i]` of the gradient is `values[i]`, every other row is zero. `rows` is int64 [U] without
/// repeats, `values` is [U, width]. A consumer can then touch U rows instead of the whole table.
#[derive(Clone, Debug, PartialEq)]
pub struct RowGrad {
    pub rows: String,
    pub values: String,
}

/// Gradients from [`backward_with_rows`]: dense ones, and row-sparse ones for the tables asked for.
#[derive(Clone, Debug, Default)]
pub struct Gradients {
    pub dense: BTreeMap<String, String>,
    pub rows: BTreeMap<String, RowGrad>,
}

impl GradCtx<'_> {
    fn node_name(&self) -> &str {
        if self.node.name.is_empty() {
            &self.node.output[0]
        } else {
            &self.node.name
        }
    }

    /// Name of the gradient of input `i`: `<node>.grad.<input>`.
    pub fn grad_name(&self, i: usize) -> String {
        format!("{}.grad.{}", self.node_name(), self.node.input[i])
    }

    /// Name of a helper value: `<node>.grad.<what>`.
    pub fn helper_name(&self, what: &str) -> String {
        format!("{}.grad.{}", self.node_name(), what)
    }

    /// Adds a single-output node with an exact (uniquified) name.
    pub fn op(&mut self, op_type: &str, name: &str, inputs: &[&str], attrs: Vec<pb::AttributeProto>) -> String {
        self.g.op(op_type, name, inputs, attrs)
    }

    /// Adds a helper node named `<node>.grad.<what>`.
    pub fn tmp(&mut self, op_type: &str, what: &str, inputs: &[&str], attrs: Vec<pb::AttributeProto>) -> String {
        let name = self.helper_name(what);
        self.g.op(op_type, &name, inputs, attrs)
    }

    pub fn input(&self, i: usize) -> &str {
        self.node.input.get(i).map(|s| s.as_str()).unwrap_or("")
    }

    pub fn output(&self, i: usize) -> &str {
        &self.node.output[i]
    }

    pub fn elem(&self, v: &str) -> i32 {
        self.facts.elem(v)
    }

    /// A scalar constant with the element type of value `like`.
    pub fn scalar(&mut self, v: f64, like: &str) -> String {
        let name = self.helper_name("const");
        constant(self.g, &name, self.facts.elem(like), &[], &[v])
    }

    /// An int64 constant (axes, shapes).
    pub fn ints(&mut self, what: &str, v: &[i64]) -> String {
        let name = self.g.unique(&self.helper_name(what));
        self.g.init_i64(&name, &[v.len() as i64], v)
    }

    pub fn dims(&self, v: &str) -> Result<Vec<SymDim>> {
        self.facts.dims(v).cloned().ok_or_else(|| self.err_shape(v))
    }

    pub fn rank(&self, v: &str) -> Result<usize> {
        Ok(self.dims(v)?.len())
    }

    pub fn attr_i(&self, name: &str) -> Option<i64> {
        shapes::attr_i(self.node, name)
    }

    pub fn attr_f(&self, name: &str) -> Option<f32> {
        shapes::attr_f(self.node, name)
    }

    pub fn err_shape(&self, v: &str) -> AutodiffError {
        AutodiffError::UnknownShape {
            node: self.node_name().to_string(),
            op_type: self.node.op_type.clone(),
            value: v.to_string(),
        }
    }

    pub fn unsupported(&self, what: impl Into<String>) -> AutodiffError {
        AutodiffError::Unsupported {
            node: self.node_name().to_string(),
            op_type: self.node.op_type.clone(),
            what: what.into(),
        }
    }

    /// `ReduceSum(x, axes, keepdims)` in the opset-13+ form (axes as an input).
    pub fn reduce_sum(&mut self, x: &str, axes: &[i64], keepdims: bool, name: &str) -> String {
        let axes = self.ints("axes", axes);
        self.g.op("ReduceSum", name, &[x, &axes], vec![attr::int("keepdims", keepdims as i64)])
    }

    /// Sums `grad` (whose dims are `grad_dims`) down to the shape of input `i`, named `name`.
    /// `operands` are the inputs that were broadcast together (used to resolve dims inference could not derive).
    pub fn unbroadcast(
        &mut self,
        grad: String,
        grad_dims: &[SymDim],
        i: usize,
        operands: &[usize],
        name: &str,
    ) -> Result<String> {
        let (axes, lead) = self.broadcast_axes(grad_dims, i, operands)?;
        if axes.is_empty() {
            return Ok(grad);
        }
        if lead == 0 {
            return Ok(self.reduce_sum(&grad, &axes, true, name));
        }
        let summed = self.reduce_sum(&grad, &axes, true, &format!("{name}.sum"));
        let lead_axes = self.ints("lead_axes", &(0..lead as i64).collect::<Vec<_>>());
        Ok(self.op("Squeeze", name, &[&summed, &lead_axes], vec![]))
    }

    /// The axes input `i` was broadcast on (leading axes it lacks, then axes where its dim is a known 1) and
    /// the number of leading axes.
    pub fn broadcast_axes(&self, grad_dims: &[SymDim], i: usize, operands: &[usize]) -> Result<(Vec<i64>, usize)> {
        let target = self.input(i).to_string();
        let td = self.dims(&target)?;
        if td.len() > grad_dims.len() {
            return Err(self.unsupported(format!("operand `{target}` has higher rank than the result")));
        }
        let lead = grad_dims.len() - td.len();
        let mut axes: Vec<i64> = (0..lead as i64).collect();
        for (k, t) in td.iter().enumerate() {
            let o = &grad_dims[lead + k];
            match t {
                SymDim::Known(1) if *o != SymDim::Known(1) => axes.push((lead + k) as i64),
                SymDim::Unknown => {
                    // Fine only if every other operand is 1 (or absent) on this axis.
                    for &j in operands.iter().filter(|j| **j != i) {
                        let od = self.dims(self.input(j))?;
                        let pos = (lead + k) as isize - (grad_dims.len() as isize - od.len() as isize);
                        if pos >= 0 && od[pos as usize] != SymDim::Known(1) {
                            return Err(AutodiffError::AmbiguousBroadcast {
                                node: self.node_name().to_string(),
                                op_type: self.node.op_type.clone(),
                                value: target,
                                axis: k,
                                dims: format!("its dims {td:?}, result dims {grad_dims:?}"),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok((axes, lead))
    }

    /// What to call the full-size gradient of elementwise input `i` ([`GradCtx::tmp`] suffix): the input's
    /// name when no reduction follows (so the result is `<node>.grad.<input>`), else `<input>.full`.
    pub fn elementwise_what(&self, i: usize) -> Result<String> {
        let od = self.dims(self.output(0))?;
        let operands: Vec<usize> = (0..self.node.input.len()).collect();
        let (axes, _) = self.broadcast_axes(&od, i, &operands)?;
        let x = self.input(i);
        Ok(if axes.is_empty() { x.to_string() } else { format!("{x}.full") })
    }

    /// Unbroadcast for an elementwise node whose output 0 has the broadcast shape.
    pub fn unbroadcast_elementwise(&mut self, grad: String, i: usize) -> Result<String> {
        let out = self.output(0).to_string();
        let od = self.dims(&out)?;
        let operands: Vec<usize> = (0..self.node.input.len()).collect();
        let name = self.grad_name(i);
        self.unbroadcast(grad, &od, i, &operands, &name)
    }
}

/// Adds a float constant initializer of element type `elem` (float or double) and returns its name.
pub fn constant(g: &mut GraphBuilder, name: &str, elem: i32, dims: &[i64], data: &[f64]) -> String {
    let name = g.unique(name);
    let raw_data: Vec<u8> = if elem == DataType::Double as i32 {
        data.iter().flat_map(|v| v.to_le_bytes()).collect()
    } else {
        data.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect()
    };
    let elem = if elem == DataType::Double as i32 { elem } else { DataType::Float as i32 };
    g.initializer(pb::TensorProto { name, dims: dims.to_vec(), data_type: elem, raw_data, ..Default::default() })
}

/// Topological order of `nodes` (indices). Inputs that no node produces must be in `sources`.
fn topo_order(nodes: &[pb::NodeProto], sources: &HashSet<String>) -> Result<Vec<usize>> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for o in &n.output {
            producer.insert(o, i);
        }
    }
    let mut indeg = vec![0usize; nodes.len()];
    let mut users: Vec<Vec<usize>> = vec![vec![]; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for inp in n.input.iter().filter(|s| !s.is_empty()) {
            match producer.get(inp.as_str()) {
                Some(&p) => {
                    indeg[i] += 1;
                    users[p].push(i);
                }
                None if sources.contains(inp) => {}
                None => return Err(AutodiffError::NotADag { node: n.name.clone(), input: inp.clone() }),
            }
        }
    }
    let mut queue: VecDeque<usize> = (0..nodes.len()).filter(|i| indeg[*i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = queue.pop_front() {
        order.push(i);
        for &u in &users[i] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                queue.push_back(u);
            }
        }
    }
    if order.len() != nodes.len() {
        let stuck = (0..nodes.len()).find(|i| indeg[*i] > 0).unwrap();
        return Err(AutodiffError::NotADag { node: nodes[stuck].name.clone(), input: "(cycle)".into() });
    }
    Ok(order)
}

/// Appends the backward pass of `loss` (a float scalar) with respect to each of `wrt` to `g`.
///
/// Returns `wrt value → gradient value`, only for values the loss depends on; each gradient value is named
/// `<value>.grad`. Gradients have the same shape and type as their value.
pub fn backward(g: &mut GraphBuilder, loss: &str, wrt: &[String]) -> Result<BTreeMap<String, String>> {
    Ok(backward_with_rows(g, loss, wrt, &HashSet::new())?.dense)
}

/// [`backward`], except that each parameter in `row_sparse` whose only use is one embedding lookup
/// (`Gather` on axis 0 of a rank-2 table) gets a row-sparse gradient ([`RowGrad`], in
/// [`Gradients::rows`]) instead of a dense one. A listed parameter used otherwise gets a dense gradient as usual.
pub fn backward_with_rows(
    g: &mut GraphBuilder,
    loss: &str,
    wrt: &[String],
    row_sparse: &HashSet<String>,
) -> Result<Gradients> {
    let facts = Facts::infer_parts(&g.initializers, &g.inputs, &g.nodes);
    let mut sources: HashSet<String> = g.initializers.iter().map(|t| t.name.clone()).collect();
    sources.extend(g.inputs.iter().map(|v| v.name.clone()));
    for w in wrt {
        if !sources.contains(w) || !is_float(facts.elem(w)) {
            return Err(AutodiffError::BadParameter { value: w.clone() });
        }
    }
    let nodes = g.nodes.clone();
    let order = topo_order(&nodes, &sources)?;
    if !facts.values.contains_key(loss) {
        return Err(AutodiffError::UnknownLoss { loss: loss.to_string() });
    }
    // A loss whose dims could not be inferred is accepted (it is then differentiated as the sum of its
    // elements); a known non-scalar shape is an error.
    match facts.dims(loss) {
        Some(d) if !d.is_empty() => {
            return Err(AutodiffError::LossNotScalar { loss: loss.to_string(), dims: format!("{d:?}") })
        }
        _ if !is_float(facts.elem(loss)) => {
            return Err(AutodiffError::LossNotScalar { loss: loss.to_string(), dims: "(not a float)".into() })
        }
        _ => {}
    }

    // Values that depend on a parameter (float values only: integers carry no gradient).
    let mut active: HashSet<String> = wrt.iter().cloned().collect();
    for &i in &order {
        let n = &nodes[i];
        if n.input.iter().any(|v| active.contains(v)) {
            for o in &n.output {
                if is_float(facts.elem(o)) {
                    active.insert(o.clone());
                }
            }
        }
    }
    // Values that lead to the loss.
    let mut needed: HashSet<String> = HashSet::from([loss.to_string()]);
    for &i in order.iter().rev() {
        let n = &nodes[i];
        if n.output.iter().any(|o| needed.contains(o) && active.contains(o)) {
            needed.extend(n.input.iter().filter(|v| active.contains(*v)).cloned());
        }
    }

    let mut contrib: HashMap<String, Vec<String>> = HashMap::new();
    let mut row_grads: HashMap<String, Vec<RowGrad>> = HashMap::new();
    let one = constant(g, &format!("{loss}.grad.seed"), facts.elem(loss), &[], &[1.0]);
    contrib.insert(loss.to_string(), vec![one]);
    for &i in order.iter().rev() {
        let n = &nodes[i];
        let takes_part = n.output.iter().any(|o| needed.contains(o) && active.contains(o));
        if !takes_part {
            continue;
        }
        let dy: Vec<Option<String>> = n.output.iter().map(|o| accumulate(g, &mut contrib, o, false)).collect();
        let needs: Vec<bool> =
            n.input.iter().map(|v| !v.is_empty() && active.contains(v) && needed.contains(v)).collect();
        let rule = rule_for(&n.op_type)
            .ok_or_else(|| AutodiffError::NoRule { op_type: n.op_type.clone(), node: n.name.clone() })?;
        let mut ctx = GradCtx { g, facts: &facts, node: n, row_sparse, row_grads: &mut row_grads };
        let dx = rule(&mut ctx, &dy, &needs)?;
        for ((v, need), d) in n.input.iter().zip(&needs).zip(dx) {
            if let (true, Some(d)) = (need, d) {
                contrib.entry(v.clone()).or_default().push(d);
            }
        }
    }
    let mut out = Gradients::default();
    for w in wrt {
        let mut parts = row_grads.remove(w).unwrap_or_default();
        if parts.len() == 1 && !contrib.contains_key(w) {
            out.rows.insert(w.clone(), parts.remove(0));
            continue;
        }
        // Used more than once: scatter the row-sparse parts back into dense contributions.
        for (k, part) in parts.iter().enumerate() {
            let dense = densify(g, w, part, k);
            contrib.entry(w.clone()).or_default().push(dense);
        }
        if let Some(gv) = accumulate(g, &mut contrib, w, true) {
            out.dense.insert(w.clone(), gv);
        }
    }
    Ok(out)
}

/// The dense form of a row-sparse gradient of `table`: its rows written into zeros (rows are unique, so a
/// plain `ScatterND` is exact).
fn densify(g: &mut GraphBuilder, table: &str, part: &RowGrad, k: usize) -> String {
    let shape = g.op("Shape", &format!("{table}.grad.rows{k}.table_shape"), &[table], vec![]);
    let zero = crate::builder::tensor::f32("", &[1], &[0.0]);
    let zeros =
        g.op("ConstantOfShape", &format!("{table}.grad.rows{k}.zeros"), &[&shape], vec![attr::tensor("value", zero)]);
    let column = g.const_i64(&format!("{table}.grad.rows{k}.column"), &[2], &[-1, 1]);
    let rows = g.op("Reshape", &format!("{table}.grad.rows{k}.index"), &[&part.rows, &column], vec![]);
    g.op("ScatterND", &format!("{table}.grad.rows{k}.dense"), &[&zeros, &rows, &part.values], vec![])
}

/// Total gradient of `v`: its single contribution, or a `Sum` node `<v>.grad` of several. With `named`, a
/// single contribution also gets an `Identity` named `<v>.grad`.
fn accumulate(
    g: &mut GraphBuilder,
    contrib: &mut HashMap<String, Vec<String>>,
    v: &str,
    named: bool,
) -> Option<String> {
    let parts = contrib.remove(v)?;
    let name = format!("{v}.grad");
    Some(match parts.len() {
        1 if !named => parts.into_iter().next().unwrap(),
        1 => g.op("Identity", &name, &[&parts[0]], vec![]),
        _ => {
            let refs: Vec<&str> = parts.iter().map(|s| s.as_str()).collect();
            g.op("Sum", &name, &refs, vec![])
        }
    })
}
