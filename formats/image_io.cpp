// Format detection, file reading and writing, shared checks.
#include "formats/image_io.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "formats/image_io_internal.h"

namespace pixelzip {
namespace {

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// Files larger than this are refused before they are read: no image within
// kMaxImageBytes needs a bigger PNG (uncompressed deflate adds ~0.01%) or PNM.
constexpr uint64_t kMaxFileBytes = 2 * kMaxImageBytes;

std::string ErrnoText(int err) { return err != 0 ? std::strerror(err) : "unknown error"; }

std::vector<uint8_t> ReadAll(std::FILE* f, const std::string& name) {
  std::vector<uint8_t> data;
  uint8_t buffer[1 << 16];
  while (true) {
    const size_t n = std::fread(buffer, 1, sizeof buffer, f);
    if (n > 0) {
      if (data.size() + n > kMaxFileBytes) {
        throw Error(ErrorCode::kLimitExceeded,
                    name + ": file is larger than " + std::to_string(kMaxFileBytes) + " bytes");
      }
      data.insert(data.end(), buffer, buffer + n);
    }
    if (n < sizeof buffer) {
      if (std::ferror(f)) throw Error(ErrorCode::kIo, name + ": cannot read: " + ErrnoText(errno));
      break;
    }
  }
  return data;
}

void WriteAll(std::FILE* f, const std::vector<uint8_t>& bytes, const std::string& name) {
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    throw Error(ErrorCode::kIo, name + ": cannot write: " + ErrnoText(errno));
  }
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

namespace formats_internal {

size_t CheckedImageBytes(uint64_t width, uint64_t height, uint64_t channels, const std::string& name) {
  // width, height < 2^32, so width * height < 2^64; check it before
  // multiplying by channels so nothing can wrap.
  const uint64_t area = width * height;
  if (area > kMaxImageBytes || area * channels > kMaxImageBytes) {
    throw Error(ErrorCode::kLimitExceeded,
                name + ": image of " + std::to_string(width) + "x" + std::to_string(height) + "x" +
                    std::to_string(channels) + " bytes is larger than the limit of " + std::to_string(kMaxImageBytes) +
                    " bytes");
  }
  return static_cast<size_t>(area * channels);
}

void ValidateImageForEncode(const Image& image, const char* what) {
  const std::string prefix = std::string(what) + ": ";
  if (image.channels < 1 || image.channels > 4) {
    throw Error(ErrorCode::kInvalidArgument,
                prefix + "images must have 1 to 4 channels, not " + std::to_string(image.channels));
  }
  if (image.width == 0 || image.height == 0 || image.width > 0x7fffffffu || image.height > 0x7fffffffu) {
    throw Error(ErrorCode::kInvalidArgument, prefix + "invalid dimensions " + std::to_string(image.width) + "x" +
                                                 std::to_string(image.height));
  }
  if (image.bit_depth != 8 && image.bit_depth != 16) {
    throw Error(ErrorCode::kInvalidArgument,
                prefix + "bit depth must be 8 or 16, not " + std::to_string(image.bit_depth));
  }
  if (image.pixels.size() != image.ByteCount()) {
    throw Error(ErrorCode::kInvalidArgument, prefix + "pixel buffer holds " + std::to_string(image.pixels.size()) +
                                                 " bytes, expected " + std::to_string(image.ByteCount()));
  }
}

}  // namespace formats_internal

Image ReadImageBytes(const uint8_t* data, size_t size, const std::string& name) {
  return ReadImageBytes(data, size, name, nullptr);
}

Image ReadImageBytes(const uint8_t* data, size_t size, const std::string& name, ImageMetadata* metadata) {
  if (size == 0) throw Error(ErrorCode::kTruncatedInput, name + ": the file is empty");

  const size_t head = size < 8 ? size : 8;
  if (std::memcmp(data, kPngSignature, head) == 0) {
    if (size < 8) throw Error(ErrorCode::kTruncatedInput, name + ": truncated PNG: the file ends inside the signature");
    return formats_internal::ReadPng(data, size, name, metadata);
  }
  if (size >= 8) {
    // A PNG signature with a few bytes changed is a damaged PNG (the
    // signature is designed to catch text-mode transfers), not another format.
    int matching = 0;
    for (int i = 0; i < 8; ++i) matching += data[i] == kPngSignature[i];
    if (matching >= 5) {
      throw Error(ErrorCode::kCorruptInput,
                  name + ": corrupt PNG: bad signature (damaged, e.g. by a text-mode transfer)");
    }
  }
  if (data[0] == 'P' && size >= 2) {
    switch (data[1]) {
      case '2':
      case '3':
      case '5':
      case '6':
      case '7':
        return formats_internal::ReadPnm(data, size, name, metadata);
      case '1':
      case '4':
        throw Error(ErrorCode::kUnsupported,
                    name + ": bitmap PNM (P" + static_cast<char>(data[1]) +
                        ") is not supported; use a greymap (P2, P5) or PAM (P7)");
      default:
        break;
    }
  }
  throw Error(ErrorCode::kUnsupported,
              name + ": unrecognised file format (pixelzip reads PNG and PNM: P2, P3, P5, P6, P7)");
}

Image ReadImageFile(const std::string& path) {
  if (path == "-") {
    const std::string name = "<stdin>";
    const std::vector<uint8_t> data = ReadAll(stdin, name);
    return ReadImageBytes(data.data(), data.size(), name);
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw Error(ErrorCode::kIo, path + ": cannot open: " + ErrnoText(errno));
  std::vector<uint8_t> data;
  try {
    data = ReadAll(f, path);
  } catch (...) {
    std::fclose(f);
    throw;
  }
  std::fclose(f);
  return ReadImageBytes(data.data(), data.size(), path);
}

std::vector<uint8_t> EncodeImage(const Image& image, FileFormat format, const std::vector<MetadataItem>& metadata,
                                 std::vector<std::string>* not_kept) {
  return format == FileFormat::kPnm ? EncodePnm(image, metadata, not_kept) : EncodePng(image, 6, metadata, not_kept);
}

std::vector<uint8_t> EncodeImage(const Image& image, FileFormat format, const std::vector<MetadataItem>& metadata,
                                 std::vector<std::string>* not_kept, const SourceFormat& source) {
  return format == FileFormat::kPnm ? EncodePnm(image, metadata, not_kept, source)
                                    : EncodePng(image, 6, metadata, not_kept, source);
}

std::vector<uint8_t> EncodeImage(const Image& image, FileFormat format) {
  return format == FileFormat::kPnm ? EncodePnm(image) : EncodePng(image);
}

FileFormat FormatForPath(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return FileFormat::kPng;
  const std::string ext = Lower(path.substr(dot));
  if (ext == ".ppm" || ext == ".pgm" || ext == ".pnm" || ext == ".pam") return FileFormat::kPnm;
  return FileFormat::kPng;
}

void WriteImageFile(const Image& image, const std::string& path) {
  WriteImageFile(image, path, FormatForPath(path));
}

void WriteImageFile(const Image& image, const std::string& path, FileFormat format) {
  const std::vector<uint8_t> bytes = EncodeImage(image, format);
  if (path == "-") {
    WriteAll(stdout, bytes, "<stdout>");
    if (std::fflush(stdout) != 0) throw Error(ErrorCode::kIo, "<stdout>: cannot write: " + ErrnoText(errno));
    return;
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw Error(ErrorCode::kIo, path + ": cannot open for writing: " + ErrnoText(errno));
  try {
    WriteAll(f, bytes, path);
  } catch (...) {
    std::fclose(f);
    throw;
  }
  if (std::fclose(f) != 0) throw Error(ErrorCode::kIo, path + ": cannot write: " + ErrnoText(errno));
}

}  // namespace pixelzip
