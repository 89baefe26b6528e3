#include "models/nn/torch/exact_ops.h"

#include <algorithm>
#include <cmath>

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using torch::indexing::Slice;

namespace exact_ops {

constexpr double kLutNegativeSpan = 8.0;  // ELU is -1 to within 3.4e-4 below -8
constexpr double kBiasLimit = double(1 << 22);

// Output scale of each mixture parameter channel (fixed point of runtime/mixture_cdf.h).
std::vector<double> ParamScales(int channels, int mixtures) {
  const int K = mixtures, C = channels;
  std::vector<double> s(size_t(MixtureParamCountInt(C, K)), 1.0 / (1 << kCoeffFracBits));
  for (int i = 0; i < K; ++i) s[i] = 1.0 / (1 << kLogitFracBits);
  for (int i = K; i < K + C * K; ++i) s[i] = 1.0 / (255.0 * (1 << kMeanFracBits));
  for (int i = K + C * K; i < K + 2 * C * K; ++i) s[i] = 1.0 / (1 << kLogScaleFracBits);
  return s;
}

void SetRequant(TorchIntLinear& l, const std::vector<Requant>& rq) {
  std::vector<int64_t> m, half, div;
  std::vector<float> f;
  for (const auto& r : rq) {
    m.push_back(r.multiplier);
    half.push_back(int64_t{1} << (r.shift - 1));
    div.push_back(int64_t{1} << r.shift);
    f.push_back(float(std::ldexp(double(r.multiplier), -r.shift)));
  }
  const int64_t n = int64_t(rq.size());
  l.multiplier = torch::tensor(m, torch::kInt64).view({1, n, 1, 1});
  l.half = torch::tensor(half, torch::kInt64).view({1, n, 1, 1});
  l.divisor = torch::tensor(div, torch::kInt64).view({1, n, 1, 1});
  l.factor = torch::tensor(f, torch::kFloat32).view({1, n, 1, 1});
}

static void SetLutIndex(TorchIntLut& l, const Requant& r, int64_t index_lo) {
  l.multiplier = r.multiplier;
  l.half = int64_t{1} << (r.shift - 1);
  l.divisor = int64_t{1} << r.shift;
  l.index_lo = index_lo;
}

IntLut MakeLut(double s_in, double s_out, double lo_real, double hi_real, const std::function<double(double)>& f,
               int32_t out_max) {
  const double s_idx = (hi_real - lo_real) / (kLutSize - 1);
  IntLut lut;
  lut.index_lo = int32_t(std::llround(lo_real / s_idx));
  lut.to_index = RequantFromFactor(s_in / s_idx);
  for (int j = 0; j < kLutSize; ++j) {
    const double y = f(double(lut.index_lo + j) * s_idx);
    lut.table.push_back(int16_t(std::clamp<long long>(std::llround(y / s_out), -out_max, out_max)));
  }
  return lut;
}

IntLut MakeEluLut(double s_in, double s_out, int32_t out_max) {
  return MakeLut(s_in, s_out, -kLutNegativeSpan, double(out_max) * s_out, [](double x) { return x > 0 ? x : std::expm1(x); },
                 out_max);
}

TorchIntLut LutTensors(const IntLut& l) {
  TorchIntLut t;
  SetLutIndex(t, l.to_index, l.index_lo);
  t.table = torch::tensor(std::vector<float>(l.table.begin(), l.table.end()), torch::kFloat32);
  return t;
}

torch::Tensor StraightThroughRound(const torch::Tensor& x, double lo, double hi) {
  return x + (x.round().clamp(lo, hi) - x).detach();
}

// Quantises float weights `w` [out, in, kh, kw] (already multiplied by the input scale) and bias `b`
// so that acc * multiplier / 2^shift approximates the output in units of out_scale[o].
TorchIntLinear QuantizeLinear(const torch::Tensor& w, const torch::Tensor& b, const std::vector<double>& out_scale,
                              bool ste, std::vector<Requant>* requant_out, int32_t weight_max, int32_t input_max) {
  TorchIntLinear l;
  const int64_t out = w.size(0);
  const double wmax = double(weight_max);
  auto w_scale = (w.detach().abs().amax({1, 2, 3}) / wmax).clamp_min(1e-12);  // [out]
  double bias_limit = kBiasLimit;
  if (input_max > 0) {
    // After rounding, sum|w_int| * input_max + |b_int| <= (sum|w| * input_max + |b|) / scale + fan_in * input_max / 2 + 1/2;
    // keep that below 2^24 with a margin of 1/64.
    const double fan_in = double(w.size(1) * w.size(2) * w.size(3));
    const double budget = double(kExactFp32Bound) * (63.0 / 64.0) - fan_in * input_max / 2.0 - 1.0;
    auto need = (w.detach().abs().sum({1, 2, 3}) * double(input_max) + b.detach().abs()) / budget;
    w_scale = torch::maximum(w_scale, need.to(w_scale.dtype()));
    bias_limit = std::floor(budget);
  }
  auto ws = w / w_scale.view({out, 1, 1, 1});
  auto bs = b / w_scale;
  l.weight = ste ? StraightThroughRound(ws, -wmax, wmax) : ws.detach().round().clamp(-wmax, wmax);
  l.bias = ste ? StraightThroughRound(bs, -bias_limit, bias_limit) : bs.detach().round().clamp(-bias_limit, bias_limit);
  auto ws_cpu = w_scale.to(torch::kCPU, torch::kFloat64);
  std::vector<Requant> rq;
  for (int64_t o = 0; o < out; ++o) rq.push_back(RequantFromFactor(ws_cpu[o].item<double>() / out_scale[size_t(o)]));
  SetRequant(l, rq);
  if (requant_out) *requant_out = rq;
  return l;
}

torch::Tensor Requantize(const torch::Tensor& exact, const torch::Tensor& grad_acc, const TorchIntLinear& l, bool ste) {
  auto a = exact.detach().to(torch::kInt64);
  auto y = torch::div(a * l.multiplier + l.half, l.divisor, "floor").clamp(l.lo, l.hi).to(torch::kFloat32);
  if (ste) {
    auto g = grad_acc * l.factor;
    y = y + (g - g.detach());
  }
  return y;
}

// Inference: convolution as im2col + matrix product, an fp32 GEMM with fp32
// accumulation on every device (no Winograd/FFT algorithm choice), exact under
// the load-time bound. Training on the CPU (ste): LibTorch's convolution
// (oneDNN, direct algorithm), much faster than this build's reference BLAS and
// exact on integer values too; the tests prove both give the same integers.
torch::Tensor ApplyLinear(const torch::Tensor& x, const TorchIntLinear& l, bool ste) {
  if (ste && !x.is_cuda()) {
    auto acc = F::conv2d(x, l.weight, F::Conv2dFuncOptions().bias(l.bias).padding(l.padding));
    return Requantize(acc, acc, l, ste);
  }
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  const int64_t kh = l.weight.size(2), kw = l.weight.size(3);
  auto cols = (kh == 1 && kw == 1) ? x.flatten(2)
                                   : F::unfold(x, F::UnfoldFuncOptions({kh, kw}).padding(l.padding));
  auto acc = (torch::matmul(l.weight.flatten(1), cols) + l.bias.view({1, -1, 1})).view({B, l.weight.size(0), H, W});
  return Requantize(acc, acc, l, ste);
}

torch::Tensor ApplyLut(const torch::Tensor& x, const TorchIntLut& l, bool ste) {
  auto xi = x.detach().to(torch::kInt64);
  auto idx = torch::div(xi * l.multiplier + l.half, l.divisor, "floor").clamp(l.index_lo, l.index_lo + kLutSize - 1) - l.index_lo;
  auto y = l.table.index({idx});
  if (ste) {
    auto g = (l.sigmoid ? torch::sigmoid(x * l.ste_in) : torch::elu(x * l.ste_in)) / l.ste_out;
    y = y + (g - g.detach());
  }
  return y;
}

double QuantileOfSample(const torch::Tensor& x, double q) {
  auto flat = x.detach().flatten();
  if (flat.numel() > 1000000) flat = flat.index({torch::randint(flat.numel(), {1000000}, torch::kLong)});
  return torch::quantile(flat.to(torch::kFloat32), q).item<double>();
}

double ActivationRange(const torch::Tensor& x, int act_bits) {
  return act_bits > 10 ? x.detach().max().item<double>() : QuantileOfSample(x, 0.9999);
}

}  // namespace exact_ops
using namespace exact_ops;

