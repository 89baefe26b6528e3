// Shared by the codec tests and make_golden: deterministic test images, PNM/PAM
// files for expected pixels, header patching, and the list of golden files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec/container.h"
#include "pixelzip/codec.h"
#include "pixelzip/image.h"

namespace pixelzip::test {

// True when this build ships the model `name` (builds without neural models ship only the
// reference model).
inline bool Ships(const std::string& name) {
  const std::vector<std::string> shipped = ShippedModelNames();
  return std::find(shipped.begin(), shipped.end(), name) != shipped.end();
}

// Encode options for the reference model. The codec tests and the golden files use it
// explicitly, so they do not depend on which model is the default.
// `adaptive` false writes format 1.0 streams (the model alone), true format 2.0 with
// the stage of kind `kind` (1 unless asked: the valid2_* and v2_* goldens are kind 1).
inline EncodeOptions Order0Options(bool adaptive = false, uint8_t kind = 1) {
  EncodeOptions options;
  options.model = "order0-adaptive";
  options.adaptive = adaptive;
  options.adaptive_kind = kind;
  return options;
}

// A smooth gradient with a little deterministic noise; alpha (channels 2 and 4)
// is opaque, transparent and partly transparent in different areas, as alpha
// planes usually are.
inline Image MakeImage(uint32_t width, uint32_t height, uint32_t channels, uint32_t seed = 1) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.resize(size_t{width} * height * channels);
  uint32_t state = seed * 2654435761u + 12345u;
  auto noise = [&state] {
    state = state * 1103515245u + 12345u;
    return (state >> 16) % 9;  // 0..8
  };
  const bool alpha = channels == 2 || channels == 4;
  const uint32_t colour = alpha ? channels - 1 : channels;
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      for (uint32_t c = 0; c < colour; ++c)
        image.at(y, x, c) = static_cast<uint8_t>((x * (7 + 5 * c) + y * (11 - 3 * c) + 40 * c + noise()) & 255);
      if (alpha) {
        const uint32_t band = width ? (4 * x) / width : 0;  // 0..3 across the image
        image.at(y, x, channels - 1) = band == 0 ? 255 : band == 1 ? 0 : band == 2 ? static_cast<uint8_t>(y * 37) : 255;
      }
    }
  }
  return image;
}

// A horizontal ramp, the same in every row (PNG's "up" filter turns it into zeros): the
// deflate coding's case.
inline Image MakeRamp(uint32_t width, uint32_t height, uint32_t channels) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.resize(image.SubpixelCount());
  for (uint32_t y = 0; y < height; ++y)
    for (uint32_t x = 0; x < width; ++x)
      for (uint32_t c = 0; c < channels; ++c) image.at(y, x, c) = static_cast<uint8_t>(x * (c + 1) + 17 * c);
  return image;
}

// Exactly `colours` (1-256) distinct pixels in diagonal bands with some noise in where the
// bands fall: the palette coding's case.
inline Image MakeFewColours(uint32_t width, uint32_t height, uint32_t channels, uint32_t colours, uint32_t seed) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.resize(image.SubpixelCount());
  auto colour = [](uint32_t k, uint32_t c) { return static_cast<uint8_t>(k * (37 + 50 * c) + c); };  // k -> distinct
  uint32_t state = seed;
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      state = state * 1103515245u + 12345u;
      const uint32_t k = ((x / 3 + y / 2) + ((state >> 16) % 3 == 0 ? 1 : 0)) % colours;
      for (uint32_t c = 0; c < channels; ++c) image.at(y, x, c) = colour(k, c);
    }
  }
  // Every colour at least once (the first pixels), so that the count is exact.
  for (uint32_t k = 0; k < colours && k < width * height; ++k)
    for (uint32_t c = 0; c < channels; ++c) image.pixels[k * channels + c] = colour(k, c);
  return image;
}

