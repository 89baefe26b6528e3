// Row LSTM (PixelRNN) as a codec model (models::CodingModel), raster order.
// Encoder: the CPU engine over the whole image, or the exact LibTorch forward
// (all rows' pixels at once, row-by-row recurrence) on the CPU or CUDA.
// Decoder: the CPU engine, pixel by pixel, with each layer's previous-row state cached.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/arch/pixelrnn/coding_model.h"
#include "models/nn/arch/row_lstm/engine.h"

namespace pixelzip::models::nn {

extern template class PixelRnnCodingModel<IntRowLstm, RowLstmCpuEngine>;

class RowLstmCodingModel final : public PixelRnnCodingModel<IntRowLstm, RowLstmCpuEngine> {
 public:
  // A row-lstm model file on a resolved engine; throws what BatchedCodingModel's constructor throws.
  RowLstmCodingModel(const std::vector<uint8_t>& file_bytes, const std::string& source, Device encoder);
  ~RowLstmCodingModel() override;
};

}  // namespace pixelzip::models::nn