torch::Tensor LocalQuantScales::ToTensor() const {
  std::vector<double> v{residual, act_head};
  for (size_t i = 0; i < inner.size(); ++i) {
    v.push_back(inner[i]);
    v.push_back(act_pre[i]);
    v.push_back(act_mid[i]);
  }
  return torch::tensor(v, torch::kFloat64);
}

LocalQuantScales LocalQuantScales::FromTensor(const torch::Tensor& t, int blocks) {
  if (t.numel() != 2 + 3 * blocks) throw Error(ErrorCode::kInvalidArgument, "checkpoint has quantisation scales of the wrong size");
  auto a = t.to(torch::kFloat64).contiguous();
  const double* p = a.data_ptr<double>();
  LocalQuantScales s;
  s.residual = p[0];
  s.act_head = p[1];
  for (int i = 0; i < blocks; ++i) {
    s.inner.push_back(p[2 + 3 * i]);
    s.act_pre.push_back(p[3 + 3 * i]);
    s.act_mid.push_back(p[4 + 3 * i]);
  }
  return s;
}

LocalQuantScales exact_ops::ScalesFromTraces(const std::vector<std::vector<torch::Tensor>>& traces, int blocks,
                                             int act_bits) {
  double h_max = 0, head_act = 0;
  std::vector<double> t_max(size_t(blocks), 0.0), pre(size_t(blocks), 0.0), mid(size_t(blocks), 0.0);
  for (const auto& trace : traces) {
    for (int i = 0; i <= blocks; ++i) h_max = std::max(h_max, trace[size_t(i == 0 ? 0 : 2 * i)].abs().max().item<double>());
    for (int i = 0; i < blocks; ++i) {
      const auto& h_in = trace[size_t(i == 0 ? 0 : 2 * i)];
      const auto& t = trace[size_t(1 + 2 * i)];
      t_max[size_t(i)] = std::max(t_max[size_t(i)], t.abs().max().item<double>());
      pre[size_t(i)] = std::max(pre[size_t(i)], ActivationRange(torch::elu(h_in), act_bits));
      mid[size_t(i)] = std::max(mid[size_t(i)], ActivationRange(torch::elu(t), act_bits));
    }
    head_act = std::max(head_act, ActivationRange(torch::elu(trace.back()), act_bits));
  }
  const double act_max = double((int32_t{1} << (act_bits - 1)) - 1);
  LocalQuantScales s;
  s.residual = 1.5 * std::max(h_max, 1e-3) / kInt16Max;
  s.act_head = std::max(1.0, head_act) / act_max;
  for (int i = 0; i < blocks; ++i) {
    s.inner.push_back(1.5 * std::max(t_max[size_t(i)], 1e-3) / kInt16Max);
    s.act_pre.push_back(std::max(1.0, pre[size_t(i)]) / act_max);
    s.act_mid.push_back(std::max(1.0, mid[size_t(i)]) / act_max);
  }
  return s;
}