inline std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFileBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Binary PGM (1 channel), PPM (3) or PAM (2, 4), maxval 255 (65535 for 16-bit images).
inline std::vector<uint8_t> PnmBytes(const Image& image) {
  std::ostringstream head;
  const char* maxval = image.bit_depth == 16 ? "65535" : "255";
  if (image.channels == 1 || image.channels == 3) {
    head << (image.channels == 1 ? "P5" : "P6") << "\n" << image.width << " " << image.height << "\n" << maxval << "\n";
  } else {
    head << "P7\nWIDTH " << image.width << "\nHEIGHT " << image.height << "\nDEPTH " << image.channels
         << "\nMAXVAL " << maxval << "\nTUPLTYPE " << (image.channels == 2 ? "GRAYSCALE_ALPHA" : "RGB_ALPHA") << "\nENDHDR\n";
  }
  const std::string h = head.str();
  std::vector<uint8_t> bytes(h.begin(), h.end());
  bytes.insert(bytes.end(), image.pixels.begin(), image.pixels.end());
  return bytes;
}

// Reads what PnmBytes writes (and nothing fancier).
inline Image ParsePnm(const std::vector<uint8_t>& bytes) {
  const std::string text(bytes.begin(), bytes.end());
  std::istringstream in(text);
  std::string magic;
  in >> magic;
  Image image;
  if (magic == "P5" || magic == "P6") {
    unsigned maxval = 0;
    in >> image.width >> image.height >> maxval;
    image.channels = magic == "P5" ? 1 : 3;
    image.bit_depth = maxval > 255 ? 16 : 8;
    in.get();  // the one whitespace byte before the pixels
  } else if (magic == "P7") {
    std::string key;
    while (in >> key && key != "ENDHDR") {
      std::string value;
      in >> value;
      if (key == "WIDTH") image.width = static_cast<uint32_t>(std::stoul(value));
      if (key == "HEIGHT") image.height = static_cast<uint32_t>(std::stoul(value));
      if (key == "DEPTH") image.channels = static_cast<uint32_t>(std::stoul(value));
      if (key == "MAXVAL") image.bit_depth = std::stoul(value) > 255 ? 16 : 8;
    }
    in.get();
  } else {
    throw std::runtime_error("not a PNM/PAM file");
  }
  const size_t offset = static_cast<size_t>(in.tellg());
  if (offset + image.ByteCount() != bytes.size()) throw std::runtime_error("PNM size mismatch");
  image.pixels.assign(bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.end());
  return image;
}

// Parses a stream's header (with limits off), so that tests can change fields.
inline codec::Header HeaderOf(const std::vector<uint8_t>& stream, size_t* header_bytes) {
  Limits unlimited;
  unlimited.max_width = unlimited.max_height = unlimited.max_pixels = unlimited.max_memory_bytes = ~uint64_t{0};
  return codec::ReadHeader(stream.data(), stream.size(), unlimited, header_bytes);
}

// `header` (CRC recomputed) followed by `stream`'s payload.
inline std::vector<uint8_t> WithHeader(const std::vector<uint8_t>& stream, const codec::Header& header) {
  size_t old_bytes = 0;
  HeaderOf(stream, &old_bytes);
  std::vector<uint8_t> out = codec::WriteHeader(header);
  out.insert(out.end(), stream.begin() + static_cast<std::ptrdiff_t>(old_bytes), stream.end());
  return out;
}

