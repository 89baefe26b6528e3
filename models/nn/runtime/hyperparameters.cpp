#include "models/nn/runtime/hyperparameters.h"

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

}  // namespace pixelzip::models::nn
