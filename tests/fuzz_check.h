// A real check for the fuzz targets (codec, entropy): aborts, so that libFuzzer and the
// sanitized replays report it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define PIXELZIP_FUZZ_CHECK(condition)                                                        \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
