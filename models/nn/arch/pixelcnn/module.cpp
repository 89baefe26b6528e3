#include "models/nn/arch/pixelcnn/module.h"

#include <algorithm>
#include <cmath>

#include "models/nn/runtime/softmax_cdf.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using namespace exact_ops;

torch::Tensor PixelCnnMask(int out, int in, int k, int channels, bool mask_a) {
  std::vector<float> m(size_t(out) * in * k * k);
  size_t j = 0;
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i)
      for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx) m[j++] = PixelCnnTapAllowed(o, out, i, in, ky, kx, k, channels, mask_a) ? 1.f : 0.f;
  return torch::tensor(m).view({out, in, k, k});
}

namespace {
// Uniform He initialisation over the taps the mask leaves, times `gain`.
torch::Tensor MaskedInit(const torch::Tensor& mask, double gain) {
  const double fan_in = std::max(1.0, mask.sum().item<double>() / double(mask.size(0)));
  const double bound = gain * std::sqrt(3.0 / fan_in);
  return torch::empty(mask.sizes()).uniform_(-bound, bound) * mask;
}
}  // namespace

PixelCnnImpl::PixelCnnImpl(const PixelCnnShape& s) : shape_(s) {
  const int C = s.channels;
  m_in = register_buffer("m_in", PixelCnnMask(s.hidden, C, s.kernel, C, true));
  w_in = register_parameter("w_in", MaskedInit(m_in, 1.0));
  b_in = register_parameter("b_in", torch::zeros({s.hidden}));
  for (int b = 0; b < s.blocks; ++b) {
    const std::string n = "block" + std::to_string(b) + "_";
    m1.push_back(register_buffer(n + "m1", PixelCnnMask(s.inner, s.hidden, 1, C, false)));
    w1.push_back(register_parameter(n + "w1", MaskedInit(m1.back(), 1.0)));
    b1.push_back(register_parameter(n + "b1", torch::zeros({s.inner})));
    m2.push_back(register_buffer(n + "m2", PixelCnnMask(s.inner, s.inner, 3, C, false)));
    w2.push_back(register_parameter(n + "w2", MaskedInit(m2.back(), 1.0)));
    b2.push_back(register_parameter(n + "b2", torch::zeros({s.inner})));
    m3.push_back(register_buffer(n + "m3", PixelCnnMask(s.hidden, s.inner, 1, C, false)));
    w3.push_back(register_parameter(n + "w3", MaskedInit(m3.back(), 0.1)));
    b3.push_back(register_parameter(n + "b3", torch::zeros({s.hidden})));
  }
  m_h1 = register_buffer("m_h1", PixelCnnMask(s.head, s.hidden, 1, C, false));
  w_h1 = register_parameter("w_h1", MaskedInit(m_h1, 1.0));
  b_h1 = register_parameter("b_h1", torch::zeros({s.head}));
  m_h2 = register_buffer("m_h2", PixelCnnMask(s.Logits(), s.head, 1, C, false));
  w_h2 = register_parameter("w_h2", MaskedInit(m_h2, 0.3));
  b_h2 = register_parameter("b_h2", torch::zeros({s.Logits()}));
}

torch::Tensor PixelCnnImpl::forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace) {
  const auto& s = shape_;
  auto conv = [](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, int pad) {
    return F::conv2d(x, w, F::Conv2dFuncOptions().bias(b).padding(pad));
  };
  auto h = conv(q * (1.0 / 255.0), w_in * m_in, b_in, s.kernel / 2);
  if (trace) trace->push_back(h);
  for (int b = 0; b < s.blocks; ++b) {
    auto t1 = torch::relu(conv(torch::relu(h), w1[b] * m1[b], b1[b], 0));
    auto t2 = torch::relu(conv(t1, w2[b] * m2[b], b2[b], 1));
    h = h + conv(t2, w3[b] * m3[b], b3[b], 0);
    if (trace) {
      trace->push_back(t1);
      trace->push_back(t2);
      trace->push_back(h);
    }
  }
  auto o = torch::relu(conv(torch::relu(h), w_h1 * m_h1, b_h1, 0));
  if (trace) trace->push_back(o);
  return conv(o, w_h2 * m_h2, b_h2, 0);
}

