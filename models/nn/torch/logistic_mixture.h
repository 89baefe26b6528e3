// Discretized logistic mixture likelihood (PixelCNN++, Salimans et al. 2017),
// float training side. Joint over the channels of a pixel: the means of
// channel c depend linearly on the values of channels < c.
#pragma once

#include <torch/torch.h>

namespace pixelzip::models::nn {

// Channel layout of the network output for `mixtures` components and
// `channels` (1 or 3) colour channels:
//   [0, K)              mixture logits
//   [K, K + C*K)        means,       index K + c*K + k
//   next C*K            log scales,  index K + C*K + c*K + k
//   next P*K            coefficients (tanh), P = C*(C-1)/2: (G|R), (B|R), (B|G)
int MixtureParamCount(int channels, int mixtures);

// Negative log-likelihood in nats, summed over subpixels, per image (shape [B]).
// REQUIRES: x in [-1, 1] holding (2v - 255) / 255; params from the network.
torch::Tensor DiscretizedMixLogisticNll(const torch::Tensor& x, const torch::Tensor& params, int mixtures);

}  // namespace pixelzip::models::nn
