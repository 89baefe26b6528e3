#include "models/nn/arch/gated_pixelcnn/exact.h"

#include <algorithm>
#include <cmath>

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using torch::indexing::Slice;
using namespace exact_ops;
using namespace gated_ops;

namespace {

constexpr double kCondLimit = double(1 << 22);
constexpr double kPreScale = kGatePreRange / kInt16Max;               // pre-activation unit
constexpr double kGateScale = double(1 << kGateShift) / (127.0 * 127.0);  // gate output unit

torch::Tensor SteRound(const torch::Tensor& x, double lo, double hi) { return x + (x.round().clamp(lo, hi) - x).detach(); }

// Table of f over inputs of scale s_in: idx over [-span, span] in 4096 steps, values round(f(x) / s_out) clamped to int8.
template <typename Fn>
IntLut MakeLut(double s_in, double span, double s_out, Fn f) {
  const double s_idx = 2.0 * span / (kLutSize - 1);
  IntLut lut;
  lut.index_lo = -(kLutSize / 2);
  lut.to_index = RequantFromFactor(s_in / s_idx);
  for (int j = 0; j < kLutSize; ++j) {
    const double x = double(lut.index_lo + j) * s_idx;
    lut.table.push_back(int16_t(std::clamp<long long>(std::llround(f(x) / s_out), -127, 127)));
  }
  return lut;
}
IntLut TanhLut() { return MakeLut(kPreScale, kGatePreRange, 1.0 / 127, [](double x) { return std::tanh(x); }); }
IntLut SigmoidLut() { return MakeLut(kPreScale, kGatePreRange, 1.0 / 127, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }); }
IntLut IdentityLut(double s_in, double s_out) { return MakeLut(s_in, 127.5 * s_out, s_out, [](double x) { return x; }); }

torch::Tensor LookUp(const torch::Tensor& x, const TorchIntLut& l) {
  auto xi = x.detach().to(torch::kInt64);
  auto idx = torch::div(xi * l.multiplier + l.half, l.divisor, "floor").clamp(l.index_lo, l.index_lo + kLutSize - 1) - l.index_lo;
  return l.table.index({idx});
}
// Lookup with a straight-through gradient of `grad_fn`(x).
torch::Tensor LookUpSte(const torch::Tensor& x, const TorchIntLut& l, bool ste, const torch::Tensor& grad_value) {
  auto y = LookUp(x, l);
  if (ste) y = y + (grad_value - grad_value.detach());
  return y;
}

// Exact sum(w * x) + bias (+ per-image conditioning), then integer requantisation.
torch::Tensor ExactLinear(const torch::Tensor& x, const TorchIntLinear& l, const torch::Tensor& cond_rows, bool ste) {
  torch::Tensor acc;
  if (!x.is_cuda()) {
    acc = F::conv2d(x, l.weight, F::Conv2dFuncOptions().bias(l.bias));
  } else {
    const int64_t B = x.size(0), kh = l.weight.size(2), kw = l.weight.size(3);
    const int64_t Ho = x.size(2) - kh + 1, Wo = x.size(3) - kw + 1;
    auto cols = (kh == 1 && kw == 1) ? x.flatten(2) : F::unfold(x, F::UnfoldFuncOptions({kh, kw}));
    acc = (torch::matmul(l.weight.flatten(1), cols) + l.bias.view({1, -1, 1})).view({B, l.weight.size(0), Ho, Wo});
  }
  if (cond_rows.defined()) acc = acc + cond_rows.unsqueeze(2).unsqueeze(3);
  auto a = acc.detach().to(torch::kInt64);
  auto y = torch::div(a * l.multiplier + l.half, l.divisor, "floor").clamp(l.lo, l.hi).to(torch::kFloat32);
  if (ste) {
    auto g = acc * l.factor;
    y = y + (g - g.detach());
  }
  return y;
}

// Gate of int16 pre-activations [B, 2F, H, W] -> [B, F, H, W] in [-126, 126].
torch::Tensor Gate(const GatedTensors& t, const torch::Tensor& pre) {
  const int Fe = t.shape.features;
  auto a = pre.index({Slice(), Slice(0, Fe)}), b = pre.index({Slice(), Slice(Fe, 2 * Fe)});
  torch::Tensor ga, gb;
  if (t.ste) {
    ga = torch::tanh(a * kPreScale) * 127.0;
    gb = torch::sigmoid(b * kPreScale) * 127.0;
  }
  auto th = LookUpSte(a, t.tanh_lut, t.ste, ga);
  auto sg = LookUpSte(b, t.sigmoid_lut, t.ste, gb);
  auto prod = (th.detach().to(torch::kInt64) * sg.detach().to(torch::kInt64));
  auto y = torch::div(prod + (int64_t{1} << (kGateShift - 1)), int64_t{1} << kGateShift, "floor").to(torch::kFloat32);
  if (t.ste) {
    auto g = th * sg * (1.0 / (1 << kGateShift));
    y = y + (g - g.detach());
  }
  return y;
}

