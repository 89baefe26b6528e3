#include "models/nn/arch/row_lstm/module.h"

#include <algorithm>
#include <cmath>

#include "models/nn/torch/logistic_mixture.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using namespace exact_ops;
using namespace pixelrnn_ops;

namespace {

// The row kernels' padding: input-to-state taps dx = -(T-1)..0, state-to-state dx = -1..1.
torch::Tensor PadRowInput(const torch::Tensor& a, int taps) { return F::pad(a, F::PadFuncOptions({taps - 1, 0, 0, 0})); }
torch::Tensor PadRowState(const torch::Tensor& h) { return F::pad(h, F::PadFuncOptions({1, 1, 0, 0})); }

}  // namespace

RowLstmImpl::RowLstmImpl(const RowLstmShape& s) : shape_(s) {
  const int R = s.hidden, S = s.state, T = s.RowTaps();
  RegisterConv0(s);
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "layer" + std::to_string(l) + "_";
    // One fan-in for the joint input [a taps ; h taps] of the gates.
    const double gain = std::sqrt(double(R * T) / double(R * T + 3 * S));
    is_weight.push_back(register_parameter(p + "is_weight", KaimingUniform(4 * S, R, 1, T, gain)));
    ss_weight.push_back(register_parameter(p + "ss_weight", KaimingUniform(4 * S, S, 1, 3, std::sqrt(double(3 * S) / double(R * T + 3 * S)))));
    auto b = torch::zeros({4 * S});
    b.narrow(0, S, S).fill_(1.0);  // forget gate bias 1
    gate_bias.push_back(register_parameter(p + "gate_bias", b));
    RegisterOut(s, l, S);
  }
  RegisterHead(s);
}

torch::Tensor RowLstmImpl::forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace) {
  const auto& s = shape_;
  const int S = s.state, T = s.RowTaps();
  const int64_t B = q.size(0), H = q.size(2), W = q.size(3);
  auto x = Conv0(s, q);
  if (trace) trace->push_back(x);
  for (int l = 0; l < s.layers; ++l) {
    auto is = F::conv2d(PadRowInput(torch::elu(x), T), is_weight[l], F::Conv2dFuncOptions().bias(gate_bias[l]));
    auto h = torch::zeros({B, S, 1, W}, q.options());
    auto c = torch::zeros({B, S, 1, W}, q.options());
    std::vector<torch::Tensor> rows;
    for (int64_t y = 0; y < H; ++y) {
      h = FloatLstmStep(is.narrow(2, y, 1) + F::conv2d(PadRowState(h), ss_weight[l]), c);
      rows.push_back(h);
    }
    x = AddOut(l, x, torch::cat(rows, 2));
    if (trace) trace->push_back(x);
  }
  return Head(x, trace);
}

RowLstmScales CalibrateRowLstm(RowLstmImpl& model, const std::vector<torch::Tensor>& batches) {
  return CalibratePixelRnn(model.shape().layers, [&](const torch::Tensor& q, std::vector<torch::Tensor>* trace) { model.forward(q, trace); },
                           batches);
}

namespace {

void SplitGateWeights(RowLstmTensors& t, int l) {
  const auto& s = t.shape;
  const int64_t in_is = int64_t(s.hidden) * s.RowTaps();
  auto w = t.gates[size_t(l)].weight.flatten(1);
  t.is_weight.push_back(w.narrow(1, 0, in_is).reshape({4 * s.state, s.hidden, 1, s.RowTaps()}));
  t.ss_weight.push_back(w.narrow(1, in_is, int64_t(s.state) * 3).reshape({4 * s.state, s.state, 1, 3}));
}

}  // namespace

RowLstmTensors RowLstmTensorsFromFloat(RowLstmImpl& m, const RowLstmScales& sc, bool ste) {
  const auto& s = m.shape();
  RowLstmTensors t;
  t.shape = s;
  t.SetFromFloat(s, m, sc, ste);
  for (int l = 0; l < s.layers; ++l) {
    auto joint = torch::cat({m.is_weight[size_t(l)].flatten(1) * sc.act_in[size_t(l)], m.ss_weight[size_t(l)].flatten(1) * (1.0 / kHiddenMax)}, 1)
                     .unsqueeze(2).unsqueeze(3);
    t.gates.push_back(QuantizeGates(joint, m.gate_bias[size_t(l)], s.state, ste));
    SplitGateWeights(t, l);
  }
  return t;
}

IntRowLstm ExportIntRowLstm(RowLstmImpl& m, const RowLstmScales& sc) {
  torch::NoGradGuard ng;
  auto t = RowLstmTensorsFromFloat(m, sc, false);
  IntRowLstm out;
  out.shape = m.shape();
  t.ExportTo(out.shape, out);
  for (const auto& g : t.gates) out.gates.push_back(ToIntLinear(g));
  out.Validate();
  return out;
}

RowLstmTensors RowLstmTensorsFromInt(const IntRowLstm& m) {
  RowLstmTensors t;
  t.shape = m.shape;
  t.SetFromInt(m.shape, m);
  for (int l = 0; l < m.shape.layers; ++l) {
    t.gates.push_back(FromIntLinear(m.gates[size_t(l)], 1, 1));
    SplitGateWeights(t, l);
  }
  return t;
}

RowLstmTensors RowLstmTensors::To(const torch::Device& d) const {
  RowLstmTensors t = *this;
  t.MoveTo(d);
  for (auto& l : t.gates) MoveLinear(l, d);
  for (auto& w : t.is_weight) w = w.to(d);
  for (auto& w : t.ss_weight) w = w.to(d);
  return t;
}

torch::Tensor RowLstmExactForward(const RowLstmTensors& t, const torch::Tensor& q) {
  const bool ste = t.ste;
  const auto& s = t.shape;
  const int S = s.state, T = s.RowTaps();
  const int64_t B = q.size(0), H = q.size(2), W = q.size(3);
  auto x = ApplyLinear(q, t.conv0, ste);
  for (int l = 0; l < s.layers; ++l) {
    const auto& gl = t.gates[size_t(l)];
    auto a = ApplyLut(x, t.lut_in[size_t(l)], ste);
    auto is = ExactConv(PadRowInput(a, T), t.is_weight[size_t(l)], ste);  // [B, 4S, H, W]
    auto bias = gl.bias.view({1, -1, 1, 1});
    auto h = torch::zeros({B, S, 1, W}, q.options());
    auto c_int = torch::zeros({B, S, 1, W}, q.options().dtype(torch::kInt64));
    torch::Tensor c = ste ? torch::zeros({B, S, 1, W}, q.options()) : torch::Tensor();
    std::vector<torch::Tensor> rows;
    for (int64_t y = 0; y < H; ++y) {
      auto z = Requantize(is.narrow(2, y, 1) + ExactConv(PadRowState(h), t.ss_weight[size_t(l)], ste) + bias, gl, ste);
      h = ExactLstmStep(z, t.sigmoid_table, t.tanh_table, ste, c_int, c);
      rows.push_back(h);
    }
    x = (x + ApplyLinear(torch::cat(rows, 2), t.out[size_t(l)], ste)).clamp(-kInt16Max, kInt16Max);
  }
  return t.Head(x);
}

}  // namespace pixelzip::models::nn
