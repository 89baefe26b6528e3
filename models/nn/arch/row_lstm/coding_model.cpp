#include "models/nn/arch/row_lstm/coding_model.h"

#include "models/nn/torch_engines.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

RowLstmCodingModel::RowLstmCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, EngineKind encoder)
    : PixelRnnCodingModel(encoder) {
  const auto file = ModelFile::Parse(bytes.data(), bytes.size(), source);
  model_ = IntRowLstm::Read(file);
  identity_.architecture = kRowLstmArch;
  identity_.weights_sha256 = file.Sha256();
  if (encoder != EngineKind::kCpu) torch_ = RequireTorchEngines().row_lstm(model_, encoder);
}

RowLstmCodingModel::~RowLstmCodingModel() = default;

std::unique_ptr<PixelRnnCodingModel::PixelEngine> RowLstmCodingModel::NewEngine(int width) const {
  return std::make_unique<EngineOf<RowLstmCpuEngine, IntRowLstm>>(model_, width);
}

}  // namespace pixelzip::models::nn
