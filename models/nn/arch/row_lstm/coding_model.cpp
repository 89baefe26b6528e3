#include "models/nn/arch/row_lstm/coding_model.h"

#include <torch/torch.h>

#include "models/nn/arch/row_lstm/module.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

struct RowLstmCodingModel::TorchState {
  RowLstmTensors tensors;
  torch::Device device{torch::kCPU};
};

RowLstmCodingModel::RowLstmCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, EngineKind encoder)
    : PixelRnnCodingModel(encoder) {
  const auto file = ModelFile::Parse(bytes.data(), bytes.size(), source);
  model_ = IntRowLstm::Read(file);
  identity_.architecture = kRowLstmArch;
  identity_.weights_sha256 = file.Sha256();
  if (encoder != EngineKind::kCpu) {
    torch_ = std::make_unique<TorchState>();
    torch_->device = PixelRnnTorchDevice(encoder, [&](const torch::Device& d) { torch_->tensors = RowLstmTensorsFromInt(model_).To(d); });
  }
}

RowLstmCodingModel::~RowLstmCodingModel() = default;

std::unique_ptr<PixelRnnCodingModel::PixelEngine> RowLstmCodingModel::NewEngine(int width) const {
  return std::make_unique<EngineOf<RowLstmCpuEngine, IntRowLstm>>(model_, width);
}

std::vector<int16_t> RowLstmCodingModel::TorchParams(const std::vector<int16_t>& q, int height, int width) const {
  if (!torch_) throw Error(ErrorCode::kInternal, "LibTorch engine was not prepared");
  return PixelRnnTorchParams(q, height, width, model_.shape.channels, torch_->device,
                             [&](const torch::Tensor& qt) { return RowLstmExactForward(torch_->tensors, qt); });
}

}  // namespace pixelzip::models::nn
