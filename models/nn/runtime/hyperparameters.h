// The "key=value,key=value" hyperparameter strings that model files and
// `pixelzip train --hyper` carry, parsed once for every architecture.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pixelzip::models::nn {

// Returns the (key, integer value) pairs in order; empty items are skipped.
// Throws pixelzip::Error(kModelInvalid) "bad hyperparameter '<item>'" for an item
// without '=' or whose value is not a whole integer.
std::vector<std::pair<std::string, int>> ParseHyperparameters(const std::string& hyper);

// One integer field of a shape that a hyperparameter string may set.
struct HyperField {
  const char* key;
  int* value;
};

// Stores each value of `hyper` in the field of its key (a later item overrides an earlier one). Throws
// pixelzip::Error(kModelInvalid) "unknown hyperparameter '<key>'" for a key not among `fields`, and as
// ParseHyperparameters.
void SetHyperparameters(const std::string& hyper, const std::vector<HyperField>& fields);

}  // namespace pixelzip::models::nn