LocalQuantScales CalibrateScales(LocalPixelCnnImpl& model, const std::vector<torch::Tensor>& batches,
                                 const std::vector<torch::Tensor>& aux_batches) {
  torch::NoGradGuard ng;
  std::vector<std::vector<torch::Tensor>> traces;
  for (size_t bi = 0; bi < batches.size(); ++bi) {
    traces.emplace_back();
    model.ForwardWithAux(batches[bi], aux_batches.empty() ? torch::Tensor() : aux_batches[bi], &traces.back());
  }
  return ScalesFromTraces(traces, model.config().blocks, model.config().act_bits);
}

LocalTensors TensorsFromFloat(LocalPixelCnnImpl& m, const LocalQuantScales& s, bool ste) {
  const auto& c = m.config();
  LocalTensors t;
  t.channels = c.channels;
  t.blocks = c.blocks;
  t.ste = ste;
  // With 8-bit weights and at most 10-bit activations the scales are max|w| / 127 alone (the bound holds
  // for these shapes, and older models stay byte-identical); otherwise they also take the bound into
  // account (QuantizeLinear).
  const int32_t act_max = c.ActMax(), wmax = c.WeightMax();
  const bool bounded = c.weight_bits > 8 || c.act_bits > 10;
  const int32_t pixel_bound = bounded ? 255 : 0, act_bound = bounded ? act_max : 0;
  t.conv0 = QuantizeLinear(m.conv0_weight * m.conv0_mask / 255.0, m.conv0_bias,
                           std::vector<double>(size_t(c.hidden), s.residual), ste, nullptr, wmax, pixel_bound);
  t.conv0.padding = c.kernel / 2;
  for (int i = 0; i < c.blocks; ++i) {
    auto pre = MakeEluLut(s.residual, s.act_pre[i], act_max);
    auto mid = MakeEluLut(s.inner[i], s.act_mid[i], act_max);
    t.pre.push_back(LutTensors(pre));
    t.pre.back().ste_in = s.residual;
    t.pre.back().ste_out = s.act_pre[i];
    t.mid.push_back(LutTensors(mid));
    t.mid.back().ste_in = s.inner[i];
    t.mid.back().ste_out = s.act_mid[i];
    t.conv1.push_back(QuantizeLinear(m.block_w1[i] * s.act_pre[i], m.block_b1[i], std::vector<double>(size_t(c.inner), s.inner[i]), ste,
                                     nullptr, wmax, act_bound));
    t.conv2.push_back(QuantizeLinear(m.block_w2[i] * s.act_mid[i], m.block_b2[i], std::vector<double>(size_t(c.hidden), s.residual), ste,
                                     nullptr, wmax, act_bound));
  }
  t.head_lut = LutTensors(MakeEluLut(s.residual, s.act_head, act_max));
  t.head_lut.ste_in = s.residual;
  t.head_lut.ste_out = s.act_head;
  const auto scales = ParamScales(c.channels, c.mixtures);
  t.head = QuantizeLinear(m.head_weight * s.act_head, m.head_bias, scales, ste, nullptr, wmax, act_bound);
  t.param_scale = torch::tensor(std::vector<float>(scales.begin(), scales.end())).view({1, -1, 1, 1});
  return t;
}

