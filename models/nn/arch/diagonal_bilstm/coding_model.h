// Diagonal BiLSTM (PixelRNN) as a codec model (models::CodingModel), raster order.
// Encoder: the CPU engine over the whole image, or the exact LibTorch forward
// (one anti-diagonal at a time, all its pixels at once) on the CPU or CUDA.
// Decoder: the CPU engine, pixel by pixel (each row's backward states once the row is known).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/nn/arch/diagonal_bilstm/engine.h"
#include "models/nn/arch/pixelrnn/coding_model.h"

namespace pixelzip::models::nn {

class DiagonalBiLstmCodingModel final : public PixelRnnCodingModel {
 public:
  // `file_bytes`: a serialized ModelFile (verified here). Throws Error(kModelInvalid) when it is not a
  // valid diagonal-bilstm model; Error(kUnsupported) when kCuda is asked and no CUDA device exists.
  DiagonalBiLstmCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~DiagonalBiLstmCodingModel() override;

  const IntDiagonalBiLstm& model() const { return model_; }

 private:
  const PixelRnnShape& shape() const override { return model_.shape; }
  const MixtureTables& tables() const override { return model_.tables; }
  std::unique_ptr<PixelEngine> NewEngine(int width) const override;

  IntDiagonalBiLstm model_;
};

}  // namespace pixelzip::models::nn
