#include "models/nn/torch/batched.h"

#include <algorithm>

#include "models/nn/arch/diagonal_bilstm/module.h"
#include "models/nn/arch/gated_pixelcnn/exact.h"
#include "models/nn/arch/local_pixelcnn/exact.h"
#include "models/nn/arch/local_pixelcnn/module.h"
#include "models/nn/arch/local_pixelcnn/torch_line.h"
#include "models/nn/arch/multiscale/module.h"
#include "models/nn/arch/pixelcnn/module.h"
#include "models/nn/arch/pixelcnnpp/exact.h"
#include "models/nn/arch/row_lstm/module.h"
#include "models/nn/torch/exact_ops.h"  // UseExactConvolutions

namespace pixelzip::models::nn {

torch::Device ExactDevice(EngineKind engine) {
  return TorchGuarded([&] {
    if (engine == EngineKind::kCpu) throw Error(ErrorCode::kInternal, "LibTorch pass: not a LibTorch engine");
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

namespace {

// Local PixelCNN (and the aux-pixelcnn's local nets): rows [y0, y1) from one pass over the rows above
// them that are context (r = kernel / 2; zero-padded at the top). With conditioning planes the pass
// also reads one row below (the conditioning window's; masked for q).
class LocalPass final : public TorchPass {
 public:
  LocalPass(const IntLocalPixelCnn& m, EngineKind engine) : shape_(m.shape), device_(ExactDevice(engine)) {
    tensors_ = TorchGuarded([&] { return TensorsFromInt(m).To(device_); });
  }
  std::vector<int16_t> Params(const TorchPassInput& in) const override {
    return TorchGuarded([&] {
      torch::NoGradGuard ng;
      const QPlane& plane = *in.plane;
      const int r = shape_.kernel / 2, A = shape_.aux, W = plane.width, H = plane.height;
      const int top = std::max(0, in.y0 - r);
      if (A == 0 && !in.aux) return RowParams(ExactForward(tensors_, PlaneRows(plane, top, in.y1, device_)), in.y0 - top);
      const int bottom = std::min(H, in.y1 + 1);
      auto rows = [&](const QPlane& p) {
        std::vector<float> v(size_t(bottom - top) * W * p.channels);
        for (size_t i = 0; i < v.size(); ++i) v[i] = p.q[size_t(top) * W * p.channels + i];
        return torch::from_blob(v.data(), {1, bottom - top, W, p.channels}, torch::kFloat32)
            .permute({0, 3, 1, 2}).clone().to(device_);  // clone: `v` dies here
      };
      auto params = ExactForward(tensors_, rows(plane), A > 0 ? rows(*in.aux) : torch::Tensor());
      params = params.index({0, torch::indexing::Slice(), torch::indexing::Slice(in.y0 - top, in.y1 - top)})
                   .permute({1, 2, 0}).to(torch::kCPU).to(torch::kInt16).contiguous();
      return std::vector<int16_t>(params.data_ptr<int16_t>(), params.data_ptr<int16_t>() + params.numel());
    });
  }

 private:
  LocalPixelCnnShape shape_;
  torch::Device device_;
  LocalTensors tensors_;
};

class MultiscalePass final : public TorchPass {
 public:
  MultiscalePass(const IntMultiscalePixelCnn& m, EngineKind engine) : device_(ExactDevice(engine)) {
    tensors_ = TorchGuarded([&] { return MultiscaleTensorsFromInt(m).To(device_); });
  }
  std::vector<int16_t> Params(const TorchPassInput& in) const override {
    return TorchGuarded([&] {
      torch::NoGradGuard ng;
      const QPlane& plane = *in.plane;
      const int H = plane.height, W = plane.width, C = plane.channels, s = in.spacing, g = in.group;
      // The spacing-s grid only (the group reads nothing else).
      const int hs = (H + s - 1) / s, ws = (W + s - 1) / s;
      std::vector<float> q(size_t(hs) * ws * C);
      for (int i = 0; i < hs; ++i)
        for (int j = 0; j < ws; ++j)
          for (int c = 0; c < C; ++c) q[(size_t(i) * ws + j) * C + c] = plane.at(i * s, j * s, c);
      auto grid = torch::from_blob(q.data(), {1, hs, ws, C}, torch::kFloat32).permute({0, 3, 1, 2}).contiguous().to(device_);
      return RowParams(GroupExactForward(tensors_.groups[g], GroupInput(grid, g)), 0);  // [1, P, hc, wc]
    });
  }

 private:
  torch::Device device_;
  MultiscaleTensors tensors_;
};

class PixelCnnPass final : public TorchPass {
 public:
  PixelCnnPass(const IntPixelCnn& m, EngineKind engine) : shape_(m.shape), device_(ExactDevice(engine)) {
    tensors_ = TorchGuarded([&] { return PixelCnnTensorsFromInt(m).To(device_); });
  }
  std::vector<int16_t> Params(const TorchPassInput& in) const override {
    return TorchGuarded([&] {
      torch::NoGradGuard ng;
      const int top = std::max(0, in.y0 - shape_.ContextRows());
      // [1, L, rows, W]
      return RowParams(PixelCnnExactForward(tensors_, PlaneRows(*in.plane, top, in.y1, device_)), in.y0 - top);
    });
  }

 private:
  PixelCnnShape shape_;
  torch::Device device_;
  PixelCnnTensors tensors_;
};

class PixelCnnPPPass final : public TorchPass {
 public:
  PixelCnnPPPass(const IntPixelCnnPP& m, EngineKind engine) : device_(ExactDevice(engine)) {
    tensors_ = TorchGuarded([&] { return TensorsFromInt(m).To(device_); });
  }
  std::vector<int16_t> Params(const TorchPassInput& in) const override {
    return TorchGuarded([&] {
      torch::NoGradGuard ng;
      return RowParams(ExactForward(tensors_, PlaneRows(*in.plane, 0, in.plane->height, device_)), 0);
    });
  }

 private:
  torch::Device device_;
  PixelCnnPPTensors tensors_;
};

class GatedPass final : public TorchPass {
 public:
  GatedPass(const IntGatedPixelCnn& m, EngineKind engine) : shape_(m.shape), device_(ExactDevice(engine)) {
    tensors_ = TorchGuarded([&] { return GatedTensorsFromInt(m).To(device_); });
  }
  std::vector<int16_t> Params(const TorchPassInput& in) const override {
    return TorchGuarded([&] {
      torch::NoGradGuard ng;
      const QPlane& plane = *in.plane;
      const int W = plane.width, C = plane.channels, y0 = in.y0, y1 = in.y1;
      const int64_t n = int64_t(in.classes.size());
      // Rows [y0 - context, y1): output row y reads pixels of rows >= y - layers * r - 1 only.
      const int context = shape_.layers * shape_.Radius() + 1;
      const int top = std::max(0, y0 - context);
      auto qt = PlaneRows(plane, top, y1, device_).expand({n, C, y1 - top, W}).contiguous();
      auto ct = torch::tensor(std::vector<int64_t>(in.classes.begin(), in.classes.end()), torch::kInt64);
      return RowParams(GatedExactForward(tensors_, qt, ct.to(device_)), y0 - top);  // [n, P, rows, W]
    });
  }

 private:
  GatedPixelCnnShape shape_;
  torch::Device device_;
  GatedTensors tensors_;
};

// The PixelRNNs: the whole image at once.
template <class Tensors, class Model>
class PixelRnnPass final : public TorchPass {
 public:
  using Forward = torch::Tensor (*)(const Tensors&, const torch::Tensor&);
  PixelRnnPass(const Model& m, EngineKind engine, Tensors (*from_int)(const Model&), Forward forward)
      : channels_(m.shape.channels), forward_(forward) {
    device_ = PixelRnnTorchDevice(engine, [&](const torch::Device& d) { tensors_ = from_int(m).To(d); });
  }
  std::vector<int16_t> Params(const TorchPassInput& in) const override {
    return PixelRnnTorchParams(in.plane->q.data(), in.plane->height, in.plane->width, channels_, device_,
                               [&](const torch::Tensor& qt) { return forward_(tensors_, qt); });
  }

 private:
  int channels_;
  Forward forward_;
  torch::Device device_{torch::kCPU};
  Tensors tensors_;
};

bool CudaAvailable() {
  try {
    return torch::cuda::is_available();
  } catch (const c10::Error&) {
    return false;
  }
}

}  // namespace

const TorchEngines& LinkedTorchEngines() {
  static const TorchEngines engines = [] {
    TorchEngines e;
    e.abi = kTorchEnginesAbi;
    e.cuda_available = CudaAvailable;
    e.local = [](const IntLocalPixelCnn& m, EngineKind k) -> std::unique_ptr<TorchPass> {
      return std::make_unique<LocalPass>(m, k);
    };
    e.local_line = [](const IntLocalPixelCnn& m, EngineKind k) {
      return std::make_unique<LocalTorchLineEngine>(m, k);
    };
    e.multiscale = [](const IntMultiscalePixelCnn& m, EngineKind k) -> std::unique_ptr<TorchPass> {
      return std::make_unique<MultiscalePass>(m, k);
    };
    e.pixelcnn = [](const IntPixelCnn& m, EngineKind k) -> std::unique_ptr<TorchPass> {
      return std::make_unique<PixelCnnPass>(m, k);
    };
    e.pixelcnnpp = [](const IntPixelCnnPP& m, EngineKind k) -> std::unique_ptr<TorchPass> {
      return std::make_unique<PixelCnnPPPass>(m, k);
    };
    e.gated = [](const IntGatedPixelCnn& m, EngineKind k) -> std::unique_ptr<TorchPass> {
      return std::make_unique<GatedPass>(m, k);
    };
    e.row_lstm = [](const IntRowLstm& m, EngineKind k) -> std::unique_ptr<TorchPass> {
      return std::make_unique<PixelRnnPass<RowLstmTensors, IntRowLstm>>(m, k, RowLstmTensorsFromInt, RowLstmExactForward);
    };
    e.diagonal_bilstm = [](const IntDiagonalBiLstm& m, EngineKind k) -> std::unique_ptr<TorchPass> {
      return std::make_unique<PixelRnnPass<DiagonalBiLstmTensors, IntDiagonalBiLstm>>(m, k, DiagonalBiLstmTensorsFromInt,
                                                                                       DiagonalBiLstmExactForward);
    };
    return e;
  }();
  return engines;
}

}  // namespace pixelzip::models::nn