namespace exact_ops {
IntLinear ToIntLinear(const TorchIntLinear& l) {
  IntLinear out;
  auto w = l.weight.detach().to(torch::kCPU).to(torch::kInt64).flatten(1).contiguous();
  out.out = int(w.size(0));
  out.in = int(w.size(1));
  const int64_t* wp = w.data_ptr<int64_t>();
  out.weight.assign(wp, wp + w.numel());
  auto b = l.bias.detach().to(torch::kCPU).to(torch::kInt64).contiguous();
  for (int64_t i = 0; i < b.numel(); ++i) out.bias.push_back(int32_t(b.data_ptr<int64_t>()[i]));
  auto m = l.multiplier.to(torch::kCPU).flatten().contiguous();
  auto d = l.divisor.to(torch::kCPU).flatten().contiguous();
  for (int64_t i = 0; i < m.numel(); ++i) {
    int shift = 0;
    while ((int64_t{1} << shift) < d.data_ptr<int64_t>()[i]) ++shift;
    out.requant.push_back(Requant{int32_t(m.data_ptr<int64_t>()[i]), shift});
  }
  out.lo = int32_t(l.lo);
  out.hi = int32_t(l.hi);
  return out;
}
IntLut ToIntLut(const TorchIntLut& l) {
  IntLut out;
  int shift = 0;
  while ((int64_t{1} << shift) < l.divisor) ++shift;
  out.to_index = Requant{int32_t(l.multiplier), shift};
  out.index_lo = int32_t(l.index_lo);
  auto tb = l.table.to(torch::kCPU).contiguous();
  for (int64_t i = 0; i < tb.numel(); ++i) out.table.push_back(int16_t(tb.data_ptr<float>()[i]));
  return out;
}
}  // namespace exact_ops

