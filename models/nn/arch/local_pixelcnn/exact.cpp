#include "models/nn/arch/local_pixelcnn/exact.h"

#include <algorithm>
#include <cmath>

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

using namespace exact_ops;

torch::Tensor LocalQuantScales::ToTensor() const { return PackScales({residual, act_head}, {&inner, &act_pre, &act_mid}); }

LocalQuantScales LocalQuantScales::FromTensor(const torch::Tensor& t, int blocks) {
  LocalQuantScales s;
  UnpackScales(t, blocks, {&s.residual, &s.act_head}, {&s.inner, &s.act_pre, &s.act_mid});
  return s;
}

LocalQuantScales ScalesFromTraces(const std::vector<std::vector<torch::Tensor>>& traces, int blocks, int act_bits) {
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
  t.conv0 = FromIntLinear(m.conv0, 1, 1);
  t.conv0.weight = w;
  t.conv0.padding = r;
  for (int i = 0; i < s.blocks; ++i) {
    t.pre.push_back(LutTensors(m.lut_pre[i]));
    t.conv1.push_back(FromIntLinear(m.conv1[i], 1, 1));
    t.mid.push_back(LutTensors(m.lut_mid[i]));
    t.conv2.push_back(FromIntLinear(m.conv2[i], 1, 1));
  }
  t.head_lut = LutTensors(m.lut_head);
  t.head = FromIntLinear(m.head, 1, 1);
  t.param_scale = ParamScaleTensor(s.channels, s.mixtures);
  return t;
}

LocalTensors LocalTensors::To(const torch::Device& d) const {
  LocalTensors t = *this;
  MoveLinear(t.conv0, d);
  MoveLinear(t.head, d);
  for (auto* v : {&t.conv1, &t.conv2})
    for (auto& l : *v) MoveLinear(l, d);
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

}  // namespace pixelzip::models::nn
