#include "models/nn/arch/pixelcnnpp/exact.h"

#include <algorithm>
#include <cmath>

#include "models/nn/torch/logistic_mixture.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace TF = torch::nn::functional;
using torch::indexing::Slice;

namespace {

using exact_ops::ApplyLut;
using exact_ops::ParamScales;
using exact_ops::ParamScaleTensor;
using exact_ops::QuantileOfSample;
using exact_ops::Requantize;
using exact_ops::StraightThroughRound;

constexpr double kSigmoidSpan = 8.0;      // 127 * sigmoid saturates to 0 / 127 beyond |5.6|
constexpr double kBiasLimit = double(1 << 22);
constexpr double kMinScale = 1e-6;

// exact_ops::SetRequant, keeping a host copy of the constants for export.
void SetRequant(PPLinear& l, const std::vector<Requant>& rq) {
  exact_ops::SetRequant(l, rq);
  l.requant = rq;
}

// exact_ops::LutTensors with the host copy and the STE function f(x * ste_in) / ste_out.
PPLut LutTensors(const IntLut& lut, bool sigmoid, double ste_in, double ste_out) {
  PPLut t;
  static_cast<TorchIntLut&>(t) = exact_ops::LutTensors(lut);
  t.lut = lut;
  t.sigmoid = sigmoid;
  t.ste_in = ste_in;
  t.ste_out = ste_out;
  return t;
}

PPLut EluLut(double s_in, double s_out) {
  return LutTensors(exact_ops::MakeEluLut(s_in, s_out), false, s_in, s_out);
}

PPLut SigmoidLut(double s_in) {
  auto lut = exact_ops::MakeLut(s_in, 1.0 / kInt8Max, -kSigmoidSpan, kSigmoidSpan,
                                [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
  return LutTensors(lut, true, s_in, 1.0 / kInt8Max);
}

// Quantises layers that share one accumulator (and requantisation): float weights `ws[i]`
// [out, K_i] (already times the input scales) and biases `bs[i]` [out]. Per output channel o,
// acc * multiplier / 2^shift approximates the output in units of out_scale[o].
std::vector<PPLinear> QuantizeJoint(const std::vector<torch::Tensor>& ws, const std::vector<torch::Tensor>& bs,
                                    const std::vector<double>& out_scale, bool ste) {
  const int64_t out = ws[0].size(0);
  auto amax = torch::zeros({out});
  for (const auto& w : ws) amax = torch::maximum(amax, w.detach().abs().amax(1).to(torch::kCPU, torch::kFloat32));
  auto w_scale = (amax / 127.0).clamp_min(1e-12);
  auto ws_cpu = w_scale.to(torch::kFloat64);
  std::vector<Requant> rq;
  for (int64_t o = 0; o < out; ++o) rq.push_back(RequantFromFactor(ws_cpu[o].item<double>() / out_scale[size_t(o)]));
  std::vector<PPLinear> result;
  for (size_t i = 0; i < ws.size(); ++i) {
    PPLinear l;
    const auto scale = w_scale.to(ws[i].device());
    auto wq = ws[i] / scale.view({out, 1});
    auto bq = bs[i] / scale;
    l.weight = ste ? StraightThroughRound(wq, -127, 127) : wq.detach().round().clamp(-127, 127);
    l.bias = ste ? StraightThroughRound(bq, -kBiasLimit, kBiasLimit) : bq.detach().round().clamp(-kBiasLimit, kBiasLimit);
    SetRequant(l, rq);
    result.push_back(std::move(l));
  }
  return result;
}

PPLinear Quantize(const torch::Tensor& w, const torch::Tensor& b, const std::vector<double>& out_scale, bool ste) {
  return QuantizeJoint({w}, {b}, out_scale, ste)[0];
}

// Per-input-channel scales as a [1, C, 1, 1] tensor on `device` from runs of equal values.
torch::Tensor ChannelScales(const std::vector<std::pair<int64_t, double>>& runs, const torch::Device& device) {
  std::vector<float> v;
  for (const auto& [n, s] : runs) v.insert(v.end(), size_t(n), float(s));
  return torch::tensor(v).view({1, int64_t(v.size()), 1, 1}).to(device);
}

// GEMM weight [out, Cin * kh * kw] (unfold order, kernel flipped when transposed) of a conv weight [out, Cin, kh, kw].
torch::Tensor GemmWeight(const torch::Tensor& w, const ConvGeometry& g) { return ConvWeightForGeometry(w, g).flatten(1); }

// CPU order (tap, channel) <-> GEMM order (channel, ky, kx; flipped when transposed) of the first cin*taps columns.
std::vector<int16_t> GemmToCpuOrder(const torch::Tensor& gemm, int64_t cin, const ConvGeometry& g) {
  const int64_t out = gemm.size(0), k = cin * g.taps();
  auto conv = gemm.narrow(1, 0, k).view({out, cin, g.kh, g.kw});
  if (g.transposed) conv = conv.flip({2, 3});
  auto cpu = torch::cat({conv.permute({0, 2, 3, 1}).reshape({out, k}), gemm.narrow(1, k, gemm.size(1) - k)}, 1);
  auto ints = cpu.detach().to(torch::kCPU).to(torch::kInt16).contiguous();
  return std::vector<int16_t>(ints.data_ptr<int16_t>(), ints.data_ptr<int16_t>() + ints.numel());
}
torch::Tensor CpuToGemmOrder(const std::vector<int16_t>& w, int64_t out, int64_t cin, const ConvGeometry& g) {
  auto cpu = torch::tensor(std::vector<float>(w.begin(), w.end())).view({out, -1});
  const int64_t k = cin * g.taps();
  auto conv = cpu.narrow(1, 0, k).view({out, g.kh, g.kw, cin}).permute({0, 3, 1, 2});
  if (g.transposed) conv = conv.flip({2, 3});
  return torch::cat({conv.reshape({out, k}), cpu.narrow(1, k, cpu.size(1) - k)}, 1).contiguous();
}

IntLinear ToIntLinear(const PPLinear& l, int64_t cin, const ConvGeometry& g) {
  IntLinear out;
  out.out = int(l.weight.size(0));
  out.in = int(l.weight.size(1));
  out.weight = GemmToCpuOrder(l.weight, cin, g);
  auto b = l.bias.detach().to(torch::kCPU).to(torch::kInt64).contiguous();
  for (int64_t i = 0; i < b.numel(); ++i) out.bias.push_back(int32_t(b.data_ptr<int64_t>()[i]));
  out.requant = l.requant;
  out.lo = int32_t(l.lo);
  out.hi = int32_t(l.hi);
  return out;
}

PPLinear FromIntLinear(const IntLinear& l, int64_t cin, const ConvGeometry& g) {
  PPLinear out;
  out.weight = CpuToGemmOrder(l.weight, l.out, cin, g);
  out.bias = torch::tensor(std::vector<float>(l.bias.begin(), l.bias.end()));
  SetRequant(out, l.requant);
  out.lo = l.lo;
  out.hi = l.hi;
  return out;
}

PPLinear RequantOnly(const std::vector<Requant>& rq) {
  PPLinear l;
  SetRequant(l, rq);
  return l;
}

// ---- exact operations ----

// [elu_pos(x) | elu_neg(-x)]
torch::Tensor ConcatEluLut(const torch::Tensor& x, const PPLut& pos, const PPLut& neg, bool ste) {
  return torch::cat({ApplyLut(x, pos, ste), ApplyLut(-x, neg, ste)}, 1);
}

// Columns [B, K, h*w] of x for geometry g at output size h x w.
torch::Tensor Columns(const torch::Tensor& x, const ConvGeometry& g, int64_t h, int64_t w) {
  auto p = PrepareConvInput(x, g, h, w);
  if (g.kh == 1 && g.kw == 1 && g.stride == 1 && !g.transposed) return p.flatten(2);
  return TF::unfold(p, TF::UnfoldFuncOptions({g.kh, g.kw}).stride(g.transposed ? 1 : g.stride));
}

// fp32 GEMM of integer values: exact under the load-time bound, in any summation order.
torch::Tensor Gemm(const torch::Tensor& weight, const torch::Tensor& cols, int64_t h, int64_t w, const torch::Tensor& bias) {
  auto acc = torch::matmul(weight, cols);
  if (bias.defined()) acc = acc + bias.view({1, -1, 1});
  return acc.view({cols.size(0), weight.size(0), h, w});
}

ConvGeometry OneByOne() { return ConvGeometry{}; }

ConvGeometry ResampleGeometryOf(const PixelCnnPPShape& s, bool ul, int index) {
  return index < s.stages - 1 ? DownsampleGeometry(ul) : UpsampleGeometry(ul);
}

}  // namespace

// ---- scales ----

torch::Tensor PixelCnnPPScales::ToTensor() const {
  std::vector<double> v{head_act};
  for (int st = 0; st < 2; ++st) {
    v.insert(v.end(), segment[st].begin(), segment[st].end());
    for (const auto& b : blocks[st]) {
      v.insert(v.end(), {b.ex_pos, b.ex_neg, b.c1, b.mid_pos, b.mid_neg, b.a, b.b});
      for (size_t k = 0; k < b.skip_pos.size(); ++k) {
        v.push_back(b.skip_pos[k]);
        v.push_back(b.skip_neg[k]);
      }
    }
  }
  return torch::tensor(v, torch::kFloat64);
}

PixelCnnPPScales PixelCnnPPScales::FromTensor(const torch::Tensor& t, const PixelCnnPPShape& shape) {
  const auto prog = PixelCnnPPProgram::Build(shape);
  size_t expected = 1 + 2 * size_t(prog.segments_per_stream);
  for (const auto& op : prog.ops)
    if (op.kind == PixelCnnPPOp::kBlock) expected += 7 + 2 * op.skips.size();
  if (size_t(t.numel()) != expected)
    throw Error(ErrorCode::kInvalidArgument, "checkpoint has pixelcnn++ quantisation scales of the wrong size");
  auto a = t.to(torch::kFloat64).contiguous();
  const double* p = a.data_ptr<double>();
  PixelCnnPPScales s;
  s.head_act = *p++;
  // Blocks of each stream in program order.
  std::vector<int> skips[2];
  for (const auto& op : prog.ops)
    if (op.kind == PixelCnnPPOp::kBlock) skips[op.ul].push_back(int(op.skips.size()));
  for (int st = 0; st < 2; ++st) {
    s.segment[st].assign(p, p + prog.segments_per_stream);
    p += prog.segments_per_stream;
    for (int n : skips[st]) {
      PixelCnnPPBlockScales b;
      b.ex_pos = p[0];
      b.ex_neg = p[1];
      b.c1 = p[2];
      b.mid_pos = p[3];
      b.mid_neg = p[4];
      b.a = p[5];
      b.b = p[6];
      p += 7;
      for (int k = 0; k < n; ++k) {
        b.skip_pos.push_back(*p++);
        b.skip_neg.push_back(*p++);
      }
      s.blocks[st].push_back(b);
    }
  }
  return s;
}

PixelCnnPPScales CalibrateScales(PixelCnnPPImpl& model, const std::vector<torch::Tensor>& batches) {
  torch::NoGradGuard ng;
  const bool was_training = model.is_training();
  model.eval();
  const auto& prog = model.program();
  const int segs = prog.segments_per_stream;
  std::vector<double> seg_max[2] = {std::vector<double>(size_t(segs), 0.0), std::vector<double>(size_t(segs), 0.0)};
  PixelCnnPPScales s;
  for (int st = 0; st < 2; ++st) s.blocks[st].resize(size_t(prog.blocks_per_stream));
  for (const auto& op : prog.ops)
    if (op.kind == PixelCnnPPOp::kBlock) {
      auto& b = s.blocks[op.ul][size_t(op.index)];
      b.skip_pos.assign(op.skips.size(), 0.0);
      b.skip_neg.assign(op.skips.size(), 0.0);
    }
  auto q9999 = [](const torch::Tensor& x) { return QuantileOfSample(torch::elu(x), 0.9999); };
  for (const auto& q : batches) {
    PixelCnnPPTrace trace;
    model.forward(q, &trace);
    for (size_t n = 0; n < trace.nodes.size(); ++n) {
      double& m = seg_max[prog.node_ul[n]][size_t(prog.node_segment[n])];
      m = std::max(m, trace.nodes[n].abs().max().item<double>());
    }
    for (const auto& op : prog.ops) {
      if (op.kind != PixelCnnPPOp::kBlock) continue;
      auto& b = s.blocks[op.ul][size_t(op.index)];
      const auto& x = trace.nodes[size_t(op.x)];
      const auto& c1 = trace.c1[op.ul][size_t(op.index)];
      const auto ab = trace.c2[op.ul][size_t(op.index)].chunk(2, 1);
      b.ex_pos = std::max(b.ex_pos, q9999(x));
      b.ex_neg = std::max(b.ex_neg, q9999(-x));
      for (size_t k = 0; k < op.skips.size(); ++k) {
        const auto& a = trace.nodes[size_t(op.skips[k])];
        b.skip_pos[k] = std::max(b.skip_pos[k], q9999(a));
        b.skip_neg[k] = std::max(b.skip_neg[k], q9999(-a));
      }
      b.c1 = std::max(b.c1, c1.abs().max().item<double>());
      b.mid_pos = std::max(b.mid_pos, q9999(c1));
      b.mid_neg = std::max(b.mid_neg, q9999(-c1));
      b.a = std::max(b.a, ab[0].abs().max().item<double>());
      b.b = std::max(b.b, ab[1].abs().max().item<double>());
    }
    s.head_act = std::max(s.head_act, q9999(trace.nodes[size_t(prog.final_ul)]));
  }
  auto int16_scale = [](double m) { return std::max(1.5 * m, kMinScale) / kInt16Max; };
  auto int8_scale = [](double q) { return std::max(1.0, q) / kInt8Max; };
  for (int st = 0; st < 2; ++st) {
    for (double m : seg_max[st]) s.segment[st].push_back(int16_scale(m));
    for (auto& b : s.blocks[st]) {
      b.ex_pos = int8_scale(b.ex_pos);
      b.ex_neg = int8_scale(b.ex_neg);
      for (auto& v : b.skip_pos) v = int8_scale(v);
      for (auto& v : b.skip_neg) v = int8_scale(v);
      b.c1 = int16_scale(b.c1);
      b.mid_pos = int8_scale(b.mid_pos);
      b.mid_neg = int8_scale(b.mid_neg);
      b.a = int16_scale(b.a);
      b.b = int16_scale(b.b);
    }
  }
  s.head_act = int8_scale(s.head_act);
  if (was_training) model.train();
  return s;
}

// ---- tensors ----

PixelCnnPPTensors TensorsFromFloat(PixelCnnPPImpl& m, const PixelCnnPPScales& s, bool ste) {
  if (!s.calibrated()) throw Error(ErrorCode::kInvalidArgument, "pixelcnn++: quantisation scales are not calibrated");
  const auto& shape = m.config().shape;
  const auto& prog = m.program();
  const int64_t F = shape.filters;
  const auto dev = m.head_w.device();
  auto seg = [&](int node) { return s.segment[prog.node_ul[size_t(node)]][size_t(prog.node_segment[size_t(node)])]; };
  PixelCnnPPTensors t;
  t.shape = shape;
  t.ste = ste;
  t.first_u = Quantize(GemmWeight(m.first_u_w / 255.0, FirstUGeometry()), m.first_u_b,
                       std::vector<double>(size_t(F), s.segment[0][0]), ste);
  auto ul0 = QuantizeJoint({GemmWeight(m.first_ul_down_w / 255.0, FirstUlDownGeometry()),
                            GemmWeight(m.first_ul_right_w / 255.0, FirstUlRightGeometry())},
                           {m.first_ul_down_b, m.first_ul_right_b}, std::vector<double>(size_t(F), s.segment[1][0]), ste);
  t.first_ul_down = ul0[0];
  t.first_ul_right = ul0[1];
  for (const auto& op : prog.ops) {
    if (op.kind == PixelCnnPPOp::kBlock) {
      const auto& blk = m.blocks[op.ul][size_t(op.index)];
      const auto& bs = s.blocks[op.ul][size_t(op.index)];
      const auto g = BlockGeometry(op.ul);
      const double sx = seg(op.x);
      PPBlockTensors b;
      b.in_pos = EluLut(sx, bs.ex_pos);
      b.in_neg = EluLut(sx, bs.ex_neg);
      auto w1 = GemmWeight(blk.conv1_w * ChannelScales({{F, bs.ex_pos}, {F, bs.ex_neg}}, dev), g);
      if (!op.skips.empty()) {
        std::vector<std::pair<int64_t, double>> runs;
        for (size_t k = 0; k < op.skips.size(); ++k) {
          const double sa = seg(op.skips[k]);
          b.skip_pos.push_back(EluLut(sa, bs.skip_pos[k]));
          b.skip_neg.push_back(EluLut(sa, bs.skip_neg[k]));
          runs.push_back({F, bs.skip_pos[k]});
          runs.push_back({F, bs.skip_neg[k]});
        }
        w1 = torch::cat({w1, blk.nin_w * ChannelScales(runs, dev).view({1, -1})}, 1);
      }
      b.conv1 = Quantize(w1, blk.conv1_b, std::vector<double>(size_t(F), bs.c1), ste);
      b.mid_pos = EluLut(bs.c1, bs.mid_pos);
      b.mid_neg = EluLut(bs.c1, bs.mid_neg);
      std::vector<double> ab(size_t(F), bs.a);
      ab.insert(ab.end(), size_t(F), bs.b);
      b.conv2 = Quantize(GemmWeight(blk.conv2_w * ChannelScales({{F, bs.mid_pos}, {F, bs.mid_neg}}, dev), g), blk.conv2_b, ab, ste);
      b.gate = SigmoidLut(bs.b);
      b.gate_requant = RequantOnly(std::vector<Requant>(size_t(F), RequantFromFactor(bs.a / (kInt8Max * sx))));
      t.blocks[op.ul].push_back(std::move(b));
    } else if (op.kind == PixelCnnPPOp::kDownsample || op.kind == PixelCnnPPOp::kUpsample) {
      const auto g = ResampleGeometryOf(shape, op.ul, op.index);
      t.resample[op.ul].push_back(Quantize(GemmWeight(m.resample_w[op.ul][size_t(op.index)] * seg(op.x), g),
                                           m.resample_b[op.ul][size_t(op.index)], std::vector<double>(size_t(F), seg(op.out)), ste));
    }
  }
  t.head_lut = EluLut(seg(prog.final_ul), s.head_act);
  const auto scales = ParamScales(shape.channels, shape.mixtures);
  t.head = Quantize(m.head_w * s.head_act, m.head_b, scales, ste);
  t.param_scale = torch::tensor(std::vector<float>(scales.begin(), scales.end())).view({1, -1, 1, 1});
  return t.To(m.head_w.device());
}

IntPixelCnnPP ExportIntModel(PixelCnnPPImpl& model, const PixelCnnPPScales& scales) {
  torch::NoGradGuard ng;
  const auto t = TensorsFromFloat(model, scales, false).To(torch::kCPU);
  const auto& shape = model.config().shape;
  const int64_t F = shape.filters, Cin = shape.channels + 1;
  IntPixelCnnPP out;
  out.shape = shape;
  out.first_u = ToIntLinear(t.first_u, Cin, FirstUGeometry());
  out.first_ul_down = ToIntLinear(t.first_ul_down, Cin, FirstUlDownGeometry());
  out.first_ul_right = ToIntLinear(t.first_ul_right, Cin, FirstUlRightGeometry());
  for (int st = 0; st < 2; ++st) {
    const auto g = BlockGeometry(st);
    for (const auto& b : t.blocks[st]) {
      IntPPBlock ib;
      ib.in_pos = b.in_pos.lut;
      ib.in_neg = b.in_neg.lut;
      for (const auto& l : b.skip_pos) ib.skip_pos.push_back(l.lut);
      for (const auto& l : b.skip_neg) ib.skip_neg.push_back(l.lut);
      ib.conv1 = ToIntLinear(b.conv1, 2 * F, g);
      ib.mid_pos = b.mid_pos.lut;
      ib.mid_neg = b.mid_neg.lut;
      ib.conv2 = ToIntLinear(b.conv2, 2 * F, g);
      ib.gate = b.gate.lut;
      ib.gate_requant = b.gate_requant.requant;
      out.blocks[st].push_back(std::move(ib));
    }
    for (size_t i = 0; i < t.resample[st].size(); ++i)
      out.resample[st].push_back(ToIntLinear(t.resample[st][i], F, ResampleGeometryOf(shape, st, int(i))));
  }
  out.head_lut = t.head_lut.lut;
  out.head = ToIntLinear(t.head, F, OneByOne());
  out.tables = MixtureTables::Compute();
  out.Validate();
  return out;
}

PixelCnnPPTensors TensorsFromInt(const IntPixelCnnPP& m) {
  const auto& shape = m.shape;
  const int64_t F = shape.filters, Cin = shape.channels + 1;
  PixelCnnPPTensors t;
  t.shape = shape;
  t.first_u = FromIntLinear(m.first_u, Cin, FirstUGeometry());
  t.first_ul_down = FromIntLinear(m.first_ul_down, Cin, FirstUlDownGeometry());
  t.first_ul_right = FromIntLinear(m.first_ul_right, Cin, FirstUlRightGeometry());
  for (int st = 0; st < 2; ++st) {
    const auto g = BlockGeometry(st);
    for (const auto& b : m.blocks[st]) {
      PPBlockTensors tb;
      tb.in_pos = LutTensors(b.in_pos, false, 0, 1);
      tb.in_neg = LutTensors(b.in_neg, false, 0, 1);
      for (const auto& l : b.skip_pos) tb.skip_pos.push_back(LutTensors(l, false, 0, 1));
      for (const auto& l : b.skip_neg) tb.skip_neg.push_back(LutTensors(l, false, 0, 1));
      tb.conv1 = FromIntLinear(b.conv1, 2 * F, g);
      tb.mid_pos = LutTensors(b.mid_pos, false, 0, 1);
      tb.mid_neg = LutTensors(b.mid_neg, false, 0, 1);
      tb.conv2 = FromIntLinear(b.conv2, 2 * F, g);
      tb.gate = LutTensors(b.gate, true, 0, 1);
      tb.gate_requant = RequantOnly(b.gate_requant);
      t.blocks[st].push_back(std::move(tb));
    }
    for (size_t i = 0; i < m.resample[st].size(); ++i)
      t.resample[st].push_back(FromIntLinear(m.resample[st][i], F, ResampleGeometryOf(shape, st, int(i))));
  }
  t.head_lut = LutTensors(m.head_lut, false, 0, 1);
  t.head = FromIntLinear(m.head, F, OneByOne());
  t.param_scale = ParamScaleTensor(shape.channels, shape.mixtures);
  return t;
}

PixelCnnPPTensors PixelCnnPPTensors::To(const torch::Device& d) const {
  PixelCnnPPTensors t = *this;
  auto move_linear = [&](PPLinear& l) {
    if (l.weight.defined()) l.weight = l.weight.to(d);
    if (l.bias.defined()) l.bias = l.bias.to(d);
    l.multiplier = l.multiplier.to(d);
    l.half = l.half.to(d);
    l.divisor = l.divisor.to(d);
    l.factor = l.factor.to(d);
  };
  auto move_lut = [&](PPLut& l) { l.table = l.table.to(d); };
  move_linear(t.first_u);
  move_linear(t.first_ul_down);
  move_linear(t.first_ul_right);
  for (int st = 0; st < 2; ++st) {
    for (auto& b : t.blocks[st]) {
      for (auto* l : {&b.in_pos, &b.in_neg, &b.mid_pos, &b.mid_neg, &b.gate}) move_lut(*l);
      for (auto& l : b.skip_pos) move_lut(l);
      for (auto& l : b.skip_neg) move_lut(l);
      move_linear(b.conv1);
      move_linear(b.conv2);
      move_linear(b.gate_requant);
    }
    for (auto& l : t.resample[st]) move_linear(l);
  }
  move_lut(t.head_lut);
  move_linear(t.head);
  t.param_scale = t.param_scale.to(d);
  return t;
}

// ---- the exact forward ----

torch::Tensor ExactForward(const PixelCnnPPTensors& t, const torch::Tensor& q) {
  const bool ste = t.ste;
  const auto& shape = t.shape;
  const auto prog = PixelCnnPPProgram::Build(shape);
  const int64_t B = q.size(0), H = q.size(2), W = q.size(3), F = shape.filters;
  auto xin = torch::cat({q, torch::full({B, 1, H, W}, 255.0, q.options())}, 1);
  std::vector<torch::Tensor> nodes(prog.node_level.size());
  for (const auto& op : prog.ops) {
    const int64_t h = LevelSize(int(H), op.level), w = LevelSize(int(W), op.level);
    switch (op.kind) {
      case PixelCnnPPOp::kFirstU: {
        const auto g = FirstUGeometry();
        auto acc = ApplyShift(Gemm(t.first_u.weight, Columns(xin, g, h, w), h, w, t.first_u.bias), g);
        nodes[size_t(op.out)] = Requantize(acc, acc, t.first_u, ste);
        break;
      }
      case PixelCnnPPOp::kFirstUl: {
        const auto gd = FirstUlDownGeometry(), gr = FirstUlRightGeometry();
        // Each part is an exact integer below 2^24 and so is their sum (proven at load).
        auto acc = ApplyShift(Gemm(t.first_ul_down.weight, Columns(xin, gd, h, w), h, w, t.first_ul_down.bias), gd) +
                   ApplyShift(Gemm(t.first_ul_right.weight, Columns(xin, gr, h, w), h, w, t.first_ul_right.bias), gr);
        nodes[size_t(op.out)] = Requantize(acc, acc, t.first_ul_down, ste);
        break;
      }
      case PixelCnnPPOp::kBlock: {
        const auto& b = t.blocks[op.ul][size_t(op.index)];
        const auto g = BlockGeometry(op.ul);
        const auto& x = nodes[size_t(op.x)];
        auto cols = Columns(ConcatEluLut(x, b.in_pos, b.in_neg, ste), g, h, w);
        if (!op.skips.empty()) {
          std::vector<torch::Tensor> parts{cols};
          for (size_t k = 0; k < op.skips.size(); ++k)
            parts.push_back(ConcatEluLut(nodes[size_t(op.skips[k])], b.skip_pos[k], b.skip_neg[k], ste).flatten(2));
          cols = torch::cat(parts, 1);
        }
        auto acc1 = Gemm(b.conv1.weight, cols, h, w, b.conv1.bias);
        auto e = ConcatEluLut(Requantize(acc1, acc1, b.conv1, ste), b.mid_pos, b.mid_neg, ste);
        if (t.dropout > 0) e = TF::dropout(e, TF::DropoutFuncOptions().p(t.dropout).training(true));
        auto acc2 = Gemm(b.conv2.weight, Columns(e, g, h, w), h, w, b.conv2.bias);
        auto c2 = Requantize(acc2, acc2, b.conv2, ste);
        auto gate = ApplyLut(c2.narrow(1, F, F), b.gate, ste);
        auto prod = c2.narrow(1, 0, F) * gate;  // |a * gate| <= 32767 * 127 < 2^24: exact
        auto inc = Requantize(prod, prod, b.gate_requant, ste);
        nodes[size_t(op.out)] = (x + inc).clamp(-kInt16Max, kInt16Max);
        break;
      }
      case PixelCnnPPOp::kDownsample:
      case PixelCnnPPOp::kUpsample: {
        const auto& l = t.resample[op.ul][size_t(op.index)];
        const auto g = ResampleGeometryOf(shape, op.ul, op.index);
        const auto& x = nodes[size_t(op.x)];
        // x = 256 * hi + lo, |hi| <= 128, lo in [-128, 127]: two exact GEMMs combined in int64.
        auto xd = x.detach();
        auto hi = torch::floor((xd + 128.0) / 256.0);
        auto lo = xd - 256.0 * hi;
        auto acc_hi = Gemm(l.weight.detach(), Columns(hi, g, h, w), h, w, torch::Tensor());
        auto acc_lo = Gemm(l.weight.detach(), Columns(lo, g, h, w), h, w, l.bias.detach());
        auto exact = acc_hi.to(torch::kInt64) * 256 + acc_lo.to(torch::kInt64);
        torch::Tensor grad_acc;
        if (ste) grad_acc = Gemm(l.weight, Columns(x, g, h, w), h, w, l.bias);
        nodes[size_t(op.out)] = Requantize(exact, grad_acc, l, ste);
        break;
      }
    }
  }
  auto a = ApplyLut(nodes[size_t(prog.final_ul)], t.head_lut, ste);
  auto acc = Gemm(t.head.weight, a.flatten(2), H, W, t.head.bias);
  return Requantize(acc, acc, t.head, ste);
}

}  // namespace pixelzip::models::nn
