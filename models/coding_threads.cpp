#include "models/coding_threads.h"

#include <algorithm>

namespace pixelzip::models {
namespace {
thread_local int t_threads = 0;
}

int RequestedCodingThreads() { return t_threads; }

ScopedCodingThreads::ScopedCodingThreads(int threads) : previous_(t_threads) { t_threads = std::max(0, std::min(threads, 64)); }

ScopedCodingThreads::~ScopedCodingThreads() { t_threads = previous_; }

}  // namespace pixelzip::models
