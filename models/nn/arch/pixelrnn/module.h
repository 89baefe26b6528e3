// The LibTorch pieces the PixelRNN models (arch/row_lstm/module.h, arch/diagonal_bilstm/module.h) share:
// the float module's conv0 and head, the quantisation scales and their calibration,
// the integer tensors of conv0, the per-layer input LUTs and output projections and
// the head, and the exact (and straight-through) LSTM cell step on tensors. Every
// value is the integer of arch/row_lstm/engine.h (RowLstmCell) bit for bit.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

#include "models/nn/torch/exact_ops.h"
#include "models/nn/arch/row_lstm/engine.h"
#include "models/nn/torch/device.h"  // EngineKind

namespace pixelzip::models::nn {

// The float module's shared layers. A derived module calls RegisterConv0, then RegisterOut per layer
// (between its own layer parameters), then RegisterHead, so parameters register in that order.
class PixelRnnModuleImpl : public torch::nn::Module {
 public:
  torch::Tensor conv0_weight, conv0_bias, conv0_mask;   // [R, C, k, k] mask A
  std::vector<torch::Tensor> out_weight, out_bias;      // [R, out_inputs, 1, 1], [R]
  torch::Tensor head1_weight, head1_bias, head2_weight, head2_bias;

 protected:
  void RegisterConv0(const PixelRnnShape& s);
  void RegisterOut(const PixelRnnShape& s, int l, int out_inputs);
  void RegisterHead(const PixelRnnShape& s);
  // conv0 of q (2v - 255) [B, C, H, W] into the float residual stream.
  torch::Tensor Conv0(const PixelRnnShape& s, const torch::Tensor& q) const;
  // x += out_l(h), h [B, out_inputs, H, W].
  torch::Tensor AddOut(int l, const torch::Tensor& x, const torch::Tensor& h) const;
  // The head on the residual x; appends head1's pre-activation to `trace` when given.
  torch::Tensor Head(const torch::Tensor& x, std::vector<torch::Tensor>* trace) const;
};

// Quantisation scales (real value = integer * scale), chosen by calibration.
struct RowLstmScales {
  double residual = 0;           // int16 residual stream
  std::vector<double> act_in;    // int8 layer inputs, per layer
  double act_head1 = 0, head_pre = 0, act_head2 = 0;
  torch::Tensor ToTensor() const;
  static RowLstmScales FromTensor(const torch::Tensor& t, int layers);  // throws kInvalidArgument on a size mismatch
};
using PixelRnnScales = RowLstmScales;
// `forward(q, trace)` runs the float module, filling trace with the residual after conv0 and after every
// layer, then head1's pre-activation.
PixelRnnScales CalibratePixelRnn(int layers, const std::function<void(const torch::Tensor&, std::vector<torch::Tensor>*)>& forward,
                                 const std::vector<torch::Tensor>& batches);

// Integer tensors of the shared layers.
struct PixelRnnTensors {
  bool ste = false;
  TorchIntLinear conv0, head1, head2;
  TorchIntLut head1_lut, head2_lut;
  std::vector<TorchIntLut> lut_in;
  std::vector<TorchIntLinear> out;
  torch::Tensor sigmoid_table, tanh_table;          // float [4097]
  torch::Tensor param_scale;                        // float [1, P, 1, 1]
  void MoveTo(const torch::Device& device);
  // Quantised from the float module (straight-through gradients when `ste`); out's inputs are hidden
  // states (real h / 127).
  void SetFromFloat(const PixelRnnShape& s, const PixelRnnModuleImpl& m, const PixelRnnScales& sc, bool ste);
  void SetFromInt(const PixelRnnShape& s, const IntPixelRnn& m);
  // The integer layers these tensors hold (tables computed anew).
  void ExportTo(const PixelRnnShape& s, IntPixelRnn& out) const;
  // head2(elu(head1(elu(x)))) of the final residual.
  torch::Tensor Head(const torch::Tensor& x) const;
};

// For the coding models (arch/pixelrnn/coding_model.h): the LibTorch device of a LibTorch `encoder`, with exact
// convolutions switched on; throws Error(kUnsupported) for CUDA without a device. `make(device)` then prepares
// the model's tensors there; LibTorch errors become Error(kInternal).
torch::Device PixelRnnTorchDevice(EngineKind encoder, const std::function<void(const torch::Device&)>& make);
// Runs `forward` ([1, C, H, W] -> [1, P, H, W]) on q ([H][W][C], 2v - 255, height * width * channels
// values) on `device` and returns the
// parameters as [H][W][P]. LibTorch errors become Error(kInternal).
std::vector<int16_t> PixelRnnTorchParams(const int16_t* q, int height, int width, int channels, const torch::Device& device,
                                         const std::function<torch::Tensor(const torch::Tensor&)>& forward);

// (FromIntLinear, MoveLinear and Requantize are exact_ops'.)
namespace pixelrnn_ops {
// Exact convolution without bias of integer-valued x and w (partial sums below 2^24): LibTorch's
// convolution for training on the CPU, im2col + fp32 GEMM otherwise (as exact_ops::ApplyLinear).
torch::Tensor ExactConv(const torch::Tensor& x, const torch::Tensor& w, bool ste);
// Gate pre-activation quantisation of the float joint weight [4S, in, 1, 1] (clamp +-2048, 1/256 units).
TorchIntLinear QuantizeGates(const torch::Tensor& joint, const torch::Tensor& bias, int state, bool ste);
// The float cell step: z [.., 4S (dimension `dim`), ..] = [i; f; o; g]; updates c, returns h.
torch::Tensor FloatLstmStep(const torch::Tensor& z, torch::Tensor& c, int64_t dim = 1);
// The exact cell step (RowLstmCell) on integer-valued z (dimension `dim` = [i; f; o; g]): updates the int64 cell
// c_int (and, with `ste`, its float surrogate c) and returns h (float, integer values, straight-through
// gradients with `ste`).
torch::Tensor ExactLstmStep(const torch::Tensor& z, const torch::Tensor& sigmoid_table, const torch::Tensor& tanh_table,
                            bool ste, torch::Tensor& c_int, torch::Tensor& c, int64_t dim = 1);
torch::Tensor KaimingUniform(int64_t out, int64_t in, int64_t kh, int64_t kw, double gain);
}  // namespace pixelrnn_ops

}  // namespace pixelzip::models::nn
