#include "models/nn/arch/aux_pixelcnn/coding_model.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "models/nn/arch/local_pixelcnn/batch_engine.h"  // DefaultCodingThreads
#include "models/nn/runtime/mixture_cdf.h"
#include "models/nn/read_model.h"
#include "models/nn/torch_engines.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace {
constexpr int kBandRows = 32;

QPlane GreyPlane(const PlaneView& image) {
  QPlane p = EmptyQPlane(int(image.width), int(image.height), 1);
  for (uint32_t y = 0; y < image.height; ++y)
    for (uint32_t x = 0; x < image.width; ++x)
      p.q[size_t(y) * image.width + x] =
          int16_t(2 * GreyOf(image.at(y, x, 0), image.at(y, x, 1), image.at(y, x, 2)) - 255);
  return p;
}

int ValueOf(int16_t q) { return (int(q) + 255) / 2; }

// Pixel (y, x) of pyramid level l is image pixel (y 2^l, x 2^l); the smallest level is
// coded whole (group 0), a larger one its pixels with an odd coordinate (groups 1-3).
SymbolPosition PyramidPosition(int l, bool all, int y, int x, int c) {
  SymbolPosition at = SymbolPosition::At(uint32_t(y) << l, uint32_t(x) << l, uint32_t(c));
  at.scale = uint8_t(l);
  at.group = all ? 0 : (y & 1) ? ((x & 1) ? 3 : 2) : 1;
  return at;
}

// Sums the ideal code length of the symbols put into it.
class BitCounter final : public SymbolSink {
 public:
  void Put(const SymbolPosition&, const SubpixelCdf& cdf, int symbol) override {
    bits += -std::log2(double(cdf.At(symbol + 1) - cdf.At(symbol)) / double(kCdfTotal));
  }
  double bits = 0;
};

// The range of channel c of a decoded pixel consistent with its grey value; a stream that decodes to an
// inconsistent pixel is corrupt.
void RangeOrCorrupt(int grey, int c, const int* coded, int* lo, int* hi) {
  GreyConsistentRange(grey, c, coded, lo, hi);
  if (*lo > *hi) throw Error(ErrorCode::kCorruptInput, "aux-grey stream: colour inconsistent with the grey image");
}
}  // namespace

BatchedLocalNet::BatchedLocalNet(const IntLocalPixelCnn& net, Device engine) : net_(net), engine_(engine) {
  if (engine != Device::kCpu) torch_ = RequireTorchEngines().local(net_, engine);
}

BatchedLocalNet::~BatchedLocalNet() = default;

std::vector<int16_t> BatchedLocalNet::Params(const QPlane& plane, const QPlane* aux) const {
  const int W = plane.width, H = plane.height, P = net_.shape.ParamCount();
  std::vector<int16_t> out(size_t(H) * W * P);
  if (engine_ == Device::kCpu) {
    const int threads = std::max(1, std::min<int>(DefaultCodingThreads(), H));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        LocalPixelCnnCpuEngine ev(net_);
        for (int y = t; y < H; y += threads)
          for (int x = 0; x < W; ++x) ev.Evaluate(plane, y, x, &out[(size_t(y) * W + x) * P], aux);
      });
    }
    for (auto& th : pool) th.join();
    return out;
  }
  TorchPassInput in;
  in.plane = &plane;
  in.aux = aux;
  for (int y0 = 0; y0 < H; y0 += kBandRows) {
    in.y0 = y0;
    in.y1 = std::min(H, y0 + kBandRows);
    const auto params = torch_->Params(in);  // [rows][W][P]
    std::copy(params.begin(), params.end(), out.begin() + size_t(y0) * W * P);
  }
  return out;
}

// ---------------------------------------------------------------- aux-grey

AuxGreyCodingModel::AuxGreyCodingModel(const std::vector<uint8_t>& bytes, const std::string& source, Device encoder) {
  model_ = ReadModel<IntAuxGrey>(bytes, source, kAuxGreyArch, identity_);
  grey_net_ = std::make_unique<BatchedLocalNet>(model_.grey, encoder);
  colour_net_ = std::make_unique<BatchedLocalNet>(model_.colour, encoder);
}

