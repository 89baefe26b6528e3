#include "models/nn/arch/local_pixelcnn/module.h"

#include <sstream>

#include "models/nn/torch/logistic_mixture.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;

std::string LocalPixelCnnConfig::ToString() const {
  std::ostringstream s;
  s << "channels=" << channels << " kernel=" << kernel << " hidden=" << hidden << " inner=" << inner
    << " blocks=" << blocks << " mixtures=" << mixtures;
  if (aux > 0) s << " aux=" << aux;
  if (act_bits != 8) s << " act_bits=" << act_bits;
  if (weight_bits != 8) s << " weight_bits=" << weight_bits;
  return s.str();
}

torch::Tensor MedianEdgePredictor(const torch::Tensor& q) {
  // a = left, b = up, c = up-left; zero outside the image.
  auto padded = F::pad(q, F::PadFuncOptions({1, 0, 1, 0}));  // left 1, top 1
  const int64_t H = q.size(2), W = q.size(3);
  using torch::indexing::Slice;
  auto a = padded.index({Slice(), Slice(), Slice(1, H + 1), Slice(0, W)});
  auto b = padded.index({Slice(), Slice(), Slice(0, H), Slice(1, W + 1)});
  auto c = padded.index({Slice(), Slice(), Slice(0, H), Slice(0, W)});
  auto mn = torch::minimum(a, b), mx = torch::maximum(a, b);
  return torch::where(c >= mx, mn, torch::where(c <= mn, mx, a + b - c));
}

namespace {
torch::Tensor KaimingUniform(int64_t out, int64_t in, int64_t kh, int64_t kw, double gain) {
  const double fan_in = static_cast<double>(in * kh * kw);
  const double bound = gain * std::sqrt(3.0 / fan_in);
  return torch::empty({out, in, kh, kw}).uniform_(-bound, bound);
}
}  // namespace

LocalPixelCnnImpl::LocalPixelCnnImpl(const LocalPixelCnnConfig& config) : config_(config) {
  const int C = config.channels, k = config.kernel, r = k / 2, A = config.aux;
  // Inputs: C pixel channels (masked k x k, strictly causal), C MED predictions (centre tap only) and
  // A conditioning planes (the 3x3 window around the centre, non-causal).
  auto mask = torch::zeros({1, 2 * C + A, k, k});
  for (int dy = 0; dy < k; ++dy)
    for (int dx = 0; dx < k; ++dx)
      if (dy < r || (dy == r && dx < r)) mask.index_put_({0, torch::indexing::Slice(0, C), dy, dx}, 1.0);
  mask.index_put_({0, torch::indexing::Slice(C, 2 * C), r, r}, 1.0);
  if (A > 0)
    mask.index_put_({0, torch::indexing::Slice(2 * C, 2 * C + A), torch::indexing::Slice(r - 1, r + 2), torch::indexing::Slice(r - 1, r + 2)}, 1.0);
  const int causal_taps = r * k + r;
  conv0_mask = register_buffer("conv0_mask", mask);
  conv0_weight = register_parameter("conv0_weight", KaimingUniform(config.hidden, 2 * C + A, k, k, 1.0) *
                                                        std::sqrt(double((2 * C + A) * k * k) / (C * causal_taps + C + 9 * A)));
  conv0_bias = register_parameter("conv0_bias", torch::zeros({config.hidden}));
  for (int i = 0; i < config.blocks; ++i) {
    block_w1.push_back(register_parameter("block" + std::to_string(i) + "_w1", KaimingUniform(config.inner, config.hidden, 1, 1, 1.0)));
    block_b1.push_back(register_parameter("block" + std::to_string(i) + "_b1", torch::zeros({config.inner})));
    block_w2.push_back(register_parameter("block" + std::to_string(i) + "_w2", KaimingUniform(config.hidden, config.inner, 1, 1, 0.1)));
    block_b2.push_back(register_parameter("block" + std::to_string(i) + "_b2", torch::zeros({config.hidden})));
  }
  const int P = MixtureParamCount(C, config.mixtures);
  head_weight = register_parameter("head_weight", KaimingUniform(P, config.hidden, 1, 1, 0.5));
  head_bias = register_parameter("head_bias", torch::zeros({P}));
}

torch::Tensor LocalPixelCnnImpl::forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace) {
  return ForwardWithAux(q, torch::Tensor(), trace);
}

