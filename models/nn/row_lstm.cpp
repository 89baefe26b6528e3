#include "models/nn/row_lstm.h"

#include <algorithm>
#include <cmath>

#include "models/nn/logistic_mixture.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using namespace exact_ops;

namespace {

constexpr double kCellMaxReal = double(kInt16Max) / (1 << kCellFracBits);

torch::Tensor KaimingUniform(int64_t out, int64_t in, int64_t kh, int64_t kw, double gain) {
  const double bound = gain * std::sqrt(3.0 / double(in * kh * kw));
  return torch::empty({out, in, kh, kw}).uniform_(-bound, bound);
}

// The row kernels' padding: input-to-state taps dx = -(T-1)..0, state-to-state dx = -1..1.
torch::Tensor PadRowInput(const torch::Tensor& a, int taps) { return F::pad(a, F::PadFuncOptions({taps - 1, 0, 0, 0})); }
torch::Tensor PadRowState(const torch::Tensor& h) { return F::pad(h, F::PadFuncOptions({1, 1, 0, 0})); }

}  // namespace

RowLstmImpl::RowLstmImpl(const RowLstmShape& s) : shape_(s) {
  const int C = s.channels, k = s.kernel, r = k / 2, R = s.hidden, S = s.state, T = s.RowTaps();
  auto mask = torch::zeros({1, C, k, k});
  for (const auto& [dy, dx] : s.Taps()) mask.index_put_({0, torch::indexing::Slice(), r + dy, r + dx}, 1.0);
  conv0_mask = register_buffer("conv0_mask", mask);
  const double taps = double(s.Taps().size());
  conv0_weight = register_parameter("conv0_weight", KaimingUniform(R, C, k, k, 1.0) * std::sqrt(double(k * k) / taps));
  conv0_bias = register_parameter("conv0_bias", torch::zeros({R}));
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "layer" + std::to_string(l) + "_";
    // One fan-in for the joint input [a taps ; h taps] of the gates.
    const double gain = std::sqrt(double(R * T) / double(R * T + 3 * S));
    is_weight.push_back(register_parameter(p + "is_weight", KaimingUniform(4 * S, R, 1, T, gain)));
    ss_weight.push_back(register_parameter(p + "ss_weight", KaimingUniform(4 * S, S, 1, 3, std::sqrt(double(3 * S) / double(R * T + 3 * S)))));
    auto b = torch::zeros({4 * S});
    b.narrow(0, S, S).fill_(1.0);  // forget gate bias 1
    gate_bias.push_back(register_parameter(p + "gate_bias", b));
    out_weight.push_back(register_parameter(p + "out_weight", KaimingUniform(R, S, 1, 1, 0.5)));
    out_bias.push_back(register_parameter(p + "out_bias", torch::zeros({R})));
  }
  const int P = MixtureParamCount(C, s.mixtures);
  head1_weight = register_parameter("head1_weight", KaimingUniform(s.head, R, 1, 1, 1.0));
  head1_bias = register_parameter("head1_bias", torch::zeros({s.head}));
  head2_weight = register_parameter("head2_weight", KaimingUniform(P, s.head, 1, 1, 0.5));
  head2_bias = register_parameter("head2_bias", torch::zeros({P}));
}

