// The plain PixelCNN (arch/pixelcnn/engine.h) on the LibTorch side:
//  * the float module trained by `pixelzip train --arch pixelcnn`;
//  * one exact forward (PixelCnnExactForward) serving the encoder's batched pass (tensors built
//    from an IntPixelCnn; bit-equal to the CPU engine) and quantisation-aware training (tensors
//    built from the float weights with straight-through gradients; the same integers).
// Convolutions on integer-valued fp32 tensors are exact under the load-time bound
// (sum|w|*max|a|+|b| < 2^24) in any summation order: LibTorch's F::conv2d on the CPU, im2col + fp32
// GEMM on CUDA.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/nn/torch/exact_ops.h"
#include "models/nn/arch/pixelcnn/engine.h"

namespace pixelzip::models::nn {

// Mask [out, in, k, k] of PixelCnnTapAllowed.
torch::Tensor PixelCnnMask(int out, int in, int k, int channels, bool mask_a);

class PixelCnnImpl : public torch::nn::Module {
 public:
  explicit PixelCnnImpl(const PixelCnnShape& shape);
  // q: pixel values 2v - 255 as float [B, C, H, W]. Returns logits in nats [B, 256 C, H, W]
  // (channel c's 256 logits at [256 c, 256 c + 256)); the logits of subpixel (y, x, c) depend only on
  // subpixels before it in raster order (R, G, B within a pixel).
  // `trace`, when given, receives h0, then per block t1, t2, h, then the head's hidden activation.
  torch::Tensor forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace = nullptr);
  const PixelCnnShape& shape() const { return shape_; }

  torch::Tensor w_in, b_in, m_in;
  std::vector<torch::Tensor> w1, b1, m1, w2, b2, m2, w3, b3, m3;
  torch::Tensor w_h1, b_h1, m_h1, w_h2, b_h2, m_h2;

 private:
  PixelCnnShape shape_;
};
TORCH_MODULE(PixelCnn);

// Negative log-likelihood in nats of q under 256-way softmax logits (nats), summed per image: [B].
// REQUIRES: q integer-valued float in [-255, 255] (odd), [B, C, H, W]; logits [B, 256 C, H, W].
torch::Tensor SoftmaxNll(const torch::Tensor& q, const torch::Tensor& logits);

// Quantisation scales (real value = integer * scale), chosen by calibration.
struct PixelCnnScales {
  double residual = 0;                     // int16 residual stream
  std::vector<double> pre, t1, t2;         // int8 activations, per block
  double head_pre = 0, head_hidden = 0;    // int8 activations of the head
  torch::Tensor ToTensor() const;
  static PixelCnnScales FromTensor(const torch::Tensor& t, int blocks);  // throws kInvalidArgument on a size mismatch
};
PixelCnnScales CalibratePixelCnn(PixelCnnImpl& model, const std::vector<torch::Tensor>& batches);

struct TorchReluRequant {
  int64_t multiplier = 0, half = 0, divisor = 1;
  double factor = 0;  // multiplier / 2^shift (straight-through gradient only)
};
struct PixelCnnTensors {
  int blocks = 0;
  bool ste = false;
  TorchIntLinear conv_in, head1, head2;
  std::vector<TorchIntLinear> conv1, conv2, conv3;
  std::vector<TorchReluRequant> pre;
  TorchReluRequant head_pre;
  PixelCnnTensors To(const torch::Device& device) const;
};

PixelCnnTensors PixelCnnTensorsFromInt(const IntPixelCnn& model);
// Straight-through gradients when `ste`.
PixelCnnTensors PixelCnnTensorsFromFloat(PixelCnnImpl& model, const PixelCnnScales& scales, bool ste);
// Exactly the integers PixelCnnTensorsFromFloat computes, with the softmax exp table.
IntPixelCnn ExportPixelCnn(PixelCnnImpl& model, const PixelCnnScales& scales);

// Integer logits (1/16 nat) as an integer-valued float tensor [B, 256 C, H, W].
// REQUIRES: q integer-valued float [B, C, H, W] in [-255, 255] on the tensors' device.
torch::Tensor PixelCnnExactForward(const PixelCnnTensors& t, const torch::Tensor& q);

}  // namespace pixelzip::models::nn
