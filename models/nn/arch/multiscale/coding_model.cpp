#include "models/nn/arch/multiscale/coding_model.h"

#include <algorithm>
#include <thread>

#include "models/nn/arch/local_pixelcnn/batch_engine.h"  // DefaultCodingThreads
#include "pixelzip/error.h"
#include "models/nn/runtime/pixel_coder.h"

namespace pixelzip::models::nn {

MultiscaleCodingModel::MultiscaleCodingModel(const std::vector<uint8_t>& bytes, const std::string& source,
                                             Device engine, int threads)
    : BatchedCodingModel(bytes, source, kMultiscalePixelCnnArch, pixelzip::Order::kMultiscale, engine,
                         &TorchEngines::multiscale),
      threads_(threads) {}

MultiscaleCodingModel::~MultiscaleCodingModel() = default;

int MultiscaleCodingModel::Threads() const { return threads_ > 0 ? threads_ : DefaultCodingThreads(); }

std::vector<int16_t> MultiscaleCodingModel::GroupParams(const QPlane& plane, int s, int g, Device engine, int y0,
                                                        int y1) const {
  if (y0 == 0) ++group_evaluations_;
  if (engine == Device::kCpu) return GroupParamsCpu(model_, plane, s, g, Threads(), y0, y1);
  TorchPassInput in;
  in.plane = &plane;
  in.spacing = s;
  in.group = g;
  return TorchParams(in);  // [hc][wc][P]
}

// Visits every pixel in coding order: code(params, y, x, scale, group) must code pixel (y, x)
// and leave its value in `plane` before returning; the pixel is on the spacing-2^scale grid, in
// group 0 (the base image) or 1 + g (group g of a level).
template <class Visit>
void MultiscaleCodingModel::Walk(const PlaneView& image, QPlane& plane, Visit&& code, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height), C = int(image.channels), P = model_.shape.ParamCount();
  if (W == 0 || H == 0) return;
  const int L = MultiscaleLevels(W, H, model_.shape.base_side);
  const int step = 1 << L;
  // Base image: raster order, one base-network step per pixel.
  QPlane base = EmptyQPlane((W + step - 1) / step, (H + step - 1) / step, C);
  LocalPixelCnnCpuEngine ev(model_.base);
  std::vector<int16_t> params(static_cast<size_t>(P));
  for (int by = 0; by < base.height; ++by)
    for (int bx = 0; bx < base.width; ++bx) {
      ev.Evaluate(base, by, bx, params.data());
      ++base_evaluations_;
      code(params.data(), by * step, bx * step, L, 0);
      for (int c = 0; c < C; ++c) base.q[(size_t(by) * base.width + bx) * C + c] = plane.at(by * step, bx * step, c);
    }
  const double total = double(W) * H;
  double done = double(base.width) * base.height;
  if (progress) progress(done / total);
  for (int l = L; l >= 1; --l) {
    const int s = 1 << (l - 1);
    const int hc = int((int64_t(H) + 2 * s - 1) / (2 * s)), wc = int((int64_t(W) + 2 * s - 1) / (2 * s));
    // The CPU engine computes a group's parameters in bands of coarse rows (about 4 MiB each, a
    // row per thread at least): a whole group's are P int16 per coarse pixel, which at the finest
    // level would be P / 2 bytes per image pixel. A LibTorch engine computes the whole group at once.
    const int band = engine_ == Device::kCpu
                         ? int(std::min<int64_t>(hc, std::max<int64_t>(Threads(), (int64_t(4) << 20) / (int64_t(wc) * P * 2))))
                         : hc;
    for (int g = 0; g < kMultiscaleGroups; ++g) {
      for (int Y0 = 0; Y0 < hc; Y0 += band) {
        if (int64_t(s) * (2 * Y0 + GroupPhaseY(g)) >= H) break;
        const int Y1 = std::min(hc, Y0 + band);
        const auto gp = band == hc ? GroupParams(plane, s, g, engine_) : GroupParams(plane, s, g, engine_, Y0, Y1);
        for (int Y = Y0; Y < Y1; ++Y) {
          const int64_t y = int64_t(s) * (2 * Y + GroupPhaseY(g));
          if (y >= H) break;
          for (int X = 0; X < wc; ++X) {
            const int64_t x = int64_t(s) * (2 * X + GroupPhaseX(g));
            if (x >= W) break;
            code(&gp[(size_t(Y - Y0) * wc + X) * P], int(y), int(x), l - 1, 1 + g);
            done += 1;
          }
        }
      }
      if (progress) progress(done / total);
    }
  }
}

void MultiscaleCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  QPlane plane = ToQPlane(image);
  const int C = plane.channels;
  MixturePixelCoder coder(model_.tables(), C, model_.shape.mixtures);
  Walk(image, plane, [&](const int16_t* p, int y, int x, int scale, int group) {
    coder.Encode(image, y, x, p, sink, scale, group);
  }, progress);
}

void MultiscaleCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  QPlane plane = EmptyQPlane(int(image.width), int(image.height), int(image.channels));
  const int W = plane.width, C = plane.channels;
  MixturePixelCoder coder(model_.tables(), C, model_.shape.mixtures);
  Walk(image, plane, [&](const int16_t* p, int y, int x, int scale, int group) {
    coder.Decode(image, y, x, p, source, &plane.q[(size_t(y) * W + x) * C], scale, group);
  }, progress);
}

}  // namespace pixelzip::models::nn