namespace {
// Codes (or counts) the grey plane, then the colour given it, from batched parameters.
void EncodeGreyThenColour(const IntAuxGrey& m, const BatchedLocalNet& grey_net, const BatchedLocalNet& colour_net,
                          const PlaneView& image, bool restrict_to_grey, SymbolSink& grey_sink, SymbolSink& colour_sink,
                          const Progress& progress) {
  const QPlane rgb = ToQPlane(image), grey = GreyPlane(image);
  const int W = rgb.width, H = rgb.height;
  int32_t previous[3] = {0, 0, 0};
  int coded[3] = {0, 0, 0};
  {
    const auto params = grey_net.Params(grey, nullptr);
    const int P = m.grey.shape.ParamCount();
    MixtureCdf cdf(m.grey.tables, 1, m.grey.shape.mixtures);
    for (size_t i = 0; i < size_t(W) * H; ++i) {
      cdf.Prepare(&params[i * P], 0, previous);
      grey_sink.Put(SymbolPosition::At(uint32_t(i / W), uint32_t(i % W), 0), cdf, ValueOf(grey.q[i]));
    }
  }
  if (progress) progress(0.3);
  const auto params = colour_net.Params(rgb, &grey);
  const int P = m.colour.shape.ParamCount();
  MixtureCdf cdf(m.colour.tables, 3, m.colour.shape.mixtures);
  IntervalCdf restricted;
  for (size_t i = 0; i < size_t(W) * H; ++i) {
    const int g = ValueOf(grey.q[i]);
    for (int c = 0; c < 3; ++c) {
      cdf.Prepare(&params[i * P], c, previous);
      const int v = ValueOf(rgb.q[i * 3 + c]);
      if (restrict_to_grey) {
        int lo, hi;
        GreyConsistentRange(g, c, coded, &lo, &hi);
        restricted.Restrict(cdf, lo, hi);
        colour_sink.Put(SymbolPosition::At(uint32_t(i / W), uint32_t(i % W), uint32_t(c)), restricted, v);
      } else {
        colour_sink.Put(SymbolPosition::At(uint32_t(i / W), uint32_t(i % W), uint32_t(c)), cdf, v);
      }
      previous[c] = 2 * v - 255;
      coded[c] = v;
    }
  }
  if (progress) progress(1.0);
}
}  // namespace

void AuxGreyCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  EncodeGreyThenColour(model_, *grey_net_, *colour_net_, image, true, sink, sink, progress);
}

void AuxGreyCodingModel::CodeLengthBits(const PlaneView& image, bool restrict_to_grey, double* grey_bits,
                                        double* colour_bits) const {
  BitCounter g, c;
  EncodeGreyThenColour(model_, *grey_net_, *colour_net_, image, restrict_to_grey, g, c, {});
  *grey_bits = g.bits;
  *colour_bits = c.bits;
}

void AuxGreyCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  const int W = int(image.width), H = int(image.height);
  QPlane grey = EmptyQPlane(W, H, 1), rgb = EmptyQPlane(W, H, 3);
  int32_t previous[3] = {0, 0, 0};
  int coded[3] = {0, 0, 0};
  {
    LocalPixelCnnCpuEngine ev(model_.grey);
    MixtureCdf cdf(model_.grey.tables, 1, model_.grey.shape.mixtures);
    std::vector<int16_t> params(size_t(model_.grey.shape.ParamCount()));
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        ev.Evaluate(grey, y, x, params.data());
        cdf.Prepare(params.data(), 0, previous);
        grey.q[size_t(y) * W + x] = int16_t(2 * source.Get(SymbolPosition::At(uint32_t(y), uint32_t(x), 0), cdf) - 255);
      }
  }
  if (progress) progress(0.3);
  LocalPixelCnnCpuEngine ev(model_.colour);
  MixtureCdf cdf(model_.colour.tables, 3, model_.colour.shape.mixtures);
  IntervalCdf restricted;
  std::vector<int16_t> params(size_t(model_.colour.shape.ParamCount()));
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      ev.Evaluate(rgb, y, x, params.data(), &grey);
      const int g = ValueOf(grey.q[size_t(y) * W + x]);
      for (int c = 0; c < 3; ++c) {
        cdf.Prepare(params.data(), c, previous);
        int lo, hi;
        RangeOrCorrupt(g, c, coded, &lo, &hi);
        restricted.Restrict(cdf, lo, hi);
        const int v = source.Get(SymbolPosition::At(uint32_t(y), uint32_t(x), uint32_t(c)), restricted);
        image.at(uint32_t(y), uint32_t(x), uint32_t(c)) = uint8_t(v);
        previous[c] = 2 * v - 255;
        coded[c] = v;
        rgb.q[(size_t(y) * W + x) * 3 + c] = int16_t(previous[c]);
      }
    }
    if (progress && (y % 8 == 7 || y == H - 1)) progress(0.3 + 0.7 * double(y + 1) / H);
  }
}

