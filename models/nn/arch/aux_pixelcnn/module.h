// The auxiliary-variable PixelCNNs (arch/aux_pixelcnn/engine.h) in LibTorch: float modules for
// training, the fake-quantised forward (the exact integer path of arch/local_pixelcnn/exact.h
// with straight-through gradients), the training losses and the export.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>

#include "models/nn/arch/local_pixelcnn/exact.h"
#include "models/nn/arch/aux_pixelcnn/engine.h"
#include "models/nn/arch/local_pixelcnn/module.h"

namespace pixelzip::models::nn {

// Hyperparameters (`--hyper`). aux-grey: kernel, hidden, inner, blocks, mixtures of the colour network and
// grey_kernel, grey_hidden, grey_inner, grey_blocks, grey_mixtures of the grey network. aux-pyramid:
// base_side, then kernel, hidden, inner, blocks, mixtures (shared) of the level network and base_kernel,
// base_hidden, base_inner, base_blocks of the base network. Defaults: kernel 5, hidden 32, inner 64,
// blocks 2, mixtures 5, base_side 8. Throws kInvalidArgument.
struct AuxGreyShape {
  LocalPixelCnnShape grey, colour;
  static AuxGreyShape FromHyper(const std::string& hyper);
  std::string ToHyper() const;
};
struct AuxPyramidShape {
  int base_side = 8;
  LocalPixelCnnShape base, cond;
  static AuxPyramidShape FromHyper(const std::string& hyper, int channels);
  std::string ToHyper() const;
};

// Grey image q_g = 2 GreyOf(v) - 255 [B, 1, H, W] of colour pixels q = 2v - 255 [B, 3, H, W] (float, exact).
torch::Tensor GreyOfQ(const torch::Tensor& q);
// GreyConsistentRange for every subpixel: *lo, *hi [B, 3, H, W] (pixel values, float).
void GreyRanges(const torch::Tensor& q, torch::Tensor* lo, torch::Tensor* hi);
// Negative log-likelihood in nats per image [B] of x ((2v - 255) / 255, [B, C, H, W]) under the mixture
// `params` with every channel's distribution renormalised to [lo, hi] (given the channels before it,
// with the joint mixture's posterior weights, as IntervalCdf does in integers). lo = 0, hi = 255 is the
// plain mixture likelihood (computed with exact logistic bin masses).
torch::Tensor ConstrainedMixNll(const torch::Tensor& x, const torch::Tensor& params, int mixtures, const torch::Tensor& lo,
                                const torch::Tensor& hi);

// Level l of q [B, C, H, W]: q[:, :, ::2^l, ::2^l].
torch::Tensor PyramidLevelQ(const torch::Tensor& q, int l);
// Nearest upsampling of a level to the next larger level's size (h, w): out(y, x) = lower(y >> 1, x >> 1).
torch::Tensor UpsampleNearestQ(const torch::Tensor& lower, int64_t h, int64_t w);
// Per-pixel mixture parameters [B, P, H, W] of the whole image in pyramid order with L levels: base(level L)
// at the multiples of 2^L, cond(level l, upsampled level l + 1) at the pixels level l codes.
torch::Tensor PyramidForward(const torch::Tensor& q, int levels, const std::function<torch::Tensor(const torch::Tensor&)>& base,
                             const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& cond);

}  // namespace pixelzip::models::nn
