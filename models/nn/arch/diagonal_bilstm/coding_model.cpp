#include "models/nn/arch/diagonal_bilstm/coding_model.h"

#include "models/nn/torch_engines.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

DiagonalBiLstmCodingModel::DiagonalBiLstmCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, EngineKind encoder)
    : PixelRnnCodingModel(encoder) {
  const auto file = ModelFile::Parse(bytes.data(), bytes.size(), source);
  model_ = IntDiagonalBiLstm::Read(file);
  identity_.architecture = kDiagonalBiLstmArch;
  identity_.weights_sha256 = file.Sha256();
  if (encoder != EngineKind::kCpu) torch_ = RequireTorchEngines().diagonal_bilstm(model_, encoder);
}

DiagonalBiLstmCodingModel::~DiagonalBiLstmCodingModel() = default;

std::unique_ptr<PixelRnnCodingModel::PixelEngine> DiagonalBiLstmCodingModel::NewEngine(int width) const {
  return std::make_unique<EngineOf<DiagonalBiLstmCpuEngine, IntDiagonalBiLstm>>(model_, width);
}

}  // namespace pixelzip::models::nn
