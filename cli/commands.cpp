#include "commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "atomic_file.h"
#include "command_util.h"
#include "formats/image_io.h"
#include "models/identity.h"
#include "pixelzip/codec.h"
#include "pixelzip/models.h"

namespace pixelzip::cli {
namespace {

bool HasImageExtension(const std::string& path) {
  for (const char* ext : {".png", ".ppm", ".pgm", ".pnm", ".pam"}) {
    if (EndsWithNoCase(path, ext)) return true;
  }
  return false;
}

// Refuses binary output to a terminal unless forced.
void CheckNotTerminal(const std::string& output, bool force) {
  if (output == "-" && !force && isatty(STDOUT_FILENO)) {
    throw CommandError("<stdout>", kExitUsage,
                       "refusing to write binary data to a terminal (redirect it, give -o FILE, or use --force)");
  }
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Refuses an output that exists (without --force) or that is the input, before any work is done.
void CheckOutput(const std::string& input, const std::string& output, bool force) {
  if (output == "-") return;
  if (input != "-" && SameFile(input, output)) {
    throw CommandError(output, kExitUsage, "is the input file; refusing to overwrite it");
  }
  if (IsDirectory(output)) throw CommandError(output, kExitIo, "is a directory");
  // A character device or FIFO (/dev/null, a pipe) is written through and replaces nothing.
  if (!force && OutputWouldReplace(output)) throw CommandError(output, kExitExists, OutputExistsError().what());
}

// Writes bytes to `output` ("-": stdout) atomically; errors name the output.
void WriteResult(const std::string& output, const std::vector<uint8_t>& bytes, bool force) {
  WithFile(DisplayName(output, true), [&] { WriteOutput(output, bytes, force); });
}

// --rm: the input goes once its output is complete; never stdin, and not when the
// output went to stdout (where it may not have been kept).
void RemoveInputIfAsked(bool remove, const std::string& input, const std::string& output, bool quiet) {
  if (!remove || input == "-") return;
  if (output == "-") {
    if (!quiet) std::fprintf(stderr, "%s\n", FormatErrorLine(input, "warning: --rm: not removed, the output went to stdout").c_str());
    return;
  }
  if (std::remove(input.c_str()) != 0) {
    throw CommandError(input, kExitIo, std::string("cannot remove the input (--rm): ") + std::strerror(errno));
  }
}

// One warning line on stderr per item of metadata that could not be kept.
void WarnNotKept(const std::string& file, const std::vector<std::string>& not_kept, bool quiet) {
  if (quiet) return;
  for (const std::string& what : not_kept) {
    std::fprintf(stderr, "%s\n", FormatErrorLine(file, "warning: not kept: " + what).c_str());
  }
}

// Reads an image (PNG/PNM) or decodes a .pxz stream, chosen by the file name.
Image LoadAnyImage(const std::string& path) {
  const std::string name = DisplayName(path, false);
  const std::vector<uint8_t> bytes = WithFile(name, [&] { return ReadInput(path); });
  if (EndsWithNoCase(path, ".pxz")) {
    return WithFile(name, [&] { return Decode(bytes); });
  }
  return WithFile(name, [&] { return ReadImageBytes(bytes.data(), bytes.size(), name); });
}

}  // namespace

const char* ExitCodeHelp() {
  return "Exit codes:\n"
         "  0   success\n"
         "  1   verify: the images differ\n"
         "  2   bad command line or argument; refusing to write binary data to a terminal\n"
         "  3   I/O error (a file could not be opened, read or written)\n"
         "  4   corrupt or truncated input\n"
         "  5   unsupported input (e.g. bitmap PNM P1/P4, a newer format version)\n"
         "  6   input beyond the decoder's limits, or out of memory\n"
         "  7   model mismatch, unknown model or invalid model file\n"
         "  8   the output exists (use --force to overwrite)\n"
         "  10  internal error (a bug in pixelzip)\n";
}

int ExitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return kExitUsage;
    case ErrorCode::kIo: return kExitIo;
    case ErrorCode::kCorruptInput:
    case ErrorCode::kTruncatedInput: return kExitCorrupt;
    case ErrorCode::kUnsupported: return kExitUnsupported;
    case ErrorCode::kLimitExceeded: return kExitLimit;
    case ErrorCode::kModelMismatch:
    case ErrorCode::kModelInvalid: return kExitModel;
    case ErrorCode::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

std::string FormatErrorLine(const std::string& file, const std::string& message) {
  std::string text = message;
  if (!file.empty() && text.compare(0, file.size() + 2, file + ": ") == 0) text.erase(0, file.size() + 2);
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (text.empty()) text = "failed";
  return file.empty() ? "pixelzip: " + text : "pixelzip: " + file + ": " + text;
}

std::string DefaultDecompressedName(const std::string& input) {
  if (EndsWithNoCase(input, ".pxz")) {
    const std::string stem = input.substr(0, input.size() - 4);
    if (!stem.empty() && stem.back() != '/' && HasImageExtension(stem)) return stem;
    return stem + ".png";
  }
  return input + ".png";
}

int RunCompress(const CompressOptions& o) {
  const std::string output = !o.output.empty() ? o.output : (o.input == "-" ? "-" : o.input + ".pxz");
  const std::string in_name = DisplayName(o.input, false);
  const std::string out_name = DisplayName(output, true);
  EncodeOptions options;
  options.order = ParseOrder(o.order);
  options.device = ParseDevice(o.device);
  options.threads = o.threads;
  options.model = o.model;
  options.adaptive = !o.no_adaptive;
  if (o.no_fallback) options.fallback = Fallback::kOff;
  options.adaptive_kind = static_cast<uint8_t>(o.stage_kind > 0 ? o.stage_kind : 3);
  CheckNotTerminal(output, o.force);
  CheckOutput(o.input, output, o.force);

  const auto start = Clock::now();
  const std::vector<uint8_t> bytes = WithFile(in_name, [&] { return ReadInput(o.input); });
  ImageMetadata metadata;
  const Image image = WithFile(in_name, [&] { return ReadImageBytes(bytes.data(), bytes.size(), in_name, &metadata); });
  // --strip drops the metadata, never the source's format (maxval, PNG colour type, palette).
  if (o.strip) metadata.items.clear(), metadata.not_kept.clear();
  options.metadata = std::move(metadata.items);
  options.source = metadata.source;
  if (o.effort >= 0) {
    std::string order, model;
    int stage_kind = 3;
    EffortChoice(o.effort, image.channels >= 3 ? 3 : 1, &order, &model, &stage_kind);
    options.order = ParseOrder(order);
    options.model = model;
    if (o.stage_kind == 0) options.adaptive_kind = static_cast<uint8_t>(stage_kind);
  }

  ProgressBar progress("compressing " + in_name);
  progress.SetMegapixels(double(image.width) * image.height / 1e6);
  if (!o.quiet) options.progress = progress.Callback();
  EncodeResult result;
  try {
    result = WithFile(in_name, [&] { return Encode(image, options); });
  } catch (const CommandError& e) {
    RethrowBlamingModel(e, o.model);
  }
  progress.Clear();
  WarnNotKept(in_name, metadata.not_kept, o.quiet);
  WarnNotKept(in_name, result.metadata_not_kept, o.quiet);
  if (!o.quiet && !o.output.empty() && HasImageExtension(output)) {
    std::fprintf(stderr, "%s\n",
                 FormatErrorLine(out_name, "warning: the name ends like an image, but the file holds a .pxz stream")
                     .c_str());
  }
  WriteResult(output, result.stream, o.force);
  RemoveInputIfAsked(o.remove_input, o.input, output, o.quiet);

  if (o.verbose) {
    const uint64_t subpixels = image.SubpixelCount();
    std::fprintf(stderr,
                 "%s -> %s: %ux%u, %u channel%s%s; %zu -> %zu bytes; %.4f bits/subpixel "
                 "(input file %.4f, model %.4f); coded by %s; %.2f s\n",
                 in_name.c_str(), out_name.c_str(), image.width, image.height, image.channels,
                 image.channels == 1 ? "" : "s", image.bit_depth == 16 ? ", 16-bit" : "", bytes.size(),
                 result.stream.size(),
                 BitsPerSubpixel(result.stream.size(), subpixels), BitsPerSubpixel(bytes.size(), subpixels),
                 subpixels ? result.model_bits / static_cast<double>(subpixels) : 0.0,
                 (result.architecture + (result.coding == Coding::kModel ? "" : " (fallback)")).c_str(),
                 SecondsSince(start));
  }
  return kExitOk;
}

int RunDecompress(const DecompressOptions& o) {
  const std::string output = !o.output.empty() ? o.output : (o.input == "-" ? "-" : DefaultDecompressedName(o.input));
  const std::string in_name = DisplayName(o.input, false);
  const std::string out_name = DisplayName(output, true);
  std::optional<FileFormat> format;
  if (o.format == "png") {
    format = FileFormat::kPng;
  } else if (o.format == "pnm") {
    format = FileFormat::kPnm;
  } else if (!o.format.empty()) {
    throw CommandError("", kExitUsage, "--format must be png or pnm, not '" + o.format + "'");
  }
  DecodeOptions options;
  options.device = ParseDevice(o.device);
  options.threads = o.threads;
  options.model = o.model;
  CheckNotTerminal(output, o.force);
  CheckOutput(o.input, output, o.force);

  const auto start = Clock::now();
  const std::vector<uint8_t> bytes = WithFile(in_name, [&] { return ReadInput(o.input); });
  ProgressBar progress("decompressing " + in_name);
  if (bytes.size() >= 4) {
    try {
      const StreamInfo head = ReadStreamInfo(bytes.data(), bytes.size(), options.limits);
      progress.SetMegapixels(double(head.width) * head.height / 1e6);
    } catch (const Error&) {
      // Decode reports it.
    }
  }
  if (!o.quiet) options.progress = progress.Callback();
  Image image;
  try {
    image = WithFile(in_name, [&] { return Decode(bytes, options); });
  } catch (const CommandError& e) {
    RethrowBlamingModel(e, o.model);
  }
  progress.Clear();
  const FileFormat out_format = format ? *format : (output == "-" ? FileFormat::kPng : FormatForPath(output));
  StreamInfo info = WithFile(in_name, [&] { return ReadStreamInfo(bytes.data(), bytes.size(), options.limits); });
  if (o.strip) info.metadata.clear();  // the metadata; the source's format (maxval, palette) stays
  const SourceFormat source = WithFile(in_name, [&] { return ReadSourceFormat(bytes.data(), bytes.size(), image); });
  if (info.metadata_unreadable && !o.quiet) {
    std::fprintf(stderr, "%s\n",
                 FormatErrorLine(in_name, "warning: the header's extension area (" +
                                              std::to_string(info.extension_bytes) +
                                              " bytes) holds no metadata this pixelzip can read; skipped")
                     .c_str());
  }
  // The kind of file that came in, where the stream records it (format 4.2: a palette PNG
  // with its PLTE and tRNS, another PNG colour type, a PNM maxval; EncodePng and EncodePnm
  // follow the record). Streams without the record (older ones, PNM sources of maxval 255 or
  // 65535): a palette PNG whenever one holds the pixels (RGB or RGBA, at most 256 distinct
  // pixels; EncodePng decides), whichever coding the encoder chose. Not when the metadata holds
  // bKGD or sBIT: the reader keeps those only from a source that was not a palette PNG, and a
  // palette PNG would drop them.
  const bool palette = std::none_of(info.metadata.begin(), info.metadata.end(), [](const MetadataItem& item) {
    return item.kind == MetadataItem::Kind::kPngChunk && (item.png_type == "bKGD" || item.png_type == "sBIT");
  });
  std::vector<std::string> not_kept;
  const std::vector<uint8_t> encoded = WithFile(out_name, [&] {
    if (out_format == FileFormat::kPng && source.empty()) return EncodePng(image, 6, info.metadata, &not_kept, palette);
    return EncodeImage(image, out_format, info.metadata, &not_kept, source);
  });
  WarnNotKept(out_name, not_kept, o.quiet);
  WriteResult(output, encoded, o.force);
  RemoveInputIfAsked(o.remove_input, o.input, output, o.quiet);

  if (o.verbose) {
    std::fprintf(stderr, "%s -> %s: %ux%u, %u channel%s%s; %zu -> %zu bytes (%s); %.2f s\n", in_name.c_str(),
                 out_name.c_str(), image.width, image.height, image.channels, image.channels == 1 ? "" : "s",
                 image.bit_depth == 16 ? ", 16-bit" : "", bytes.size(), encoded.size(), out_format == FileFormat::kPng ? "PNG" : "PNM",
                 SecondsSince(start));
  }
  return kExitOk;
}

void EffortChoice(int effort, uint32_t colour_channels, std::string* order, std::string* model, int* stage_kind) {
  if (effort < 0 || effort > 9) throw CommandError("", kExitUsage, "-e takes an effort from 0 to 9");
  *stage_kind = effort >= 7 ? 1 : 3;
  *order = "raster";
  *model = effort == 0 ? "order0-adaptive" : "default";
  if (effort >= 1 && effort <= 3) {
    for (const ShippedModel& m : ShippedModels()) {
      if (m.order == Order::kMultiscale &&
          std::find(m.default_for.begin(), m.default_for.end(), colour_channels) != m.default_for.end()) {
        *order = "multiscale";
      }
    }
  }
}

int RunEach(const std::vector<std::string>& inputs, const std::function<int(const std::string&)>& run) {
  int first_failure = kExitOk;
  for (const std::string& input : inputs) {
    int code = kExitOk;
    try {
      code = run(input);
    } catch (const CommandError& e) {
      std::fprintf(stderr, "%s\n", FormatErrorLine(e.file(), e.what()).c_str());
      code = e.exit_code();
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", FormatErrorLine(DisplayName(input, false), e.what()).c_str());
      code = ExitCodeFor(e.code());
    }
    if (code != kExitOk && first_failure == kExitOk) first_failure = code;
  }
  return first_failure;
}

namespace {
// "PNM maxval 1000", "palette PNG, 4-bit", "RGB PNG, 8-bit", "not recorded".
std::string DescribeSource(const SourceFormat& source) {
  std::string out;
  if (source.maxval != 0) out = "PNM maxval " + std::to_string(source.maxval);
  if (source.png_colour_type >= 0) {
    static const char* const kTypes[7] = {"grey", "?", "RGB", "palette", "grey+alpha", "?", "RGBA"};
    const int t = source.png_colour_type;
    out += (out.empty() ? "" : ", ") + std::string(t <= 6 ? kTypes[t] : "?") + " PNG, " +
           std::to_string(source.png_bit_depth) + "-bit";

  }
  return out.empty() ? "not recorded" : out;
}
}  // namespace

int RunInfo(const InfoOptions& o) {
  const std::string name = DisplayName(o.input, false);
  const std::vector<uint8_t> bytes = WithFile(name, [&] { return ReadInput(o.input); });
  const StreamInfo info = WithFile(name, [&] { return ReadStreamInfo(bytes.data(), bytes.size()); });
  const std::string hash = models::HexDigest(info.weights_sha256);
  const uint64_t subpixels = uint64_t{info.width} * info.height * info.channels;
  std::printf("file: %s\n", name.c_str());
  std::printf("format version: %u.%u\n", info.version_major, info.version_minor);
  std::printf("architecture: %s\n", info.architecture.c_str());
  std::printf("coding: %s\n", info.coding == Coding::kDeflate   ? "deflate (fallback, no model)"
                               : info.coding == Coding::kPalette ? "palette (fallback, no model)"
                                                                 : "model");
  const std::string model_name = info.coding == Coding::kModel ? ShippedModelName(info.weights_sha256) : "none";
  std::printf("model: %s\n", model_name.empty() ? "(not shipped with this build)" : model_name.c_str());
  std::printf("weights sha256: %s\n", hash.c_str());
  std::printf("order: %s\n", OrderName(info.order));
  if (info.order == Order::kRaster)
    std::printf("layout: %s\n", info.layout == Layout::kWavefront ? "wavefront" : "raster");
  std::printf("adaptive stage: %s\n", info.adaptive ? "yes" : "no");
  std::printf("width: %u\n", info.width);
  std::printf("height: %u\n", info.height);
  std::printf("channels: %u\n", info.channels);
  std::printf("bits per sample: %u\n", info.bits_per_sample);
  std::printf("header bytes: %" PRIu64 "\n", info.header_bytes);
  std::printf("payload bytes: %" PRIu64 "\n", info.payload_bytes);
  std::printf("file bytes: %zu\n", bytes.size());
  std::printf("pixel checksum: %08x\n", info.pixel_checksum);
  std::printf("bits per subpixel: %.4f\n", BitsPerSubpixel(bytes.size(), subpixels));
  std::string metadata;
  for (const MetadataItem& item : info.metadata) {
    metadata += (metadata.empty() ? "" : ", ") + DescribeMetadataItem(item) + " (" + std::to_string(item.data.size()) +
                " bytes)";
  }
  if (info.metadata_unreadable) metadata = "unreadable (" + std::to_string(info.extension_bytes) + " bytes skipped)";
  std::printf("metadata: %s\n", metadata.empty() ? "none" : metadata.c_str());
  std::printf("source format: %s\n", DescribeSource(info.source).c_str());
  std::fflush(stdout);
  if (std::ferror(stdout)) throw CommandError("<stdout>", kExitIo, "cannot write");
  return kExitOk;
}

namespace {
std::string ChannelNames(const std::vector<uint32_t>& channels) {
  std::string out;
  for (uint32_t c : channels) out += (out.empty() ? "" : ",") + std::string(c == 1 ? "grey" : c == 3 ? "rgb" : "?");
  return out.empty() ? "-" : out;
}
}  // namespace

int RunModels() {
  const std::vector<ShippedModel> models = ShippedModels();
  size_t width = 4;
  for (const ShippedModel& m : models) width = std::max(width, m.name.size());
  std::printf("%-*s  %-10s  %-8s  %s\n", static_cast<int>(width), "name", "order", "channels", "default");
  for (const ShippedModel& m : models) {
    const std::string def = m.default_for.empty() ? "-" : "yes (" + ChannelNames(m.default_for) + ")";
    std::printf("%-*s  %-10s  %-8s  %s\n", static_cast<int>(width), m.name.c_str(), OrderName(m.order),
                ChannelNames(m.colour_channels).c_str(), def.c_str());
  }
  std::fflush(stdout);
  if (std::ferror(stdout)) throw CommandError("<stdout>", kExitIo, "cannot write");
  return kExitOk;
}

int RunVerify(const VerifyOptions& o) {
  if (o.first == "-" && o.second == "-") throw CommandError("", kExitUsage, "only one input can be stdin");
  const Image a = LoadAnyImage(o.first);
  const Image b = LoadAnyImage(o.second);
  const std::string na = DisplayName(o.first, false), nb = DisplayName(o.second, false);
  std::string verdict;
  if (a.width != b.width || a.height != b.height || a.channels != b.channels || a.bit_depth != b.bit_depth) {
    verdict = "differ: " + na + " is " + std::to_string(a.width) + "x" + std::to_string(a.height) + "x" +
              std::to_string(a.channels) + " " + std::to_string(a.bit_depth) + "-bit, " + nb + " is " +
              std::to_string(b.width) + "x" + std::to_string(b.height) + "x" + std::to_string(b.channels) + " " +
              std::to_string(b.bit_depth) + "-bit";
  } else if (a.pixels != b.pixels) {
    size_t i = 0, count = 0;
    while (a.sample(i) == b.sample(i)) ++i;
    for (size_t j = i; j < a.SubpixelCount(); ++j) count += a.sample(j) != b.sample(j);
    const size_t pixel = i / a.channels;
    verdict = "differ: " + std::to_string(count) + " subpixels, first at x=" + std::to_string(pixel % a.width) +
              " y=" + std::to_string(pixel / a.width) + " channel " + std::to_string(i % a.channels) + " (" +
              std::to_string(a.sample(i)) + " vs " + std::to_string(b.sample(i)) + ")";
  }
  if (!o.quiet) {
    if (verdict.empty()) {
      std::printf("identical: %ux%u, %u channel%s%s\n", a.width, a.height, a.channels, a.channels == 1 ? "" : "s",
                  a.bit_depth == 16 ? ", 16-bit" : "");
    } else {
      std::printf("%s\n", verdict.c_str());
    }
  }
  return verdict.empty() ? kExitOk : kExitDifferent;
}

}  // namespace pixelzip::cli
