// Model files (docs/design.md section 5.4): a flat list of named integer arrays and
// strings, followed by the SHA-256 of everything before it. The SHA-256 is the
// model's identity in the container. Little-endian throughout.
//
//   magic "PXZMODEL" | u32 version (1) | u32 entry count
//   entry: u16 name length | name | u8 type (0 int8, 1 int16, 2 int32, 3 text) | u64 count | data
//   32-byte SHA-256 of all preceding bytes
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pixelzip::models::nn {

class ModelFile {
 public:
  void PutText(const std::string& name, const std::string& value);
  void PutInt8(const std::string& name, const std::vector<int8_t>& v);
  void PutInt16(const std::string& name, const std::vector<int16_t>& v);
  void PutInt32(const std::string& name, const std::vector<int32_t>& v);

  // Throw pixelzip::Error(kModelInvalid) naming the entry when missing or of another type/size.
  const std::string& Text(const std::string& name) const;
  const std::vector<int8_t>& Int8(const std::string& name, size_t expected_count) const;
  const std::vector<int16_t>& Int16(const std::string& name, size_t expected_count) const;
  const std::vector<int32_t>& Int32(const std::string& name, size_t expected_count) const;
  bool Has(const std::string& name) const;

  std::vector<uint8_t> Serialize() const;
  // Verifies magic, version, bounds and the trailing SHA-256; throws kModelInvalid with `source` named.
  static ModelFile Parse(const uint8_t* data, size_t size, const std::string& source);
  static ModelFile Load(const std::string& path);
  void Save(const std::string& path) const;  // written to a temporary file, then renamed

  // SHA-256 of the serialized bytes before the trailer (equal to the trailer).
  std::array<uint8_t, 32> Sha256() const;

 private:
  struct Entry {
    uint8_t type = 0;
    std::string text;
    std::vector<int8_t> i8;
    std::vector<int16_t> i16;
    std::vector<int32_t> i32;
  };
  std::map<std::string, Entry> entries_;
  const Entry& Get(const std::string& name, uint8_t type) const;
};

}  // namespace pixelzip::models::nn