// ---------------------------------------------------------------- aux-pyramid

AuxPyramidCodingModel::AuxPyramidCodingModel(const std::vector<uint8_t>& bytes, const std::string& source,
                                             Device encoder) {
  model_ = ReadModel<IntAuxPyramid>(bytes, source, kAuxPyramidArch, identity_);
  base_net_ = std::make_unique<BatchedLocalNet>(model_.base, encoder);
  cond_net_ = std::make_unique<BatchedLocalNet>(model_.cond, encoder);
}

void AuxPyramidCodingModel::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  const QPlane full = ToQPlane(image);
  const int C = full.channels, L = PyramidLevels(full.width, full.height, model_.base_side);
  std::vector<QPlane> levels;
  for (int l = 0; l <= L; ++l) levels.push_back(PyramidLevel(full, l));
  int32_t previous[3] = {0, 0, 0};
  auto code_level = [&](const IntLocalPixelCnn& net, const BatchedLocalNet& batched, const QPlane& plane,
                        const QPlane* aux, bool all, int l) {
    const auto params = batched.Params(plane, aux);
    const int P = net.shape.ParamCount();
    MixtureCdf cdf(net.tables, C, net.shape.mixtures);
    for (int y = 0; y < plane.height; ++y)
      for (int x = 0; x < plane.width; ++x) {
        if (!all && !PyramidCodes(y, x)) continue;
        const size_t i = size_t(y) * plane.width + x;
        for (int c = 0; c < C; ++c) {
          cdf.Prepare(&params[i * P], c, previous);
          const int v = ValueOf(plane.q[i * C + c]);
          sink.Put(PyramidPosition(l, all, y, x, c), cdf, v);
          previous[c] = 2 * v - 255;
        }
      }
  };
  code_level(model_.base, *base_net_, levels[size_t(L)], nullptr, true, L);
  for (int l = L - 1; l >= 0; --l) {
    const QPlane aux = UpsampleNearest(levels[size_t(l) + 1], levels[size_t(l)].width, levels[size_t(l)].height);
    code_level(model_.cond, *cond_net_, levels[size_t(l)], &aux, false, l);
    if (progress) progress(double(L - l) / L);
  }
  if (progress) progress(1.0);
}

void AuxPyramidCodingModel::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  const int C = int(image.channels), W = int(image.width), H = int(image.height);
  const int L = PyramidLevels(W, H, model_.base_side);
  int32_t previous[3] = {0, 0, 0};
  auto decode_level = [&](const IntLocalPixelCnn& net, QPlane& plane, const QPlane* aux, bool all, int l) {
    LocalPixelCnnCpuEngine ev(net);
    MixtureCdf cdf(net.tables, C, net.shape.mixtures);
    std::vector<int16_t> params(size_t(net.shape.ParamCount()));
    for (int y = 0; y < plane.height; ++y)
      for (int x = 0; x < plane.width; ++x) {
        if (!all && !PyramidCodes(y, x)) continue;
        ev.Evaluate(plane, y, x, params.data(), aux);
        for (int c = 0; c < C; ++c) {
          cdf.Prepare(params.data(), c, previous);
          const int v = source.Get(PyramidPosition(l, all, y, x, c), cdf);
          previous[c] = 2 * v - 255;
          plane.q[(size_t(y) * plane.width + x) * C + c] = int16_t(previous[c]);
        }
      }
  };
  const int s = 1 << L;
  QPlane cur = EmptyQPlane((W + s - 1) / s, (H + s - 1) / s, C);
  decode_level(model_.base, cur, nullptr, true, L);
  for (int l = L - 1; l >= 0; --l) {
    const int sl = 1 << l;
    QPlane next = EmptyQPlane((W + sl - 1) / sl, (H + sl - 1) / sl, C);
    for (int y = 0; y < next.height; y += 2)
      for (int x = 0; x < next.width; x += 2)
        for (int c = 0; c < C; ++c) next.q[(size_t(y) * next.width + x) * C + c] = cur.at(y / 2, x / 2, c);
    const QPlane aux = UpsampleNearest(cur, next.width, next.height);
    decode_level(model_.cond, next, &aux, false, l);
    cur = std::move(next);
    if (progress) progress(double(L - l) / L);
  }
  for (size_t i = 0; i < cur.q.size(); ++i) image.data[i] = uint8_t(ValueOf(cur.q[i]));
  if (progress) progress(1.0);
}

}  // namespace pixelzip::models::nn
