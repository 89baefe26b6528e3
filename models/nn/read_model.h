// The coding models' first step: their integer model from a serialized ModelFile, and the
// identity (architecture, SHA-256 of the file) the stream's header names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/identity.h"
#include "models/nn/runtime/model_file.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

// Parses `bytes` (`source` names them in errors; throws what ModelFile::Parse throws, and what M::Read
// throws with `source` put before its message), returns M::Read of the file and sets `identity` to
// `architecture` and its SHA-256.
template <class M>
M ReadModel(const std::vector<uint8_t>& bytes, const std::string& source, const char* architecture,
            ModelIdentity& identity) {
  const auto file = ModelFile::Parse(bytes.data(), bytes.size(), source);
  identity.architecture = architecture;
  identity.weights_sha256 = file.Sha256();
  try {
    return M::Read(file);
  } catch (const Error& e) {
    throw Error(e.code(), source + ": " + e.what());
  }
}

}  // namespace pixelzip::models::nn
