#include "models/nn/arch/gated_pixelcnn/module.h"

#include <cmath>

#include "models/nn/torch/logistic_mixture.h"

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
}  // namespace gated_ops

namespace {
torch::Tensor Uniform(std::vector<int64_t> shape, double fan_in, double gain) {
  const double bound = gain * std::sqrt(3.0 / fan_in);
  return torch::empty(shape).uniform_(-bound, bound);
}
}  // namespace

GatedPixelCnnImpl::GatedPixelCnnImpl(const GatedPixelCnnShape& s) : shape_(s) {
  const int C = s.channels, Fe = s.features, r = s.Radius(), k = s.kernel;
  auto vm = torch::zeros({1, 1, 2 * r + 1, k});
  vm.index_put_({0, 0, Slice(0, r + 1)}, 1.0);
  v_mask = register_buffer("v_mask", vm);
  auto lm = torch::zeros({1, 1, 3, 1});
  lm.index_put_({0, 0, 0, 0}, 1.0);
  link_mask = register_buffer("link_mask", lm);
  for (int l = 0; l < s.layers; ++l) {
    const std::string n = "layer" + std::to_string(l);
    const int cin = l == 0 ? C : Fe, taps = s.HorizontalTaps(l);
    v_w.push_back(register_parameter(n + "_v_w", Uniform({2 * Fe, cin, 2 * r + 1, k}, cin * (r + 1) * k, 1.0) * vm));
    v_b.push_back(register_parameter(n + "_v_b", torch::zeros({2 * Fe})));
    auto hm = torch::zeros({1, 1, 1, 2 * r + 1});
    hm.index_put_({0, 0, 0, Slice(0, taps)}, 1.0);
    h_mask.push_back(register_buffer(n + "_h_mask", hm));
    const double h_fan = cin * taps + Fe;
    h_w.push_back(register_parameter(n + "_h_w", Uniform({2 * Fe, cin, 1, 2 * r + 1}, h_fan, 1.0) * hm));
    link_w.push_back(register_parameter(n + "_link_w", Uniform({2 * Fe, Fe, 3, 1}, h_fan, 1.0) * lm));
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
  const bool conditional = shape_.classes > 1;
  // Each gate half is its own convolution (contiguous outputs: no channel slicing in the backward pass).
  auto half = [Fe](const torch::Tensor& t, int i) { return t.narrow(0, int64_t(i) * Fe, Fe); };
  auto cond = [&](const torch::Tensor& emb, int i) {
    return emb.index({classes}).narrow(1, int64_t(i) * Fe, Fe).unsqueeze(2).unsqueeze(3);
  };
  auto x = q * (1.0 / 255.0);
  torch::Tensor v = x, h;
  for (int l = 0; l < shape_.layers; ++l) {
    const auto vw = v_w[l] * v_mask, hw = h_w[l] * h_mask[l], lw = link_w[l] * link_mask;
    torch::Tensor vpre[2], hpre[2];
    for (int i = 0; i < 2; ++i) {
      vpre[i] = F::conv2d(v, half(vw, i), F::Conv2dFuncOptions().bias(half(v_b[l], i)).padding({r, r}));
      if (conditional) vpre[i] = vpre[i] + cond(v_emb[l], i);
    }
    v = torch::tanh(vpre[0]) * torch::sigmoid(vpre[1]);
    const auto& hin = l == 0 ? x : h;
    for (int i = 0; i < 2; ++i) {
      hpre[i] = F::conv2d(hin, half(hw, i), F::Conv2dFuncOptions().bias(half(h_b[l], i)).padding({0, r})) +
                F::conv2d(v, half(lw, i), F::Conv2dFuncOptions().padding({1, 0}));
      if (conditional) hpre[i] = hpre[i] + cond(h_emb[l], i);
    }
    auto inc = F::conv2d(torch::tanh(hpre[0]) * torch::sigmoid(hpre[1]), res_w[l], F::Conv2dFuncOptions().bias(res_b[l]));
    h = l == 0 ? inc : h + inc;
    if (trace) trace->push_back(h);
  }
  return F::conv2d(torch::elu(h), head_w, F::Conv2dFuncOptions().bias(head_b));
}

}  // namespace pixelzip::models::nn