// Recomputes the header CRC after raw byte edits of a header of `header_bytes` bytes.
inline void FixHeaderCrc(std::vector<uint8_t>& stream, size_t header_bytes) {
  const uint32_t crc = codec::Crc32(stream.data(), header_bytes - 4);
  for (int i = 0; i < 4; ++i) stream[header_bytes - 4 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

// Byte offset of the channel-count field for a 1.x-3.x header whose architecture has `arch_len` bytes.
inline size_t ChannelsOffset(size_t arch_len) { return 4 + 2 + 2 + 1 + arch_len + 32 + 1; }

// `stream` (written by this build, format 4.x) with its header in the layout a 1.x-3.x writer
// gave it (codec::LegacyMajorVersionFor): the payload is the same, and the pre-4.0 golden
// files are exactly these bytes.
inline std::vector<uint8_t> Legacy(const std::vector<uint8_t>& stream) {
  size_t header_bytes = 0;
  codec::Header h = HeaderOf(stream, &header_bytes);
  h.version_major = codec::LegacyMajorVersionFor(h);
  return WithHeader(stream, h);
}

// The 4.x twin of a pre-4.0 golden file: the same image coded by this build's writer.
inline std::string CompactGoldenFile(const std::string& stem) { return "compact_" + stem + ".pxz"; }

// ---- Golden files (tests/data/golden/, written by make_golden) ----

struct ValidGolden {
  const char* stem;  // <stem>.pxz and <stem>.<pnm extension>
  uint32_t width, height, channels, seed;
  bool adaptive = false;  // false: a format 1.0 stream; true: 2.0, through the adaptive stage
  uint8_t kind = 1;       // the stage's kind (docs/format.md section 3.1)
};
inline const std::vector<ValidGolden>& ValidGoldens() {
  static const std::vector<ValidGolden> cases = {
      {"valid_rgb_16x12", 16, 12, 3, 1},
      {"valid_grey_5x3", 5, 3, 1, 2},
      {"valid_grey_alpha_6x5", 6, 5, 2, 3},
      {"valid_rgba_9x7", 9, 7, 4, 4},
      {"valid2_rgb_16x12", 16, 12, 3, 1, true},
      {"valid2_grey_5x3", 5, 3, 1, 2, true},
      {"valid2_grey_alpha_6x5", 6, 5, 2, 3, true},
      {"valid2_rgba_9x7", 9, 7, 4, 4, true},
      {"valid2_rgb_1x1", 1, 1, 3, 5, true},
      {"light_rgb_16x12", 16, 12, 3, 1, true, 2},
      {"light_grey_5x3", 5, 3, 1, 2, true, 2},
      {"light_grey_alpha_6x5", 6, 5, 2, 3, true, 2},
      {"light_rgb_1x1", 1, 1, 3, 5, true, 2},
      {"light3_rgb_16x12", 16, 12, 3, 1, true, 3},
      {"light3_grey_5x3", 5, 3, 1, 2, true, 3},
      {"light3_grey_alpha_6x5", 6, 5, 2, 3, true, 3},
      {"light3_rgb_1x1", 1, 1, 3, 5, true, 3},
  };
  return cases;
}
inline std::string PnmExtension(uint32_t channels) {
  return channels == 1 ? ".pgm" : channels == 3 ? ".ppm" : ".pam";
}

// Version 2.0 streams in the wavefront layout (order byte 2), coded with the shipped local-pixelcnn
// models (the layout needs a model with a bounded causal window); same checks as ValidGoldens.
// With `adaptive` the stream also has the adaptive stage, following the wavefront (positions 2);
// without, its stage record is empty.
struct WavefrontGolden {
  const char* stem;
  const char* model;
  uint32_t width, height, channels, seed;
  bool adaptive;
  uint8_t kind = 1;  // the stage's kind when `adaptive`
};
inline const std::vector<WavefrontGolden>& WavefrontGoldens() {
  static const std::vector<WavefrontGolden> cases = {
      {"wavefront_rgb_16x12", "local-pixelcnn-rgb", 16, 12, 3, 21, false},
      {"wavefront_grey_alpha_7x5", "local-pixelcnn-grey", 7, 5, 2, 22, false},
      {"wavefront_rgba_3x9", "local-pixelcnn-rgb", 3, 9, 4, 23, false},
      {"wavefront2_rgb_16x12", "local-pixelcnn-rgb", 16, 12, 3, 21, true},
      {"wavefront2_grey_9x4", "local-pixelcnn-grey", 9, 4, 1, 24, true},
      {"wavefront3_rgb_16x12", "local-pixelcnn-rgb", 16, 12, 3, 21, true, 2},
      {"wavefront3_grey_9x4", "local-pixelcnn-grey", 9, 4, 1, 24, true, 2},
      {"wavefront4_rgb_16x12", "local-pixelcnn-rgb", 16, 12, 3, 21, true, 3},
      {"wavefront4_grey_9x4", "local-pixelcnn-grey", 9, 4, 1, 24, true, 3},
  };
  return cases;
}
inline EncodeOptions WavefrontOptions(const WavefrontGolden& g) {
  EncodeOptions options;
  options.model = g.model;
  options.layout = Layout::kWavefront;
  options.adaptive = g.adaptive;
  options.adaptive_kind = g.kind;
  return options;
}

// Version 2.0 streams in multiscale order (order byte 1) with the adaptive stage given
// the model's positions (positions 3), coded with the shipped multiscale-pixelcnn-rgb
// model; same checks as ValidGoldens.
struct MultiscaleGolden {
  const char* stem;
  uint32_t width, height, channels, seed;
  uint8_t kind = 1;  // the stage's kind
};
inline const std::vector<MultiscaleGolden>& MultiscaleGoldens() {
  static const std::vector<MultiscaleGolden> cases = {
      {"multiscale3_rgb_16x12", 16, 12, 3, 31},
      {"multiscale3_rgba_9x7", 9, 7, 4, 32},
      {"multiscale3_rgb_1x1", 1, 1, 3, 33},
      {"multiscale3_light_rgb_13x9", 13, 9, 3, 34, 2},
      {"multiscale3_light3_rgb_13x9", 13, 9, 3, 34, 3},
  };
  return cases;
}
inline EncodeOptions MultiscaleOptions(const MultiscaleGolden& g) {
  EncodeOptions options;
  options.model = "multiscale-pixelcnn-rgb";
  options.order = Order::kMultiscale;
  options.adaptive = true;
  options.adaptive_kind = g.kind;
  return options;
}
// Multiscale streams written before the models stated positions (the stage in stream
// order, positions 0; by pixelzip 78db817's CLI, `compress --order multiscale`): they
// must decode to their pixels (re-encoding now writes positions 3).
struct LegacyMultiscaleGolden {
  const char* stem;
  uint32_t channels;
};
inline const std::vector<LegacyMultiscaleGolden>& LegacyMultiscaleGoldens() {
  static const std::vector<LegacyMultiscaleGolden> cases = {
      {"multiscale2_rgb_32x24", 3},
      {"multiscale2_rgba_21x13", 4},
  };
  return cases;
}

// Version 3.0 streams of the fallback codings (order bytes 3 and 4, docs/format.md section
// 3.3), written by Encode with every fallback on and the order0-adaptive model, which they
// beat by far; same checks as ValidGoldens.
struct FallbackGolden {
  const char* stem;
  Coding coding;
  uint32_t width, height, channels, colours;  // colours 0: MakeRamp, else MakeFewColours
};
inline const std::vector<FallbackGolden>& FallbackGoldens() {
  static const std::vector<FallbackGolden> cases = {
      {"deflate3_rgb_300x4", Coding::kDeflate, 300, 4, 3, 0},
      {"deflate3_grey_alpha_280x3", Coding::kDeflate, 280, 3, 2, 0},
      {"palette3_rgba_24x16", Coding::kPalette, 24, 16, 4, 6},
      {"palette3_grey_20x9", Coding::kPalette, 20, 9, 1, 3},
  };
  return cases;
}
inline Image FallbackGoldenImage(const FallbackGolden& g) {
  return g.colours == 0 ? MakeRamp(g.width, g.height, g.channels)
                        : MakeFewColours(g.width, g.height, g.channels, g.colours, g.colours);
}
inline EncodeOptions FallbackOptions() {
  EncodeOptions options = Order0Options(true);
  options.fallback = Fallback::kOn;
  return options;
}

// 16-bit images (docs/format.md section 3.4). How the low bytes relate to the high bytes:
enum class Low : uint8_t {
  kNoisy = 0,     // smooth 16-bit values with noise in the low byte (the low bytes are coded)
  kTimes257 = 1,  // 8-bit values scaled by 257 (low byte == high byte)
  kShift4 = 2,    // 12-bit values shifted left by 4 (the low 4 bits are zero)
  kConstant = 3,  // the low byte is 0x5a everywhere
  kGentle = 4,    // a curved smooth surface with noise of +-3 (every predictor gets chosen)
};
inline Image MakeImage16(uint32_t width, uint32_t height, uint32_t channels, Low low, uint32_t seed = 1) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.bit_depth = 16;
  image.pixels.resize(image.ByteCount());
  uint32_t state = seed * 2654435761u + 99u;
  auto noise = [&state](uint32_t range) {
    state = state * 1103515245u + 12345u;
    return (state >> 16) % range;
  };
  const Image eight = MakeImage(width, height, channels, seed);
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      for (uint32_t c = 0; c < channels; ++c) {
        const uint32_t smooth = (x * (900 + 300 * c) + y * (1500 - 200 * c) + 5000 * c) % 60000;
        uint32_t v = 0;
        switch (low) {
          case Low::kNoisy: v = smooth + noise(200); break;
          case Low::kTimes257: v = eight.at(y, x, c) * 257u; break;
          case Low::kShift4: v = ((smooth >> 4) + noise(5)) << 4; break;
          case Low::kConstant: v = (smooth & 0xff00) | 0x5a; break;
          case Low::kGentle: v = (x * x * 19 + y * y * 13 + x * y * 7 + 4000 * c + noise(7)) % 65536; break;
        }
        image.set_sample(y, x, c, static_cast<uint16_t>(v));
      }
    }
  }
  return image;
}