torch::Tensor SoftmaxNll(const torch::Tensor& q, const torch::Tensor& logits) {
  const int64_t B = q.size(0), C = q.size(1), H = q.size(2), W = q.size(3);
  // The 256 logits made the innermost dimension first: LibTorch 1.13's CPU softmax kernels over a
  // middle dimension are many times slower than the copy.
  auto l = logits.view({B, C, 256, H, W}).permute({0, 1, 3, 4, 2}).contiguous();
  auto target = ((q.detach() + 255.0) * 0.5).round().to(torch::kLong).unsqueeze(4);
  return -torch::log_softmax(l, 4).gather(4, target).view({B, -1}).sum(1);
}

torch::Tensor PixelCnnScales::ToTensor() const { return PackScales({residual, head_pre, head_hidden}, {&pre, &t1, &t2}); }

PixelCnnScales PixelCnnScales::FromTensor(const torch::Tensor& t, int blocks) {
  PixelCnnScales s;
  UnpackScales(t, blocks, {&s.residual, &s.head_pre, &s.head_hidden}, {&s.pre, &s.t1, &s.t2});
  return s;
}

PixelCnnScales CalibratePixelCnn(PixelCnnImpl& model, const std::vector<torch::Tensor>& batches) {
  torch::NoGradGuard ng;
  const int B = model.shape().blocks;
  double h_max = 0, head_pre = 0, head_hidden = 0;
  std::vector<double> pre(B, 0.0), t1(B, 0.0), t2(B, 0.0);
  auto quantile = [](const torch::Tensor& x) { return QuantileOfSample(x, 0.9999); };
  for (const auto& q : batches) {
    std::vector<torch::Tensor> tr;
    model.forward(q, &tr);
    // tr: h0, (t1, t2, h) per block, o
    auto h_of = [&](int b) { return tr[size_t(3 * b)]; };  // input of block b (b == B: the head's input)
    for (int b = 0; b <= B; ++b) h_max = std::max(h_max, h_of(b).abs().max().item<double>());
    for (int b = 0; b < B; ++b) {
      pre[b] = std::max(pre[b], quantile(torch::relu(h_of(b))));
      t1[b] = std::max(t1[b], quantile(tr[size_t(3 * b + 1)]));
      t2[b] = std::max(t2[b], quantile(tr[size_t(3 * b + 2)]));
    }
    head_pre = std::max(head_pre, quantile(torch::relu(h_of(B))));
    head_hidden = std::max(head_hidden, quantile(tr.back()));
  }
  auto int8 = [](double v) { return std::max(v, 1e-2) / kInt8Max; };
  PixelCnnScales s;
  s.residual = std::max(1.5 * h_max, 1e-2) / kInt16Max;
  for (int b = 0; b < B; ++b) {
    s.pre.push_back(int8(pre[b]));
    s.t1.push_back(int8(t1[b]));
    s.t2.push_back(int8(t2[b]));
  }
  s.head_pre = int8(head_pre);
  s.head_hidden = int8(head_hidden);
  return s;
}

namespace {

TorchReluRequant ReluRequantTensors(const Requant& r) {
  TorchReluRequant t;
  t.multiplier = r.multiplier;
  t.half = int64_t{1} << (r.shift - 1);
  t.divisor = int64_t{1} << r.shift;
  t.factor = std::ldexp(double(r.multiplier), -r.shift);
  return t;
}

Requant ToRequant(const TorchReluRequant& t) {
  int shift = 0;
  while ((int64_t{1} << shift) < t.divisor) ++shift;
  return Requant{int32_t(t.multiplier), shift};
}

// Exact convolution of integer-valued x, then integer requantisation to [l.lo, l.hi].
// (LibTorch's convolution on the CPU for inference too.)
torch::Tensor Conv(const torch::Tensor& x, const TorchIntLinear& l, bool ste) {
  return Requantize(ExactAccumulate(x, l, !x.is_cuda()), l, ste);
}

torch::Tensor ReluRq(const torch::Tensor& h, const TorchReluRequant& r, bool ste) {
  auto hi = h.detach().clamp_min(0).to(torch::kInt64);
  auto y = torch::div(hi * r.multiplier + r.half, r.divisor, "floor").clamp(0, kInt8Max).to(torch::kFloat32);
  if (ste) {
    auto g = torch::relu(h) * r.factor;
    y = y + (g - g.detach());
  }
  return y;
}

TorchIntLinear Quantize(const torch::Tensor& w, const torch::Tensor& b, int n_out, double out_scale, bool ste, int padding,
                        bool relu8) {
  auto l = QuantizeLinear(w, b, std::vector<double>(size_t(n_out), out_scale), ste, nullptr);
  l.padding = padding;
  if (relu8) {
    l.lo = 0;
    l.hi = kInt8Max;
  }
  return l;
}

}  // namespace

