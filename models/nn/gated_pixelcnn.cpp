#include "models/nn/gated_pixelcnn.h"

#include <cmath>

#include "models/nn/logistic_mixture.h"

namespace pixelzip::models::nn {

namespace F = torch::nn::functional;
using torch::indexing::Slice;

namespace gated_ops {
torch::Tensor Pad(const torch::Tensor& x, int left, int right, int top) {
  return F::pad(x, F::PadFuncOptions({left, right, top, 0}));
}
torch::Tensor ShiftDown(const torch::Tensor& x) {
  return Pad(x, 0, 0, 1).index({Slice(), Slice(), Slice(0, x.size(2)), Slice()});
}
torch::Tensor HorizontalMask(int cin, int features, int radius, bool first) {
  auto m = torch::zeros({1, cin + features, 1, radius + 1});
  m.index_put_({0, Slice(0, cin), 0, Slice(0, first ? radius : radius + 1)}, 1.0);
  m.index_put_({0, Slice(cin, cin + features), 0, radius}, 1.0);
  return m;
}
}  // namespace gated_ops
using namespace gated_ops;

namespace {
torch::Tensor Uniform(std::vector<int64_t> shape, double fan_in, double gain) {
  const double bound = gain * std::sqrt(3.0 / fan_in);
  return torch::empty(shape).uniform_(-bound, bound);
}
}  // namespace

GatedPixelCnnImpl::GatedPixelCnnImpl(const GatedPixelCnnShape& s) : shape_(s) {
  const int C = s.channels, Fe = s.features, r = s.Radius(), k = s.kernel;
  for (int l = 0; l < s.layers; ++l) {
    const std::string n = "layer" + std::to_string(l);
    const int cin = l == 0 ? C : Fe;
    v_w.push_back(register_parameter(n + "_v_w", Uniform({2 * Fe, cin, r + 1, k}, cin * (r + 1) * k, 1.0)));
    v_b.push_back(register_parameter(n + "_v_b", torch::zeros({2 * Fe})));
    auto mask = HorizontalMask(cin, Fe, r, l == 0);
    h_mask.push_back(register_buffer(n + "_h_mask", mask));
    const double h_fan = mask.sum().item<double>();
    h_w.push_back(register_parameter(n + "_h_w", Uniform({2 * Fe, cin + Fe, 1, r + 1}, h_fan, 1.0) * mask));
    h_b.push_back(register_parameter(n + "_h_b", torch::zeros({2 * Fe})));
    res_w.push_back(register_parameter(n + "_res_w", Uniform({Fe, Fe, 1, 1}, Fe, l == 0 ? 1.0 : 0.3)));
    res_b.push_back(register_parameter(n + "_res_b", torch::zeros({Fe})));
    v_emb.push_back(register_parameter(n + "_v_emb", torch::zeros({s.classes, 2 * Fe})));
    h_emb.push_back(register_parameter(n + "_h_emb", torch::zeros({s.classes, 2 * Fe})));
  }
  const int P = MixtureParamCount(C, s.mixtures);
  head_w = register_parameter("head_w", Uniform({P, Fe, 1, 1}, Fe, 0.5));
  head_b = register_parameter("head_b", torch::zeros({P}));
}

torch::Tensor GatedPixelCnnImpl::forward(const torch::Tensor& q, const torch::Tensor& classes, std::vector<torch::Tensor>* trace) {
  const int Fe = shape_.features, r = shape_.Radius();
  auto gate = [Fe](const torch::Tensor& pre) {
    return torch::tanh(pre.index({Slice(), Slice(0, Fe)})) * torch::sigmoid(pre.index({Slice(), Slice(Fe, 2 * Fe)}));
  };
  auto x = q * (1.0 / 255.0);
  torch::Tensor v = x, h;
  for (int l = 0; l < shape_.layers; ++l) {
    auto vc = v_emb[l].index({classes}).unsqueeze(2).unsqueeze(3);
    auto hc = h_emb[l].index({classes}).unsqueeze(2).unsqueeze(3);
    auto vp = F::conv2d(Pad(v, r, r, r), v_w[l], F::Conv2dFuncOptions().bias(v_b[l])) + vc;
    v = gate(vp);
    auto hin = torch::cat({l == 0 ? x : h, ShiftDown(v)}, 1);
    auto hp = F::conv2d(Pad(hin, r, 0, 0), h_w[l] * h_mask[l], F::Conv2dFuncOptions().bias(h_b[l])) + hc;
    auto inc = F::conv2d(gate(hp), res_w[l], F::Conv2dFuncOptions().bias(res_b[l]));
    h = l == 0 ? inc : h + inc;
    if (trace) trace->push_back(h);
  }
  return F::conv2d(torch::elu(h), head_w, F::Conv2dFuncOptions().bias(head_b));
}

}  // namespace pixelzip::models::nn
