// Replays a libFuzzer target (LLVMFuzzerTestOneInput) over corpus files: a plain
// program for ctest, built with gcc or clang under AddressSanitizer and UBSan, shared
// by every area's fuzz targets (tests/{entropy,formats,codec}/CMakeLists.txt).
//   fuzz_replay [--prefixes] DIR_OR_FILE...
// Directories are walked recursively; files are replayed in sorted order. With
// --prefixes every input is also replayed cut to half and to nine tenths of its size
// (truncation is the commonest damage). Fails (exit 2) when no input was found, so a
// wrong corpus path does not pass silently.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  bool prefixes = false;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--prefixes") == 0) {
      prefixes = true;
      continue;
    }
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
    std::vector<size_t> cuts = {bytes.size()};
    if (prefixes) cuts.insert(cuts.end(), {bytes.size() / 2, bytes.size() * 9 / 10});
    for (size_t cut : cuts) {
      // Exact-size heap copy so that an over-read is caught by AddressSanitizer.
      std::vector<uint8_t> input(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
      LLVMFuzzerTestOneInput(input.data(), input.size());
    }
  }
  std::printf("fuzz_replay: %zu inputs passed%s\n", inputs.size(), prefixes ? " (and their prefixes)" : "");
  return 0;
}
