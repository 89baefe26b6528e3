#include "models/nn/arch/diagonal_bilstm/module.h"

#include <cmath>

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using namespace exact_ops;
using namespace pixelrnn_ops;

namespace {

// [..., H, W] -> [..., H, W + H - 1] with out[y, j] = in[y, j - y], zero outside (the skewed map).
torch::Tensor Skew(const torch::Tensor& t) {
  const int64_t H = t.size(-2), W = t.size(-1);
  auto sizes = t.sizes().vec();
  sizes.back() = W + H - 1;
  auto flat = F::pad(t, F::PadFuncOptions({0, H})).flatten(-2);  // [..., H (W + H)]: row y at y (W + H)
  return flat.narrow(-1, 0, H * (W + H - 1)).reshape(sizes);      // row y at y (W + H - 1): shifted by y
}

// The inverse: [..., H, W + H - 1] -> [..., H, W].
torch::Tensor Unskew(const torch::Tensor& t, int64_t W) {
  const int64_t H = t.size(-2), Wn = t.size(-1);
  auto sizes = t.sizes().vec();
  sizes.back() = Wn + 1;
  return F::pad(t.flatten(-2), F::PadFuncOptions({0, H})).reshape(sizes).narrow(-1, 0, W);
}

// v[..., y] = h[..., y - 1], zero at y = 0 (the state of the row above, in skewed column j - 1).
torch::Tensor RowAbove(const torch::Tensor& h) { return F::pad(h, F::PadFuncOptions({1, 0})).narrow(-1, 0, h.size(-1)); }

// [B, S, H, W] shifted down one row (row 0 zero): the backward direction's output for the layer.
torch::Tensor ShiftDown(const torch::Tensor& h) { return F::pad(h, F::PadFuncOptions({0, 0, 1, 0})).narrow(2, 0, h.size(2)); }

// masks[j][y] = 1 where skewed column j of row y is inside the image (0 <= j - y < W), as [Wn, H].
torch::Tensor ValidMasks(int64_t H, int64_t W, const torch::TensorOptions& o) {
  auto j = torch::arange(W + H - 1, o).view({-1, 1});
  auto x = j - torch::arange(H, o).view({1, -1});
  return (x.ge(0) & x.lt(W)).to(o.dtype());
}

// The recurrence over the skewed columns for both directions at once. is: [2, B, 4S, H, W] input-to-state
// terms (direction 1 on the flipped image). `step(z, mask)` turns the gate accumulators into h, keeping its
// own cell state; returns h of both directions unskewed, [2, B, S, H, W].
template <class Step>
torch::Tensor DiagonalScan(const torch::Tensor& is, const torch::Tensor& ss_weight, int S, const Step& step) {
  const int64_t B = is.size(1), H = is.size(3), W = is.size(4);
  // One tensor per skewed column (unbind: its backward is one stack, not a full-size gradient per column).
  const auto skewed = Skew(is).unbind(-1);
  auto masks = ValidMasks(H, W, is.options());
  auto h = torch::zeros({2, B, S, H}, is.options());
  std::vector<torch::Tensor> cols;
  for (int64_t j = 0; j < W + H - 1; ++j) {
    auto acc = skewed[size_t(j)] + torch::matmul(ss_weight, torch::cat({RowAbove(h), h}, 2));
    h = step(acc, masks[j]);
    cols.push_back(h);
  }
  return Unskew(torch::stack(cols, -1), W);
}

}  // namespace

DiagonalBiLstmImpl::DiagonalBiLstmImpl(const DiagonalBiLstmShape& s) : shape_(s) {
  const int R = s.hidden, S = s.state;
  RegisterConv0(s);
  for (int l = 0; l < s.layers; ++l) {
    for (const char* dir : {"fwd", "bwd"}) {
      const std::string p = "layer" + std::to_string(l) + "_" + dir + "_";
      // One fan-in for the joint input [a ; h above ; h beside] of the gates.
      is_weight.push_back(register_parameter(p + "is_weight", KaimingUniform(4 * S, R, 1, 1, std::sqrt(double(R) / double(R + 2 * S)))));
      ss_weight.push_back(register_parameter(p + "ss_weight", KaimingUniform(4 * S, 2 * S, 1, 1, std::sqrt(double(2 * S) / double(R + 2 * S)))));
      auto b = torch::zeros({4 * S});
      b.narrow(0, S, S).fill_(1.0);  // forget gate bias 1
      gate_bias.push_back(register_parameter(p + "gate_bias", b));
    }
    RegisterOut(s, l, 2 * S);
  }
  RegisterHead(s);
}

