// The exact integer Local PixelCNN as LibTorch tensor code, on the shared exact
// layers of torch/exact_ops.h. One forward serves two purposes:
//  * inference (encoder's batched pass, CPU or CUDA): tensors built from an
//    IntLocalPixelCnn, results bit-equal to the CPU engine (arch/local_pixelcnn/engine.h);
//  * quantisation-aware training: tensors built from the float weights with
//    straight-through estimators; the forward values are the integer model's.
// The building blocks of the base network are also those of multiscale-pixelcnn's
// groups and of the aux-* architectures (ScalesFromTraces, LocalTensors).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/arch/local_pixelcnn/module.h"
#include "models/nn/torch/exact_ops.h"

namespace pixelzip::models::nn {

// Quantisation scales chosen by calibration (real value = integer * scale).
struct LocalQuantScales {
  double residual = 0;                          // int16 residual stream h
  std::vector<double> inner;                    // int16 pre-activation t, per block
  std::vector<double> act_pre, act_mid;         // LUT outputs (int8, or act_bits wide), per block
  double act_head = 0;
  torch::Tensor ToTensor() const;
  static LocalQuantScales FromTensor(const torch::Tensor& t, int blocks);
};

// Chooses scales from the float model's activations on `batches` (q = 2v - 255 inputs) and, for a model
// with conditioning planes, `aux_batches` (one per batch; empty when config().aux == 0).
LocalQuantScales CalibrateScales(LocalPixelCnnImpl& model, const std::vector<torch::Tensor>& batches,
                                 const std::vector<torch::Tensor>& aux_batches = {});

struct LocalTensors {
  int channels = 3, blocks = 0;
  bool ste = false;                // attach straight-through gradients (training)
  TorchIntLinear conv0, head;
  std::vector<TorchIntLinear> conv1, conv2;
  std::vector<TorchIntLut> pre, mid;
  TorchIntLut head_lut;
  torch::Tensor param_scale;       // float [1, P, 1, 1]: real value of one unit of each output parameter
  LocalTensors To(const torch::Device& device) const;
};

// Integer tensors of an exported model, for inference on `device`.
LocalTensors TensorsFromInt(const IntLocalPixelCnn& model);
// Quantised tensors from the float weights (straight-through gradients when `ste`).
LocalTensors TensorsFromFloat(LocalPixelCnnImpl& model, const LocalQuantScales& scales, bool ste);
// Exports exactly the integers TensorsFromFloat computes.
IntLocalPixelCnn ExportIntModel(LocalPixelCnnImpl& model, const LocalQuantScales& scales);

// Mixture parameters as integer-valued float tensor [B, P, H, W] (fixed point, runtime/mixture_cdf.h).
// REQUIRES: q integer-valued float [B, C, H, W] in [-255, 255] on the tensors' device; aux (conditioning
// planes [B, A, H, W], same range) defined iff the model has A = shape.aux > 0 planes.
torch::Tensor ExactForward(const LocalTensors& t, const torch::Tensor& q, const torch::Tensor& aux = torch::Tensor());

// Quantisation scales from float traces of a local-pixelcnn-shaped network (per batch: h after conv0, then
// per block the pre-activation t and h after the block): int16 tensors at 1.5x the largest magnitude seen,
// activation tables at ActivationRange. REQUIRES: every trace has 1 + 2 * blocks tensors.
LocalQuantScales ScalesFromTraces(const std::vector<std::vector<torch::Tensor>>& traces, int blocks, int act_bits);

}  // namespace pixelzip::models::nn
