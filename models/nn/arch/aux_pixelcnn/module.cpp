#include "models/nn/arch/aux_pixelcnn/module.h"

#include <cmath>
#include <sstream>

#include "models/nn/runtime/hyperparameters.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using torch::indexing::None;
using torch::indexing::Slice;

namespace {
// Splits `hyper` into the keys of the main network and those starting with `prefix` (prefix removed);
// `base_side` (if not null) takes the key "base_side". Defaults first, so given keys override them.
void SplitHyper(const std::string& hyper, const std::string& prefix, std::string* main, std::string* secondary,
                int* base_side) {
  const std::string defaults = "kernel=5,hidden=32,inner=64,blocks=2,mixtures=5";
  *main = defaults;
  *secondary = defaults;
  try {
    for (const auto& [key, value] : ParseHyperparameters(hyper)) {
      const std::string item = "," + key.substr(key.rfind(prefix, 0) == 0 ? prefix.size() : 0) + "=" + std::to_string(value);
      if (key == "aux" || key == prefix + "aux") throw Error(ErrorCode::kInvalidArgument, "'aux' is set by the architecture");
      if (base_side && key == "base_side") *base_side = value;
      else if (key.rfind(prefix, 0) == 0) *secondary += item;
      else *main += item;
    }
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, e.what());
  }
}

LocalPixelCnnShape ShapeOrThrow(const std::string& text, int channels) {
  try {
    return LocalPixelCnnShape::FromHyper(text, channels);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, e.what());
  }
}

std::string Prefixed(const LocalPixelCnnShape& s, const std::string& prefix) {
  std::ostringstream o;
  o << prefix << "kernel=" << s.kernel << "," << prefix << "hidden=" << s.hidden << "," << prefix << "inner=" << s.inner
    << "," << prefix << "blocks=" << s.blocks << "," << prefix << "mixtures=" << s.mixtures;
  return o.str();
}

torch::Tensor LogSigmoid(const torch::Tensor& t) { return -F::softplus(-t); }

// log(sigmoid(a) - sigmoid(b)) for a > b, accurate in both tails.
torch::Tensor LogSigmoidDiff(const torch::Tensor& a, const torch::Tensor& b) {
  auto lower = LogSigmoid(a) + torch::log1p(-torch::exp((LogSigmoid(b) - LogSigmoid(a)).clamp_max(-1e-6)));
  auto upper = LogSigmoid(-b) + torch::log1p(-torch::exp((LogSigmoid(-a) - LogSigmoid(-b)).clamp_max(-1e-6)));
  return torch::where(a + b > 0, upper, lower);
}
}  // namespace

AuxGreyShape AuxGreyShape::FromHyper(const std::string& hyper) {
  std::string main, grey;
  SplitHyper(hyper, "grey_", &main, &grey, nullptr);
  AuxGreyShape s;
  s.grey = ShapeOrThrow(grey, 1);
  s.colour = ShapeOrThrow(main + ",aux=1", 3);
  return s;
}

std::string AuxGreyShape::ToHyper() const { return Prefixed(colour, "") + "," + Prefixed(grey, "grey_"); }

AuxPyramidShape AuxPyramidShape::FromHyper(const std::string& hyper, int channels) {
  std::string main, base;
  AuxPyramidShape s;
  SplitHyper(hyper, "base_", &main, &base, &s.base_side);
  if (s.base_side < 1 || s.base_side > 4096) throw Error(ErrorCode::kInvalidArgument, "base_side out of range");
  s.cond = ShapeOrThrow(main + ",aux=" + std::to_string(channels), channels);
  s.base = ShapeOrThrow(base + ",mixtures=" + std::to_string(s.cond.mixtures), channels);  // one parameter layout
  return s;
}

std::string AuxPyramidShape::ToHyper() const {
  std::ostringstream o;
  o << "base_side=" << base_side << "," << Prefixed(cond, "") << ",base_kernel=" << base.kernel
    << ",base_hidden=" << base.hidden << ",base_inner=" << base.inner << ",base_blocks=" << base.blocks;
  return o.str();
}

torch::Tensor GreyOfQ(const torch::Tensor& q) {
  auto v = (q + 255.0) * 0.5;
  auto sum = v.select(1, 0) + 2.0 * v.select(1, 1) + v.select(1, 2) + 2.0;
  return (torch::floor(sum * 0.25) * 2.0 - 255.0).unsqueeze(1);
}

