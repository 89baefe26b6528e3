// Row LSTM (PixelRNN, van den Oord et al. 2016) in LibTorch: the float module
// trained first, and the exact integer forward (int_row_lstm.h) as tensor code.
// The exact forward serves the encoder's batched pass (whole image, row-by-row
// recurrence, every row's pixels at once) and quantisation-aware training
// (straight-through gradients); its values equal the CPU engine's bit for bit.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/nn/exact_torch.h"
#include "models/nn/int_row_lstm.h"

namespace pixelzip::models::nn {

// Float Row LSTM. Shapes as RowLstmShape (int_row_lstm.h).
class RowLstmImpl : public torch::nn::Module {
 public:
  explicit RowLstmImpl(const RowLstmShape& shape);
  // q: pixel values 2v - 255 as float [B, C, H, W]. Returns mixture parameters [B, P, H, W]; the output at
  // (y, x) depends only on pixels before (y, x) in raster order. `trace` receives the residual stream after
  // conv0 and after every layer, then head1's pre-activation (calibration).
  torch::Tensor forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace = nullptr);
  const RowLstmShape& shape() const { return shape_; }

  torch::Tensor conv0_weight, conv0_bias, conv0_mask;              // [R, C, k, k] mask A
  std::vector<torch::Tensor> is_weight, ss_weight, gate_bias;      // [4S, R, 1, T], [4S, S, 1, 3], [4S]
  std::vector<torch::Tensor> out_weight, out_bias;                 // [R, S, 1, 1], [R]
  torch::Tensor head1_weight, head1_bias, head2_weight, head2_bias;

 private:
  RowLstmShape shape_;
};
TORCH_MODULE(RowLstm);

// Quantisation scales (real value = integer * scale), chosen by calibration.
struct RowLstmScales {
  double residual = 0;           // int16 residual stream
  std::vector<double> act_in;    // int8 layer inputs, per layer
  double act_head1 = 0, head_pre = 0, act_head2 = 0;
  torch::Tensor ToTensor() const;
  static RowLstmScales FromTensor(const torch::Tensor& t, int layers);  // throws kInvalidArgument on a size mismatch
};
RowLstmScales CalibrateRowLstm(RowLstmImpl& model, const std::vector<torch::Tensor>& batches);

struct RowLstmTensors {
  RowLstmShape shape;
  bool ste = false;
  TorchIntLinear conv0, head1, head2;
  TorchIntLut head1_lut, head2_lut;
  std::vector<TorchIntLut> lut_in;
  std::vector<TorchIntLinear> gates;                // requantisation, bias and clamp of the gates; weight [4S, in, 1, 1]
  std::vector<torch::Tensor> is_weight, ss_weight;  // gates' integer weights as convolution kernels
  std::vector<TorchIntLinear> out;
  torch::Tensor sigmoid_table, tanh_table;          // float [4097]
  torch::Tensor param_scale;                        // float [1, P, 1, 1]
  RowLstmTensors To(const torch::Device& device) const;
};

RowLstmTensors RowLstmTensorsFromInt(const IntRowLstm& model);
// Quantised tensors of the float weights (straight-through gradients when `ste`).
RowLstmTensors RowLstmTensorsFromFloat(RowLstmImpl& model, const RowLstmScales& scales, bool ste);
// Exports exactly the integers RowLstmTensorsFromFloat computes.
IntRowLstm ExportIntRowLstm(RowLstmImpl& model, const RowLstmScales& scales);

// Mixture parameters as integer-valued float [B, P, H, W] (fixed point of mixture_cdf.h).
// REQUIRES: q integer-valued float [B, C, H, W] in [-255, 255] on the tensors' device.
torch::Tensor RowLstmExactForward(const RowLstmTensors& t, const torch::Tensor& q);

}  // namespace pixelzip::models::nn
