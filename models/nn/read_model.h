// The coding models' first step: their integer model from a serialized ModelFile, and the
// identity (architecture, SHA-256 of the file) the stream's header names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/identity.h"
#include "models/nn/runtime/model_file.h"

namespace pixelzip::models::nn {

// Parses `bytes` (`source` names them in errors; throws what ModelFile::Parse and M::Read
// throw), returns M::Read of the file and sets `identity` to `architecture` and its SHA-256.
template <class M>
M ReadModel(const std::vector<uint8_t>& bytes, const std::string& source, const char* architecture,
            ModelIdentity& identity) {
  const auto file = ModelFile::Parse(bytes.data(), bytes.size(), source);
  M model = M::Read(file);
  identity.architecture = architecture;
  identity.weights_sha256 = file.Sha256();
  return model;
}

}  // namespace pixelzip::models::nn