PixelCnnTensors PixelCnnTensorsFromFloat(PixelCnnImpl& m, const PixelCnnScales& sc, bool ste) {
  const auto& s = m.shape();
  PixelCnnTensors t;
  t.blocks = s.blocks;
  t.ste = ste;
  t.conv_in = Quantize(m.w_in * m.m_in / 255.0, m.b_in, s.hidden, sc.residual, ste, s.kernel / 2, false);
  for (int b = 0; b < s.blocks; ++b) {
    t.pre.push_back(ReluRequantTensors(RequantFromFactor(sc.residual / sc.pre[b])));
    t.conv1.push_back(Quantize(m.w1[b] * m.m1[b] * sc.pre[b], m.b1[b], s.inner, sc.t1[b], ste, 0, true));
    t.conv2.push_back(Quantize(m.w2[b] * m.m2[b] * sc.t1[b], m.b2[b], s.inner, sc.t2[b], ste, 1, true));
    t.conv3.push_back(Quantize(m.w3[b] * m.m3[b] * sc.t2[b], m.b3[b], s.hidden, sc.residual, ste, 0, false));
  }
  t.head_pre = ReluRequantTensors(RequantFromFactor(sc.residual / sc.head_pre));
  t.head1 = Quantize(m.w_h1 * m.m_h1 * sc.head_pre, m.b_h1, s.head, sc.head_hidden, ste, 0, true);
  t.head2 = Quantize(m.w_h2 * m.m_h2 * sc.head_hidden, m.b_h2, s.Logits(), 1.0 / (1 << kSoftmaxLogitFracBits), ste, 0, false);
  return t;
}

IntPixelCnn ExportPixelCnn(PixelCnnImpl& m, const PixelCnnScales& sc) {
  torch::NoGradGuard ng;
  auto t = PixelCnnTensorsFromFloat(m, sc, false);
  IntPixelCnn out;
  out.shape = m.shape();
  out.conv_in = ToIntLinear(t.conv_in);
  for (int b = 0; b < t.blocks; ++b) {
    out.pre.push_back(ToRequant(t.pre[b]));
    out.conv1.push_back(ToIntLinear(t.conv1[b]));
    out.conv2.push_back(ToIntLinear(t.conv2[b]));
    out.conv3.push_back(ToIntLinear(t.conv3[b]));
  }
  out.head_pre = ToRequant(t.head_pre);
  out.head1 = ToIntLinear(t.head1);
  out.head2 = ToIntLinear(t.head2);
  out.exp_table = ComputeSoftmaxExpTable();
  out.Validate();
  return out;
}

PixelCnnTensors PixelCnnTensorsFromInt(const IntPixelCnn& m) {
  auto linear = [](const IntLinear& l, int k) {
    TorchIntLinear out = FromIntLinear(l, k, k);
    out.padding = k / 2;
    return out;
  };
  PixelCnnTensors t;
  t.blocks = m.shape.blocks;
  t.conv_in = linear(m.conv_in, m.shape.kernel);
  for (int b = 0; b < t.blocks; ++b) {
    t.pre.push_back(ReluRequantTensors(m.pre[b]));
    t.conv1.push_back(linear(m.conv1[b], 1));
    t.conv2.push_back(linear(m.conv2[b], 3));
    t.conv3.push_back(linear(m.conv3[b], 1));
  }
  t.head_pre = ReluRequantTensors(m.head_pre);
  t.head1 = linear(m.head1, 1);
  t.head2 = linear(m.head2, 1);
  return t;
}

PixelCnnTensors PixelCnnTensors::To(const torch::Device& d) const {
  PixelCnnTensors t = *this;
  for (auto* l : {&t.conv_in, &t.head1, &t.head2}) MoveLinear(*l, d);
  for (auto* v : {&t.conv1, &t.conv2, &t.conv3})
    for (auto& l : *v) MoveLinear(l, d);
  return t;
}

torch::Tensor PixelCnnExactForward(const PixelCnnTensors& t, const torch::Tensor& q) {
  const bool ste = t.ste;
  auto h = Conv(q, t.conv_in, ste);
  for (int b = 0; b < t.blocks; ++b) {
    auto t1 = Conv(ReluRq(h, t.pre[b], ste), t.conv1[b], ste);
    auto t2 = Conv(t1, t.conv2[b], ste);
    h = (h + Conv(t2, t.conv3[b], ste)).clamp(-kInt16Max, kInt16Max);
  }
  return Conv(Conv(ReluRq(h, t.head_pre, ste), t.head1, ste), t.head2, ste);
}

}  // namespace pixelzip::models::nn
