// Row LSTM (PixelRNN, van den Oord et al. 2016) in LibTorch: the float module
// trained first, and the exact integer forward (arch/row_lstm/engine.h) as tensor code.
// The exact forward serves the encoder's batched pass (whole image, row-by-row
// recurrence, every row's pixels at once) and quantisation-aware training
// (straight-through gradients); its values equal the CPU engine's bit for bit.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/nn/arch/row_lstm/engine.h"
#include "models/nn/arch/pixelrnn/module.h"

namespace pixelzip::models::nn {

// Float Row LSTM. Shapes as RowLstmShape (arch/row_lstm/engine.h).
class RowLstmImpl : public PixelRnnModuleImpl {
 public:
  explicit RowLstmImpl(const RowLstmShape& shape);
  // q: pixel values 2v - 255 as float [B, C, H, W]. Returns mixture parameters [B, P, H, W]; the output at
  // (y, x) depends only on pixels before (y, x) in raster order. `trace` receives the residual stream after
  // conv0 and after every layer, then head1's pre-activation (calibration).
  torch::Tensor forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace = nullptr);
  const RowLstmShape& shape() const { return shape_; }

  // conv0, out ([R, S, 1, 1]) and the head: PixelRnnModuleImpl.
  std::vector<torch::Tensor> is_weight, ss_weight, gate_bias;      // [4S, R, 1, T], [4S, S, 1, 3], [4S]

 private:
  RowLstmShape shape_;
};
TORCH_MODULE(RowLstm);

// Quantisation scales: RowLstmScales (arch/pixelrnn/module.h).
RowLstmScales CalibrateRowLstm(RowLstmImpl& model, const std::vector<torch::Tensor>& batches);

struct RowLstmTensors : PixelRnnTensors {
  RowLstmShape shape;
  std::vector<TorchIntLinear> gates;                // requantisation, bias and clamp of the gates; weight [4S, in, 1, 1]
  std::vector<torch::Tensor> is_weight, ss_weight;  // gates' integer weights as convolution kernels
  RowLstmTensors To(const torch::Device& device) const;
};

RowLstmTensors RowLstmTensorsFromInt(const IntRowLstm& model);
// Quantised tensors of the float weights (straight-through gradients when `ste`).
RowLstmTensors RowLstmTensorsFromFloat(RowLstmImpl& model, const RowLstmScales& scales, bool ste);
// Exports exactly the integers RowLstmTensorsFromFloat computes.
IntRowLstm ExportIntRowLstm(RowLstmImpl& model, const RowLstmScales& scales);

// Mixture parameters as integer-valued float [B, P, H, W] (fixed point of runtime/mixture_cdf.h).
// REQUIRES: q integer-valued float [B, C, H, W] in [-255, 255] on the tensors' device.
torch::Tensor RowLstmExactForward(const RowLstmTensors& t, const torch::Tensor& q);

}  // namespace pixelzip::models::nn
