// Not a benchmark: the experiment loop of issue 21. Runs a model once over an image
// (a crop of a PNG, or a synthetic image) and writes every subpixel's CDF and symbol,
// so that adaptive_sim can try stage parameters without running the network again.
//   adaptive_dump OUT.dump raster|multiscale (png FILE X Y W H | synth NAME W H SEED [grey])
// OUT "-measure" prints the model's and the stage's bits per subpixel instead (one pass).
// Dump layout: "PXD2", u32 width, height, channels, order; then per subpixel in coding
// order 255 u16 (cdf(1) .. cdf(255)), one u8 symbol and its position: u32 y, x, u8
// channel, scale, group, pixel (models::SymbolPosition). OUT ending in .png writes the
// (cropped or synthetic) image itself as a level-9 PNG instead.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "adaptive/stage.h"
#include "formats/image_io.h"
#include "models/registry.h"
#include "tests/adaptive/synthetic_images.h"

namespace {
using namespace pixelzip;

class DumpSink final : public models::SymbolSink {
 public:
  explicit DumpSink(std::FILE* f) : f_(f) {}
  void Put(const models::SymbolPosition& at, const models::SubpixelCdf& cdf, int symbol) override {
    uint16_t v[256];
    for (int e = 1; e < 256; ++e) v[e - 1] = static_cast<uint16_t>(cdf.At(e));
    v[255] = static_cast<uint16_t>(symbol);
    std::fwrite(v, 2, 255, f_);
    const uint8_t s = static_cast<uint8_t>(symbol);
    std::fwrite(&s, 1, 1, f_);
    const uint32_t yx[2] = {at.y, at.x};
    const uint8_t rest[4] = {uint8_t(at.channel), at.scale, at.group, uint8_t(at.pixel ? 1 : 0)};
    std::fwrite(yx, 4, 2, f_);
    std::fwrite(rest, 1, 4, f_);
  }

 private:
  std::FILE* f_;
};
// Measure mode: the model's and the stage's ideal code lengths in one model pass, and
// the time spent in the stage (with the model CDF evaluations it makes).
class MeasureSink final : public models::SymbolSink {
 public:
  explicit MeasureSink(adaptive::Stage& stage) : stage_(stage) {}
  void Put(const models::SymbolPosition& at, const models::SubpixelCdf& cdf, int symbol) override {
    model_bits += 16 - std::log2(double(cdf.At(symbol + 1) - cdf.At(symbol)));
    const auto start = std::chrono::steady_clock::now();
    const adaptive::Position where =
        at.pixel ? adaptive::Position::At(at.y, at.x, at.channel, at.scale, at.group) : adaptive::Position{};
    stage_.Code(where, [&cdf](int e) { return cdf.At(e); }, [&](int lo, int hi, uint32_t p1) {
      const int bit = (lo <= symbol && symbol < hi) ? 1 : 0;
      stage_bits += 16 - std::log2(double(bit ? p1 : adaptive::kTotal - p1));
      return bit;
    });
    stage_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  double model_bits = 0, stage_bits = 0, stage_seconds = 0;

 private:
  adaptive::Stage& stage_;
};
}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 5) throw std::runtime_error("usage: adaptive_dump OUT raster|multiscale (png FILE X Y W H | synth NAME W H SEED [grey])");
    const std::string out = argv[1], order_name = argv[2], kind = argv[3];
    Image im;
    if (kind == "png" && argc >= 9) {
      const Image full = ReadImageFile(argv[4]);
      const uint32_t x0 = std::stoul(argv[5]), y0 = std::stoul(argv[6]), w = std::stoul(argv[7]), h = std::stoul(argv[8]);
      if (uint64_t{x0} + w > full.width || uint64_t{y0} + h > full.height) throw std::runtime_error("crop outside the image");
      const uint32_t c = full.channels >= 3 ? 3 : 1;
      im = synthetic::Blank(w, h, c, 0);
      for (uint32_t y = 0; y < h; ++y)
        for (uint32_t x = 0; x < w; ++x)
          for (uint32_t k = 0; k < c; ++k) im.at(y, x, k) = full.at(y0 + y, x0 + x, k);
    } else if (kind == "synth" && argc >= 8) {
      const bool grey = argc >= 9 && std::string(argv[8]) == "grey";
      im = synthetic::Make(argv[4], std::stoul(argv[5]), std::stoul(argv[6]), grey ? 1 : 3, std::stoull(argv[7]));
    } else {
      throw std::runtime_error("bad arguments");
    }
    if (out.size() > 4 && out.compare(out.size() - 4, 4, ".png") == 0) {  // the image itself, as PNG (level 9)
      const std::vector<uint8_t> png = EncodePng(im, 9);
      std::FILE* f = std::fopen(out.c_str(), "wb");
      if (!f || std::fwrite(png.data(), 1, png.size(), f) != png.size()) throw std::runtime_error("cannot write " + out);
      std::fclose(f);
      return 0;
    }
    const Order order = order_name == "multiscale" ? Order::kMultiscale : Order::kRaster;
    const auto model = models::ResolveModel("default", order, im.channels, Device::kCpu);
    models::PlaneView view;
    view.width = im.width;
    view.height = im.height;
    view.channels = im.channels;
    view.data = im.pixels.data();
    if (out == "-measure") {
      adaptive::StageParams params;  // the codec's defaults (codec.cpp, DefaultStageParams)
      params.positions = order == Order::kRaster ? 1 : 3;
      adaptive::Stage stage(params, im.width, im.height, im.channels);
      MeasureSink sink(stage);
      const auto start = std::chrono::steady_clock::now();
      model->Encode(view, sink, {});
      const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double n = double(im.SubpixelCount());
      std::printf("%s %s %u %u %u model_bpsp %.5f stage_bpsp %.5f total_s %.2f stage_s %.2f\n", argv[4],
                  order_name.c_str(), im.width, im.height, im.channels, sink.model_bits / n, sink.stage_bits / n,
                  total, sink.stage_seconds);
      return 0;
    }
    std::FILE* f = std::fopen(out.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write " + out);
    const uint32_t head[4] = {im.width, im.height, im.channels, static_cast<uint32_t>(order)};
    std::fwrite("PXD2", 1, 4, f);
    std::fwrite(head, 4, 4, f);
    DumpSink sink(f);
    model->Encode(view, sink, {});
    std::fclose(f);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "adaptive_dump: %s\n", e.what());
    return 1;
  }
  return 0;
}
