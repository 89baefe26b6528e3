// The exact integer PixelCNN++ as LibTorch tensor code. One forward serves
//  * inference (the encoder's batched pass, CPU or CUDA): tensors built from an
//    IntPixelCnnPP, results bit-equal to the CPU engine (arch/pixelcnnpp/engine.h);
//  * quantisation-aware training: tensors built from the float weights with
//    straight-through estimators; the forward values are the integer model's.
// Convolutions are unfold (im2col) + fp32 GEMM on integer-valued tensors (transposed
// convolutions: zero insertion, then an ordinary unfold), exact in any summation order
// under the load-time bounds; 16-bit inputs are split into bytes and combined in int64.
// Requantisation and lookups run on int64 tensors. No cuDNN/Winograd algorithm choice.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/nn/torch/exact_ops.h"
#include "models/nn/arch/pixelcnnpp/engine.h"
#include "models/nn/arch/pixelcnnpp/module.h"

namespace pixelzip::models::nn {

// Quantisation scales chosen by calibration (real value = integer * scale).
struct PixelCnnPPBlockScales {
  double ex_pos = 0, ex_neg = 0;            // int8 concat_elu of the block input
  std::vector<double> skip_pos, skip_neg;   // int8 concat_elu of each skip source
  double c1 = 0;                            // int16 conv1 output
  double mid_pos = 0, mid_neg = 0;          // int8 concat_elu of c1
  double a = 0, b = 0;                      // int16 conv2 output halves
};
struct PixelCnnPPScales {
  std::vector<double> segment[2];                 // int16 stream scale per segment, per stream
  std::vector<PixelCnnPPBlockScales> blocks[2];   // per stream, program order
  double head_act = 0;                            // int8 elu(ul) before the head
  bool calibrated() const { return head_act > 0; }
  torch::Tensor ToTensor() const;
  // Throws Error(kInvalidArgument) when `t` does not hold scales for `shape`.
  static PixelCnnPPScales FromTensor(const torch::Tensor& t, const PixelCnnPPShape& shape);
};

// Chooses scales from the float model's activations on `batches` (q = 2v - 255 inputs),
// evaluated in eval mode (no dropout).
PixelCnnPPScales CalibrateScales(PixelCnnPPImpl& model, const std::vector<torch::Tensor>& batches);

// A linear layer as GEMM tensors (requantised and looked up with torch/exact_ops.h's exact_ops):
// here `weight` is [out, K] with K in unfold order (channel, ky, kx; a transposed convolution's
// kernel flipped) followed by per-position extra inputs; `padding` is unused (Columns pads).
struct PPLinear : TorchIntLinear {
  std::vector<Requant> requant;                 // the requantisation constants, host side (export)
};
struct PPLut : TorchIntLut {
  IntLut lut;                                   // host copy (export)
};
struct PPBlockTensors {
  PPLut in_pos, in_neg, mid_pos, mid_neg, gate;
  std::vector<PPLut> skip_pos, skip_neg;
  PPLinear conv1, conv2;
  PPLinear gate_requant;                        // requantisation constants only (a * gate -> stream)
};
struct PixelCnnPPTensors {
  PixelCnnPPShape shape;
  bool ste = false;                             // straight-through gradients (training)
  double dropout = 0;                           // applied to concat_elu(c1) when > 0 (training only)
  PPLinear first_u, first_ul_down, first_ul_right;
  std::vector<PPBlockTensors> blocks[2];
  std::vector<PPLinear> resample[2];
  PPLut head_lut;
  PPLinear head;
  torch::Tensor param_scale;                    // float [1, P, 1, 1]: real value of one unit of each parameter
  PixelCnnPPTensors To(const torch::Device& device) const;
};

// Integer tensors of an exported model, for inference.
PixelCnnPPTensors TensorsFromInt(const IntPixelCnnPP& model);
// Quantised tensors from the float weights (straight-through gradients when `ste`). REQUIRES: scales.calibrated().
PixelCnnPPTensors TensorsFromFloat(PixelCnnPPImpl& model, const PixelCnnPPScales& scales, bool ste);
// Exports exactly the integers TensorsFromFloat computes; the result is validated.
IntPixelCnnPP ExportIntModel(PixelCnnPPImpl& model, const PixelCnnPPScales& scales);

// Mixture parameters as integer-valued float tensor [B, P, H, W] (fixed point, runtime/mixture_cdf.h).
// REQUIRES: q integer-valued float [B, C, H, W] in [-255, 255] on the tensors' device.
torch::Tensor ExactForward(const PixelCnnPPTensors& t, const torch::Tensor& q);

}  // namespace pixelzip::models::nn
