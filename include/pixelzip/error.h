// pixelzip's one error type. Every library function reports failure by throwing
// pixelzip::Error; nothing else escapes the public API (LibTorch, libpng and
// std exceptions are translated where they occur).
#pragma once

#include <stdexcept>
#include <string>

namespace pixelzip {

enum class ErrorCode {
  kInvalidArgument,  // caller passed something the function does not accept
  kIo,               // a file could not be opened, read or written
  kCorruptInput,     // input bytes are malformed (bad magic, bad checksum, ...)
  kTruncatedInput,   // input ended before the format said it would
  kUnsupported,      // valid input that this version does not handle (PNM bitmaps, a future format or stage kind)
  kLimitExceeded,    // dimensions or memory beyond the configured limits
  kModelMismatch,    // stream was made with a model other than the one given or found
  kModelInvalid,     // a model file is corrupt or fails its exactness proof
  kInternal,         // a bug in pixelzip
};

inline const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kIo: return "I/O error";
    case ErrorCode::kCorruptInput: return "corrupt input";
    case ErrorCode::kTruncatedInput: return "truncated input";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kLimitExceeded: return "limit exceeded";
    case ErrorCode::kModelMismatch: return "model mismatch";
    case ErrorCode::kModelInvalid: return "invalid model";
    case ErrorCode::kInternal: return "internal error";
  }
  return "error";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace pixelzip