IntLocalPixelCnn ExportIntModel(LocalPixelCnnImpl& m, const LocalQuantScales& s) {
  torch::NoGradGuard ng;
  const auto& c = m.config();
  auto t = TensorsFromFloat(m, s, false);
  IntLocalPixelCnn out;
  out.shape.channels = c.channels;
  out.shape.kernel = c.kernel;
  out.shape.hidden = c.hidden;
  out.shape.inner = c.inner;
  out.shape.blocks = c.blocks;
  out.shape.mixtures = c.mixtures;
  out.shape.aux = c.aux;
  out.shape.act_bits = c.act_bits;
  out.shape.weight_bits = c.weight_bits;
  // conv0: gather the causal taps, the MED centre tap and the conditioning window from the k x k kernel.
  IntLinear full = ToIntLinear(t.conv0);
  auto w = t.conv0.weight.detach().to(torch::kInt64);  // [hidden, 2C, k, k]
  const int r = c.kernel / 2, C = c.channels;
  const auto taps = out.shape.Taps();
  out.conv0 = full;
  out.conv0.in = out.shape.Conv0Inputs();
  out.conv0.weight.clear();
  for (int o = 0; o < c.hidden; ++o) {
    for (const auto& [dy, dx] : taps)
      for (int ch = 0; ch < C; ++ch) out.conv0.weight.push_back(int16_t(w[o][ch][r + dy][r + dx].item<int64_t>()));
    for (int ch = 0; ch < C; ++ch) out.conv0.weight.push_back(int16_t(w[o][C + ch][r][r].item<int64_t>()));
    for (int dy = -1; c.aux > 0 && dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx)
        for (int a = 0; a < c.aux; ++a) out.conv0.weight.push_back(int16_t(w[o][2 * C + a][r + dy][r + dx].item<int64_t>()));
  }
  for (int i = 0; i < c.blocks; ++i) {
    out.lut_pre.push_back(ToIntLut(t.pre[i]));
    out.conv1.push_back(ToIntLinear(t.conv1[i]));
    out.lut_mid.push_back(ToIntLut(t.mid[i]));
    out.conv2.push_back(ToIntLinear(t.conv2[i]));
  }
  out.lut_head = ToIntLut(t.head_lut);
  out.head = ToIntLinear(t.head);
  out.tables = MixtureTables::Compute();
  out.Validate();
  return out;
}

