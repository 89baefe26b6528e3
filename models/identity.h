// What names a model: its architecture and the SHA-256 of its exact model file
// bytes (a stream records both; docs/format.md). The project's one SHA-256.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace pixelzip::models {

struct ModelIdentity {
  std::string architecture;                // e.g. "order0-adaptive", "pixelcnn++"
  std::array<uint8_t, 32> weights_sha256;  // SHA-256 of the exact model file bytes
};

// SHA-256 (OpenSSL EVP) of `size` bytes. Throws pixelzip::Error kInternal if OpenSSL fails.
std::array<uint8_t, 32> Sha256(const void* data, size_t size);
// Lower-case hex of a digest (64 characters).
std::string HexDigest(const std::array<uint8_t, 32>& digest);
// "architecture (sha256 0123abcd...)" for messages; the full hash.
std::string DescribeIdentity(const ModelIdentity& identity);
// True when `architecture` is 1-64 characters, each printable ASCII other than space.
bool IsValidArchitectureName(const std::string& architecture);

}  // namespace pixelzip::models
