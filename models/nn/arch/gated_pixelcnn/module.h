// Gated PixelCNN and Conditional PixelCNN (van den Oord et al. 2016), float
// training module: vertical and horizontal stacks (no blind spot), gated
// activations tanh(a) * sigmoid(b), a residual horizontal stack, a class
// embedding added into every gate (conditioning), and the project's joint-RGB
// discretized logistic mixture head. Structure and exact integer version:
// arch/gated_pixelcnn/engine.h.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/nn/arch/gated_pixelcnn/engine.h"

namespace pixelzip::models::nn {

class GatedPixelCnnImpl : public torch::nn::Module {
 public:
  explicit GatedPixelCnnImpl(const GatedPixelCnnShape& shape);
  // q: pixel values 2v - 255 as float [B, C, H, W]; classes: int64 [B] in [0, classes).
  // Returns mixture parameters [B, P, H, W]; output at (y, x) depends only on pixels before (y, x) in raster order.
  // `trace` receives h after every layer (calibration).
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& classes, std::vector<torch::Tensor>* trace = nullptr);
  const GatedPixelCnnShape& shape() const { return shape_; }

  // Kernels are centred (symmetric padding, no pad/slice copies in training) and masked:
  // v_w [2F, cin, 2r+1, k] rows 0..r used (rows y-r..y); h_w [2F, cin, 1, 2r+1] taps 0..r used
  // (x-r..x; 0..r-1 on layer 0); link_w [2F, F, 3, 1] row 0 used (the vertical features of row y-1).
  std::vector<torch::Tensor> v_w, v_b, h_w, h_b, link_w, res_w, res_b, v_emb, h_emb;
  std::vector<torch::Tensor> h_mask;  // per layer
  torch::Tensor v_mask, link_mask;
  torch::Tensor head_w, head_b;

 private:
  GatedPixelCnnShape shape_;
};
TORCH_MODULE(GatedPixelCnn);

// Helpers shared by the float and exact forwards.
namespace gated_ops {
// Zero-pads x [B, C, H, W] by (left, right, top) columns/rows.
torch::Tensor Pad(const torch::Tensor& x, int left, int right, int top);
// x shifted down by one row (row 0 zero).
torch::Tensor ShiftDown(const torch::Tensor& x);
}  // namespace gated_ops

}  // namespace pixelzip::models::nn
