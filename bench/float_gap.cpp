// Not a benchmark: the float-versus-integer gap per image (issue 21, part 1). For each PNG,
// the bits per subpixel of the float model (the checkpoint's EMA weights, no quantisation:
// the trainer's discretized-logistic NLL) and of the exported integer model's CDFs (ideal
// code length, -log2(freq / 2^16) per subpixel), on the whole image.
//   pixelzip_float_gap CHECKPOINT MODEL.pxzm IMAGE.png...
// (models/checkpoints/local-pixelcnn-rgb.ckpt with models/weights/local-pixelcnn-rgb.pxzm.)
#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <vector>

#include "formats/image_io.h"
#include "models/nn/train/trainer.h"

int main(int argc, char** argv) {
  using namespace pixelzip;
  if (argc < 4) {
    std::fprintf(stderr, "usage: pixelzip_float_gap CHECKPOINT MODEL.pxzm IMAGE.png...\n");
    return 2;
  }
  try {
    std::ifstream in(argv[2], std::ios::binary);
    const std::vector<uint8_t> model((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    double f_all = 0, i_all = 0, n_all = 0;
    std::printf("%-40s %9s %9s %9s %8s\n", "image", "float", "integer", "gap", "gap %");
    for (int a = 3; a < argc; ++a) {
      Image im = ReadImageFile(argv[a]);
      if (im.channels == 2 || im.channels == 4) {  // the colour channels only, as the trainer loads them
        const uint32_t c = im.channels - 1;
        std::vector<uint8_t> px;
        for (size_t i = 0; i < im.pixels.size(); i += im.channels) px.insert(px.end(), &im.pixels[i], &im.pixels[i] + c);
        im.pixels = std::move(px);
        im.channels = c;
      }
      const int crop = int(std::max(im.width, im.height));
      const auto r = models::nn::EvaluateOnCrops(argv[1], model, {im}, crop);
      const double n = double(im.SubpixelCount());
      std::printf("%-40s %9.4f %9.4f %+9.4f %+7.2f%%\n", argv[a], r.float_bpd, r.integer_bpd, r.integer_bpd - r.float_bpd,
                  100 * (r.integer_bpd / r.float_bpd - 1));
      f_all += r.float_bpd * n;
      i_all += r.integer_bpd * n;
      n_all += n;
    }
    std::printf("%-40s %9.4f %9.4f %+9.4f %+7.2f%%\n", "TOTAL", f_all / n_all, i_all / n_all, (i_all - f_all) / n_all,
                100 * (i_all / f_all - 1));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pixelzip_float_gap: %s\n", e.what());
    return 1;
  }
  return 0;
}