torch::Tensor RowLstmImpl::forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace) {
  const auto& s = shape_;
  const int S = s.state, T = s.RowTaps();
  const int64_t B = q.size(0), H = q.size(2), W = q.size(3);
  auto x = F::conv2d(q * (1.0 / 255.0), conv0_weight * conv0_mask, F::Conv2dFuncOptions().bias(conv0_bias).padding(s.kernel / 2));
  if (trace) trace->push_back(x);
  for (int l = 0; l < s.layers; ++l) {
    auto is = F::conv2d(PadRowInput(torch::elu(x), T), is_weight[l], F::Conv2dFuncOptions().bias(gate_bias[l]));
    auto h = torch::zeros({B, S, 1, W}, q.options());
    auto c = torch::zeros({B, S, 1, W}, q.options());
    std::vector<torch::Tensor> rows;
    for (int64_t y = 0; y < H; ++y) {
      auto z = is.narrow(2, y, 1) + F::conv2d(PadRowState(h), ss_weight[l]);
      auto g = z.chunk(4, 1);
      c = (torch::sigmoid(g[1]) * c + torch::sigmoid(g[0]) * torch::tanh(g[3])).clamp(-kCellMaxReal, kCellMaxReal);
      h = torch::sigmoid(g[2]) * torch::tanh(c);
      rows.push_back(h);
    }
    x = x + F::conv2d(torch::cat(rows, 2), out_weight[l], F::Conv2dFuncOptions().bias(out_bias[l]));
    if (trace) trace->push_back(x);
  }
  auto t = F::conv2d(torch::elu(x), head1_weight, F::Conv2dFuncOptions().bias(head1_bias));
  if (trace) trace->push_back(t);
  return F::conv2d(torch::elu(t), head2_weight, F::Conv2dFuncOptions().bias(head2_bias));
}

torch::Tensor RowLstmScales::ToTensor() const {
  std::vector<double> v{residual, act_head1, head_pre, act_head2};
  v.insert(v.end(), act_in.begin(), act_in.end());
  return torch::tensor(v, torch::kFloat64);
}

RowLstmScales RowLstmScales::FromTensor(const torch::Tensor& t, int layers) {
  if (t.numel() != 4 + layers) throw Error(ErrorCode::kInvalidArgument, "checkpoint has quantisation scales of the wrong size");
  auto a = t.to(torch::kFloat64).contiguous();
  const double* p = a.data_ptr<double>();
  RowLstmScales s;
  s.residual = p[0];
  s.act_head1 = p[1];
  s.head_pre = p[2];
  s.act_head2 = p[3];
  s.act_in.assign(p + 4, p + 4 + layers);
  return s;
}

RowLstmScales CalibrateRowLstm(RowLstmImpl& model, const std::vector<torch::Tensor>& batches) {
  torch::NoGradGuard ng;
  const int L = model.shape().layers;
  double x_max = 0, t_max = 0, head1 = 0, head2 = 0;
  std::vector<double> in(size_t(L), 0.0);
  for (const auto& q : batches) {
    std::vector<torch::Tensor> trace;
    model.forward(q, &trace);  // x0, x1..xL, t
    for (int i = 0; i <= L; ++i) x_max = std::max(x_max, trace[size_t(i)].abs().max().item<double>());
    for (int l = 0; l < L; ++l) in[size_t(l)] = std::max(in[size_t(l)], QuantileOfSample(torch::elu(trace[size_t(l)]), 0.9999));
    head1 = std::max(head1, QuantileOfSample(torch::elu(trace[size_t(L)]), 0.9999));
    t_max = std::max(t_max, trace.back().abs().max().item<double>());
    head2 = std::max(head2, QuantileOfSample(torch::elu(trace.back()), 0.9999));
  }
  RowLstmScales s;
  s.residual = 1.5 * std::max(x_max, 1e-3) / kInt16Max;
  for (int l = 0; l < L; ++l) s.act_in.push_back(std::max(1.0, in[size_t(l)]) / kInt8Max);
  s.act_head1 = std::max(1.0, head1) / kInt8Max;
  s.head_pre = 1.5 * std::max(t_max, 1e-3) / kInt16Max;
  s.act_head2 = std::max(1.0, head2) / kInt8Max;
  return s;
}

