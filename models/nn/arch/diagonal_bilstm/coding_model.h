// Diagonal BiLSTM (PixelRNN) as a codec model (models::CodingModel), raster order.
// Encoder: the CPU engine over the whole image, or the exact LibTorch forward
// (one anti-diagonal at a time, all its pixels at once) on the CPU or CUDA.
// Decoder: the CPU engine, pixel by pixel (each row's backward states once the row is known).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/arch/diagonal_bilstm/engine.h"
#include "models/nn/arch/pixelrnn/coding_model.h"

namespace pixelzip::models::nn {

extern template class PixelRnnCodingModel<IntDiagonalBiLstm, DiagonalBiLstmCpuEngine>;

class DiagonalBiLstmCodingModel final : public PixelRnnCodingModel<IntDiagonalBiLstm, DiagonalBiLstmCpuEngine> {
 public:
  // A diagonal-bilstm model file on a resolved engine; throws what BatchedCodingModel's constructor throws.
  DiagonalBiLstmCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~DiagonalBiLstmCodingModel() override;
};

}  // namespace pixelzip::models::nn
