// `pixelzip compare`: pixelzip's rate beside PNG's on a set of images.
//
// For every image (files, and the *.png *.ppm *.pgm *.pnm directly inside
// folders, sorted): bits per subpixel of the .pxz stream in each requested
// order (encoded, decoded and checked identical, encode and decode timed),
// of the file as given (when it is a PNG) and of libpng's level-9 re-encoding,
// the ratio of pixelzip's size to the smaller PNG, the payload's bits beside
// the integer model's ideal code length -log2 p(x) (summed by the encoder's
// sink from the same CDFs, EncodeResult::model_bits) and the payload's
// overhead over it in percent, and a total row (sums of bits over sums of
// subpixels, sums of seconds). An order the model does not
// code (Encode throws kUnsupported) is n/a, not an error, unless no requested
// order codes any image.
#pragma once

#include <string>
#include <vector>

namespace pixelzip::cli {

struct CompareOptions {
  std::vector<std::string> inputs;  // image files and/or folders (not "-")
  std::string order = "both";       // raster | multiscale | both
  std::string model = "default";    // as for compress
  std::string device = "auto";      // cpu | cuda | auto
  int threads = 0;                  // the engines' threads (0: PIXELZIP_THREADS, else every core)
  bool json = false;                // one JSON object on stdout instead of the text table
  bool no_adaptive = false;         // measure without the adaptive stage
  bool no_fallback = false;         // measure the model's coding only
  int stage_kind = 3;               // the adaptive stage's kind (1-3)
};

// Prints the table (or JSON) on stdout and a progress bar on stderr when it is
// a terminal. Every image is read and checked before anything is printed.
// Returns kExitOk or throws CommandError naming the file at fault (a decoded
// stream that differs from its image is kExitInternal).
int RunCompareRates(const CompareOptions& options);

}  // namespace pixelzip::cli