void GreyRanges(const torch::Tensor& q, torch::Tensor* lo, torch::Tensor* hi) {
  auto v = (q + 255.0) * 0.5;
  auto g = (GreyOfQ(q).squeeze(1) + 255.0) * 0.5;
  auto s_lo = 4.0 * g - 2.0, s_hi = 4.0 * g + 1.0;
  auto r = v.select(1, 0), gg = v.select(1, 1);
  auto lo0 = s_lo - 765.0, hi0 = s_hi;
  auto lo1 = torch::ceil((s_lo - r - 255.0) * 0.5), hi1 = torch::floor((s_hi - r) * 0.5);
  auto lo2 = s_lo - r - 2.0 * gg, hi2 = s_hi - r - 2.0 * gg;
  *lo = torch::stack({lo0, lo1, lo2}, 1).clamp(0.0, 255.0);
  *hi = torch::stack({hi0, hi1, hi2}, 1).clamp(0.0, 255.0);
}

torch::Tensor ConstrainedMixNll(const torch::Tensor& x, const torch::Tensor& params, int mixtures, const torch::Tensor& lo,
                                const torch::Tensor& hi) {
  const int64_t K = mixtures, C = x.size(1), B = x.size(0), H = x.size(2), W = x.size(3);
  const int64_t pairs = C * (C - 1) / 2;
  auto logits = params.index({Slice(), Slice(0, K)});
  auto means = params.index({Slice(), Slice(K, K + C * K)}).view({B, C, K, H, W});
  auto log_scales = params.index({Slice(), Slice(K + C * K, K + 2 * C * K)}).view({B, C, K, H, W}).clamp_min(-7.0);
  auto xs = x.unsqueeze(2);
  if (C == 3) {
    auto coeffs = torch::tanh(params.index({Slice(), Slice(K + 2 * C * K, K + (2 * C + pairs) * K)})).view({B, pairs, K, H, W});
    auto m1 = means.select(1, 1) + coeffs.select(1, 0) * xs.select(1, 0);
    auto m2 = means.select(1, 2) + coeffs.select(1, 1) * xs.select(1, 0) + coeffs.select(1, 2) * xs.select(1, 1);
    means = torch::stack({means.select(1, 0), m1, m2}, 1);
  }
  auto inv_s = torch::exp(-log_scales);
  // Log mass of the pixel values [v0, v1] under each component (edges at the bin boundaries).
  auto log_mass = [&](const torch::Tensor& v0, const torch::Tensor& v1) {
    auto x0 = ((2.0 * v0 - 255.0) / 255.0).unsqueeze(2), x1 = ((2.0 * v1 - 255.0) / 255.0).unsqueeze(2);
    auto a = torch::where(v1.unsqueeze(2) >= 255.0, torch::full_like(means, 1e4), inv_s * (x1 + 1.0 / 255.0 - means));
    auto b = torch::where(v0.unsqueeze(2) <= 0.0, torch::full_like(means, -1e4), inv_s * (x0 - 1.0 / 255.0 - means));
    return LogSigmoidDiff(a, b);  // [B, C, K, H, W]
  };
  auto v = torch::round((x * 255.0 + 255.0) * 0.5);
  auto log_probs = log_mass(v, v);
  auto log_interval = log_mass(lo, hi);
  auto lw = torch::log_softmax(logits, 1);
  torch::Tensor norm = torch::zeros({B, H, W}, x.options());
  for (int64_t c = 0; c < C; ++c) {
    norm = norm + torch::logsumexp(lw + log_interval.select(1, c), 1) - torch::logsumexp(lw, 1);
    lw = lw + log_probs.select(1, c);
  }
  return -(torch::logsumexp(lw, 1) - norm).sum({1, 2});
}

torch::Tensor PyramidLevelQ(const torch::Tensor& q, int l) {
  const int64_t s = int64_t{1} << l;
  return q.index({Slice(), Slice(), Slice(None, None, s), Slice(None, None, s)});
}

torch::Tensor UpsampleNearestQ(const torch::Tensor& lower, int64_t h, int64_t w) {
  return lower.repeat_interleave(2, 2).repeat_interleave(2, 3).index({Slice(), Slice(), Slice(0, h), Slice(0, w)});
}

torch::Tensor PyramidForward(const torch::Tensor& q, int levels,
                             const std::function<torch::Tensor(const torch::Tensor&)>& base,
                             const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& cond) {
  auto lower = PyramidLevelQ(q, levels);
  auto params = base(lower);
  for (int l = levels - 1; l >= 0; --l) {
    auto level = PyramidLevelQ(q, l);
    const int64_t h = level.size(2), w = level.size(3);
    auto known = torch::zeros({1, 1, h, w}, torch::TensorOptions().dtype(torch::kBool).device(q.device()));
    known.index_put_({Slice(), Slice(), Slice(None, None, 2), Slice(None, None, 2)}, true);
    auto coded = cond(level, UpsampleNearestQ(lower, h, w));
    params = torch::where(known, UpsampleNearestQ(params, h, w), coded);
    lower = level;
  }
  return params;
}

}  // namespace pixelzip::models::nn
