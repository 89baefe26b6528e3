#include "models/nn/arch/row_lstm/coding_model.h"

#include "models/nn/read_model.h"
#include "models/nn/torch_engines.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

RowLstmCodingModel::RowLstmCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, Device encoder)
    : PixelRnnCodingModel(encoder) {
  model_ = ReadModel<IntRowLstm>(bytes, source, kRowLstmArch, identity_);
  if (encoder != Device::kCpu) torch_ = RequireTorchEngines().row_lstm(model_, encoder);
}

RowLstmCodingModel::~RowLstmCodingModel() = default;

std::unique_ptr<PixelRnnCodingModel::PixelEngine> RowLstmCodingModel::NewEngine(int width) const {
  return std::make_unique<EngineOf<RowLstmCpuEngine, IntRowLstm>>(model_, width);
}

}  // namespace pixelzip::models::nn
