#include "models/nn/arch/diagonal_bilstm/coding_model.h"

#include <torch/torch.h>

#include "models/nn/arch/diagonal_bilstm/module.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

struct DiagonalBiLstmCodingModel::TorchState {
  DiagonalBiLstmTensors tensors;
  torch::Device device{torch::kCPU};
};

DiagonalBiLstmCodingModel::DiagonalBiLstmCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, EngineKind encoder)
    : PixelRnnCodingModel(encoder) {
  const auto file = ModelFile::Parse(bytes.data(), bytes.size(), source);
  model_ = IntDiagonalBiLstm::Read(file);
  identity_.architecture = kDiagonalBiLstmArch;
  identity_.weights_sha256 = file.Sha256();
  if (encoder != EngineKind::kCpu) {
    torch_ = std::make_unique<TorchState>();
    torch_->device = PixelRnnTorchDevice(encoder, [&](const torch::Device& d) { torch_->tensors = DiagonalBiLstmTensorsFromInt(model_).To(d); });
  }
}

DiagonalBiLstmCodingModel::~DiagonalBiLstmCodingModel() = default;

std::unique_ptr<PixelRnnCodingModel::PixelEngine> DiagonalBiLstmCodingModel::NewEngine(int width) const {
  return std::make_unique<EngineOf<DiagonalBiLstmCpuEngine, IntDiagonalBiLstm>>(model_, width);
}

std::vector<int16_t> DiagonalBiLstmCodingModel::TorchParams(const std::vector<int16_t>& q, int height, int width) const {
  if (!torch_) throw Error(ErrorCode::kInternal, "LibTorch engine was not prepared");
  return PixelRnnTorchParams(q, height, width, model_.shape.channels, torch_->device,
                             [&](const torch::Tensor& qt) { return DiagonalBiLstmExactForward(torch_->tensors, qt); });
}

}  // namespace pixelzip::models::nn
