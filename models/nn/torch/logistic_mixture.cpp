#include "models/nn/torch/logistic_mixture.h"

namespace pixelzip::models::nn {

int MixtureParamCount(int channels, int mixtures) {
  const int pairs = channels * (channels - 1) / 2;
  return mixtures * (1 + 2 * channels + pairs);
}

torch::Tensor DiscretizedMixLogisticNll(const torch::Tensor& x, const torch::Tensor& params, int mixtures) {
  using torch::indexing::Slice;
  const int64_t K = mixtures;
  const int64_t C = x.size(1);
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  const int64_t pairs = C * (C - 1) / 2;
  auto logits = params.index({Slice(), Slice(0, K)});                               // B,K,H,W
  auto means = params.index({Slice(), Slice(K, K + C * K)}).view({B, C, K, H, W});
  auto log_scales = params.index({Slice(), Slice(K + C * K, K + 2 * C * K)}).view({B, C, K, H, W}).clamp_min(-7.0);
  auto xs = x.unsqueeze(2);  // B,C,1,H,W
  if (C == 3) {
    auto coeffs = torch::tanh(params.index({Slice(), Slice(K + 2 * C * K, K + (2 * C + pairs) * K)})).view({B, pairs, K, H, W});
    auto m0 = means.select(1, 0);
    auto m1 = means.select(1, 1) + coeffs.select(1, 0) * xs.select(1, 0);
    auto m2 = means.select(1, 2) + coeffs.select(1, 1) * xs.select(1, 0) + coeffs.select(1, 2) * xs.select(1, 1);
    means = torch::stack({m0, m1, m2}, 1);
  }
  auto centered = xs - means;
  auto inv_s = torch::exp(-log_scales);
  auto plus_in = inv_s * (centered + 1.0 / 255.0);
  auto min_in = inv_s * (centered - 1.0 / 255.0);
  auto cdf_plus = torch::sigmoid(plus_in);
  auto cdf_min = torch::sigmoid(min_in);
  auto log_cdf_plus = plus_in - torch::nn::functional::softplus(plus_in);
  auto log_one_minus_cdf_min = -torch::nn::functional::softplus(min_in);
  auto cdf_delta = cdf_plus - cdf_min;
  auto mid_in = inv_s * centered;
  auto log_pdf_mid = mid_in - log_scales - 2.0 * torch::nn::functional::softplus(mid_in);
  auto inner = torch::where(cdf_delta > 1e-5, torch::log(cdf_delta.clamp_min(1e-12)), log_pdf_mid - std::log(127.5));
  auto log_probs = torch::where(xs < -0.999, log_cdf_plus, torch::where(xs > 0.999, log_one_minus_cdf_min, inner));
  auto joint = log_probs.sum(1) + torch::log_softmax(logits, 1);  // B,K,H,W
  return -torch::logsumexp(joint, 1).sum({1, 2});
}

}  // namespace pixelzip::models::nn
