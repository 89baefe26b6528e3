#include "models/nn/row_lstm_coding_model.h"

#include <torch/torch.h>

#include <algorithm>

#include "models/nn/row_lstm.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

struct RowLstmCodingModel::TorchState {
  RowLstmTensors tensors;
  torch::Device device{torch::kCPU};
};

RowLstmCodingModel::RowLstmCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, EngineKind encoder)
    : encoder_(encoder) {
  const auto file = ModelFile::Parse(bytes.data(), bytes.size(), source);
  model_ = IntRowLstm::Read(file);
  identity_.architecture = kRowLstmArch;
  identity_.weights_sha256 = file.Sha256();
  if (encoder != EngineKind::kCpu) {
    try {
      if (encoder == EngineKind::kTorchCuda && !torch::cuda::is_available())
        throw Error(ErrorCode::kUnsupported, "CUDA was asked for but no CUDA device is available");
      UseExactConvolutions();
      torch_ = std::make_unique<TorchState>();
      torch_->device = encoder == EngineKind::kTorchCuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
      torch_->tensors = RowLstmTensorsFromInt(model_).To(torch_->device);
    } catch (const c10::Error& e) {
      throw Error(ErrorCode::kInternal, std::string("LibTorch: ") + e.what_without_backtrace());
    }
  }
}

RowLstmCodingModel::~RowLstmCodingModel() = default;

std::vector<int16_t> RowLstmCodingModel::AllParams(const PlaneView& image, EngineKind engine) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = model_.shape.ParamCount();
  std::vector<int16_t> q(size_t(W) * H * C);
  for (size_t i = 0; i < q.size(); ++i) q[i] = int16_t(2 * int(image.data[i]) - 255);
  std::vector<int16_t> out(size_t(W) * H * P);
  if (engine == EngineKind::kCpu) {
    RowLstmDecoder dec(model_, W);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) dec.Evaluate(q.data(), H, y, x, &out[(size_t(y) * W + x) * P]);
    return out;
  }
  if (!torch_) throw Error(ErrorCode::kInternal, "LibTorch engine was not prepared");
  try {
    torch::NoGradGuard ng;
    std::vector<float> qf(q.begin(), q.end());
    auto qt = torch::from_blob(qf.data(), {1, H, W, C}, torch::kFloat32).permute({0, 3, 1, 2}).contiguous().to(torch_->device);
    auto params = RowLstmExactForward(torch_->tensors, qt)[0].permute({1, 2, 0}).to(torch::kCPU).to(torch::kInt16).contiguous();
    std::copy(params.data_ptr<int16_t>(), params.data_ptr<int16_t>() + out.size(), out.begin());
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::kInternal, std::string("LibTorch: ") + e.what_without_backtrace());
  }
  return out;
}

void RowLstmCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const ProgressFn& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = model_.shape.ParamCount();
  const auto params = AllParams(image, encoder_);
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  int32_t previous[3];
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const int16_t* p = &params[(size_t(y) * W + x) * P];
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(p, c, previous);
        const int v = image.at(uint32_t(y), uint32_t(x), uint32_t(c));
        sink.Put(cdf, v);
        previous[c] = 2 * v - 255;
      }
    }
    if (progress && (y % 8 == 7 || y == H - 1)) progress(double(y + 1) / H);
  }
}

void RowLstmCodingModel::Decode(const PlaneView& image, SymbolSource& source, const ProgressFn& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels);
  std::vector<int16_t> q(size_t(W) * H * C, 0);
  RowLstmDecoder dec(model_, W);
  MixtureCdf cdf(model_.tables, C, model_.shape.mixtures);
  std::vector<int16_t> params(size_t(model_.shape.ParamCount()));
  int32_t previous[3];
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      dec.Evaluate(q.data(), H, y, x, params.data());
      for (int c = 0; c < C; ++c) {
        cdf.Prepare(params.data(), c, previous);
        const int v = source.Get(cdf);
        image.at(uint32_t(y), uint32_t(x), uint32_t(c)) = uint8_t(v);
        previous[c] = 2 * v - 255;
        q[(size_t(y) * W + x) * C + c] = int16_t(previous[c]);
      }
    }
    if (progress && (y % 8 == 7 || y == H - 1)) progress(double(y + 1) / H);
  }
}

}  // namespace pixelzip::models::nn
