// Multiscale PixelCNN in LibTorch: the float module (training), calibration,
// the exact integer forward shared by QAT (straight-through) and inference
// (bit-equal to the CPU engine of arch/multiscale/engine.h), and export.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/nn/arch/local_pixelcnn/exact.h"
#include "models/nn/arch/multiscale/engine.h"
#include "models/nn/arch/local_pixelcnn/module.h"

namespace pixelzip::models::nn {

// Float group network: 3x3 conv on the known phases (q / 255), residual 1x1 blocks with ELU, 1x1 head.
class GroupNetImpl : public torch::nn::Module {
 public:
  GroupNetImpl(int in_channels, int hidden, int inner, int blocks, int params);
  // x: [B, in_channels, hc, wc] (q = 2v - 255 values). trace as LocalPixelCnnImpl::forward.
  torch::Tensor forward(const torch::Tensor& x, std::vector<torch::Tensor>* trace = nullptr);
  int blocks() const { return int(block_w1.size()); }

  torch::Tensor conv0_weight, conv0_bias;
  std::vector<torch::Tensor> block_w1, block_b1, block_w2, block_b2;
  torch::Tensor head_weight, head_bias;
};
TORCH_MODULE(GroupNet);

class MultiscalePixelCnnImpl : public torch::nn::Module {
 public:
  explicit MultiscalePixelCnnImpl(const MultiscaleShape& shape);
  const MultiscaleShape& shape() const { return shape_; }
  LocalPixelCnn base{nullptr};
  std::vector<GroupNet> groups;

 private:
  MultiscaleShape shape_;
};
TORCH_MODULE(MultiscalePixelCnn);

struct MultiscaleScales {
  LocalQuantScales base;
  LocalQuantScales groups[kMultiscaleGroups];
  bool calibrated() const { return base.residual > 0; }
  torch::Tensor ToTensor() const;
  static MultiscaleScales FromTensor(const torch::Tensor& t, const MultiscaleShape& shape);  // throws on size mismatch
};

struct MultiscaleTensors {
  LocalTensors base;                              // the base local-pixelcnn (ExactForward)
  LocalTensors groups[kMultiscaleGroups];         // conv0 is the 3x3 phase convolution (padding 1)
  int base_side = 8;
  MultiscaleTensors To(const torch::Device& device) const;
};

// The spacing-s grid of q [B, C, H, W]: q[:, :, ::s, ::s].
torch::Tensor GridOf(const torch::Tensor& q, int s);
// Input of group g from the grid [B, C, hs, ws]: the known phases stacked as channels on the
// coarse grid [B, phases * C, ceil(hs / 2), ceil(ws / 2)], zero where a phase pixel does not exist.
torch::Tensor GroupInput(const torch::Tensor& grid, int g);
// Mixture parameters (fixed point, integer-valued float) [B, P, hc, wc] of a group network.
torch::Tensor GroupExactForward(const LocalTensors& t, const torch::Tensor& input);

MultiscaleScales CalibrateMultiscaleScales(MultiscalePixelCnnImpl& model, const std::vector<torch::Tensor>& batches);
MultiscaleTensors MultiscaleTensorsFromFloat(MultiscalePixelCnnImpl& model, const MultiscaleScales& scales, bool ste);
MultiscaleTensors MultiscaleTensorsFromInt(const IntMultiscalePixelCnn& model);
IntMultiscalePixelCnn ExportMultiscaleModel(MultiscalePixelCnnImpl& model, const MultiscaleScales& scales);

// Per-pixel mixture parameters [B, P, H, W] of the whole image in multiscale order with
// L = MultiscaleLevels(W, H, base_side): the base network's raster predictions at the base
// positions and each group network's predictions at its positions.
torch::Tensor MultiscaleForwardFloat(MultiscalePixelCnnImpl& model, const torch::Tensor& q);         // real values
torch::Tensor MultiscaleForwardExact(const MultiscaleTensors& t, const torch::Tensor& q);            // fixed point

}  // namespace pixelzip::models::nn
