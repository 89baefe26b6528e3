#include "models/nn/runtime/hyperparameters.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

std::vector<std::pair<std::string, int>> ParseHyperparameters(const std::string& hyper) {
  std::vector<std::pair<std::string, int>> out;
  std::stringstream ss(hyper);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw Error(ErrorCode::kModelInvalid, "bad hyperparameter '" + item + "'");
    int value = 0;
    try {
      size_t used = 0;
      value = std::stoi(item.substr(eq + 1), &used);
      if (used != item.size() - eq - 1) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      throw Error(ErrorCode::kModelInvalid, "bad hyperparameter '" + item + "'");
    }
    out.emplace_back(item.substr(0, eq), value);
  }
  return out;
}

void SetHyperparameters(const std::string& hyper, const std::vector<HyperField>& fields) {
  for (const auto& [key, value] : ParseHyperparameters(hyper)) {
    auto field = std::find_if(fields.begin(), fields.end(), [&](const HyperField& f) { return key == f.key; });
    if (field == fields.end()) throw Error(ErrorCode::kModelInvalid, "unknown hyperparameter '" + key + "'");
    *field->value = value;
  }
}

}  // namespace pixelzip::models::nn