namespace {

TorchIntLut EluLut(double s_in, double s_out) {
  auto l = LutTensors(MakeEluLut(s_in, s_out));
  l.ste_in = s_in;
  l.ste_out = s_out;
  return l;
}

TorchIntLinear FromIntLinear(const IntLinear& l, int kh, int kw) {
  TorchIntLinear out;
  out.weight = torch::tensor(std::vector<float>(l.weight.begin(), l.weight.end())).view({l.out, l.in / (kh * kw), kh, kw});
  out.bias = torch::tensor(std::vector<float>(l.bias.begin(), l.bias.end()));
  SetRequant(out, l.requant);
  out.lo = l.lo;
  out.hi = l.hi;
  return out;
}

void SplitGateWeights(RowLstmTensors& t, int l) {
  const auto& s = t.shape;
  const int64_t in_is = int64_t(s.hidden) * s.RowTaps();
  auto w = t.gates[size_t(l)].weight.flatten(1);
  t.is_weight.push_back(w.narrow(1, 0, in_is).reshape({4 * s.state, s.hidden, 1, s.RowTaps()}));
  t.ss_weight.push_back(w.narrow(1, in_is, int64_t(s.state) * 3).reshape({4 * s.state, s.state, 1, 3}));
}

void SetTables(RowLstmTensors& t, const GateTables& g) {
  t.sigmoid_table = torch::tensor(std::vector<float>(g.sigmoid.begin(), g.sigmoid.end()));
  t.tanh_table = torch::tensor(std::vector<float>(g.tanh.begin(), g.tanh.end()));
  const auto scales = ParamScales(t.shape.channels, t.shape.mixtures);
  t.param_scale = torch::tensor(std::vector<float>(scales.begin(), scales.end())).view({1, -1, 1, 1});
}

// Exact convolution without bias of integer-valued x and w (partial sums below 2^24): LibTorch's
// convolution for training on the CPU, im2col + fp32 GEMM otherwise (as exact_ops::ApplyLinear).
torch::Tensor ExactConv(const torch::Tensor& x, const torch::Tensor& w, bool ste) {
  if (ste && !x.is_cuda()) return F::conv2d(x, w);
  const int64_t B = x.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t Ho = x.size(2) - kh + 1, Wo = x.size(3) - kw + 1;
  auto cols = F::unfold(x, F::UnfoldFuncOptions({kh, kw}));
  return torch::matmul(w.flatten(1), cols).view({B, w.size(0), Ho, Wo});
}

// clamp(RoundShift(acc * multiplier, shift), lo, hi), straight-through gradient acc * factor (as exact_torch.cpp).
torch::Tensor Requantize(const torch::Tensor& acc, const TorchIntLinear& l, bool ste) {
  auto a = acc.detach().to(torch::kInt64);
  auto y = torch::div(a * l.multiplier + l.half, l.divisor, "floor").clamp(l.lo, l.hi).to(torch::kFloat32);
  if (ste) {
    auto g = acc * l.factor;
    y = y + (g - g.detach());
  }
  return y;
}

torch::Tensor RoundShiftTensor(const torch::Tensor& v, int shift) {
  return torch::div(v + (int64_t{1} << (shift - 1)), int64_t{1} << shift, "floor");
}

// Gate table lookup at integer z in [-2048, 2048]; straight-through gradient of 32768 * f(z / 256).
torch::Tensor GateLookup(const torch::Tensor& z, const torch::Tensor& table, bool sigmoid, bool ste) {
  auto y = table.index({z.detach().to(torch::kInt64) + kGateIndexMax});
  if (ste) {
    auto real = z * (1.0 / (1 << kGateFracBits));
    auto g = (sigmoid ? torch::sigmoid(real) : torch::tanh(real)) * double(1 << kGateValueBits);
    y = y + (g - g.detach());
  }
  return y;
}

}  // namespace

