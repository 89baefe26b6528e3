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

}  // namespace pixelzip::models::nn
