// Exact integer layers as LibTorch tensor code, shared by every architecture's
// LibTorch side (arch/*/exact or arch/*/module). One forward serves two purposes:
//  * inference (the encoder's batched pass, CPU or CUDA): tensors built from an
//    exported integer model, results bit-equal to the architecture's CPU engine;
//  * quantisation-aware training: tensors built from the float weights with
//    straight-through estimators; the forward values are the integer model's.
// Convolutions run as fp32 GEMMs (im2col) on integer-valued tensors; the model
// loader's bound (sum|w|*max|a|+|b| < 2^24) makes every partial sum exact in any order.
// Requantisation and lookups run on int64 tensors.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "models/nn/runtime/int_layers.h"  // IntLinear, IntLut, Requant

namespace pixelzip::models::nn {

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
// Building blocks of the exact path.
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
// The exact integer accumulator of l on x (bias included, same size out): LibTorch's convolution with
// `conv2d` (not for CUDA: its algorithms are not exact), otherwise im2col + fp32 GEMM.
torch::Tensor ExactAccumulate(const torch::Tensor& x, const TorchIntLinear& l, bool conv2d);
// Exact integer convolution + requantisation (fp32 GEMM on integer values; LibTorch conv2d for ste on the CPU).
torch::Tensor ApplyLinear(const torch::Tensor& x, const TorchIntLinear& l, bool ste);
torch::Tensor ApplyLut(const torch::Tensor& x, const TorchIntLut& l, bool ste);
double QuantileOfSample(const torch::Tensor& x, double q);
// The real value an activation table's largest output stands for, from a sample x of the activation:
// its 99.99th percentile for act_bits <= 10 (clipping the top 0.01% costs less than coarser steps), its
// maximum above (at 12 bits clipping cost 0.012 bits/dim more than the coarser step; docs/models.md).
double ActivationRange(const torch::Tensor& x, int act_bits);
IntLinear ToIntLinear(const TorchIntLinear& l);
IntLut ToIntLut(const TorchIntLut& l);
// Tensors of an exported layer (the inverse of ToIntLinear), the weights viewed as `weight_shape`.
TorchIntLinear FromIntLinear(const IntLinear& l, const std::vector<int64_t>& weight_shape);
// The same with a kh x kw kernel: weights [out, in / (kh * kw), kh, kw].
TorchIntLinear FromIntLinear(const IntLinear& l, int kh, int kw);
// Moves l's tensors to device d.
void MoveLinear(TorchIntLinear& l, const torch::Device& d);
// ParamScales as a float tensor [1, P, 1, 1] (a forward's integer output times it: real parameters).
torch::Tensor ParamScaleTensor(int channels, int mixtures);
// The `count` doubles of a checkpoint's scales tensor; throws Error(kInvalidArgument) for another size.
std::vector<double> ScalesFromTensor(const torch::Tensor& t, int64_t count);
// Quantisation scales as a checkpoint tensor (float64): the `fixed` values, then for each block i the i-th
// value of every vector of `per_block` (all of one length), in that order.
torch::Tensor PackScales(const std::vector<double>& fixed, const std::vector<const std::vector<double>*>& per_block);
// The inverse for `blocks` blocks: fills *fixed[j] and replaces each *per_block[k]. Throws Error(kInvalidArgument)
// for a tensor of another size.
void UnpackScales(const torch::Tensor& t, int blocks, const std::vector<double*>& fixed,
                  const std::vector<std::vector<double>*>& per_block);
// Requantize(acc, acc, l, ste): the accumulator is its own gradient path.
torch::Tensor Requantize(const torch::Tensor& acc, const TorchIntLinear& l, bool ste);
}  // namespace exact_ops

// Switches off TF32 and cuDNN autotuning (the exact path uses fp32 GEMMs only).
void UseExactConvolutions();

}  // namespace pixelzip::models::nn

