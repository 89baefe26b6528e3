// The exact integer Local PixelCNN as LibTorch tensor code. One forward serves
// two purposes:
//  * inference (encoder's batched pass, CPU or CUDA): tensors built from an
//    IntLocalPixelCnn, results bit-equal to the CPU engine (arch/local_pixelcnn/engine.h);
//  * quantisation-aware training: tensors built from the float weights with
//    straight-through estimators; the forward values are the integer model's.
// Convolutions run as fp32 GEMMs (im2col) on integer-valued tensors; the model
// loader's bound (sum|w|*max|a|+|b| < 2^24) makes every partial sum exact in any order.
// Requantisation and lookups run on int64 tensors.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/arch/local_pixelcnn/module.h"

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

struct TorchIntLinear {
  torch::Tensor weight;            // float, integer values, [out, in, kh, kw]
  torch::Tensor bias;              // float, integer values, [out]
  torch::Tensor multiplier, half, divisor;  // int64 [1, out, 1, 1]
  torch::Tensor factor;            // float [1, out, 1, 1]: multiplier / 2^shift (STE gradient only)
  int64_t lo = -kInt16Max, hi = kInt16Max;
  int padding = 0;
};
struct TorchIntLut {
  int64_t multiplier = 0, half = 0, divisor = 1, index_lo = 0;
  torch::Tensor table;             // float [4096]
  bool sigmoid = false;            // the STE function f: elu, or sigmoid
  double ste_in = 0, ste_out = 0;  // for the STE gradient: f(x * ste_in) / ste_out
};
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

// Building blocks of the exact path, shared by the architectures built on it
// (arch/multiscale/module.cpp, arch/pixelcnnpp/exact.cpp).
namespace exact_ops {
// Real value of one unit of each mixture parameter channel (fixed point of runtime/mixture_cdf.h).
std::vector<double> ParamScales(int channels, int mixtures);
// Sets l's multiplier, half, divisor and factor tensors ([1, out, 1, 1]) from one Requant per output.
void SetRequant(TorchIntLinear& l, const std::vector<Requant>& rq);
// Lookup table of f from an input of scale s_in to integers of scale s_out in [-out_max, out_max]
// (int8 by default), its 4096 entries spanning real inputs [lo_real, hi_real] (inputs beyond it clamp
// to the end entries). REQUIRES: lo_real < hi_real; s_in, s_out > 0; 1 <= out_max <= 32767.
IntLut MakeLut(double s_in, double s_out, double lo_real, double hi_real, const std::function<double(double)>& f,
               int32_t out_max = 127);
// ELU lookup table from an input of scale s_in to [-out_max, out_max] of scale s_out (MakeLut over
// [-8, out_max * s_out]).
IntLut MakeEluLut(double s_in, double s_out, int32_t out_max = 127);
TorchIntLut LutTensors(const IntLut& l);
// x rounded and clamped to [lo, hi] in the forward pass, the identity in the backward pass.
torch::Tensor StraightThroughRound(const torch::Tensor& x, double lo, double hi);
// Integer requantisation of an integer-valued accumulator `exact` (float or int64) with l's constants,
// clamped to [l.lo, l.hi]; with `ste`, the gradient of grad_acc * l.factor flows through.
torch::Tensor Requantize(const torch::Tensor& exact, const torch::Tensor& grad_acc, const TorchIntLinear& l, bool ste);
// Quantises float weights w [out, in, kh, kw] (already multiplied by the input scale) and bias b to
// integer weights in [-weight_max, weight_max], one scale per output channel. With input_max > 0 (integer
// inputs bounded by it), a channel's scale is also made coarse enough that sum|w| * input_max + |b| < 2^24
// (needed when weight_max > 127); with input_max = 0 the scale is max|w| / weight_max alone.
TorchIntLinear QuantizeLinear(const torch::Tensor& w, const torch::Tensor& b, const std::vector<double>& out_scale,
                              bool ste, std::vector<Requant>* requant_out, int32_t weight_max = 127,
                              int32_t input_max = 0);
// Exact integer convolution + requantisation (fp32 GEMM on integer values; LibTorch conv2d for ste on the CPU).
torch::Tensor ApplyLinear(const torch::Tensor& x, const TorchIntLinear& l, bool ste);
torch::Tensor ApplyLut(const torch::Tensor& x, const TorchIntLut& l, bool ste);
double QuantileOfSample(const torch::Tensor& x, double q);
// The real value an activation table's largest output stands for, from a sample x of the activation:
// its 99.99th percentile for act_bits <= 10 (clipping the top 0.01% costs less than coarser steps), its
// maximum above (at 12 bits clipping cost 0.012 bits/dim more than the coarser step; docs/models.md).
double ActivationRange(const torch::Tensor& x, int act_bits);
// Quantisation scales from float traces of a local-pixelcnn-shaped network (per batch: h after conv0, then
// per block the pre-activation t and h after the block): int16 tensors at 1.5x the largest magnitude seen,
// activation tables at ActivationRange. REQUIRES: every trace has 1 + 2 * blocks tensors.
LocalQuantScales ScalesFromTraces(const std::vector<std::vector<torch::Tensor>>& traces, int blocks, int act_bits);
IntLinear ToIntLinear(const TorchIntLinear& l);
IntLut ToIntLut(const TorchIntLut& l);
}  // namespace exact_ops

// Switches off TF32 and cuDNN autotuning (the exact path uses fp32 GEMMs only).
void UseExactConvolutions();

}  // namespace pixelzip::models::nn