RowLstmTensors RowLstmTensorsFromFloat(RowLstmImpl& m, const RowLstmScales& sc, bool ste) {
  const auto& s = m.shape();
  RowLstmTensors t;
  t.shape = s;
  t.ste = ste;
  t.conv0 = QuantizeLinear(m.conv0_weight * m.conv0_mask / 255.0, m.conv0_bias, std::vector<double>(size_t(s.hidden), sc.residual), ste, nullptr);
  t.conv0.padding = s.kernel / 2;
  for (int l = 0; l < s.layers; ++l) {
    t.lut_in.push_back(EluLut(sc.residual, sc.act_in[size_t(l)]));
    auto joint = torch::cat({m.is_weight[size_t(l)].flatten(1) * sc.act_in[size_t(l)], m.ss_weight[size_t(l)].flatten(1) * (1.0 / kHiddenMax)}, 1)
                     .unsqueeze(2).unsqueeze(3);
    t.gates.push_back(QuantizeLinear(joint, m.gate_bias[size_t(l)], std::vector<double>(size_t(4 * s.state), 1.0 / (1 << kGateFracBits)), ste, nullptr));
    t.gates.back().lo = -kGateIndexMax;
    t.gates.back().hi = kGateIndexMax;
    SplitGateWeights(t, l);
    t.out.push_back(QuantizeLinear(m.out_weight[size_t(l)] * (1.0 / kHiddenMax), m.out_bias[size_t(l)],
                                   std::vector<double>(size_t(s.hidden), sc.residual), ste, nullptr));
  }
  t.head1_lut = EluLut(sc.residual, sc.act_head1);
  t.head1 = QuantizeLinear(m.head1_weight * sc.act_head1, m.head1_bias, std::vector<double>(size_t(s.head), sc.head_pre), ste, nullptr);
  t.head2_lut = EluLut(sc.head_pre, sc.act_head2);
  t.head2 = QuantizeLinear(m.head2_weight * sc.act_head2, m.head2_bias, ParamScales(s.channels, s.mixtures), ste, nullptr);
  SetTables(t, GateTables::Compute());
  return t;
}

IntRowLstm ExportIntRowLstm(RowLstmImpl& m, const RowLstmScales& sc) {
  torch::NoGradGuard ng;
  const auto& s = m.shape();
  auto t = RowLstmTensorsFromFloat(m, sc, false);
  IntRowLstm out;
  out.shape = s;
  // conv0: gather the mask-A taps (tap-major, then channel) from the k x k kernel.
  out.conv0 = ToIntLinear(t.conv0);
  out.conv0.in = s.Conv0Inputs();
  out.conv0.weight.clear();
  auto w = t.conv0.weight.detach().to(torch::kCPU).to(torch::kInt64).contiguous();
  auto wa = w.accessor<int64_t, 4>();
  const int r = s.kernel / 2;
  for (int o = 0; o < s.hidden; ++o)
    for (const auto& [dy, dx] : s.Taps())
      for (int c = 0; c < s.channels; ++c) out.conv0.weight.push_back(int16_t(wa[o][c][r + dy][r + dx]));
  for (int l = 0; l < s.layers; ++l) {
    out.lut_in.push_back(ToIntLut(t.lut_in[size_t(l)]));
    out.gates.push_back(ToIntLinear(t.gates[size_t(l)]));
    out.out.push_back(ToIntLinear(t.out[size_t(l)]));
  }
  out.lut_head1 = ToIntLut(t.head1_lut);
  out.head1 = ToIntLinear(t.head1);
  out.lut_head2 = ToIntLut(t.head2_lut);
  out.head2 = ToIntLinear(t.head2);
  out.gate_tables = GateTables::Compute();
  out.tables = MixtureTables::Compute();
  out.Validate();
  return out;
}

RowLstmTensors RowLstmTensorsFromInt(const IntRowLstm& m) {
  const auto& s = m.shape;
  RowLstmTensors t;
  t.shape = s;
  const int k = s.kernel, r = k / 2, C = s.channels;
  auto w = torch::zeros({s.hidden, C, k, k});
  auto wa = w.accessor<float, 4>();
  const auto taps = s.Taps();
  for (int o = 0; o < s.hidden; ++o) {
    size_t j = size_t(o) * m.conv0.in;
    for (const auto& [dy, dx] : taps)
      for (int c = 0; c < C; ++c) wa[o][c][r + dy][r + dx] = float(m.conv0.weight[j++]);
  }
  t.conv0 = FromIntLinear(m.conv0, 1, 1);
  t.conv0.weight = w;
  t.conv0.padding = r;
  for (int l = 0; l < s.layers; ++l) {
    t.lut_in.push_back(LutTensors(m.lut_in[size_t(l)]));
    t.gates.push_back(FromIntLinear(m.gates[size_t(l)], 1, 1));
    SplitGateWeights(t, l);
    t.out.push_back(FromIntLinear(m.out[size_t(l)], 1, 1));
  }
  t.head1_lut = LutTensors(m.lut_head1);
  t.head1 = FromIntLinear(m.head1, 1, 1);
  t.head2_lut = LutTensors(m.lut_head2);
  t.head2 = FromIntLinear(m.head2, 1, 1);
  SetTables(t, m.gate_tables);
  return t;
}