// 16-bit streams, written by Encode with order0-adaptive through the stage (and fallbacks on
// where `fallback`, which the deflate golden's ramp needs); same checks as ValidGoldens.
struct SixteenBitGolden {
  const char* stem;
  uint32_t width, height, channels;
  Low low;
  bool fallback;
  Coding coding;
};
inline const std::vector<SixteenBitGolden>& SixteenBitGoldens() {
  static const std::vector<SixteenBitGolden> cases = {
      {"sixteen_rgb_16x12", 16, 12, 3, Low::kNoisy, false, Coding::kModel},
      {"sixteen_grey_alpha_7x5", 7, 5, 2, Low::kTimes257, false, Coding::kModel},
      {"sixteen_rgba_9x7", 9, 7, 4, Low::kShift4, false, Coding::kModel},
      {"sixteen_grey_1x1", 1, 1, 1, Low::kConstant, false, Coding::kModel},
      {"sixteen_rgb_64x40", 64, 40, 3, Low::kGentle, false, Coding::kModel},
      {"sixteen_deflate_rgb_300x4", 300, 4, 3, Low::kNoisy, true, Coding::kDeflate},
  };
  return cases;
}
inline Image SixteenBitGoldenImage(const SixteenBitGolden& g) {
  if (g.coding == Coding::kDeflate) {  // a ramp in both bytes: PNG's "up" filter makes it zeros
    Image image;
    image.width = g.width;
    image.height = g.height;
    image.channels = g.channels;
    image.bit_depth = 16;
    image.pixels.resize(image.ByteCount());
    for (uint32_t y = 0; y < g.height; ++y)
      for (uint32_t x = 0; x < g.width; ++x)
        for (uint32_t c = 0; c < g.channels; ++c) image.set_sample(y, x, c, static_cast<uint16_t>(x * 211 + c * 7));
    return image;
  }
  return MakeImage16(g.width, g.height, g.channels, g.low);
}
inline EncodeOptions SixteenBitOptions(const SixteenBitGolden& g) {
  EncodeOptions options = Order0Options(true);
  if (g.fallback) options.fallback = Fallback::kOn;
  return options;
}

