// Diagonal BiLSTM (PixelRNN, van den Oord et al. 2016) in LibTorch: the float
// module trained first, and the exact integer forward (arch/diagonal_bilstm/engine.h) as
// tensor code. Both run the recurrence one skewed column (anti-diagonal x + y = j)
// at a time, both directions together (the backward one on the horizontally
// flipped input); every step handles all rows of all images at once. The exact
// forward serves the encoder's batched pass and quantisation-aware training
// (straight-through gradients); its values equal the CPU engine's bit for bit.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "models/nn/arch/diagonal_bilstm/engine.h"
#include "models/nn/arch/pixelrnn/module.h"

namespace pixelzip::models::nn {

// Float Diagonal BiLSTM. Shapes as DiagonalBiLstmShape (arch/diagonal_bilstm/engine.h).
class DiagonalBiLstmImpl : public PixelRnnModuleImpl {
 public:
  explicit DiagonalBiLstmImpl(const DiagonalBiLstmShape& shape);
  // q: pixel values 2v - 255 as float [B, C, H, W]. Returns mixture parameters [B, P, H, W]; the output at
  // (y, x) depends only on pixels before (y, x) in raster order. `trace` receives the residual stream after
  // conv0 and after every layer, then head1's pre-activation (calibration).
  torch::Tensor forward(const torch::Tensor& q, std::vector<torch::Tensor>* trace = nullptr);
  const DiagonalBiLstmShape& shape() const { return shape_; }

  // Per layer, index 2l forward and 2l + 1 backward: [4S, R, 1, 1], [4S, 2S, 1, 1] (h above ; h beside), [4S].
  // conv0, out ([R, 2S, 1, 1]: forward h ; backward h of the row above) and the head: PixelRnnModuleImpl.
  std::vector<torch::Tensor> is_weight, ss_weight, gate_bias;

 private:
  DiagonalBiLstmShape shape_;
};
TORCH_MODULE(DiagonalBiLstm);

RowLstmScales CalibrateDiagonalBiLstm(DiagonalBiLstmImpl& model, const std::vector<torch::Tensor>& batches);

struct DiagonalBiLstmTensors : PixelRnnTensors {
  DiagonalBiLstmShape shape;
  std::vector<TorchIntLinear> gates_fwd, gates_bwd;  // weight [4S, R + 2S, 1, 1]
  // Derived per layer, both directions stacked (index 0 forward, 1 backward): input-to-state weights
  // [2, 4S, R], state-to-state [2, 1, 4S, 2S], and the gates' bias and requantisation as [2, 1, 4S, 1].
  std::vector<torch::Tensor> is_weight, ss_weight;
  std::vector<TorchIntLinear> joint;
  DiagonalBiLstmTensors To(const torch::Device& device) const;
};

DiagonalBiLstmTensors DiagonalBiLstmTensorsFromInt(const IntDiagonalBiLstm& model);
// Quantised tensors of the float weights (straight-through gradients when `ste`).
DiagonalBiLstmTensors DiagonalBiLstmTensorsFromFloat(DiagonalBiLstmImpl& model, const RowLstmScales& scales, bool ste);
// Exports exactly the integers DiagonalBiLstmTensorsFromFloat computes.
IntDiagonalBiLstm ExportIntDiagonalBiLstm(DiagonalBiLstmImpl& model, const RowLstmScales& scales);

// Mixture parameters as integer-valued float [B, P, H, W] (fixed point of runtime/mixture_cdf.h).
// REQUIRES: q integer-valued float [B, C, H, W] in [-255, 255] on the tensors' device.
torch::Tensor DiagonalBiLstmExactForward(const DiagonalBiLstmTensors& t, const torch::Tensor& q);

}  // namespace pixelzip::models::nn