torch::Tensor CondTensor(const std::vector<int32_t>& c, int classes, int out) {
  return torch::tensor(std::vector<float>(c.begin(), c.end())).view({classes, out});
}

// Per-output-channel weight scale, as QuantizeLinear computes it (needed for the conditioning).
torch::Tensor WeightScale(const torch::Tensor& w) { return (w.detach().abs().amax({1, 2, 3}) / 127.0).clamp_min(1e-12); }

}  // namespace

torch::Tensor GatedQuantScales::ToTensor() const {
  std::vector<double> v{residual, act_head};
  for (size_t i = 1; i < act.size(); ++i) v.push_back(act[i]);
  return torch::tensor(v, torch::kFloat64);
}

GatedQuantScales GatedQuantScales::FromTensor(const torch::Tensor& t, int layers) {
  const auto v = ScalesFromTensor(t, 1 + layers);
  const double* p = v.data();
  GatedQuantScales s;
  s.residual = p[0];
  s.act_head = p[1];
  s.act.assign(1, 0.0);
  for (int l = 1; l < layers; ++l) s.act.push_back(p[1 + l]);
  return s;
}

GatedQuantScales CalibrateGatedScales(GatedPixelCnnImpl& model, const std::vector<torch::Tensor>& batches) {
  torch::NoGradGuard ng;
  const int L = model.shape().layers;
  double h_max = 0, head = 0;
  std::vector<double> act(size_t(L), 0.0);
  for (const auto& q : batches) {
    std::vector<torch::Tensor> trace;
    model.forward(q, torch::randint(model.shape().classes, {q.size(0)}, torch::kInt64), &trace);
    for (int l = 0; l < L; ++l) {
      h_max = std::max(h_max, trace[size_t(l)].abs().max().item<double>());
      if (l > 0) act[size_t(l)] = std::max(act[size_t(l)], QuantileOfSample(trace[size_t(l - 1)].abs(), 0.9999));
    }
    head = std::max(head, QuantileOfSample(torch::elu(trace.back()), 0.9999));
  }
  GatedQuantScales s;
  s.residual = 1.5 * std::max(h_max, 1e-3) / kInt16Max;
  s.act_head = std::max(1.0, head) / kInt8Max;
  s.act.assign(1, 0.0);
  for (int l = 1; l < L; ++l) s.act.push_back(std::max(act[size_t(l)], 1e-3) / kInt8Max);
  return s;
}

