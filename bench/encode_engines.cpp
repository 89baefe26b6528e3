// Encoder time of the shipped non-default models, integer CPU engine (kCpu)
// vs. the exact LibTorch pass on the CPU (kTorchCpu, what kCpu used before issue 23 for pixelcnn
// and gated-pixelcnn). Usage: pixelzip_encode_engines MODEL.pxzm... (a 64x64 synthetic RGB image).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "models/nn/catalog.h"
#include "models/nn/torch_engines.h"

using namespace pixelzip;
using namespace pixelzip::models;
using namespace pixelzip::models::nn;

class NullSink : public SymbolSink {
 public:
  void Put(const SymbolPosition&, const SubpixelCdf&, int) override { ++n; }
  long n = 0;
};

int main(int argc, char** argv) {
  const int W = 64, H = 64, C = 3;
  std::vector<uint8_t> px(size_t(W) * H * C);
  std::mt19937 rng(1);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < C; ++c) px[(size_t(y) * W + x) * C + c] = uint8_t((x * 3 + y * 2 + c * 40 + int(rng() % 9)) & 255);
  PlaneView view{uint32_t(W), uint32_t(H), uint32_t(C), px.data()};
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (Device e : {Device::kCpu, Device::kTorchCpu}) {
      auto model = ModelFromBytes(bytes, argv[i], e);
      NullSink sink;
      const auto t0 = std::chrono::steady_clock::now();
      model->Encode(view, sink, {});
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%s %s: %.3f s for %dx%d (%ld symbols)\n", argv[i], e == Device::kCpu ? "integer CPU" : "LibTorch CPU", s, W, H, sink.n);
    }
  }
}
