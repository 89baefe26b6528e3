// Row LSTM (PixelRNN) as a codec model (models::CodingModel), raster order.
// Encoder: the CPU engine over the whole image, or the exact LibTorch forward
// (all rows' pixels at once, row-by-row recurrence) on the CPU or CUDA.
// Decoder: the CPU engine, pixel by pixel, with each layer's previous-row state cached.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/nn/arch/row_lstm/engine.h"
#include "models/nn/arch/pixelrnn/coding_model.h"

namespace pixelzip::models::nn {

class RowLstmCodingModel final : public PixelRnnCodingModel {
 public:
  // `file_bytes`: a serialized ModelFile (verified here). Throws Error(kModelInvalid) when it is not a
  // valid row-lstm model; Error(kUnsupported) when kCuda is asked and no CUDA device exists.
  RowLstmCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~RowLstmCodingModel() override;

  const IntRowLstm& model() const { return model_; }

 private:
  const PixelRnnShape& shape() const override { return model_.shape; }
  const MixtureTables& tables() const override { return model_.tables; }
  std::unique_ptr<PixelEngine> NewEngine(int width) const override;

  IntRowLstm model_;
};

}  // namespace pixelzip::models::nn
