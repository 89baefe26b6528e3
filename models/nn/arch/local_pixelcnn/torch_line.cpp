#include "models/nn/arch/local_pixelcnn/torch_line.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "models/nn/torch/batched.h"    // TorchGuarded, ExactDevice
#include "models/nn/arch/local_pixelcnn/exact.h"
#include "models/nn/torch/exact_ops.h"  // LocalTensors, ApplyLinear, ApplyLut
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

struct LocalTorchLineEngine::Impl {
  torch::Device device{torch::kCPU};
  LocalTensors t;                 // conv0 is the gathered [hidden, features, 1, 1] layer
  mutable std::vector<float> feat;  // host staging, [features][n]
  mutable std::mutex mu;
};

LocalTorchLineEngine::LocalTorchLineEngine(const IntLocalPixelCnn& m, Device engine)
    : impl_(std::make_unique<Impl>()), r_(m.shape.kernel / 2), C_(m.shape.channels), P_(m.shape.ParamCount()),
      F_(m.conv0.in) {
  if (m.shape.aux != 0) throw Error(ErrorCode::kInternal, "LibTorch line engine: conditioning planes");
  if (engine == Device::kCpu) throw Error(ErrorCode::kInternal, "LibTorch line engine: not a LibTorch engine");
  impl_->device = ExactDevice(engine);
  impl_->t = TorchGuarded([&] {
    LocalTensors t = TensorsFromInt(m);
    // conv0 over the gathered features instead of the masked k x k kernel: the same integers.
    TorchIntLinear g;
    g.weight = torch::tensor(std::vector<float>(m.conv0.weight.begin(), m.conv0.weight.end()))
                   .view({m.conv0.out, m.conv0.in, 1, 1});
    g.bias = torch::tensor(std::vector<float>(m.conv0.bias.begin(), m.conv0.bias.end()));
    exact_ops::SetRequant(g, m.conv0.requant);
    g.lo = m.conv0.lo;
    g.hi = m.conv0.hi;
    t.conv0 = g;
    t.ste = false;
    return t.To(impl_->device);
  });
}

LocalTorchLineEngine::~LocalTorchLineEngine() = default;

namespace {
// One exact 1x1 layer over x [1, in, n, 1]. On the CPU, LibTorch's convolution (oneDNN; a 1x1 kernel
// admits no Winograd/FFT transform, so it sums integer products in fp32 and is exact under the loader's
// bound in any order) instead of ApplyLinear's matmul, which this build runs on a slow reference BLAS.
torch::Tensor Linear1x1(const torch::Tensor& x, const TorchIntLinear& l) {
  if (x.is_cuda()) return exact_ops::ApplyLinear(x, l, false);
  auto acc = torch::nn::functional::conv2d(x, l.weight, torch::nn::functional::Conv2dFuncOptions().bias(l.bias));
  return exact_ops::Requantize(acc, acc, l, false);
}
}  // namespace

void LocalTorchLineEngine::Evaluate(const PaddedPlane& p, const PixelPos* px, size_t n, int16_t* params) const {
  if (n == 0) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  const int C = C_, r = r_, F = F_;
  // Features [F][n], in LocalBatchEngine's order: taps (raster order) x channels, then the MED per channel.
  auto& feat = impl_->feat;
  feat.resize(size_t(F) * n);
  for (size_t i = 0; i < n; ++i) {
    const int y = px[i].y, x = px[i].x;
    float* f = feat.data() + i;
    size_t j = 0;
    for (int dy = -r; dy < 0; ++dy) {
      const int16_t* row = p.at(y + dy, x - r);
      for (int k = 0; k < (2 * r + 1) * C; ++k) f[(j++) * n] = float(row[k]);
    }
    const int16_t* row = p.at(y, x - r);
    for (int k = 0; k < r * C; ++k) f[(j++) * n] = float(row[k]);
    const int16_t *left = p.at(y, x - 1), *up = p.at(y - 1, x), *ul = p.at(y - 1, x - 1);
    for (int c = 0; c < C; ++c) {
      const int a = left[c], b = up[c], d = ul[c];
      const int mn = std::min(a, b), mx = std::max(a, b);
      f[(j++) * n] = float(d >= mx ? mn : d <= mn ? mx : a + b - d);
    }
  }
  TorchGuarded([&] {
    torch::NoGradGuard ng;
    const LocalTensors& t = impl_->t;
    // [1, F, n, 1]: the 1x1 layers of ExactForward treat the pixels as one image column.
    auto x = torch::from_blob(feat.data(), {1, F, int64_t(n), 1}, torch::kFloat32).to(impl_->device);
    auto h = Linear1x1(x, t.conv0);
    for (int i = 0; i < t.blocks; ++i) {
      auto a = exact_ops::ApplyLut(h, t.pre[size_t(i)], false);
      auto inner = exact_ops::ApplyLut(Linear1x1(a, t.conv1[size_t(i)]), t.mid[size_t(i)], false);
      h = (h + Linear1x1(inner, t.conv2[size_t(i)])).clamp(-kInt16Max, kInt16Max);
    }
    auto out = Linear1x1(exact_ops::ApplyLut(h, t.head_lut, false), t.head);  // [1, P, n, 1]
    auto q = out.view({P_, int64_t(n)}).t().to(torch::kCPU).to(torch::kInt16).contiguous();
    std::memcpy(params, q.data_ptr<int16_t>(), size_t(P_) * n * sizeof(int16_t));
  });
}

}  // namespace pixelzip::models::nn