LocalTensors TensorsFromInt(const IntLocalPixelCnn& m) {
  const auto& s = m.shape;
  LocalTensors t;
  t.channels = s.channels;
  t.blocks = s.blocks;
  auto linear = [](const IntLinear& l, int kh, int kw) {
    TorchIntLinear out;
    out.weight = torch::tensor(std::vector<float>(l.weight.begin(), l.weight.end())).view({l.out, l.in, kh, kw});
    out.bias = torch::tensor(std::vector<float>(l.bias.begin(), l.bias.end()));
    SetRequant(out, l.requant);
    out.lo = l.lo;
    out.hi = l.hi;
    return out;
  };
  // conv0: scatter the gathered features back into a masked k x k kernel.
  const int k = s.kernel, r = k / 2, C = s.channels;
  auto w = torch::zeros({s.hidden, 2 * C + s.aux, k, k});
  const auto taps = s.Taps();
  for (int o = 0; o < s.hidden; ++o) {
    size_t j = size_t(o) * m.conv0.in;
    for (const auto& [dy, dx] : taps)
      for (int ch = 0; ch < C; ++ch) w[o][ch][r + dy][r + dx] = float(m.conv0.weight[j++]);
    for (int ch = 0; ch < C; ++ch) w[o][C + ch][r][r] = float(m.conv0.weight[j++]);
    for (int dy = -1; s.aux > 0 && dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx)
        for (int a = 0; a < s.aux; ++a) w[o][2 * C + a][r + dy][r + dx] = float(m.conv0.weight[j++]);
  }
  t.conv0 = linear(m.conv0, 1, 1);
  t.conv0.weight = w;
  t.conv0.padding = r;
  for (int i = 0; i < s.blocks; ++i) {
    t.pre.push_back(LutTensors(m.lut_pre[i]));
    t.conv1.push_back(linear(m.conv1[i], 1, 1));
    t.mid.push_back(LutTensors(m.lut_mid[i]));
    t.conv2.push_back(linear(m.conv2[i], 1, 1));
  }
  t.head_lut = LutTensors(m.lut_head);
  t.head = linear(m.head, 1, 1);
  const auto scales = ParamScales(s.channels, s.mixtures);
  t.param_scale = torch::tensor(std::vector<float>(scales.begin(), scales.end())).view({1, -1, 1, 1});
  return t;
}

LocalTensors LocalTensors::To(const torch::Device& d) const {
  LocalTensors t = *this;
  auto move_linear = [&](TorchIntLinear& l) {
    l.weight = l.weight.to(d);
    l.bias = l.bias.to(d);
    l.multiplier = l.multiplier.to(d);
    l.half = l.half.to(d);
    l.divisor = l.divisor.to(d);
    l.factor = l.factor.to(d);
  };
  move_linear(t.conv0);
  move_linear(t.head);
  for (auto& l : t.conv1) move_linear(l);
  for (auto& l : t.conv2) move_linear(l);
  for (auto& l : t.pre) l.table = l.table.to(d);
  for (auto& l : t.mid) l.table = l.table.to(d);
  t.head_lut.table = t.head_lut.table.to(d);
  t.param_scale = t.param_scale.to(d);
  return t;
}

torch::Tensor ExactForward(const LocalTensors& t, const torch::Tensor& q, const torch::Tensor& aux) {
  const bool ste = t.ste;
  auto x = aux.defined() ? torch::cat({q, MedianEdgePredictor(q), aux}, 1) : torch::cat({q, MedianEdgePredictor(q)}, 1);
  auto h = ApplyLinear(x, t.conv0, ste);
  for (int i = 0; i < t.blocks; ++i) {
    auto a = ApplyLut(h, t.pre[i], ste);
    auto inner = ApplyLut(ApplyLinear(a, t.conv1[i], ste), t.mid[i], ste);
    h = (h + ApplyLinear(inner, t.conv2[i], ste)).clamp(-kInt16Max, kInt16Max);
  }
  return ApplyLinear(ApplyLut(h, t.head_lut, ste), t.head, ste);
}

void UseExactConvolutions() {
  auto& ctx = at::globalContext();
  ctx.setBenchmarkCuDNN(false);
  ctx.setDeterministicCuDNN(true);
  ctx.setAllowTF32CuDNN(false);
  ctx.setAllowTF32CuBLAS(false);
}

}  // namespace pixelzip::models::nn