GatedTensors GatedTensorsFromFloat(GatedPixelCnnImpl& m, const GatedQuantScales& s, bool ste) {
  const auto& sh = m.shape();
  const int C = sh.channels, Fe = sh.features;
  GatedTensors t;
  t.shape = sh;
  t.ste = ste;
  t.residual_scale = s.residual;
  t.act_scale = s.act;
  const std::vector<double> pre_scale(size_t(2 * Fe), kPreScale), res_scale(size_t(Fe), s.residual);
  auto cond = [&](const torch::Tensor& emb, const torch::Tensor& w_eff) {
    auto c = emb / WeightScale(w_eff).view({1, -1});
    return ste ? SteRound(c, -kCondLimit, kCondLimit) : c.detach().round().clamp(-kCondLimit, kCondLimit);
  };
  for (int l = 0; l < sh.layers; ++l) {
    const int cin = l == 0 ? C : Fe;
    const double in_scale = l == 0 ? 1.0 / 255.0 : kGateScale;
    const int r = sh.Radius();
    // The float module's centred, masked kernels, cut to the exact path's causal shapes.
    auto vw = (m.v_w[l] * m.v_mask).narrow(2, 0, r + 1) * in_scale;  // [2F, cin, r+1, k]: rows y-r..y
    t.vconv.push_back(QuantizeLinear(vw, m.v_b[l], pre_scale, ste, nullptr));
    t.vcond.push_back(cond(m.v_emb[l], vw));
    // Horizontal input channels: cin of pixels (1/255) or activations (act scale), then F link gate outputs.
    std::vector<float> ch_scale(size_t(cin), float(l == 0 ? 1.0 / 255.0 : s.act[size_t(l)]));
    ch_scale.resize(size_t(cin + Fe), float(kGateScale));
    auto link = F::pad((m.link_w[l] * m.link_mask).narrow(2, 0, 1), F::PadFuncOptions({r, 0, 0, 0}));  // [2F, F, 1, r+1]: tap x
    auto hw = torch::cat({(m.h_w[l] * m.h_mask[l]).narrow(3, 0, r + 1), link}, 1) * torch::tensor(ch_scale).view({1, -1, 1, 1});
    t.hconv.push_back(QuantizeLinear(hw, m.h_b[l], pre_scale, ste, nullptr));
    t.hcond.push_back(cond(m.h_emb[l], hw));
    t.res.push_back(QuantizeLinear(m.res_w[l] * kGateScale, m.res_b[l], res_scale, ste, nullptr));
    t.act.push_back(l == 0 ? TorchIntLut{} : LutTensors(IdentityLut(s.residual, s.act[size_t(l)])));
  }
  t.tanh_lut = LutTensors(TanhLut());
  t.sigmoid_lut = LutTensors(SigmoidLut());
  t.head_lut = LutTensors(MakeEluLut(s.residual, s.act_head));
  t.head_lut.ste_in = s.residual;
  t.head_lut.ste_out = s.act_head;
  const auto scales = ParamScales(C, sh.mixtures);
  t.head = QuantizeLinear(m.head_w * s.act_head, m.head_b, scales, ste, nullptr);
  t.param_scale = torch::tensor(std::vector<float>(scales.begin(), scales.end())).view({1, -1, 1, 1});
  return t;
}

torch::Tensor GatedExactForward(const GatedTensors& t, const torch::Tensor& q, const torch::Tensor& classes) {
  const auto& sh = t.shape;
  const int r = sh.Radius();
  const bool ste = t.ste;
  torch::Tensor v = q, h;
  for (int l = 0; l < sh.layers; ++l) {
    v = Gate(t, ExactLinear(Pad(v, r, r, r), t.vconv[size_t(l)], t.vcond[size_t(l)].index({classes}), ste));
    torch::Tensor hin = q;
    if (l > 0) {
      const auto& lut = t.act[size_t(l)];
      torch::Tensor g;
      if (ste) g = (h * (t.residual_scale / t.act_scale[size_t(l)])).clamp(-127.0, 127.0);
      hin = LookUpSte(h, lut, ste, g);
    }
    auto pre = ExactLinear(Pad(torch::cat({hin, ShiftDown(v)}, 1), r, 0, 0), t.hconv[size_t(l)],
                           t.hcond[size_t(l)].index({classes}), ste);
    auto inc = ExactLinear(Gate(t, pre), t.res[size_t(l)], torch::Tensor(), ste);
    h = l == 0 ? inc : (h + inc).clamp(-kInt16Max, kInt16Max);
  }
  return ExactLinear(ApplyLut(h, t.head_lut, ste), t.head, torch::Tensor(), ste);
}