torch::Tensor DiagonalBiLstmImpl::forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace) {
  const auto& s = shape_;
  const int S = s.state;
  auto x = Conv0(s, q);
  if (trace) trace->push_back(x);
  for (int l = 0; l < s.layers; ++l) {
    const size_t f = size_t(2 * l), b = f + 1;
    auto a = torch::elu(x);
    auto is = torch::stack({F::conv2d(a, is_weight[f], F::Conv2dFuncOptions().bias(gate_bias[f])),
                            F::conv2d(a.flip({3}), is_weight[b], F::Conv2dFuncOptions().bias(gate_bias[b]))});
    auto ss = torch::stack({ss_weight[f].flatten(1), ss_weight[b].flatten(1)}).unsqueeze(1);  // [2, 1, 4S, 2S]
    auto c = torch::zeros({2, q.size(0), S, q.size(2)}, q.options());
    auto h = DiagonalScan(is, ss, S, [&](const torch::Tensor& z, const torch::Tensor& mask) {
      auto hn = FloatLstmStep(z, c, 2) * mask;
      c = c * mask;
      return hn;
    });
    x = AddOut(l, x, torch::cat({h[0], ShiftDown(h[1].flip({3}))}, 1));
    if (trace) trace->push_back(x);
  }
  return Head(x, trace);
}

RowLstmScales CalibrateDiagonalBiLstm(DiagonalBiLstmImpl& model, const std::vector<torch::Tensor>& batches) {
  return CalibratePixelRnn(model.shape().layers, [&](const torch::Tensor& q, std::vector<torch::Tensor>* trace) { model.forward(q, trace); },
                           batches);
}

namespace {

void StackDirections(DiagonalBiLstmTensors& t, int l) {
  const int R = t.shape.hidden, S = t.shape.state;
  const auto& f = t.gates_fwd[size_t(l)];
  const auto& b = t.gates_bwd[size_t(l)];
  auto wf = f.weight.flatten(1), wb = b.weight.flatten(1);
  t.is_weight.push_back(torch::stack({wf.narrow(1, 0, R), wb.narrow(1, 0, R)}));
  t.ss_weight.push_back(torch::stack({wf.narrow(1, R, 2 * S), wb.narrow(1, R, 2 * S)}).unsqueeze(1));
  auto st = [](const torch::Tensor& u, const torch::Tensor& v) { return torch::stack({u.reshape({1, -1, 1}), v.reshape({1, -1, 1})}); };
  TorchIntLinear j;
  j.bias = st(f.bias, b.bias);
  j.multiplier = st(f.multiplier, b.multiplier);
  j.half = st(f.half, b.half);
  j.divisor = st(f.divisor, b.divisor);
  j.factor = st(f.factor, b.factor);
  j.lo = -kGateIndexMax;  // both directions clamp to exactly the tables' range (checked at load)
  j.hi = kGateIndexMax;
  t.joint.push_back(j);
}

}  // namespace

DiagonalBiLstmTensors DiagonalBiLstmTensorsFromFloat(DiagonalBiLstmImpl& m, const RowLstmScales& sc, bool ste) {
  const auto& s = m.shape();
  DiagonalBiLstmTensors t;
  t.shape = s;
  t.SetFromFloat(s, m, sc, ste);
  for (int l = 0; l < s.layers; ++l) {
    for (int d = 0; d < 2; ++d) {
      const size_t i = size_t(2 * l + d);
      auto joint = torch::cat({m.is_weight[i].flatten(1) * sc.act_in[size_t(l)], m.ss_weight[i].flatten(1) * (1.0 / kHiddenMax)}, 1)
                       .unsqueeze(2).unsqueeze(3);
      (d == 0 ? t.gates_fwd : t.gates_bwd).push_back(QuantizeGates(joint, m.gate_bias[i], s.state, ste));
    }
    StackDirections(t, l);
  }
  return t;
}

