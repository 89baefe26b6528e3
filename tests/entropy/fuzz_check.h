// Shared pieces of the range coder fuzz targets: the real check that aborts (tests/fuzz_check.h),
// and the 4-byte header that picks distributions.
#pragma once

#include <cstdint>
#include <vector>

#include "entropy/range_coder.h"
#include "tests/entropy/test_distributions.h"
#include "tests/fuzz_check.h"

namespace pixelzip::entropy::test_support {

// Header: byte 0 = shape (bits 0-2, mod kNumShapes), malformed tables (bit 3),
// log2 of the number of distinct distributions (bits 4-5); byte 1 = alphabet size - 1;
// bytes 2-3 = seed. Position i of the message uses cdfs[cdf_index(i)].
struct FuzzSetup {
  static constexpr size_t kHeaderBytes = 4;

  int num_symbols = 1;
  bool malformed = false;
  std::vector<std::vector<uint32_t>> cdfs;
  std::vector<int> cdf_index;  // per position, cycled

  FuzzSetup(const uint8_t* header, size_t max_positions) {
    const Shape shape = static_cast<Shape>((header[0] & 7) % kNumShapes);
    malformed = (header[0] & 8) != 0;
    const int num_cdfs = 1 << (((header[0] >> 4) & 3) * 2);  // 1, 4, 16, 64
    num_symbols = 1 + header[1];
    SplitMix64 rng(static_cast<uint64_t>(header[2]) | static_cast<uint64_t>(header[3]) << 8);
    for (int i = 0; i < num_cdfs; ++i) {
      if (malformed) {
        // Arbitrary entries: not increasing, beyond kTotal, zero frequencies.
        std::vector<uint32_t> cdf(num_symbols + 1);
        for (auto& c : cdf) {
          const uint32_t kind = rng.Below(4);
          c = kind == 0 ? rng.Below(kTotal + 2) : kind == 1 ? kTotal : kind == 2 ? static_cast<uint32_t>(rng.Next()) : 0;
        }
        cdfs.push_back(cdf);
      } else {
        cdfs.push_back(MakeCdf(shape, num_symbols, rng));
      }
    }
    for (size_t i = 0; i < max_positions && i < 4096; ++i) cdf_index.push_back(static_cast<int>(rng.Below(num_cdfs)));
  }

  const std::vector<uint32_t>& CdfAt(size_t position) const {
    return cdfs[cdf_index[position % cdf_index.size()]];
  }
};

}  // namespace pixelzip::entropy::test_support
