#include "models/nn/runtime/qplane.h"

namespace pixelzip::models::nn {

QPlane ToQPlane(const PlaneView& image) {
  QPlane p;
  p.width = int(image.width);
  p.height = int(image.height);
  p.channels = int(image.channels);
  p.q.resize(size_t(image.width) * image.height * image.channels);
  for (size_t i = 0; i < p.q.size(); ++i) p.q[i] = int16_t(2 * int(image.data[i]) - 255);
  return p;
}

QPlane EmptyQPlane(int width, int height, int channels) {
  QPlane p;
  p.width = width;
  p.height = height;
  p.channels = channels;
  p.q.resize(size_t(width) * height * channels);  // zero, untouched (ZeroPageAllocator)
  return p;
}

}  // namespace pixelzip::models::nn
