// Local PixelCNN (in the spirit of NeLLoC, Zhang et al. 2021): a causal
// masked convolution over a small neighbourhood plus the JPEG-LS median edge
// predictor as extra input, then residual blocks of 1x1 convolutions, then a
// discretized logistic mixture head. Cheap per pixel, learns fast per FLOP.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/nn/arch/local_pixelcnn/engine.h"  // LocalPixelCnnShape

namespace pixelzip::models::nn {

struct LocalPixelCnnConfig {
  int channels = 3;      // colour channels coded (1 or 3)
  int kernel = 7;        // masked kernel size (odd); receptive field (kernel/2) rows up, kernel/2 left/right
  int hidden = 64;       // residual stream width
  int inner = 128;       // width inside each residual block
  int blocks = 4;        // residual blocks
  int mixtures = 10;     // logistic mixture components
  int aux = 0;           // extra non-causal input planes (conditioning), seen through a 3x3 window around the pixel
  int act_bits = 8;      // bits of the integer model's activations after each ELU (8 to 12; see arch/local_pixelcnn/engine.h)
  int weight_bits = 8;   // bits of the integer model's layer weights (8 to 16; see arch/local_pixelcnn/engine.h)
  int32_t ActMax() const { return (int32_t{1} << (act_bits - 1)) - 1; }
  int32_t WeightMax() const { return (int32_t{1} << (weight_bits - 1)) - 1; }
  std::string ToString() const;
};

// Median edge predictor (JPEG-LS) per channel, on pixel values q = 2v - 255
// (out-of-image neighbours read as 0). Returns the same shape and range as q.
// REQUIRES: q holds integers in [-255, 255], shape [B, C, H, W].
torch::Tensor MedianEdgePredictor(const torch::Tensor& q);

// The float network's configuration of a model file's shape.
LocalPixelCnnConfig ConfigOf(const LocalPixelCnnShape& shape);

// The float residual blocks and head, shared with multiscale-pixelcnn's group networks: from the stream h
// after the first convolution (pushed onto `trace`), per block t = w1 * elu(h) + b1 and h += w2 * elu(t) + b2
// (1x1 convolutions; t and h pushed), then the head's 1x1 convolution of elu(h).
torch::Tensor ResidualBlocksAndHead(torch::Tensor h, const std::vector<torch::Tensor>& w1, const std::vector<torch::Tensor>& b1,
                                    const std::vector<torch::Tensor>& w2, const std::vector<torch::Tensor>& b2,
                                    const torch::Tensor& head_w, const torch::Tensor& head_b, std::vector<torch::Tensor>* trace);

class LocalPixelCnnImpl : public torch::nn::Module {
 public:
  explicit LocalPixelCnnImpl(const LocalPixelCnnConfig& config);
  // q: pixel values 2v - 255 as float, [B, C, H, W]. Returns mixture parameters
  // [B, MixtureParamCount, H, W]; output at (y, x) depends only on pixels before (y, x) in raster order.
  // When `trace` is given it receives, in order: h after conv0, then per block t (pre-activation
  // inside the block) and h after the block (calibration of quantisation scales).
  torch::Tensor forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace = nullptr);
  // The same with conditioning planes aux [B, aux, H, W] (q-range integers as float; any pixel, causal or not,
  // within the 3x3 window around (y, x) is seen). REQUIRES: aux defined iff config().aux > 0.
  torch::Tensor ForwardWithAux(const torch::Tensor& q, const torch::Tensor& aux, std::vector<torch::Tensor>* trace = nullptr);
  const LocalPixelCnnConfig& config() const { return config_; }

  torch::Tensor conv0_weight, conv0_bias, conv0_mask;
  std::vector<torch::Tensor> block_w1, block_b1, block_w2, block_b2;
  torch::Tensor head_weight, head_bias;

 private:
  LocalPixelCnnConfig config_;
};
TORCH_MODULE(LocalPixelCnn);

// Copies `small`'s weights into `big` so that big computes small's function (up to float rounding): small's
// kernel taps centred in big's, its hidden and inner units first, its blocks first. What big adds keeps big's
// initialisation where nothing reads it yet (new units' input weights) and is zero where it would change the
// output (weights reading new units or taps, new blocks' output weights), so gradients reach all of it.
// REQUIRES: same channels, mixtures and aux; big's kernel, hidden, inner and blocks >= small's (throws
// pixelzip::Error(kInvalidArgument) otherwise).
void GrowLocalPixelCnn(const LocalPixelCnnImpl& small, LocalPixelCnnImpl& big);

}  // namespace pixelzip::models::nn