torch::Tensor LocalPixelCnnImpl::ForwardWithAux(const torch::Tensor& q, const torch::Tensor& aux, std::vector<torch::Tensor>* trace) {
  const int r = config_.kernel / 2;
  auto in = (aux.defined() ? torch::cat({q, MedianEdgePredictor(q), aux}, 1) : torch::cat({q, MedianEdgePredictor(q)}, 1)) * (1.0 / 255.0);
  auto h = F::conv2d(in, conv0_weight * conv0_mask, F::Conv2dFuncOptions().bias(conv0_bias).padding(r));
  return ResidualBlocksAndHead(h, block_w1, block_b1, block_w2, block_b2, head_weight, head_bias, trace);
}

torch::Tensor ResidualBlocksAndHead(torch::Tensor h, const std::vector<torch::Tensor>& w1, const std::vector<torch::Tensor>& b1,
                                    const std::vector<torch::Tensor>& w2, const std::vector<torch::Tensor>& b2,
                                    const torch::Tensor& head_w, const torch::Tensor& head_b, std::vector<torch::Tensor>* trace) {
  if (trace) trace->push_back(h);
  for (size_t i = 0; i < w1.size(); ++i) {
    auto t = F::conv2d(torch::elu(h), w1[i], F::Conv2dFuncOptions().bias(b1[i]));
    h = h + F::conv2d(torch::elu(t), w2[i], F::Conv2dFuncOptions().bias(b2[i]));
    if (trace) {
      trace->push_back(t);
      trace->push_back(h);
    }
  }
  return F::conv2d(torch::elu(h), head_w, F::Conv2dFuncOptions().bias(head_b));
}

LocalPixelCnnConfig ConfigOf(const LocalPixelCnnShape& s) {
  LocalPixelCnnConfig c;
  c.channels = s.channels;
  c.kernel = s.kernel;
  c.hidden = s.hidden;
  c.inner = s.inner;
  c.blocks = s.blocks;
  c.mixtures = s.mixtures;
  c.aux = s.aux;
  c.act_bits = s.act_bits;
  c.weight_bits = s.weight_bits;
  return c;
}

void GrowLocalPixelCnn(const LocalPixelCnnImpl& small, LocalPixelCnnImpl& big) {
  const auto& a = small.config();
  const auto& b = big.config();
  if (a.channels != b.channels || a.mixtures != b.mixtures || a.aux != b.aux || b.kernel < a.kernel ||
      b.hidden < a.hidden || b.inner < a.inner || b.blocks < a.blocks)
    throw Error(ErrorCode::kInvalidArgument, "local-pixelcnn: cannot grow '" + a.ToString() + "' into '" + b.ToString() +
                                                 "' (channels, mixtures and aux must match; kernel, hidden, inner and blocks must not shrink)");
  using torch::indexing::Slice;
  torch::NoGradGuard ng;
  const int64_t h0 = a.hidden, i0 = a.inner, off = (b.kernel - a.kernel) / 2;
  // conv0: small's rows in the first h0 output channels, its taps centred; the new taps of those rows start at 0.
  big.conv0_weight.index_put_({Slice(0, h0)}, 0.0);
  big.conv0_weight.index_put_({Slice(0, h0), Slice(), Slice(off, off + a.kernel), Slice(off, off + a.kernel)},
                              small.conv0_weight * small.conv0_mask);
  big.conv0_bias.index_put_({Slice(0, h0)}, small.conv0_bias);
  for (int i = 0; i < b.blocks; ++i) {
    auto& w1 = big.block_w1[size_t(i)];
    auto& w2 = big.block_w2[size_t(i)];
    w1.index_put_({Slice(), Slice(h0)}, 0.0);  // reads of the new hidden channels
    w2.index_put_({Slice(), Slice(i0)}, 0.0);  // reads of the new inner units
    if (i < a.blocks) {
      w1.index_put_({Slice(0, i0), Slice(0, h0)}, small.block_w1[size_t(i)]);
      big.block_b1[size_t(i)].index_put_({Slice(0, i0)}, small.block_b1[size_t(i)]);
      w2.index_put_({Slice(0, h0), Slice(0, i0)}, small.block_w2[size_t(i)]);
      big.block_b2[size_t(i)].index_put_({Slice(0, h0)}, small.block_b2[size_t(i)]);
    } else {
      w2.zero_();  // a new block adds nothing until trained
      big.block_b2[size_t(i)].zero_();
    }
  }
  big.head_weight.index_put_({Slice(), Slice(h0)}, 0.0);
  big.head_weight.index_put_({Slice(), Slice(0, h0)}, small.head_weight);
  big.head_bias.copy_(small.head_bias);
}

}  // namespace pixelzip::models::nn
