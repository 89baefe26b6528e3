#include "models/nn/arch/multiscale/module.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "models/nn/torch/logistic_mixture.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using torch::indexing::None;
using torch::indexing::Slice;
using namespace exact_ops;

namespace {
torch::Tensor UniformInit(int64_t out, int64_t in, int64_t kh, int64_t kw, double gain) {
  const double bound = gain * std::sqrt(3.0 / double(in * kh * kw));
  return torch::empty({out, in, kh, kw}).uniform_(-bound, bound);
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

GroupNetImpl::GroupNetImpl(int in_channels, int hidden, int inner, int blocks, int params) {
  conv0_weight = register_parameter("conv0_weight", UniformInit(hidden, in_channels, 3, 3, 1.0));
  conv0_bias = register_parameter("conv0_bias", torch::zeros({hidden}));
  for (int i = 0; i < blocks; ++i) {
    const std::string b = "block" + std::to_string(i);
    block_w1.push_back(register_parameter(b + "_w1", UniformInit(inner, hidden, 1, 1, 1.0)));
    block_b1.push_back(register_parameter(b + "_b1", torch::zeros({inner})));
    block_w2.push_back(register_parameter(b + "_w2", UniformInit(hidden, inner, 1, 1, 0.1)));
    block_b2.push_back(register_parameter(b + "_b2", torch::zeros({hidden})));
  }
  head_weight = register_parameter("head_weight", UniformInit(params, hidden, 1, 1, 0.5));
  head_bias = register_parameter("head_bias", torch::zeros({params}));
}

torch::Tensor GroupNetImpl::forward(const torch::Tensor& x, std::vector<torch::Tensor>* trace) {
  auto h = F::conv2d(x * (1.0 / 255.0), conv0_weight, F::Conv2dFuncOptions().bias(conv0_bias).padding(1));
  return ResidualBlocksAndHead(h, block_w1, block_b1, block_w2, block_b2, head_weight, head_bias, trace);
}

MultiscalePixelCnnImpl::MultiscalePixelCnnImpl(const MultiscaleShape& s) : shape_(s) {
  base = register_module("base", LocalPixelCnn(ConfigOf(s.BaseShape())));
  for (int g = 0; g < kMultiscaleGroups; ++g)
    groups.push_back(register_module("group" + std::to_string(g),
                                     GroupNet(GroupInputPhases(g) * s.channels, s.hidden, s.inner, s.blocks,
                                              MixtureParamCount(s.channels, s.mixtures))));
}

torch::Tensor MultiscaleScales::ToTensor() const {
  std::vector<torch::Tensor> parts{base.ToTensor()};
  for (const auto& g : groups) parts.push_back(g.ToTensor());
  return torch::cat(parts);
}

MultiscaleScales MultiscaleScales::FromTensor(const torch::Tensor& t, const MultiscaleShape& s) {
  const int64_t nb = 2 + 3 * s.base_blocks, ng = 2 + 3 * s.blocks;
  if (t.dim() != 1 || t.numel() != nb + kMultiscaleGroups * ng)
    throw Error(ErrorCode::kInvalidArgument, "checkpoint has quantisation scales of the wrong size");
  MultiscaleScales r;
  r.base = LocalQuantScales::FromTensor(t.narrow(0, 0, nb), s.base_blocks);
  for (int g = 0; g < kMultiscaleGroups; ++g) r.groups[g] = LocalQuantScales::FromTensor(t.narrow(0, nb + g * ng, ng), s.blocks);
  return r;
}

torch::Tensor GridOf(const torch::Tensor& q, int s) {
  if (s == 1) return q;
  return q.index({Slice(), Slice(), Slice(None, None, s), Slice(None, None, s)});
}

torch::Tensor GroupInput(const torch::Tensor& grid, int g) {
  const int64_t hs = grid.size(2), ws = grid.size(3), hc = CeilDiv(hs, 2), wc = CeilDiv(ws, 2);
  std::vector<torch::Tensor> phases;
  for (int k = 0; k < GroupInputPhases(g); ++k) {
    auto p = grid.index({Slice(), Slice(), Slice(InputPhaseY(k), None, 2), Slice(InputPhaseX(k), None, 2)});
    if (p.size(2) != hc || p.size(3) != wc) p = F::pad(p, F::PadFuncOptions({0, wc - p.size(3), 0, hc - p.size(2)}));
    phases.push_back(p);
  }
  return torch::cat(phases, 1);
}

torch::Tensor GroupExactForward(const LocalTensors& t, const torch::Tensor& input) {
  const bool ste = t.ste;
  auto h = ApplyLinear(input, t.conv0, ste);
  for (int i = 0; i < t.blocks; ++i) {
    auto a = ApplyLut(h, t.pre[size_t(i)], ste);
    auto inner = ApplyLut(ApplyLinear(a, t.conv1[size_t(i)], ste), t.mid[size_t(i)], ste);
    h = (h + ApplyLinear(inner, t.conv2[size_t(i)], ste)).clamp(-kInt16Max, kInt16Max);
  }
  return ApplyLinear(ApplyLut(h, t.head_lut, ste), t.head, ste);
}

namespace {


// Calls fn(s, g, input) for every level and group of q [B, C, H, W] and returns L.
int ForEachGroup(const torch::Tensor& q, int base_side, const std::function<void(int, int, const torch::Tensor&)>& fn) {
  const int L = MultiscaleLevels(int(q.size(3)), int(q.size(2)), base_side);
  for (int l = L; l >= 1; --l) {
    const int s = 1 << (l - 1);
    const auto grid = GridOf(q, s);
    for (int g = 0; g < kMultiscaleGroups; ++g) fn(s, g, GroupInput(grid, g));
  }
  return L;
}

// Assembles base and group parameters into [B, P, H, W].
torch::Tensor Assemble(const torch::Tensor& q, int base_side, int64_t P,
                       const std::function<torch::Tensor(const torch::Tensor&)>& base_fn,
                       const std::function<torch::Tensor(int, const torch::Tensor&)>& group_fn) {
  const int64_t B = q.size(0), H = q.size(2), W = q.size(3);
  const int L = MultiscaleLevels(int(W), int(H), base_side);
  auto out = torch::zeros({B, P, H, W}, q.options());
  const int step = 1 << L;
  out.index_put_({Slice(), Slice(), Slice(None, None, step), Slice(None, None, step)}, base_fn(GridOf(q, step)));
  ForEachGroup(q, base_side, [&](int s, int g, const torch::Tensor& input) {
    const int64_t y0 = int64_t(s) * GroupPhaseY(g), x0 = int64_t(s) * GroupPhaseX(g);
    if (y0 >= H || x0 >= W) return;
    const int64_t ny = CeilDiv(H - y0, 2 * s), nx = CeilDiv(W - x0, 2 * s);
    auto p = group_fn(g, input).index({Slice(), Slice(), Slice(0, ny), Slice(0, nx)});
    out.index_put_({Slice(), Slice(), Slice(y0, None, 2 * s), Slice(x0, None, 2 * s)}, p);
  });
  return out;
}

LocalTensors GroupTensorsFromFloat(GroupNetImpl& m, const LocalQuantScales& s, const MultiscaleShape& shape, bool ste) {
  const int channels = shape.channels, mixtures = shape.mixtures;
  const int32_t act_max = shape.ActMax(), wmax = shape.WeightMax();
  // As for the base (TensorsFromFloat): the bound enters the weight scales only beyond int8 weights and
  // 10-bit activations, so older models stay byte-identical.
  const bool bounded = shape.weight_bits > 8 || shape.act_bits > 10;
  const int32_t pixel_bound = bounded ? 255 : 0, act_bound = bounded ? act_max : 0;
  LocalTensors t;
  t.channels = channels;
  t.blocks = m.blocks();
  t.ste = ste;
  const int64_t hidden = m.conv0_weight.size(0), inner = m.blocks() > 0 ? m.block_w1[0].size(0) : 0;
  t.conv0 = QuantizeLinear(m.conv0_weight / 255.0, m.conv0_bias, std::vector<double>(size_t(hidden), s.residual), ste, nullptr,
                           wmax, pixel_bound);
  t.conv0.padding = 1;
  for (int i = 0; i < m.blocks(); ++i) {
    t.pre.push_back(LutTensors(MakeEluLut(s.residual, s.act_pre[size_t(i)], act_max)));
    t.pre.back().ste_in = s.residual;
    t.pre.back().ste_out = s.act_pre[size_t(i)];
    t.mid.push_back(LutTensors(MakeEluLut(s.inner[size_t(i)], s.act_mid[size_t(i)], act_max)));
    t.mid.back().ste_in = s.inner[size_t(i)];
    t.mid.back().ste_out = s.act_mid[size_t(i)];
    t.conv1.push_back(QuantizeLinear(m.block_w1[size_t(i)] * s.act_pre[size_t(i)], m.block_b1[size_t(i)],
                                     std::vector<double>(size_t(inner), s.inner[size_t(i)]), ste, nullptr, wmax, act_bound));
    t.conv2.push_back(QuantizeLinear(m.block_w2[size_t(i)] * s.act_mid[size_t(i)], m.block_b2[size_t(i)],
                                     std::vector<double>(size_t(hidden), s.residual), ste, nullptr, wmax, act_bound));
  }
  t.head_lut = LutTensors(MakeEluLut(s.residual, s.act_head, act_max));
  t.head_lut.ste_in = s.residual;
  t.head_lut.ste_out = s.act_head;
  const auto scales = ParamScales(channels, mixtures);
  t.head = QuantizeLinear(m.head_weight * s.act_head, m.head_bias, scales, ste, nullptr, wmax, act_bound);
  t.param_scale = torch::tensor(std::vector<float>(scales.begin(), scales.end())).view({1, -1, 1, 1});
  return t;
}

}  // namespace

MultiscaleScales CalibrateMultiscaleScales(MultiscalePixelCnnImpl& m, const std::vector<torch::Tensor>& batches) {
  torch::NoGradGuard ng;
  const auto& s = m.shape();
  MultiscaleScales r;
  std::vector<torch::Tensor> base_batches;
  std::vector<std::vector<torch::Tensor>> traces[kMultiscaleGroups];
  for (const auto& q : batches) {
    const int L = MultiscaleLevels(int(q.size(3)), int(q.size(2)), s.base_side);
    base_batches.push_back(GridOf(q, 1 << L));
    ForEachGroup(q, s.base_side, [&](int, int g, const torch::Tensor& input) {
      std::vector<torch::Tensor> trace;
      m.groups[size_t(g)]->forward(input, &trace);
      traces[g].push_back(std::move(trace));
    });
  }
  r.base = CalibrateScales(*m.base, base_batches);
  for (int g = 0; g < kMultiscaleGroups; ++g) {
    if (traces[g].empty())
      throw Error(ErrorCode::kInvalidArgument, "calibration crops are too small to reach the multiscale group networks");
    r.groups[g] = ScalesFromTraces(traces[g], s.blocks, s.act_bits);
  }
  return r;
}

MultiscaleTensors MultiscaleTensorsFromFloat(MultiscalePixelCnnImpl& m, const MultiscaleScales& scales, bool ste) {
  MultiscaleTensors t;
  t.base_side = m.shape().base_side;
  t.base = TensorsFromFloat(*m.base, scales.base, ste);
  for (int g = 0; g < kMultiscaleGroups; ++g)
    t.groups[g] = GroupTensorsFromFloat(*m.groups[size_t(g)], scales.groups[g], m.shape(), ste);
  return t;
}

MultiscaleTensors MultiscaleTensorsFromInt(const IntMultiscalePixelCnn& m) {
  MultiscaleTensors t;
  t.base_side = m.shape.base_side;
  t.base = TensorsFromInt(m.base);
  for (int g = 0; g < kMultiscaleGroups; ++g) {
    const IntGroupNet& n = m.groups[g];
    LocalTensors& x = t.groups[g];
    x.channels = m.shape.channels;
    x.blocks = m.shape.blocks;
    x.conv0 = FromIntLinear(n.conv0, 3, 3);
    x.conv0.padding = 1;
    for (int i = 0; i < m.shape.blocks; ++i) {
      x.pre.push_back(LutTensors(n.lut_pre[size_t(i)]));
      x.conv1.push_back(FromIntLinear(n.conv1[size_t(i)], 1, 1));
      x.mid.push_back(LutTensors(n.lut_mid[size_t(i)]));
      x.conv2.push_back(FromIntLinear(n.conv2[size_t(i)], 1, 1));
    }
    x.head_lut = LutTensors(n.lut_head);
    x.head = FromIntLinear(n.head, 1, 1);
    x.param_scale = ParamScaleTensor(m.shape.channels, m.shape.mixtures);
  }
  return t;
}

MultiscaleTensors MultiscaleTensors::To(const torch::Device& d) const {
  MultiscaleTensors t = *this;
  t.base = base.To(d);
  for (int g = 0; g < kMultiscaleGroups; ++g) t.groups[g] = groups[g].To(d);
  return t;
}

IntMultiscalePixelCnn ExportMultiscaleModel(MultiscalePixelCnnImpl& m, const MultiscaleScales& scales) {
  torch::NoGradGuard ng;
  IntMultiscalePixelCnn out;
  out.shape = m.shape();
  out.base = ExportIntModel(*m.base, scales.base);
  const auto t = MultiscaleTensorsFromFloat(m, scales, false);
  for (int g = 0; g < kMultiscaleGroups; ++g) {
    const LocalTensors& x = t.groups[g];
    IntGroupNet& n = out.groups[g];
    n.conv0 = ToIntLinear(x.conv0);  // [out][in][ky][kx] flattened: the CPU engine's feature order
    for (int i = 0; i < out.shape.blocks; ++i) {
      n.lut_pre.push_back(ToIntLut(x.pre[size_t(i)]));
      n.conv1.push_back(ToIntLinear(x.conv1[size_t(i)]));
      n.lut_mid.push_back(ToIntLut(x.mid[size_t(i)]));
      n.conv2.push_back(ToIntLinear(x.conv2[size_t(i)]));
    }
    n.lut_head = ToIntLut(x.head_lut);
    n.head = ToIntLinear(x.head);
  }
  out.Validate();
  return out;
}

torch::Tensor MultiscaleForwardFloat(MultiscalePixelCnnImpl& m, const torch::Tensor& q) {
  const int64_t P = MixtureParamCount(m.shape().channels, m.shape().mixtures);
  return Assemble(
      q, m.shape().base_side, P, [&](const torch::Tensor& b) { return m.base->forward(b); },
      [&](int g, const torch::Tensor& input) { return m.groups[size_t(g)]->forward(input); });
}

torch::Tensor MultiscaleForwardExact(const MultiscaleTensors& t, const torch::Tensor& q) {
  const int64_t P = t.base.head.weight.size(0);
  return Assemble(
      q, t.base_side, P, [&](const torch::Tensor& b) { return ExactForward(t.base, b); },
      [&](int g, const torch::Tensor& input) { return GroupExactForward(t.groups[g], input); });
}

}  // namespace pixelzip::models::nn
