// The neural models' catalog as seen by a build without them: no shipped neural
// models and no model-file loader. The sanitized codec replays (CMakeLists.txt
// here) compile the codec, the registry and order0-adaptive without LibTorch and
// link this in place of models/nn/catalog.cpp.
#include "models/nn/catalog.h"

namespace pixelzip::models::nn {

std::vector<ShippedModelEntry> ShippedModels() { return {}; }
ModelFileLoader FileLoader() { return {}; }

}  // namespace pixelzip::models::nn