RowLstmTensors RowLstmTensors::To(const torch::Device& d) const {
  RowLstmTensors t = *this;
  auto move = [&](TorchIntLinear& l) {
    l.weight = l.weight.to(d);
    l.bias = l.bias.to(d);
    l.multiplier = l.multiplier.to(d);
    l.half = l.half.to(d);
    l.divisor = l.divisor.to(d);
    l.factor = l.factor.to(d);
  };
  move(t.conv0);
  move(t.head1);
  move(t.head2);
  for (auto& l : t.gates) move(l);
  for (auto& l : t.out) move(l);
  for (auto& w : t.is_weight) w = w.to(d);
  for (auto& w : t.ss_weight) w = w.to(d);
  for (auto& l : t.lut_in) l.table = l.table.to(d);
  t.head1_lut.table = t.head1_lut.table.to(d);
  t.head2_lut.table = t.head2_lut.table.to(d);
  t.sigmoid_table = t.sigmoid_table.to(d);
  t.tanh_table = t.tanh_table.to(d);
  t.param_scale = t.param_scale.to(d);
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
      auto zs = z.chunk(4, 1);
      auto i = GateLookup(zs[0], t.sigmoid_table, true, ste), f = GateLookup(zs[1], t.sigmoid_table, true, ste);
      auto o = GateLookup(zs[2], t.sigmoid_table, true, ste), g = GateLookup(zs[3], t.tanh_table, false, ste);
      auto il = i.detach().to(torch::kInt64), fl = f.detach().to(torch::kInt64);
      auto ol = o.detach().to(torch::kInt64), gl64 = g.detach().to(torch::kInt64);
      // c = clamp(RoundShift(8 f c + i g, 18), +-32767)
      c_int = RoundShiftTensor(8 * fl * c_int + il * gl64, 18).clamp(-kInt16Max, kInt16Max);
      auto ci = RoundShiftTensor(c_int, 4).clamp(-kGateIndexMax, kGateIndexMax);
      auto tc = t.tanh_table.index({ci + kGateIndexMax});
      auto h_int = RoundShiftTensor(127 * ol * tc.to(torch::kInt64), 30).clamp(-kHiddenMax, kHiddenMax);
      h = h_int.to(torch::kFloat32);
      if (ste) {
        auto c_sur = ((8.0 * f * c + i * g) * (1.0 / (1 << 18))).clamp(-kInt16Max, kInt16Max);
        c = c_int.to(torch::kFloat32) + (c_sur - c_sur.detach());
        auto t_sur = torch::tanh(c * (1.0 / (1 << kCellFracBits))) * double(1 << kGateValueBits);
        auto h_sur = (127.0 * o * t_sur * (1.0 / double(int64_t{1} << 30))).clamp(-kHiddenMax, kHiddenMax);
        h = h + (h_sur - h_sur.detach());
      }
      rows.push_back(h);
    }
    x = (x + ApplyLinear(torch::cat(rows, 2), t.out[size_t(l)], ste)).clamp(-kInt16Max, kInt16Max);
  }
  auto pre = ApplyLinear(ApplyLut(x, t.head1_lut, ste), t.head1, ste);
  return ApplyLinear(ApplyLut(pre, t.head2_lut, ste), t.head2, ste);
}

}  // namespace pixelzip::models::nn
