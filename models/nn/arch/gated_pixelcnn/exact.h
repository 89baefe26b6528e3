// The exact integer Gated PixelCNN as LibTorch tensor code (whole images at
// once: the encoder's batched pass), and its fake-quantised training forward
// with straight-through gradients: the same function on tensors built either
// from an IntGatedPixelCnn or from the float weights. Results are bit-equal to
// the CPU engine (arch/gated_pixelcnn/engine.h): convolutions act on integer-valued
// fp32 tensors whose partial sums the loader proves below 2^24 (exact in any
// summation order; direct/GEMM convolution on the CPU, im2col + GEMM on CUDA);
// requantisation, lookups and the gate product run on int64 tensors.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/nn/torch/exact_ops.h"
#include "models/nn/arch/gated_pixelcnn/module.h"
#include "models/nn/arch/gated_pixelcnn/engine.h"

namespace pixelzip::models::nn {

// Quantisation scales chosen by calibration (real value = integer * scale).
struct GatedQuantScales {
  double residual = 0;       // int16 residual stream h
  double act_head = 0;       // int8 elu(h_L) before the head
  std::vector<double> act;   // int8 a_l = h_l per layer (entry 0 unused)
  torch::Tensor ToTensor() const;
  static GatedQuantScales FromTensor(const torch::Tensor& t, int layers);  // throws kInvalidArgument on a size mismatch
};

// Chooses scales from the float model's activations on `batches` (q = 2v - 255), each image with a
// random class (class 0 when the model has one class).
GatedQuantScales CalibrateGatedScales(GatedPixelCnnImpl& model, const std::vector<torch::Tensor>& batches);

struct GatedTensors {
  GatedPixelCnnShape shape;
  bool ste = false;
  std::vector<TorchIntLinear> vconv, hconv, res;  // vconv [2F, cin, r+1, k], hconv [2F, cin+F, 1, r+1] (masked)
  std::vector<torch::Tensor> vcond, hcond;        // float [classes, 2F], integer values
  std::vector<TorchIntLut> act;                   // entry 0 unused
  TorchIntLut tanh_lut, sigmoid_lut, head_lut;
  TorchIntLinear head;
  torch::Tensor param_scale;                      // float [1, P, 1, 1]
  double residual_scale = 0;                      // straight-through gradients only
  std::vector<double> act_scale;
  GatedTensors To(const torch::Device& device) const;
};

GatedTensors GatedTensorsFromInt(const IntGatedPixelCnn& model);
GatedTensors GatedTensorsFromFloat(GatedPixelCnnImpl& model, const GatedQuantScales& scales, bool ste);
IntGatedPixelCnn ExportGatedModel(GatedPixelCnnImpl& model, const GatedQuantScales& scales);

// Mixture parameters as an integer-valued float tensor [B, P, H, W] (fixed point, runtime/mixture_cdf.h).
// REQUIRES: q integer-valued float [B, C, H, W] in [-255, 255]; classes int64 [B] in [0, classes); same device as t.
torch::Tensor GatedExactForward(const GatedTensors& t, const torch::Tensor& q, const torch::Tensor& classes);

}  // namespace pixelzip::models::nn
