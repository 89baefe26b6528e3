#include "models/nn/arch/pixelrnn/module.h"

#include <algorithm>
#include <cmath>

#include "models/nn/torch/batched.h"
#include "models/nn/torch/logistic_mixture.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using namespace exact_ops;
using namespace pixelrnn_ops;

namespace {

constexpr double kCellMaxReal = double(kInt16Max) / (1 << kCellFracBits);

TorchIntLut EluLut(double s_in, double s_out) {
  auto l = LutTensors(MakeEluLut(s_in, s_out));
  l.ste_in = s_in;
  l.ste_out = s_out;
  return l;
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

namespace pixelrnn_ops {

torch::Tensor KaimingUniform(int64_t out, int64_t in, int64_t kh, int64_t kw, double gain) {
  const double bound = gain * std::sqrt(3.0 / double(in * kh * kw));
  return torch::empty({out, in, kh, kw}).uniform_(-bound, bound);
}

torch::Tensor ExactConv(const torch::Tensor& x, const torch::Tensor& w, bool ste) {
  if (ste && !x.is_cuda()) return F::conv2d(x, w);
  const int64_t B = x.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t Ho = x.size(2) - kh + 1, Wo = x.size(3) - kw + 1;
  auto cols = F::unfold(x, F::UnfoldFuncOptions({kh, kw}));
  return torch::matmul(w.flatten(1), cols).view({B, w.size(0), Ho, Wo});
}

TorchIntLinear QuantizeGates(const torch::Tensor& joint, const torch::Tensor& bias, int state, bool ste) {
  auto g = QuantizeLinear(joint, bias, std::vector<double>(size_t(4 * state), 1.0 / (1 << kGateFracBits)), ste, nullptr);
  g.lo = -kGateIndexMax;
  g.hi = kGateIndexMax;
  return g;
}

torch::Tensor FloatLstmStep(const torch::Tensor& z, torch::Tensor& c, int64_t dim) {
  auto g = z.chunk(4, dim);
  c = (torch::sigmoid(g[1]) * c + torch::sigmoid(g[0]) * torch::tanh(g[3])).clamp(-kCellMaxReal, kCellMaxReal);
  return torch::sigmoid(g[2]) * torch::tanh(c);
}

torch::Tensor ExactLstmStep(const torch::Tensor& z, const torch::Tensor& sigmoid_table, const torch::Tensor& tanh_table,
                            bool ste, torch::Tensor& c_int, torch::Tensor& c, int64_t dim) {
  auto zs = z.chunk(4, dim);
  auto i = GateLookup(zs[0], sigmoid_table, true, ste), f = GateLookup(zs[1], sigmoid_table, true, ste);
  auto o = GateLookup(zs[2], sigmoid_table, true, ste), g = GateLookup(zs[3], tanh_table, false, ste);
  auto il = i.detach().to(torch::kInt64), fl = f.detach().to(torch::kInt64);
  auto ol = o.detach().to(torch::kInt64), gl64 = g.detach().to(torch::kInt64);
  // c = clamp(RoundShift(8 f c + i g, 18), +-32767)
  c_int = RoundShiftTensor(8 * fl * c_int + il * gl64, 18).clamp(-kInt16Max, kInt16Max);
  auto ci = RoundShiftTensor(c_int, 4).clamp(-kGateIndexMax, kGateIndexMax);
  auto tc = tanh_table.index({ci + kGateIndexMax});
  auto h_int = RoundShiftTensor(127 * ol * tc.to(torch::kInt64), 30).clamp(-kHiddenMax, kHiddenMax);
  auto h = h_int.to(torch::kFloat32);
  if (ste) {
    auto c_sur = ((8.0 * f * c + i * g) * (1.0 / (1 << 18))).clamp(-kInt16Max, kInt16Max);
    c = c_int.to(torch::kFloat32) + (c_sur - c_sur.detach());
    auto t_sur = torch::tanh(c * (1.0 / (1 << kCellFracBits))) * double(1 << kGateValueBits);
    auto h_sur = (127.0 * o * t_sur * (1.0 / double(int64_t{1} << 30))).clamp(-kHiddenMax, kHiddenMax);
    h = h + (h_sur - h_sur.detach());
  }
  return h;
}

}  // namespace pixelrnn_ops

torch::Device PixelRnnTorchDevice(EngineKind encoder, const std::function<void(const torch::Device&)>& make) {
  const torch::Device device = ExactDevice(encoder);
  TorchGuarded([&] { make(device); });
  return device;
}

std::vector<int16_t> PixelRnnTorchParams(const int16_t* q, int H, int W, int C, const torch::Device& device,
                                         const std::function<torch::Tensor(const torch::Tensor&)>& forward) {
  return TorchGuarded([&] {
    torch::NoGradGuard ng;
    std::vector<float> qf(q, q + size_t(H) * W * C);
    auto qt = torch::from_blob(qf.data(), {1, H, W, C}, torch::kFloat32).permute({0, 3, 1, 2}).contiguous().to(device);
    return RowParams(forward(qt), 0);
  });
}

void PixelRnnModuleImpl::RegisterConv0(const PixelRnnShape& s) {
  const int C = s.channels, k = s.kernel, r = k / 2, R = s.hidden;
  auto mask = torch::zeros({1, C, k, k});
  for (const auto& [dy, dx] : s.Taps()) mask.index_put_({0, torch::indexing::Slice(), r + dy, r + dx}, 1.0);
  conv0_mask = register_buffer("conv0_mask", mask);
  const double taps = double(s.Taps().size());
  conv0_weight = register_parameter("conv0_weight", KaimingUniform(R, C, k, k, 1.0) * std::sqrt(double(k * k) / taps));
  conv0_bias = register_parameter("conv0_bias", torch::zeros({R}));
}

void PixelRnnModuleImpl::RegisterOut(const PixelRnnShape& s, int l, int out_inputs) {
  const std::string p = "layer" + std::to_string(l) + "_";
  out_weight.push_back(register_parameter(p + "out_weight", KaimingUniform(s.hidden, out_inputs, 1, 1, 0.5)));
  out_bias.push_back(register_parameter(p + "out_bias", torch::zeros({s.hidden})));
}

void PixelRnnModuleImpl::RegisterHead(const PixelRnnShape& s) {
  const int P = MixtureParamCount(s.channels, s.mixtures);
  head1_weight = register_parameter("head1_weight", KaimingUniform(s.head, s.hidden, 1, 1, 1.0));
  head1_bias = register_parameter("head1_bias", torch::zeros({s.head}));
  head2_weight = register_parameter("head2_weight", KaimingUniform(P, s.head, 1, 1, 0.5));
  head2_bias = register_parameter("head2_bias", torch::zeros({P}));
}

torch::Tensor PixelRnnModuleImpl::Conv0(const PixelRnnShape& s, const torch::Tensor& q) const {
  return F::conv2d(q * (1.0 / 255.0), conv0_weight * conv0_mask, F::Conv2dFuncOptions().bias(conv0_bias).padding(s.kernel / 2));
}

torch::Tensor PixelRnnModuleImpl::AddOut(int l, const torch::Tensor& x, const torch::Tensor& h) const {
  return x + F::conv2d(h, out_weight[size_t(l)], F::Conv2dFuncOptions().bias(out_bias[size_t(l)]));
}

torch::Tensor PixelRnnModuleImpl::Head(const torch::Tensor& x, std::vector<torch::Tensor>* trace) const {
  auto t = F::conv2d(torch::elu(x), head1_weight, F::Conv2dFuncOptions().bias(head1_bias));
  if (trace) trace->push_back(t);
  return F::conv2d(torch::elu(t), head2_weight, F::Conv2dFuncOptions().bias(head2_bias));
}

torch::Tensor RowLstmScales::ToTensor() const { return PackScales({residual, act_head1, head_pre, act_head2}, {&act_in}); }

RowLstmScales RowLstmScales::FromTensor(const torch::Tensor& t, int layers) {
  RowLstmScales s;
  UnpackScales(t, layers, {&s.residual, &s.act_head1, &s.head_pre, &s.act_head2}, {&s.act_in});
  return s;
}

PixelRnnScales CalibratePixelRnn(int L, const std::function<void(const torch::Tensor&, std::vector<torch::Tensor>*)>& forward,
                                 const std::vector<torch::Tensor>& batches) {
  torch::NoGradGuard ng;
  double x_max = 0, t_max = 0, head1 = 0, head2 = 0;
  std::vector<double> in(size_t(L), 0.0);
  for (const auto& q : batches) {
    std::vector<torch::Tensor> trace;
    forward(q, &trace);  // x0, x1..xL, t
    for (int i = 0; i <= L; ++i) x_max = std::max(x_max, trace[size_t(i)].abs().max().item<double>());
    for (int l = 0; l < L; ++l) in[size_t(l)] = std::max(in[size_t(l)], QuantileOfSample(torch::elu(trace[size_t(l)]), 0.9999));
    head1 = std::max(head1, QuantileOfSample(torch::elu(trace[size_t(L)]), 0.9999));
    t_max = std::max(t_max, trace.back().abs().max().item<double>());
    head2 = std::max(head2, QuantileOfSample(torch::elu(trace.back()), 0.9999));
  }
  PixelRnnScales s;
  s.residual = 1.5 * std::max(x_max, 1e-3) / kInt16Max;
  for (int l = 0; l < L; ++l) s.act_in.push_back(std::max(1.0, in[size_t(l)]) / kInt8Max);
  s.act_head1 = std::max(1.0, head1) / kInt8Max;
  s.head_pre = 1.5 * std::max(t_max, 1e-3) / kInt16Max;
  s.act_head2 = std::max(1.0, head2) / kInt8Max;
  return s;
}

namespace {

void SetTables(PixelRnnTensors& t, const PixelRnnShape& s, const GateTables& g) {
  t.sigmoid_table = torch::tensor(std::vector<float>(g.sigmoid.begin(), g.sigmoid.end()));
  t.tanh_table = torch::tensor(std::vector<float>(g.tanh.begin(), g.tanh.end()));
  t.param_scale = ParamScaleTensor(s.channels, s.mixtures);
}

}  // namespace

void PixelRnnTensors::SetFromFloat(const PixelRnnShape& s, const PixelRnnModuleImpl& m, const PixelRnnScales& sc, bool ste_on) {
  ste = ste_on;
  conv0 = QuantizeLinear(m.conv0_weight * m.conv0_mask / 255.0, m.conv0_bias, std::vector<double>(size_t(s.hidden), sc.residual), ste, nullptr);
  conv0.padding = s.kernel / 2;
  for (int l = 0; l < s.layers; ++l) {
    lut_in.push_back(EluLut(sc.residual, sc.act_in[size_t(l)]));
    out.push_back(QuantizeLinear(m.out_weight[size_t(l)] * (1.0 / kHiddenMax), m.out_bias[size_t(l)],
                                 std::vector<double>(size_t(s.hidden), sc.residual), ste, nullptr));
  }
  head1_lut = EluLut(sc.residual, sc.act_head1);
  head1 = QuantizeLinear(m.head1_weight * sc.act_head1, m.head1_bias, std::vector<double>(size_t(s.head), sc.head_pre), ste, nullptr);
  head2_lut = EluLut(sc.head_pre, sc.act_head2);
  head2 = QuantizeLinear(m.head2_weight * sc.act_head2, m.head2_bias, ParamScales(s.channels, s.mixtures), ste, nullptr);
  SetTables(*this, s, GateTables::Compute());
}

void PixelRnnTensors::ExportTo(const PixelRnnShape& s, IntPixelRnn& o) const {
  // conv0: gather the mask-A taps (tap-major, then channel) from the k x k kernel.
  o.conv0 = ToIntLinear(conv0);
  o.conv0.in = s.Conv0Inputs();
  o.conv0.weight.clear();
  auto w = conv0.weight.detach().to(torch::kCPU).to(torch::kInt64).contiguous();
  auto wa = w.accessor<int64_t, 4>();
  const int r = s.kernel / 2;
  for (int oc = 0; oc < s.hidden; ++oc)
    for (const auto& [dy, dx] : s.Taps())
      for (int c = 0; c < s.channels; ++c) o.conv0.weight.push_back(int16_t(wa[oc][c][r + dy][r + dx]));
  for (int l = 0; l < s.layers; ++l) {
    o.lut_in.push_back(ToIntLut(lut_in[size_t(l)]));
    o.out.push_back(ToIntLinear(out[size_t(l)]));
  }
  o.lut_head1 = ToIntLut(head1_lut);
  o.head1 = ToIntLinear(head1);
  o.lut_head2 = ToIntLut(head2_lut);
  o.head2 = ToIntLinear(head2);
  o.gate_tables = GateTables::Compute();
  o.tables = MixtureTables::Compute();
}

void PixelRnnTensors::SetFromInt(const PixelRnnShape& s, const IntPixelRnn& m) {
  const int k = s.kernel, r = k / 2, C = s.channels;
  auto w = torch::zeros({s.hidden, C, k, k});
  auto wa = w.accessor<float, 4>();
  const auto taps = s.Taps();
  for (int o = 0; o < s.hidden; ++o) {
    size_t j = size_t(o) * m.conv0.in;
    for (const auto& [dy, dx] : taps)
      for (int c = 0; c < C; ++c) wa[o][c][r + dy][r + dx] = float(m.conv0.weight[j++]);
  }
  conv0 = FromIntLinear(m.conv0, 1, 1);
  conv0.weight = w;
  conv0.padding = r;
  for (int l = 0; l < s.layers; ++l) {
    lut_in.push_back(LutTensors(m.lut_in[size_t(l)]));
    out.push_back(FromIntLinear(m.out[size_t(l)], 1, 1));
  }
  head1_lut = LutTensors(m.lut_head1);
  head1 = FromIntLinear(m.head1, 1, 1);
  head2_lut = LutTensors(m.lut_head2);
  head2 = FromIntLinear(m.head2, 1, 1);
  SetTables(*this, s, m.gate_tables);
}

void PixelRnnTensors::MoveTo(const torch::Device& d) {
  MoveLinear(conv0, d);
  MoveLinear(head1, d);
  MoveLinear(head2, d);
  for (auto& l : out) MoveLinear(l, d);
  for (auto& l : lut_in) l.table = l.table.to(d);
  head1_lut.table = head1_lut.table.to(d);
  head2_lut.table = head2_lut.table.to(d);
  sigmoid_table = sigmoid_table.to(d);
  tanh_table = tanh_table.to(d);
  param_scale = param_scale.to(d);
}

torch::Tensor PixelRnnTensors::Head(const torch::Tensor& x) const {
  auto pre = ApplyLinear(ApplyLut(x, head1_lut, ste), head1, ste);
  return ApplyLinear(ApplyLut(pre, head2_lut, ste), head2, ste);
}

}  // namespace pixelzip::models::nn
