#include "models/nn/arch/diagonal_bilstm/coding_model.h"

namespace pixelzip::models::nn {

DiagonalBiLstmCodingModel::DiagonalBiLstmCodingModel(const std::vector<uint8_t>& bytes, const std::string& source,
                                                     Device encoder)
    : PixelRnnCodingModel(bytes, source, kDiagonalBiLstmArch, encoder, &TorchEngines::diagonal_bilstm) {}

DiagonalBiLstmCodingModel::~DiagonalBiLstmCodingModel() = default;

}  // namespace pixelzip::models::nn