// Streams with source-format entries (format 4.2, docs/format.md section 2.1, tags 3 and 4),
// written by Encode with order0-adaptive (no stage) and these EncodeOptions::source records;
// the .pgm/.ppm/.pam beside each holds the pixels (maxval 255 or 65535).
struct SourceGolden {
  const char* stem;
  uint32_t width, height, channels, bit_depth;
  SourceFormat source;
};
inline const std::vector<SourceGolden>& SourceGoldens() {
  static const std::vector<SourceGolden> cases = [] {
    SourceFormat maxval100, maxval1000, rgb_png, palette, grey2_png;
    maxval100.maxval = 100;
    maxval1000.maxval = 1000;
    rgb_png.png_colour_type = 2;
    rgb_png.png_bit_depth = 8;
    // Six colours of SourceGoldenImage's palette image in another order, a duplicate, an
    // unused entry (transparent) and an entry without tRNS.
    palette.png_colour_type = 3;
    palette.png_bit_depth = 4;
    palette.plte = {200, 10, 10, 0, 0, 0, 10, 200, 10, 9, 9, 9, 10, 10, 200, 0, 0, 0, 250, 250, 250, 77, 66, 55};
    palette.trns = {255, 0, 128, 7, 255, 0};
    grey2_png.png_colour_type = 0;  // a 2-bit grey PNG: samples 0, 85, 170, 255
    grey2_png.png_bit_depth = 2;
    return std::vector<SourceGolden>{
        {"source_maxval100_grey_9x5", 9, 5, 1, 8, maxval100},
        {"source_maxval1000_rgb_7x4", 7, 4, 3, 16, maxval1000},
        {"source_rgb_png_16x12", 16, 12, 3, 8, rgb_png},
        {"source_palette_rgba_12x8", 12, 8, 4, 8, palette},
        {"source_grey2_png_11x6", 11, 6, 1, 8, grey2_png},
    };
  }();
  return cases;
}
inline Image SourceGoldenImage(const SourceGolden& g) {
  Image image = MakeImage(g.width, g.height, g.channels);
  if (g.source.png_colour_type == 3) {
    // Five of the palette's colours (0, 1, 2, 4, 6 and the unused entry 7 left out).
    static const uint8_t kColours[5][4] = {
        {200, 10, 10, 255}, {0, 0, 0, 0}, {10, 200, 10, 128}, {10, 10, 200, 255}, {250, 250, 250, 255}};
    for (size_t i = 0; i < size_t{g.width} * g.height; ++i)
      for (uint32_t c = 0; c < 4; ++c) image.pixels[4 * i + c] = kColours[(i * 7 / 5) % 5][c];
  } else if (g.source.png_colour_type == 0 && g.source.png_bit_depth < 8) {
    const uint32_t levels = 1u << g.source.png_bit_depth;
    for (size_t i = 0; i < image.SubpixelCount(); ++i)
      image.pixels[i] = static_cast<uint8_t>((i * 37 + i / 5) % levels * (255 / (levels - 1)));
  } else if (g.source.maxval != 0) {
    image.bit_depth = g.bit_depth;
    image.pixels.assign(image.ByteCount(), 0);
    for (size_t i = 0; i < image.SubpixelCount(); ++i)
      image.set_sample(i, static_cast<uint16_t>((i * 37 + i / 5) % (g.source.maxval + 1)));
  }
  return image;
}
inline EncodeOptions SourceOptions(const SourceGolden& g) {
  EncodeOptions options = Order0Options();
  options.source = g.source;
  return options;
}
// Two damaged source_* streams (their header CRCs made to match): the maxval one's record
// changed to maxval 50, below its samples; the palette's first entry numbered 7, which names
// neither one of the image's 5 colours nor a literal (5).
inline constexpr const char* kSourceAboveMaxvalGolden = "source_samples_above_maxval.pxz";
inline constexpr const char* kSourceBadPaletteGolden = "source_palette_does_not_fit.pxz";

