// The thread count a caller asks the coding engines for (EncodeOptions::threads,
// DecodeOptions::threads, the CLI's --threads), for the calling thread and what it starts.
// The codec sets it around one Encode or Decode (ScopedCodingThreads); the engines read it
// through DefaultCodingThreads() (models/nn/arch/local_pixelcnn/batch_engine.h), which falls
// back to PIXELZIP_THREADS and then to the machine's cores. The output never depends on it.
#pragma once

namespace pixelzip::models {

// The count set for this thread, or 0 when none is.
int RequestedCodingThreads();

// Sets the count for this thread while it lives (0: none, the default); restores the previous one.
class ScopedCodingThreads {
 public:
  explicit ScopedCodingThreads(int threads);
  ~ScopedCodingThreads();
  ScopedCodingThreads(const ScopedCodingThreads&) = delete;
  ScopedCodingThreads& operator=(const ScopedCodingThreads&) = delete;

 private:
  int previous_;
};

}  // namespace pixelzip::models