IntDiagonalBiLstm ExportIntDiagonalBiLstm(DiagonalBiLstmImpl& m, const RowLstmScales& sc) {
  torch::NoGradGuard ng;
  auto t = DiagonalBiLstmTensorsFromFloat(m, sc, false);
  IntDiagonalBiLstm out;
  out.shape = m.shape();
  t.ExportTo(out.shape, out);
  for (const auto& g : t.gates_fwd) out.gates_fwd.push_back(ToIntLinear(g));
  for (const auto& g : t.gates_bwd) out.gates_bwd.push_back(ToIntLinear(g));
  out.Validate();
  return out;
}

DiagonalBiLstmTensors DiagonalBiLstmTensorsFromInt(const IntDiagonalBiLstm& m) {
  DiagonalBiLstmTensors t;
  t.shape = m.shape;
  t.SetFromInt(m.shape, m);
  for (int l = 0; l < m.shape.layers; ++l) {
    t.gates_fwd.push_back(FromIntLinear(m.gates_fwd[size_t(l)], 1, 1));
    t.gates_bwd.push_back(FromIntLinear(m.gates_bwd[size_t(l)], 1, 1));
    StackDirections(t, l);
  }
  return t;
}

DiagonalBiLstmTensors DiagonalBiLstmTensors::To(const torch::Device& d) const {
  DiagonalBiLstmTensors t = *this;
  t.MoveTo(d);
  for (auto& l : t.gates_fwd) MoveLinear(l, d);
  for (auto& l : t.gates_bwd) MoveLinear(l, d);
  t.is_weight.clear();
  t.ss_weight.clear();
  t.joint.clear();
  for (int l = 0; l < t.shape.layers; ++l) StackDirections(t, l);
  return t;
}

torch::Tensor DiagonalBiLstmExactForward(const DiagonalBiLstmTensors& t, const torch::Tensor& q) {
  const bool ste = t.ste;
  const auto& s = t.shape;
  const int S = s.state;
  const int64_t B = q.size(0), H = q.size(2), W = q.size(3);
  auto x = ApplyLinear(q, t.conv0, ste);
  for (int l = 0; l < s.layers; ++l) {
    const auto& jl = t.joint[size_t(l)];
    const auto& iw = t.is_weight[size_t(l)];
    auto a = ApplyLut(x, t.lut_in[size_t(l)], ste);
    // Input-to-state terms (exact fp32 GEMMs of integers), the backward direction on the flipped input.
    auto is = torch::stack({torch::matmul(iw[0], a.flatten(2)), torch::matmul(iw[1], a.flip({3}).flatten(2))}).view({2, B, 4 * S, H, W});
    auto c_int = torch::zeros({2, B, S, H}, q.options().dtype(torch::kInt64));
    torch::Tensor c = ste ? torch::zeros({2, B, S, H}, q.options()) : torch::Tensor();
    auto h = DiagonalScan(is, t.ss_weight[size_t(l)], S, [&](const torch::Tensor& acc, const torch::Tensor& mask) {
      auto z = Requantize(acc + jl.bias, jl, ste);
      auto hn = ExactLstmStep(z, t.sigmoid_table, t.tanh_table, ste, c_int, c, 2) * mask;
      c_int = c_int * mask.to(torch::kInt64);
      if (ste) c = c * mask;
      return hn;
    });
    x = (x + ApplyLinear(torch::cat({h[0], ShiftDown(h[1].flip({3}))}, 1), t.out[size_t(l)], ste)).clamp(-kInt16Max, kInt16Max);
  }
  return t.Head(x);
}

}  // namespace pixelzip::models::nn
