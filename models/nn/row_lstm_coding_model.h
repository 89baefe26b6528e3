// Row LSTM (PixelRNN) as a codec model (models::CodingModel), raster order.
// Encoder: the CPU engine over the whole image, or the exact LibTorch forward
// (all rows' pixels at once, row-by-row recurrence) on the CPU or CUDA.
// Decoder: the CPU engine, pixel by pixel, with each layer's previous-row state cached.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/nn/int_row_lstm.h"
#include "models/nn/local_coding_model.h"  // EngineKind

namespace pixelzip::models::nn {

class RowLstmCodingModel final : public CodingModel {
 public:
  // `file_bytes`: a serialized ModelFile (verified here). Throws Error(kModelInvalid) when it is not a
  // valid row-lstm model; Error(kUnsupported) when kTorchCuda is asked and no CUDA device exists.
  RowLstmCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, EngineKind encoder);
  ~RowLstmCodingModel() override;

  const ModelIdentity& Identity() const override { return identity_; }
  CodingOrder Order() const override { return CodingOrder::kRaster; }
  bool SupportsChannels(uint32_t channels) const override { return int(channels) == model_.shape.channels; }
  void Encode(const PlaneView& image, SymbolSink& sink, const ProgressFn& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const ProgressFn& progress) const override;

  const IntRowLstm& model() const { return model_; }
  // Mixture parameters of every pixel of `image`, [H][W][P], computed by `engine`.
  std::vector<int16_t> AllParams(const PlaneView& image, EngineKind engine) const;

 private:
  IntRowLstm model_;
  ModelIdentity identity_;
  EngineKind encoder_;
  struct TorchState;
  std::unique_ptr<TorchState> torch_;
};

}  // namespace pixelzip::models::nn
