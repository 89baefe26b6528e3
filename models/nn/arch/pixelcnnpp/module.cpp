#include "models/nn/arch/pixelcnnpp/module.h"

#include <cmath>
#include <sstream>

#include "models/nn/torch/logistic_mixture.h"

namespace pixelzip::models::nn {

namespace TF = torch::nn::functional;

std::string PixelCnnPPConfig::ToString() const {
  std::ostringstream s;
  s << "channels=" << shape.channels << " filters=" << shape.filters << " nr_resnet=" << shape.nr_resnet
    << " stages=" << shape.stages << " mixtures=" << shape.mixtures << " dropout=" << dropout;
  return s.str();
}

namespace {

// Zero-pads (positive) or crops (negative) each side of the last two dims.
torch::Tensor PadOrCrop(torch::Tensor x, int64_t top, int64_t bottom, int64_t left, int64_t right) {
  if (top < 0) { x = x.narrow(2, -top, x.size(2) + top); top = 0; }
  if (bottom < 0) { x = x.narrow(2, 0, x.size(2) + bottom); bottom = 0; }
  if (left < 0) { x = x.narrow(3, -left, x.size(3) + left); left = 0; }
  if (right < 0) { x = x.narrow(3, 0, x.size(3) + right); right = 0; }
  if (top || bottom || left || right) x = TF::pad(x, TF::PadFuncOptions({left, right, top, bottom}));
  return x;
}

// z[2i, 2j] = x[i, j], zeros elsewhere: [B, C, 2H, 2W].
torch::Tensor InsertZeros(const torch::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto cols = torch::stack({x, torch::zeros_like(x)}, 4).view({B, C, H, 2 * W});
  return torch::stack({cols, torch::zeros_like(cols)}, 3).view({B, C, 2 * H, 2 * W});
}

torch::Tensor UniformInit(int64_t out, int64_t in, int64_t kh, int64_t kw, double gain) {
  const double bound = gain * std::sqrt(3.0 / double(in * kh * kw));
  return torch::empty({out, in, kh, kw}).uniform_(-bound, bound);
}

}  // namespace

torch::Tensor PrepareConvInput(const torch::Tensor& x, const ConvGeometry& g, int64_t out_h, int64_t out_w) {
  if (g.transposed) {
    auto z = InsertZeros(x);
    const int64_t top = g.kh - 1 - g.pad_top, left = g.kw - 1 - g.pad_left;
    return PadOrCrop(z, top, out_h - 1 + g.kh - z.size(2) - top, left, out_w - 1 + g.kw - z.size(3) - left);
  }
  const int64_t hp = (out_h - 1) * g.stride + g.kh, wp = (out_w - 1) * g.stride + g.kw;
  return PadOrCrop(x, g.pad_top, hp - x.size(2) - g.pad_top, g.pad_left, wp - x.size(3) - g.pad_left);
}

torch::Tensor ConvWeightForGeometry(const torch::Tensor& w, const ConvGeometry& g) {
  return g.transposed ? w.flip({2, 3}) : w;
}

torch::Tensor ApplyShift(const torch::Tensor& t, const ConvGeometry& g) {
  auto out = t;
  if (g.shift_down) out = PadOrCrop(out, g.shift_down, -g.shift_down, 0, 0);
  if (g.shift_right) out = PadOrCrop(out, 0, 0, g.shift_right, -g.shift_right);
  return out;
}

torch::Tensor ConcatElu(const torch::Tensor& x) { return torch::elu(torch::cat({x, -x}, 1)); }

PixelCnnPPImpl::PixelCnnPPImpl(const PixelCnnPPConfig& config)
    : config_(config), program_(PixelCnnPPProgram::Build(config.shape)) {
  const auto& s = config.shape;
  const int64_t F = s.filters, Cin = s.channels + 1;
  first_u_w = register_parameter("first_u_w", UniformInit(F, Cin, 2, 3, 1.0));
  first_u_b = register_parameter("first_u_b", torch::zeros({F}));
  first_ul_down_w = register_parameter("first_ul_down_w", UniformInit(F, Cin, 1, 3, 1.0));
  first_ul_down_b = register_parameter("first_ul_down_b", torch::zeros({F}));
  first_ul_right_w = register_parameter("first_ul_right_w", UniformInit(F, Cin, 2, 1, 1.0));
  first_ul_right_b = register_parameter("first_ul_right_b", torch::zeros({F}));
  for (const auto& op : program_.ops) {
    const std::string name = std::string(op.ul ? "ul" : "u");
    if (op.kind == PixelCnnPPOp::kBlock) {
      const auto g = BlockGeometry(op.ul);
      const std::string b = name + "_block" + std::to_string(op.index);
      Block blk;
      blk.conv1_w = register_parameter(b + "_conv1_w", UniformInit(F, 2 * F, g.kh, g.kw, 1.0));
      blk.conv1_b = register_parameter(b + "_conv1_b", torch::zeros({F}));
      if (!op.skips.empty()) {
        const int64_t k = 2 * F * int64_t(op.skips.size());
        blk.nin_w = register_parameter(b + "_nin_w", UniformInit(F, k, 1, 1, 1.0).view({F, k}));
      }
      blk.conv2_w = register_parameter(b + "_conv2_w", UniformInit(2 * F, 2 * F, g.kh, g.kw, 0.1));
      blk.conv2_b = register_parameter(b + "_conv2_b", torch::zeros({2 * F}));
      blocks[op.ul].push_back(blk);
    } else if (op.kind == PixelCnnPPOp::kDownsample || op.kind == PixelCnnPPOp::kUpsample) {
      const auto g = op.kind == PixelCnnPPOp::kDownsample ? DownsampleGeometry(op.ul) : UpsampleGeometry(op.ul);
      const std::string r = name + "_resample" + std::to_string(op.index);
      resample_w[op.ul].push_back(register_parameter(r + "_w", UniformInit(F, F, g.kh, g.kw, 1.0)));
      resample_b[op.ul].push_back(register_parameter(r + "_b", torch::zeros({F})));
    }
  }
  const int64_t P = MixtureParamCount(s.channels, s.mixtures);
  head_w = register_parameter("head_w", UniformInit(P, F, 1, 1, 0.5).view({P, F}));
  head_b = register_parameter("head_b", torch::zeros({P}));
}

torch::Tensor PixelCnnPPImpl::forward(const torch::Tensor& q, PixelCnnPPTrace* trace) {
  const int64_t B = q.size(0), H = q.size(2), W = q.size(3);
  const auto& prog = program_;
  auto xin = torch::cat({q * (1.0 / 255.0), torch::ones({B, 1, H, W}, q.options())}, 1);
  auto conv = [](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, const ConvGeometry& g,
                 int64_t oh, int64_t ow) {
    auto opts = TF::Conv2dFuncOptions().bias(b).stride(g.transposed ? 1 : g.stride);
    return ApplyShift(TF::conv2d(PrepareConvInput(x, g, oh, ow), ConvWeightForGeometry(w, g), opts), g);
  };
  std::vector<torch::Tensor> nodes(prog.node_level.size());
  for (const auto& op : prog.ops) {
    const int64_t h = LevelSize(int(H), op.level), w = LevelSize(int(W), op.level);
    switch (op.kind) {
      case PixelCnnPPOp::kFirstU:
        nodes[op.out] = conv(xin, first_u_w, first_u_b, FirstUGeometry(), h, w);
        break;
      case PixelCnnPPOp::kFirstUl:
        nodes[op.out] = conv(xin, first_ul_down_w, first_ul_down_b, FirstUlDownGeometry(), h, w) +
                        conv(xin, first_ul_right_w, first_ul_right_b, FirstUlRightGeometry(), h, w);
        break;
      case PixelCnnPPOp::kBlock: {
        const auto& blk = blocks[op.ul][size_t(op.index)];
        const auto g = BlockGeometry(op.ul);
        const auto& x = nodes[op.x];
        auto c1 = conv(ConcatElu(x), blk.conv1_w, blk.conv1_b, g, h, w);
        if (!op.skips.empty()) {
          std::vector<torch::Tensor> a;
          for (int s : op.skips) a.push_back(ConcatElu(nodes[s]));
          c1 = c1 + TF::conv2d(torch::cat(a, 1), blk.nin_w.view({blk.nin_w.size(0), blk.nin_w.size(1), 1, 1}));
        }
        auto e = ConcatElu(c1);
        if (config_.dropout > 0 && is_training()) e = TF::dropout(e, TF::DropoutFuncOptions().p(config_.dropout).training(true));
        auto c2 = conv(e, blk.conv2_w, blk.conv2_b, g, h, w);
        auto ab = c2.chunk(2, 1);
        nodes[op.out] = x + ab[0] * torch::sigmoid(ab[1]);
        if (trace) {
          trace->c1[op.ul].push_back(c1);
          trace->c2[op.ul].push_back(c2);
        }
        break;
      }
      case PixelCnnPPOp::kDownsample:
      case PixelCnnPPOp::kUpsample: {
        const auto g = op.kind == PixelCnnPPOp::kDownsample ? DownsampleGeometry(op.ul) : UpsampleGeometry(op.ul);
        nodes[op.out] = conv(nodes[op.x], resample_w[op.ul][size_t(op.index)], resample_b[op.ul][size_t(op.index)], g, h, w);
        break;
      }
    }
  }
  auto out = TF::conv2d(torch::elu(nodes[prog.final_ul]), head_w.view({head_w.size(0), head_w.size(1), 1, 1}),
                       TF::Conv2dFuncOptions().bias(head_b));
  if (trace) trace->nodes = std::move(nodes);
  return out;
}

}  // namespace pixelzip::models::nn
