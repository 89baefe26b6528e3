// PixelCNN++ float module (LibTorch): the training network of the "pixelcnn++"
// architecture, layer for layer the graph of arch/pixelcnnpp/graph.h. Weight
// normalisation and data-dependent initialisation of the reference are left
// out (plain uniform initialisation; Adam copes at these sizes).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/nn/arch/pixelcnnpp/graph.h"

namespace pixelzip::models::nn {

struct PixelCnnPPConfig {
  PixelCnnPPShape shape;
  double dropout = 0.0;  // on concat_elu(c1) inside every block, training mode only
  std::string ToString() const;
};

// Prepares x [B, C, Hin, Win] so that an unpadded convolution with stride (transposed: stride 1 on
// the zero-inserted map with the kernel flipped, see ConvWeightForGeometry) gives the [out_h, out_w]
// outputs of `g` before its shift. Zero padding or cropping at every side; differentiable.
torch::Tensor PrepareConvInput(const torch::Tensor& x, const ConvGeometry& g, int64_t out_h, int64_t out_w);
// The kernel to use on PrepareConvInput's result: w itself, or w flipped in both spatial dims when transposed.
torch::Tensor ConvWeightForGeometry(const torch::Tensor& w, const ConvGeometry& g);
// Applies g's down/right shift to a [B, C, H, W] map (rows/columns shifted in are 0).
torch::Tensor ApplyShift(const torch::Tensor& t, const ConvGeometry& g);
// concat_elu(x) = elu(cat(x, -x)) over channels.
torch::Tensor ConcatElu(const torch::Tensor& x);

// Activations recorded by a forward pass (for calibrating quantisation scales).
struct PixelCnnPPTrace {
  std::vector<torch::Tensor> nodes;                 // every stream node, program order
  std::vector<torch::Tensor> c1[2], c2[2];          // per stream (0 = u, 1 = ul), per block: conv1 output, conv2 output
};

class PixelCnnPPImpl : public torch::nn::Module {
 public:
  explicit PixelCnnPPImpl(const PixelCnnPPConfig& config);
  // q: pixel values 2v - 255 as float, [B, C, H, W], any H, W >= 1. Returns real mixture parameters
  // [B, P, H, W]; the output at (y, x) depends only on pixels before (y, x) in raster order.
  torch::Tensor forward(const torch::Tensor& q, PixelCnnPPTrace* trace = nullptr);
  const PixelCnnPPConfig& config() const { return config_; }
  const PixelCnnPPProgram& program() const { return program_; }

  struct Block {
    torch::Tensor conv1_w, conv1_b, nin_w, conv2_w, conv2_b;  // nin_w [F, 2F * skips] (undefined without skips)
  };
  // Parameters (real-valued; the input layer sees q / 255 and a constant 1 channel).
  torch::Tensor first_u_w, first_u_b, first_ul_down_w, first_ul_down_b, first_ul_right_w, first_ul_right_b;
  std::vector<Block> blocks[2];              // per stream, in program order
  std::vector<torch::Tensor> resample_w[2], resample_b[2];  // per stream: downsamplings then upsamplings; [F, F, kh, kw]
  torch::Tensor head_w, head_b;              // [P, F], [P]

 private:
  PixelCnnPPConfig config_;
  PixelCnnPPProgram program_;
};
TORCH_MODULE(PixelCnnPP);

}  // namespace pixelzip::models::nn