// A version 1.7 stream with 5 extension bytes: a 1.0 reader must skip them and decode
// valid_rgb_16x12's pixels.
inline constexpr const char* kFutureMinorGolden = "future_minor_rgb_16x12.pxz";

// valid_rgb_16x12's pixels with these metadata items: a version 1.1 stream (section 2.1).
inline constexpr const char* kMetadataGolden = "metadata_rgb_16x12.pxz";
inline std::vector<MetadataItem> MetadataGolden() {
  auto chunk = [](const char* type, MetadataItem::Place place, const std::string& data) {
    MetadataItem item;
    item.kind = MetadataItem::Kind::kPngChunk;
    item.png_type = type;
    item.place = place;
    item.data.assign(data.begin(), data.end());
    return item;
  };
  MetadataItem comment;
  comment.kind = MetadataItem::Kind::kPnmComment;
  const std::string text = " made by make_golden";
  comment.data.assign(text.begin(), text.end());
  return {chunk("gAMA", MetadataItem::Place::kBeforePlte, std::string("\x00\x00\xb1\x8f", 4)),
          chunk("tEXt", MetadataItem::Place::kBeforeIdat, std::string("Comment\0golden", 14)),
          chunk("zTXt", MetadataItem::Place::kAfterIdat, std::string("Title\0\0\x78\x9c\x03\x00\x00\x00\x00\x01", 15)),
          comment};
}

