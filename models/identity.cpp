#include "models/identity.h"

#include <openssl/evp.h>

#include <algorithm>

#include "pixelzip/error.h"

namespace pixelzip::models {

std::array<uint8_t, 32> Sha256(const void* data, size_t size) {
  std::array<uint8_t, 32> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data, size, digest.data(), &length, EVP_sha256(), nullptr) != 1 || length != digest.size())
    throw Error(ErrorCode::kInternal, "OpenSSL SHA-256 failed");
  return digest;
}

std::string HexDigest(const std::array<uint8_t, 32>& digest) {
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : digest) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

std::string DescribeIdentity(const ModelIdentity& identity) {
  return identity.architecture + " (sha256 " + HexDigest(identity.weights_sha256) + ")";
}

bool IsValidArchitectureName(const std::string& architecture) {
  if (architecture.empty() || architecture.size() > 64) return false;
  return std::all_of(architecture.begin(), architecture.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace pixelzip::models