IntGatedPixelCnn ExportGatedModel(GatedPixelCnnImpl& m, const GatedQuantScales& s) {
  torch::NoGradGuard ng;
  const auto& sh = m.shape();
  auto t = GatedTensorsFromFloat(m, s, false);
  IntGatedPixelCnn out;
  out.shape = sh;
  const int C = sh.channels, Fe = sh.features, r = sh.Radius();
  auto cond_vec = [](const torch::Tensor& c) {
    auto ci = c.to(torch::kInt64).flatten().contiguous();
    return std::vector<int32_t>(ci.data_ptr<int64_t>(), ci.data_ptr<int64_t>() + ci.numel());
  };
  for (int l = 0; l < sh.layers; ++l) {
    const int cin = l == 0 ? C : Fe;
    // vconv: features ordered (dy, dx, channel).
    IntLinear v = ToIntLinear(t.vconv[size_t(l)]);
    auto vw = t.vconv[size_t(l)].weight.to(torch::kInt64).permute({0, 2, 3, 1}).contiguous();  // [2F, r+1, k, cin]
    v.weight.assign(vw.data_ptr<int64_t>(), vw.data_ptr<int64_t>() + vw.numel());
    out.vconv.push_back(v);
    out.vcond.push_back(cond_vec(t.vcond[size_t(l)]));
    // hconv: gather the causal taps (dx, channel), then the link features at the last tap.
    IntLinear hl = ToIntLinear(t.hconv[size_t(l)]);
    auto hw = t.hconv[size_t(l)].weight.to(torch::kInt64);  // [2F, cin + F, 1, r+1]
    hl.in = sh.HorizontalInputs(l);
    hl.weight.clear();
    auto hwa = hw.accessor<int64_t, 4>();
    for (int o = 0; o < 2 * Fe; ++o) {
      for (int tap = 0; tap < sh.HorizontalTaps(l); ++tap)
        for (int c = 0; c < cin; ++c) hl.weight.push_back(int16_t(hwa[o][c][0][tap]));
      for (int c = 0; c < Fe; ++c) hl.weight.push_back(int16_t(hwa[o][cin + c][0][r]));
    }
    out.hconv.push_back(hl);
    out.hcond.push_back(cond_vec(t.hcond[size_t(l)]));
    out.res.push_back(ToIntLinear(t.res[size_t(l)]));
    out.act_lut.push_back(l == 0 ? IntLut{} : ToIntLut(t.act[size_t(l)]));
  }
  out.tanh_lut = ToIntLut(t.tanh_lut);
  out.sigmoid_lut = ToIntLut(t.sigmoid_lut);
  out.head_lut = ToIntLut(t.head_lut);
  out.head = ToIntLinear(t.head);
  out.tables = MixtureTables::Compute();
  out.Validate();
  return out;
}

GatedTensors GatedTensorsFromInt(const IntGatedPixelCnn& m) {
  const auto& sh = m.shape;
  const int C = sh.channels, Fe = sh.features, r = sh.Radius(), k = sh.kernel;
  GatedTensors t;
  t.shape = sh;
  for (int l = 0; l < sh.layers; ++l) {
    const int cin = l == 0 ? C : Fe;
    auto v = FromIntLinear(m.vconv[size_t(l)], {2 * Fe, r + 1, k, cin});
    v.weight = v.weight.permute({0, 3, 1, 2}).contiguous();
    t.vconv.push_back(v);
    t.vcond.push_back(CondTensor(m.vcond[size_t(l)], sh.classes, 2 * Fe));
    // hconv: scatter the gathered taps back into the masked [2F, cin + F, 1, r + 1] kernel.
    const auto& hl = m.hconv[size_t(l)];
    auto hw = torch::zeros({2 * Fe, cin + Fe, 1, r + 1});
    auto hwa = hw.accessor<float, 4>();
    size_t j = 0;
    for (int o = 0; o < 2 * Fe; ++o) {
      for (int tap = 0; tap < sh.HorizontalTaps(l); ++tap)
        for (int c = 0; c < cin; ++c) hwa[o][c][0][tap] = float(hl.weight[j++]);
      for (int c = 0; c < Fe; ++c) hwa[o][cin + c][0][r] = float(hl.weight[j++]);
    }
    auto h = FromIntLinear(hl, {2 * Fe, hl.in, 1, 1});
    h.weight = hw;
    t.hconv.push_back(h);
    t.hcond.push_back(CondTensor(m.hcond[size_t(l)], sh.classes, 2 * Fe));
    t.res.push_back(FromIntLinear(m.res[size_t(l)], {Fe, Fe, 1, 1}));
    t.act.push_back(l == 0 ? TorchIntLut{} : LutTensors(m.act_lut[size_t(l)]));
  }
  t.tanh_lut = LutTensors(m.tanh_lut);
  t.sigmoid_lut = LutTensors(m.sigmoid_lut);
  t.head_lut = LutTensors(m.head_lut);
  t.head = FromIntLinear(m.head, {m.head.out, m.head.in, 1, 1});
  t.param_scale = ParamScaleTensor(C, sh.mixtures);
  return t;
}

GatedTensors GatedTensors::To(const torch::Device& d) const {
  GatedTensors t = *this;
  for (auto* v : {&t.vconv, &t.hconv, &t.res})
    for (auto& l : *v) MoveLinear(l, d);
  MoveLinear(t.head, d);
  for (auto* v : {&t.vcond, &t.hcond})
    for (auto& c : *v) c = c.to(d);
  for (auto& l : t.act)
    if (l.table.defined()) l.table = l.table.to(d);
  for (auto* l : {&t.tanh_lut, &t.sigmoid_lut, &t.head_lut}) l->table = l->table.to(d);
  t.param_scale = t.param_scale.to(d);
  return t;
}

}  // namespace pixelzip::models::nn
