// Bits/dim of a class-conditional gated-pixelcnn model on a labelled IDX data set
// (e.g. the Fashion-MNIST test set): with the encoder's class choice (what
// `pixelzip compress` codes, the class index included), with the true label (index
// cost included), and, given a second model, unconditionally. Integer CDFs, ideal code
// lengths (the range coder adds a few bytes per image).
//   pixelzip_class_eval IMAGES.idx[.gz] LABELS.idx[.gz] CONDITIONAL.pxzm [UNCONDITIONAL.pxzm | -] [LIMIT]
// LIMIT: evaluate the first LIMIT images only.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>

#include "formats/idx_io.h"
#include "models/nn/arch/gated_pixelcnn/coding_model.h"
#include "models/nn/catalog.h"
#include "pixelzip/error.h"

using namespace pixelzip;
using namespace pixelzip::models;

static std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open");
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s IMAGES LABELS CONDITIONAL.pxzm [UNCONDITIONAL.pxzm | -] [LIMIT]\n", argv[0]);
    return 2;
  }
  try {
    const auto images = ReadIdxImages(argv[1]);
    const auto labels = ReadIdxLabels(argv[2]);
    if (labels.size() != images.size()) throw Error(ErrorCode::kInvalidArgument, "images and labels differ in count");
    nn::GatedPixelCnnCodingModel cond(ReadFile(argv[3]), argv[3], pixelzip::Device::kCpu);
    std::shared_ptr<const CodingModel> uncond;
    if (argc > 4 && std::string(argv[4]) != "-") uncond = nn::ModelFromBytes(ReadFile(argv[4]), argv[4], Device::kCpu);
    const size_t limit = argc > 5 ? std::min(images.size(), size_t(std::max(1L, std::atol(argv[5])))) : images.size();
    const int K = cond.model().shape.classes;
    const double index_bits = K > 1 ? -std::log2(double(nn::ClassIndexCdf(K).At(1)) / kCdfTotal) : 0.0;
    double choice = 0, truth = 0, unc = 0, dims = 0;
    size_t agree = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < limit; ++i) {
      const auto& im = images[i];
      if (labels[i] >= K) throw Error(ErrorCode::kInvalidArgument, "a label is outside the model's classes");
      PlaneView view{im.width, im.height, 1, const_cast<uint8_t*>(im.pixels.data())};
      const auto bits = cond.ClassCodeLengths(view);
      const size_t chosen = size_t(std::min_element(bits.begin(), bits.end()) - bits.begin());
      choice += bits[chosen] + index_bits;
      truth += bits[size_t(labels[i])] + index_bits;
      agree += chosen == size_t(labels[i]);
      if (uncond) unc += nn::ModelCodeLengthBits(*uncond, view);
      dims += double(im.pixels.size());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%zu images, %d classes (index %.4f bits per image), %.1f s\n", limit, K, index_bits, secs);
    std::printf("conditional, encoder's class choice: %.4f bits/dim (index included)\n", choice / dims);
    std::printf("conditional, true label:             %.4f bits/dim (index included)\n", truth / dims);
    std::printf("conditional, true label, index free: %.4f bits/dim\n", (truth - index_bits * double(limit)) / dims);
    std::printf("chosen class == label: %.2f%%\n", 100.0 * double(agree) / double(limit));
    if (uncond) std::printf("unconditional model:                 %.4f bits/dim\n", unc / dims);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
