#include "models/nn/arch/row_lstm/coding_model.h"

namespace pixelzip::models::nn {

RowLstmCodingModel::RowLstmCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, Device encoder)
    : PixelRnnCodingModel(bytes, source, kRowLstmArch, encoder, &TorchEngines::row_lstm) {}

RowLstmCodingModel::~RowLstmCodingModel() = default;

}  // namespace pixelzip::models::nn
