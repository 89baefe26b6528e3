// IDX files (the MNIST / Fashion-MNIST data set format), plain or gzip-compressed:
// big-endian magic 0x0000 | type 0x08 (unsigned byte) | dimension count, then
// one u32 per dimension, then the data. Used to train and evaluate on labelled data sets.
#pragma once

#include <string>
#include <vector>

#include "pixelzip/image.h"

namespace pixelzip {

// An idx3-ubyte file [count, height, width] as `count` grey images.
// Throws Error: kIo (unreadable), kCorruptInput (bad magic, type or dimensions), kTruncatedInput,
// kLimitExceeded (more than kMaxImageBytes of pixels).
std::vector<Image> ReadIdxImages(const std::string& path);
// An idx1-ubyte file [count] of labels in [0, 255]. Throws as ReadIdxImages.
std::vector<int> ReadIdxLabels(const std::string& path);

}  // namespace pixelzip
