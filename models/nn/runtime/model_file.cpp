#include "models/nn/runtime/model_file.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "models/identity.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace {
constexpr char kMagic[8] = {'P', 'X', 'Z', 'M', 'O', 'D', 'E', 'L'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxEntryCount = 1u << 16;
enum : uint8_t { kI8 = 0, kI16 = 1, kI32 = 2, kText = 3 };

void PutLe(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

class Reader {
 public:
  Reader(const uint8_t* d, size_t n, const std::string& src) : d_(d), n_(n), src_(src) {}
  uint64_t Le(int bytes) {
    Need(bytes);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(d_[pos_ + i]) << (8 * i);
    pos_ += bytes;
    return v;
  }
  const uint8_t* Bytes(uint64_t count) {
    Need(count);
    const uint8_t* p = d_ + pos_;
    pos_ += count;
    return p;
  }
  size_t remaining() const { return n_ - pos_; }
  [[noreturn]] void Fail(const std::string& why) const {
    throw Error(ErrorCode::kModelInvalid, src_ + ": model file " + why);
  }

 private:
  void Need(uint64_t count) {
    if (count > n_ - pos_) Fail("is truncated");
  }
  const uint8_t* d_;
  size_t n_, pos_ = 0;
  std::string src_;
};
}  // namespace

void ModelFile::PutText(const std::string& name, const std::string& value) { entries_[name] = Entry{kText, value, {}, {}, {}}; }
void ModelFile::PutInt8(const std::string& name, const std::vector<int8_t>& v) { entries_[name] = Entry{kI8, {}, v, {}, {}}; }
void ModelFile::PutInt16(const std::string& name, const std::vector<int16_t>& v) { entries_[name] = Entry{kI16, {}, {}, v, {}}; }
void ModelFile::PutInt32(const std::string& name, const std::vector<int32_t>& v) { entries_[name] = Entry{kI32, {}, {}, {}, v}; }
bool ModelFile::Has(const std::string& name) const { return entries_.count(name) != 0; }

const ModelFile::Entry& ModelFile::Get(const std::string& name, uint8_t type) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw Error(ErrorCode::kModelInvalid, "model file has no entry '" + name + "'");
  if (it->second.type != type) throw Error(ErrorCode::kModelInvalid, "model file entry '" + name + "' has the wrong type");
  return it->second;
}
const std::string& ModelFile::Text(const std::string& name) const { return Get(name, kText).text; }
template <class V>
static const V& CheckCount(const V& v, const std::string& name, size_t expected) {
  if (v.size() != expected)
    throw Error(ErrorCode::kModelInvalid, "model file entry '" + name + "' has " + std::to_string(v.size()) +
                                              " values, expected " + std::to_string(expected));
  return v;
}
const std::vector<int8_t>& ModelFile::Int8(const std::string& name, size_t n) const { return CheckCount(Get(name, kI8).i8, name, n); }
const std::vector<int16_t>& ModelFile::Int16(const std::string& name, size_t n) const { return CheckCount(Get(name, kI16).i16, name, n); }
const std::vector<int32_t>& ModelFile::Int32(const std::string& name, size_t n) const { return CheckCount(Get(name, kI32).i32, name, n); }

std::vector<uint8_t> ModelFile::Serialize() const {
  std::vector<uint8_t> out(kMagic, kMagic + 8);
  PutLe(out, kVersion, 4);
  PutLe(out, entries_.size(), 4);
  for (const auto& [name, e] : entries_) {
    PutLe(out, name.size(), 2);
    out.insert(out.end(), name.begin(), name.end());
    out.push_back(e.type);
    switch (e.type) {
      case kText: PutLe(out, e.text.size(), 8); out.insert(out.end(), e.text.begin(), e.text.end()); break;
      case kI8: PutLe(out, e.i8.size(), 8); for (auto v : e.i8) out.push_back(uint8_t(v)); break;
      case kI16: PutLe(out, e.i16.size(), 8); for (auto v : e.i16) PutLe(out, uint16_t(v), 2); break;
      case kI32: PutLe(out, e.i32.size(), 8); for (auto v : e.i32) PutLe(out, uint32_t(v), 4); break;
    }
  }
  const auto digest = models::Sha256(out.data(), out.size());
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

std::array<uint8_t, 32> ModelFile::Sha256() const {
  const auto bytes = Serialize();
  std::array<uint8_t, 32> d;
  std::memcpy(d.data(), bytes.data() + bytes.size() - 32, 32);
  return d;
}

ModelFile ModelFile::Parse(const uint8_t* data, size_t size, const std::string& source) {
  Reader r(data, size, source);
  if (size < 8 + 4 + 4 + 32 || std::memcmp(data, kMagic, 8) != 0) r.Fail("has no PXZMODEL magic");
  const auto digest = models::Sha256(data, size - 32);
  if (std::memcmp(digest.data(), data + size - 32, 32) != 0) r.Fail("is corrupt (SHA-256 mismatch)");
  Reader body(data, size - 32, source);
  body.Bytes(8);
  if (body.Le(4) != kVersion) r.Fail("has an unsupported version");
  const uint64_t count = body.Le(4);
  if (count > kMaxEntryCount) r.Fail("has too many entries");
  ModelFile f;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t name_len = body.Le(2);
    const uint8_t* name_p = body.Bytes(name_len);
    std::string name(reinterpret_cast<const char*>(name_p), name_len);
    const uint8_t type = uint8_t(body.Le(1));
    const uint64_t n = body.Le(8);
    Entry e;
    e.type = type;
    const uint64_t width = type == kI16 ? 2 : type == kI32 ? 4 : 1;
    if (type > kText) r.Fail("entry '" + name + "' has an unknown type");
    if (n > body.remaining() / width) r.Fail("entry '" + name + "' is truncated");
    const uint8_t* p = body.Bytes(n * width);
    switch (type) {
      case kText: e.text.assign(reinterpret_cast<const char*>(p), n); break;
      case kI8: e.i8.resize(n); std::memcpy(e.i8.data(), p, n); break;
      case kI16: e.i16.resize(n); for (uint64_t j = 0; j < n; ++j) e.i16[j] = int16_t(uint16_t(p[2 * j] | (p[2 * j + 1] << 8))); break;
      case kI32:
        e.i32.resize(n);
        for (uint64_t j = 0; j < n; ++j)
          e.i32[j] = int32_t(uint32_t(p[4 * j]) | uint32_t(p[4 * j + 1]) << 8 | uint32_t(p[4 * j + 2]) << 16 | uint32_t(p[4 * j + 3]) << 24);
        break;
    }
    if (!f.entries_.emplace(name, std::move(e)).second) r.Fail("repeats entry '" + name + "'");
  }
  if (body.remaining() != 0) r.Fail("has trailing bytes");
  return f;
}

ModelFile ModelFile::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open model file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return Parse(bytes.data(), bytes.size(), path);
}

void ModelFile::Save(const std::string& path) const {
  const auto bytes = Serialize();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw Error(ErrorCode::kIo, tmp + ": cannot write model file");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace pixelzip::models::nn
