#include "models/nn/arch/diagonal_bilstm/coding_model.h"

#include "models/nn/read_model.h"
#include "models/nn/torch_engines.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

DiagonalBiLstmCodingModel::DiagonalBiLstmCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, Device encoder)
    : PixelRnnCodingModel(encoder) {
  model_ = ReadModel<IntDiagonalBiLstm>(bytes, source, kDiagonalBiLstmArch, identity_);
  if (encoder != Device::kCpu) torch_ = RequireTorchEngines().diagonal_bilstm(model_, encoder);
}

DiagonalBiLstmCodingModel::~DiagonalBiLstmCodingModel() = default;

std::unique_ptr<PixelRnnCodingModel::PixelEngine> DiagonalBiLstmCodingModel::NewEngine(int width) const {
  return std::make_unique<EngineOf<DiagonalBiLstmCpuEngine, IntDiagonalBiLstm>>(model_, width);
}

}  // namespace pixelzip::models::nn
