//! Gather (axis 0, the embedding lookup) and GatherElements.
//!
//! The gradient scatters `dy` back into zeros shaped like the data with `reduction = "add"`, so repeated
//! indices (the same token twice in a batch) accumulate. Never a one-hot MatMul: the cost is the size of `dy`,
//! not vocabulary × positions. The indices are integers and carry no gradient.
//!
//! The scatter is `ScatterElements`, not `ScatterND`: ONNX Runtime's multi-threaded CPU `ScatterND` with
//! `reduction = "add"` loses updates when indices repeat (measured on 1.31.1 with 2 threads: a token-type
//! embedding gradient, where every index is 0, came out up to 60 off; `tests/autodiff_graph.rs` keeps the
//! case), while its `ScatterElements` accumulates exactly.
//!
//! For a table listed in [`GradCtx::row_sparse`] the rule returns no dense gradient but a [`RowGrad`]: the
//! batch's distinct ids (`Unique`) and their summed rows, scattered into a [distinct ids × width] buffer
//! instead of the whole table.
//!
//! Shapes: Gather puts the indices' dims in place of the data's `axis` (and picks tracked integer values,
//! for shape arithmetic); GatherElements is shaped like its indices; the scatters like their data.
use super::shapes::{self, ShapeCtx, ShapeRule, SymDim, ValueFacts};
use super::{GradCtx, Result, RowGrad, Rule};
use crate::builder::{attr, pb};
use pb::tensor_proto::DataType;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    Some(match op_type {
        "Gather" => gather,
        "GatherElements" => gather_elements,
        _ => return None,
    })
}

pub(super) fn shape_rule(op_type: &str) -> Option<ShapeRule> {
    Some(match op_type {
        "Gather" => gather_shape,
        "GatherElements" => gather_elements_shape,
        "ScatterND" | "ScatterElements" => shapes::like_input,
        _ => return None,
    })
}

type Grads = Result<Vec<Option<String>>>;

/// Zeros with the shape and element type of forward value `like`.
fn zeros_like(ctx: &mut GradCtx, like: &str) -> String {
    let shape = ctx.tmp("Shape", &format!("{like}.shape"), &[like], vec![]);
    let elem = ctx.elem(like);
    let value = if elem == DataType::Double as i32 {
        pb::TensorProto { dims: vec![1], data_type: elem, raw_data: 0f64.to_le_bytes().to_vec(), ..Default::default() }
    } else {
        crate::builder::tensor::f32("", &[1], &[0.0])
    };
    ctx.tmp("ConstantOfShape", "zeros", &[&shape], vec![attr::tensor("value", value)])
}

/// Indices as int64 (the scatter ops require it).
fn indices_i64(ctx: &mut GradCtx, idx: &str) -> String {
    if ctx.elem(idx) == DataType::Int64 as i32 {
        idx.to_string()
    } else {
        ctx.tmp("Cast", "indices_i64", &[idx], vec![attr::int("to", DataType::Int64 as i64)])
    }
}

// y[i...] = data[idx[i...], ...]: d data = scatter_add(zeros, idx, dy), rows of dy flattened to [N, width]
// and each element given its row's index.
fn gather(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let data = ctx.input(0).to_string();
    let rank = ctx.rank(&data)?;
    let axis = ctx.attr_i("axis").unwrap_or(0);
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    if axis != 0 {
        return Err(ctx.unsupported(format!("Gather on axis {axis} (only axis 0 is differentiated)")));
    }
    if rank > 2 {
        return Err(ctx.unsupported(format!("Gather from rank-{rank} data (vectors and tables are differentiated)")));
    }
    let d = dy[0].clone().expect("output gradient");
    let mut out = vec![None; needs.len()];
    if rank == 2 && ctx.row_sparse.contains(&data) && ctx.elem(&data) == DataType::Float as i32 {
        let part = gather_rows(ctx, &d)?;
        ctx.row_grads.entry(data).or_default().push(part);
        return Ok(out);
    }
    let zeros = zeros_like(ctx, &data);
    let idx = indices_i64(ctx, ctx.input(1).to_string().as_str());
    let (idx, d) = if rank == 1 {
        let flat = ctx.ints("flat", &[-1]);
        (
            ctx.tmp("Reshape", "indices_flat", &[&idx, &flat], vec![]),
            ctx.tmp("Reshape", "dy_flat", &[&d, &flat], vec![]),
        )
    } else {
        let idx_rank = ctx.rank(ctx.input(1))? as i64;
        let rows = ctx.tmp("Flatten", "dy_rows", &[&d], vec![attr::int("axis", idx_rank)]);
        let column = ctx.ints("column", &[-1, 1]);
        let idx_col = ctx.tmp("Reshape", "indices_column", &[&idx, &column], vec![]);
        let rows_shape = ctx.tmp("Shape", "dy_rows.shape", &[&rows], vec![]);
        (ctx.tmp("Expand", "indices_rows", &[&idx_col, &rows_shape], vec![]), rows)
    };
    let name = ctx.grad_name(0);
    out[0] = Some(ctx.op(
        "ScatterElements",
        &name,
        &[&zeros, &idx, &d],
        vec![attr::int("axis", 0), attr::string("reduction", "add")],
    ));
    Ok(out)
}

