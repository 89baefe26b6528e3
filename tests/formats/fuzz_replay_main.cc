// Replays the formats fuzz target over files, as an ordinary ctest program
// built under AddressSanitizer and UBSan. Usage: fuzz_replay DIR_OR_FILE...
// Directories are walked recursively. Fails when no input was found.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path path(argv[i]);
    if (fs::is_directory(path)) {
      for (const auto& entry : fs::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) inputs.push_back(entry.path());
      }
    } else if (fs::is_regular_file(path)) {
      inputs.push_back(path);
    } else {
      std::fprintf(stderr, "fuzz_replay: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "fuzz_replay: no inputs\n");
    return 2;
  }
  for (const fs::path& path : inputs) {
    std::ifstream file(path, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    // Exact-size heap copy, so an over-read is caught by AddressSanitizer;
    // every prefix too, since truncation is the commonest damage.
    for (size_t cut : {bytes.size(), bytes.size() / 2, bytes.size() * 9 / 10}) {
      std::vector<uint8_t> input(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
      LLVMFuzzerTestOneInput(input.data(), input.size());
    }
  }
  std::printf("fuzz_replay: %zu inputs passed\n", inputs.size());
  return 0;
}
