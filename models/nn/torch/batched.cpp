#include "models/nn/torch/batched.h"

#include "models/nn/torch/exact_ops.h"  // UseExactConvolutions

namespace pixelzip::models::nn {

EngineKind EncoderEngine(Device device) {
  switch (device) {
    case Device::kCpu: return EngineKind::kCpu;
    case Device::kCuda: return EngineKind::kTorchCuda;
    case Device::kAuto: break;
  }
  bool cuda = false;
  try {
    cuda = torch::cuda::is_available();
  } catch (const c10::Error&) {
  }
  return cuda ? EngineKind::kTorchCuda : EngineKind::kCpu;
}

torch::Device ExactDevice(EngineKind engine) {
  return TorchGuarded([&] {
    if (engine == EngineKind::kTorchCuda && !torch::cuda::is_available())
      throw Error(ErrorCode::kUnsupported, "CUDA was asked for but no CUDA device is available");
    UseExactConvolutions();
    return engine == EngineKind::kTorchCuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  });
}

torch::Tensor PlaneRows(const QPlane& plane, int top, int y1, const torch::Device& device) {
  const int W = plane.width, C = plane.channels, rows = y1 - top;
  torch::Tensor t = torch::empty({1, C, rows, W}, torch::kFloat32);
  float* q = t.data_ptr<float>();
  for (int c = 0; c < C; ++c)
    for (int y = top; y < y1; ++y)
      for (int x = 0; x < W; ++x) q[(size_t(c) * rows + (y - top)) * W + x] = plane.at(y, x, c);
  return t.to(device);
}

std::vector<int16_t> RowParams(const torch::Tensor& x, int skip) {
  const auto p = x.index({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(skip, torch::indexing::None)})
                     .permute({0, 2, 3, 1}).to(torch::kCPU).to(torch::kInt16).contiguous();
  return std::vector<int16_t>(p.data_ptr<int16_t>(), p.data_ptr<int16_t>() + p.numel());
}

}  // namespace pixelzip::models::nn