// Row-sparse form of the table gradient: ids → (distinct ids u, position of each id in u); dy's rows summed
// per distinct id with the same exact scatter-add as the dense rule, into [len(u), width] zeros.
fn gather_rows(ctx: &mut GradCtx, d: &str) -> Result<RowGrad> {
    let idx = indices_i64(ctx, ctx.input(1).to_string().as_str());
    let idx_rank = ctx.rank(ctx.input(1))? as i64;
    let flat = ctx.ints("flat", &[-1]);
    let ids = ctx.tmp("Reshape", "indices_flat", &[&idx, &flat], vec![]);
    let what = ctx.helper_name("unique");
    let u = ctx.g.node("Unique", &what, &[&ids], 4, vec![attr::int("sorted", 1)]);
    let (rows, inverse) = (u[0].clone(), u[2].clone());
    let dy_rows = ctx.tmp("Flatten", "dy_rows", &[d], vec![attr::int("axis", idx_rank)]);
    let column = ctx.ints("column", &[-1, 1]);
    let inverse_col = ctx.tmp("Reshape", "inverse_column", &[&inverse, &column], vec![]);
    let dy_shape = ctx.tmp("Shape", "dy_rows.shape", &[&dy_rows], vec![]);
    let slots = ctx.tmp("Expand", "inverse_rows", &[&inverse_col, &dy_shape], vec![]);
    // zeros [len(u), width]
    let n_rows = ctx.tmp("Shape", "rows.count", &[&rows], vec![]);
    let width_only = ctx.ints("width_axis", &[1]);
    let width = ctx.tmp("Gather", "width", &[&dy_shape, &width_only], vec![attr::int("axis", 0)]);
    let shape = ctx.tmp("Concat", "rows.shape", &[&n_rows, &width], vec![attr::int("axis", 0)]);
    let zero = crate::builder::tensor::f32("", &[1], &[0.0]);
    let zeros = ctx.tmp("ConstantOfShape", "rows.zeros", &[&shape], vec![attr::tensor("value", zero)]);
    let name = ctx.helper_name("rows");
    let values = ctx.op(
        "ScatterElements",
        &name,
        &[&zeros, &slots, &dy_rows],
        vec![attr::int("axis", 0), attr::string("reduction", "add")],
    );
    Ok(RowGrad { rows, values })
}

// y = gather_elements(data, idx, axis): d data = scatter_elements_add(zeros, idx, dy, axis)
fn gather_elements(ctx: &mut GradCtx, dy: &[Option<String>], needs: &[bool]) -> Grads {
    let data = ctx.input(0).to_string();
    let axis = ctx.attr_i("axis").unwrap_or(0);
    let d = dy[0].clone().expect("output gradient");
    let zeros = zeros_like(ctx, &data);
    let idx = indices_i64(ctx, ctx.input(1).to_string().as_str());
    let name = ctx.grad_name(0);
    let mut out = vec![None; needs.len()];
    out[0] = Some(ctx.op(
        "ScatterElements",
        &name,
        &[&zeros, &idx, &d],
        vec![attr::int("axis", axis), attr::string("reduction", "add")],
    ));
    Ok(out)
}

// Shape rules.

/// `data[..axis] ++ indices ++ data[axis + 1..]`; tracked ints picked by constant indices of rank ≤ 1.
fn gather_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    let (x, idx) = (c.input(0), c.input(1));
    let dims = match (&x.dims, &idx.dims) {
        (Some(d), Some(i)) => {
            let axis = shapes::norm_axis(shapes::attr_i(c.node, "axis").unwrap_or(0), d.len());
            let mut out = d[..axis].to_vec();
            out.extend(i.iter().cloned());
            out.extend(d[axis + 1..].iter().cloned());
            Some(out)
        }
        _ => None,
    };
    let ints = match (&x.ints, c.facts.known_ints(&c.node.input[1]), &idx.dims) {
        (Some(vals), Some(ix), Some(idims)) if idims.len() <= 1 => Some(
            ix.iter()
                .map(|i| {
                    let i = if *i < 0 { *i + vals.len() as i64 } else { *i };
                    vals.get(i as usize).cloned().unwrap_or(SymDim::Unknown)
                })
                .collect(),
        ),
        _ => None,
    };
    vec![ValueFacts { elem: x.elem, dims, ints }]
}

fn gather_elements_shape(c: &ShapeCtx) -> Vec<ValueFacts> {
    vec![ValueFacts { elem: c.input(0).elem, dims: c.input(1).dims, ints: None }]
}
