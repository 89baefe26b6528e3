// The taps of a causal kernel x kernel window in raster order: the rows above the pixel
// and the pixels left of it in its row, as (dy, dx), row by row.
#pragma once

#include <utility>
#include <vector>

namespace pixelzip::models::nn {

inline std::vector<std::pair<int, int>> CausalTaps(int kernel) {
  std::vector<std::pair<int, int>> taps;
  const int r = kernel / 2;
  for (int dy = -r; dy <= 0; ++dy)
    for (int dx = -r; dx <= r; ++dx)
      if (dy < 0 || dx < 0) taps.emplace_back(dy, dx);
  return taps;
}

}  // namespace pixelzip::models::nn