struct InvalidGolden {
  const char* file;
  ErrorCode code;
};
inline const std::vector<InvalidGolden>& InvalidGoldens() {
  static const std::vector<InvalidGolden> cases = {
      {"bad_magic.pxz", ErrorCode::kCorruptInput},
      {"short_bad_magic.pxz", ErrorCode::kCorruptInput},
      {"future_major.pxz", ErrorCode::kUnsupported},
      {"version_0.pxz", ErrorCode::kCorruptInput},
      {"damaged_major_version.pxz", ErrorCode::kCorruptInput},
      {"truncated_empty.pxz", ErrorCode::kTruncatedInput},
      {"truncated_in_magic.pxz", ErrorCode::kTruncatedInput},
      {"truncated_in_version.pxz", ErrorCode::kTruncatedInput},
      {"truncated_in_hash.pxz", ErrorCode::kTruncatedInput},
      {"truncated_in_header_crc.pxz", ErrorCode::kTruncatedInput},
      {"truncated_no_payload.pxz", ErrorCode::kTruncatedInput},
      {"truncated_half_payload.pxz", ErrorCode::kTruncatedInput},
      {"truncated_last_byte.pxz", ErrorCode::kTruncatedInput},
      {"bad_header_crc.pxz", ErrorCode::kCorruptInput},
      {"header_bit_flip.pxz", ErrorCode::kCorruptInput},
      {"bad_pixel_crc.pxz", ErrorCode::kCorruptInput},
      {"payload_byte_flip.pxz", ErrorCode::kCorruptInput},
      {"dims_2p31.pxz", ErrorCode::kLimitExceeded},
      {"pixels_over_limit.pxz", ErrorCode::kLimitExceeded},
      {"payload_too_short_for_size.pxz", ErrorCode::kCorruptInput},
      {"zero_width.pxz", ErrorCode::kCorruptInput},
      {"channels_5.pxz", ErrorCode::kCorruptInput},
      {"unknown_order.pxz", ErrorCode::kCorruptInput},
      {"empty_architecture.pxz", ErrorCode::kCorruptInput},
      {"trailing_garbage.pxz", ErrorCode::kCorruptInput},
      {"unknown_model.pxz", ErrorCode::kModelMismatch},
      // Format 2.0 (the adaptive stage), damaged copies of valid2_rgb_16x12.
      {"v2_unknown_stage_kind.pxz", ErrorCode::kUnsupported},
      {"v2_stage_record_short.pxz", ErrorCode::kCorruptInput},
      {"v2_payload_byte_flip.pxz", ErrorCode::kCorruptInput},
      {"v2_truncated_half_payload.pxz", ErrorCode::kTruncatedInput},
      // Format 4.0 (the compact header, docs/format.md section 2.2), damaged copies of
      // compact_valid2_rgb_16x12.pxz.
      {"compact_truncated_in_width.pxz", ErrorCode::kTruncatedInput},
      {"compact_overlong_width.pxz", ErrorCode::kCorruptInput},
      {"compact_width_over_32_bits.pxz", ErrorCode::kCorruptInput},
      {"compact_zero_height.pxz", ErrorCode::kCorruptInput},
      {"compact_bits_per_sample_12.pxz", ErrorCode::kCorruptInput},
      {"compact_stage_record_too_long.pxz", ErrorCode::kCorruptInput},
      {"compact_order_deflate_with_a_model.pxz", ErrorCode::kCorruptInput},
      {"compact_bad_header_crc.pxz", ErrorCode::kCorruptInput},
      {"compact_major_damaged_to_1.pxz", ErrorCode::kCorruptInput},
      {"compact_truncated_in_extension.pxz", ErrorCode::kTruncatedInput},
      {"compact_truncated_half_payload.pxz", ErrorCode::kTruncatedInput},
      {"compact_trailing_garbage.pxz", ErrorCode::kCorruptInput},
      {"compact_unknown_model.pxz", ErrorCode::kModelMismatch},
  };
  return cases;
}

}  // namespace pixelzip::test
