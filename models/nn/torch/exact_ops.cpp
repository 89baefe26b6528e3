#include "models/nn/torch/exact_ops.h"

#include <algorithm>
#include <cmath>

#include "models/nn/runtime/mixture_cdf.h"
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
torch::Tensor ExactAccumulate(const torch::Tensor& x, const TorchIntLinear& l, bool conv2d) {
  if (conv2d) return F::conv2d(x, l.weight, F::Conv2dFuncOptions().bias(l.bias).padding(l.padding));
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  const int64_t kh = l.weight.size(2), kw = l.weight.size(3);
  auto cols = (kh == 1 && kw == 1) ? x.flatten(2)
                                   : F::unfold(x, F::UnfoldFuncOptions({kh, kw}).padding(l.padding));
  return (torch::matmul(l.weight.flatten(1), cols) + l.bias.view({1, -1, 1})).view({B, l.weight.size(0), H, W});
}

torch::Tensor ApplyLinear(const torch::Tensor& x, const TorchIntLinear& l, bool ste) {
  auto acc = ExactAccumulate(x, l, ste && !x.is_cuda());
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

TorchIntLinear FromIntLinear(const IntLinear& l, const std::vector<int64_t>& weight_shape) {
  TorchIntLinear out;
  out.weight = torch::tensor(std::vector<float>(l.weight.begin(), l.weight.end())).view(weight_shape);
  out.bias = torch::tensor(std::vector<float>(l.bias.begin(), l.bias.end()));
  SetRequant(out, l.requant);
  out.lo = l.lo;
  out.hi = l.hi;
  return out;
}

TorchIntLinear FromIntLinear(const IntLinear& l, int kh, int kw) { return FromIntLinear(l, {l.out, l.in / (kh * kw), kh, kw}); }

void MoveLinear(TorchIntLinear& l, const torch::Device& d) {
  l.weight = l.weight.to(d);
  l.bias = l.bias.to(d);
  l.multiplier = l.multiplier.to(d);
  l.half = l.half.to(d);
  l.divisor = l.divisor.to(d);
  l.factor = l.factor.to(d);
}

torch::Tensor ParamScaleTensor(int channels, int mixtures) {
  const auto scales = ParamScales(channels, mixtures);
  return torch::tensor(std::vector<float>(scales.begin(), scales.end())).view({1, -1, 1, 1});
}

std::vector<double> ScalesFromTensor(const torch::Tensor& t, int64_t count) {
  if (t.numel() != count) throw Error(ErrorCode::kInvalidArgument, "checkpoint has quantisation scales of the wrong size");
  auto a = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(a.data_ptr<double>(), a.data_ptr<double>() + count);
}

torch::Tensor PackScales(const std::vector<double>& fixed, const std::vector<const std::vector<double>*>& per_block) {
  std::vector<double> v = fixed;
  const size_t blocks = per_block.empty() ? 0 : per_block[0]->size();
  for (size_t i = 0; i < blocks; ++i)
    for (const auto* values : per_block) v.push_back((*values)[i]);
  return torch::tensor(v, torch::kFloat64);
}

void UnpackScales(const torch::Tensor& t, int blocks, const std::vector<double*>& fixed,
                  const std::vector<std::vector<double>*>& per_block) {
  const auto v = ScalesFromTensor(t, int64_t(fixed.size() + per_block.size() * size_t(blocks)));
  size_t j = 0;
  for (double* value : fixed) *value = v[j++];
  for (auto* values : per_block) values->clear();
  for (int i = 0; i < blocks; ++i)
    for (auto* values : per_block) values->push_back(v[j++]);
}

torch::Tensor Requantize(const torch::Tensor& acc, const TorchIntLinear& l, bool ste) { return Requantize(acc, acc, l, ste); }

}  // namespace exact_ops

void UseExactConvolutions() {
  auto& ctx = at::globalContext();
  ctx.setBenchmarkCuDNN(false);
  ctx.setDeterministicCuDNN(true);
  ctx.setAllowTF32CuDNN(false);
  ctx.setAllowTF32CuBLAS(false);
}

}  // namespace pixelzip::models::nn
