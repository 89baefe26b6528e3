// Implements include/pixelzip/codec.h: the container (container.h) around one range
// coder stream holding the colour channels (coded by the model) and then the alpha
// channel (coded by symbol_coding.h's alpha coder).
#include "pixelzip/codec.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>

#include "adaptive/stage.h"
#include "codec/container.h"
#include "codec/fallback.h"
#include "codec/sixteen_bit.h"
#include "codec/symbol_coding.h"
#include "entropy/range_coder.h"
#include "models/coding_threads.h"
#include "models/order0_model.h"
#include "models/registry.h"

namespace pixelzip {
namespace {

using codec::Header;

uint32_t ColourChannels(uint32_t channels) { return channels >= 3 ? 3 : 1; }
bool HasAlpha(uint32_t channels) { return channels == 2 || channels == 4; }

// Runs `body`, letting pixelzip::Error through and turning anything else into one, so
// that only pixelzip::Error leaves the public API.
template <class Body>
auto Guarded(const char* what, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kLimitExceeded, std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kInternal, std::string(what) + ": " + e.what());
  }
}

// Maps a stage's own fraction [0, 1] to [from, to] of the whole.
Progress Stage(const Progress& progress, double from, double to) {
  if (!progress) return {};
  return [&progress, from, to](double f) { progress(from + (to - from) * std::clamp(f, 0.0, 1.0)); };
}

void ValidateImage(const Image& image) {
  if (image.bit_depth != 8 && image.bit_depth != 16)
    throw Error(ErrorCode::kInvalidArgument, "image has bit depth " + std::to_string(image.bit_depth) + " (8 or 16 allowed)");
  if (image.channels < 1 || image.channels > 4)
    throw Error(ErrorCode::kInvalidArgument, "image has " + std::to_string(image.channels) + " channels (1-4 allowed)");
  if (image.width == 0 || image.height == 0) {
    throw Error(ErrorCode::kInvalidArgument, "image is empty (" + std::to_string(image.width) + " x " +
                                                 std::to_string(image.height) + ")");
  }
  size_t subpixels = 0;
  if (__builtin_mul_overflow(size_t{image.width}, size_t{image.height}, &subpixels) ||
      __builtin_mul_overflow(subpixels, size_t{image.channels}, &subpixels) ||
      __builtin_mul_overflow(subpixels, image.BytesPerSample(), &subpixels) || image.pixels.size() != subpixels) {
    throw Error(ErrorCode::kInvalidArgument, "image pixel buffer holds " + std::to_string(image.pixels.size()) +
                                                 " bytes, not width * height * channels * bytes per sample");
  }
}

// Whether a decoder writing PNG would make a palette PNG of `image` without a record of the
// source's colour type: 8-bit RGB or RGBA with at most 256 distinct pixels.
bool PaletteOutputPossible(const Image& image) {
  return image.bit_depth == 8 && image.channels >= 3 && codec::FindPalette(image).has_value();
}

// A grey PNG of 1, 2 or 4 bits: recorded so that a decoder writes that depth back (without the
// record it writes 8-bit grey).
bool LowBitGreySource(const SourceFormat& source) {
  return source.png_colour_type == 0 &&
         (source.png_bit_depth == 1 || source.png_bit_depth == 2 || source.png_bit_depth == 4);
}

// The first subpixel above `maxval` (SubpixelCount() when none is).
size_t FirstSampleAbove(const Image& image, uint32_t maxval) {
  for (size_t i = 0; i < image.SubpixelCount(); ++i)
    if (image.sample(i) > maxval) return i;
  return image.SubpixelCount();
}

void ValidateSource(const Image& image, const SourceFormat& source) {
  const std::string problem = codec::SourceFormatProblem(source, image.bit_depth);
  if (!problem.empty()) throw Error(ErrorCode::kInvalidArgument, "EncodeOptions::source: " + problem);
  if (source.maxval == 0) return;
  const size_t i = FirstSampleAbove(image, source.maxval);
  if (i < image.SubpixelCount()) {
    throw Error(ErrorCode::kInvalidArgument, "subpixel " + std::to_string(i) + " (" + std::to_string(image.sample(i)) +
                                                 ") is above the source's maxval " + std::to_string(source.maxval));
  }
}

models::PlaneView View(uint32_t width, uint32_t height, uint32_t channels, uint8_t* data) {
  models::PlaneView view;
  view.width = width;
  view.height = height;
  view.channels = channels;
  view.data = data;
  return view;
}

// Copies the colour channels (all but the last) out of an image with alpha.
void SplitColour(const Image& image, std::vector<uint8_t>& colour) {
  const uint32_t c = image.channels, cc = c - 1;
  const size_t pixels = size_t{image.width} * image.height;
  colour.resize(pixels * cc);
  for (size_t i = 0; i < pixels; ++i) std::copy_n(&image.pixels[i * c], cc, &colour[i * cc]);
}

// An image of the header's size with no pixels yet, their capacity reserved (so that only
// the pages written count).
Image EmptyImageOf(const codec::Header& h) {
  Image image;
  image.width = h.width;
  image.height = h.height;
  image.channels = h.channels;
  image.pixels.reserve(image.SubpixelCount());
  return image;
}

// Zeroed memory whose pages are committed only when first written: an anonymous mapping
// of fresh zero pages. The decoder fills its planes through these, so a corrupt stream
// whose header claims a huge image costs memory in proportion to what it decodes (the
// Limits bound the address space), not the size it claims.
class LazyZeroBuffer {
 public:
  explicit LazyZeroBuffer(size_t size) : size_(size) {
    if (size_ == 0) return;
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<uint8_t*>(p);
  }
  ~LazyZeroBuffer() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  LazyZeroBuffer(const LazyZeroBuffer&) = delete;
  LazyZeroBuffer& operator=(const LazyZeroBuffer&) = delete;
  uint8_t* data() const { return data_; }
  // Returns the whole pages below `end` to the system (they read as zero afterwards).
  void ReleaseBefore(size_t end) {
    static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    end = std::min(end, size_) / page * page;
    if (data_ == nullptr || end <= released_) return;
    madvise(data_ + released_, end - released_, MADV_DONTNEED);
    released_ = end;
  }

 private:
  size_t size_;
  uint8_t* data_ = nullptr;
  size_t released_ = 0;
};

// The stage parameters new streams record (tuned on held-out photos-train crops and
// synthetic graphics, never on Kodak). Raster streams give the stage raster positions,
// wavefront streams the models' positions, multiscale streams the models' positions with
// their grid and group (docs/format.md section 3.1).
adaptive::StageParams DefaultStageParams(uint8_t order_byte, uint8_t kind) {
  adaptive::StageParams p;
  p.kind = kind;
  p.positions = order_byte == codec::kOrderRasterWavefront ? 2 : order_byte == uint8_t(Order::kRaster) ? 1 : 3;
  return p;
}

// The Order a header's order byte codes with (the wavefront layout is raster order's conditionals).
Order OrderOf(const Header& h) {
  return h.order == codec::kOrderRasterWavefront ? Order::kRaster : static_cast<Order>(h.order);
}

bool SameIdentity(const models::ModelIdentity& a, const models::ModelIdentity& b) {
  return a.architecture == b.architecture && a.weights_sha256 == b.weights_sha256;
}

std::shared_ptr<const models::CodingModel> ModelForStream(const Header& h, const DecodeOptions& options) {
  const models::ModelIdentity recorded{h.architecture, h.weights_sha256};
  std::shared_ptr<const models::CodingModel> model;
  if (options.model.empty()) {
    model = models::FindModelByHash(h.weights_sha256, options.device);
    if (!model) {
      std::string names;
      for (const std::string& n : models::ShippedModelNames()) names += (names.empty() ? "" : ", ") + n;
      throw Error(ErrorCode::kModelMismatch, "stream was made with model " + models::DescribeIdentity(recorded) +
                                                 ", which is not shipped with this build (shipped: " + names +
                                                 "); give that model's file to decode it");
    }
  } else if (options.model == "default") {
    model = models::ResolveModel("default", OrderOf(h), ColourChannels(h.channels), options.device);
  } else {
    model = models::OpenModel(options.model, options.device);
  }
  if (!SameIdentity(model->Identity(), recorded)) {
    throw Error(ErrorCode::kModelMismatch, "stream was made with model " + models::DescribeIdentity(recorded) +
                                               ", but model '" + options.model + "' is " +
                                               models::DescribeIdentity(model->Identity()));
  }
  const bool wavefront = h.order == codec::kOrderRasterWavefront;
  if (model->Order() != OrderOf(h) || (wavefront && model->WavefrontSlope() <= 0) ||
      !model->SupportsChannels(ColourChannels(h.channels))) {
    throw Error(ErrorCode::kCorruptInput, "header's coding order or channel count does not fit its model " +
                                              models::DescribeIdentity(recorded));
  }
  return model;
}

// The header fields every coding of `image` shares.
Header BaseHeader(const Image& image, const EncodeOptions& options, std::vector<std::string>* metadata_not_kept) {
  Header h;
  h.channels = static_cast<uint8_t>(image.channels);
  h.width = image.width;
  h.height = image.height;
  h.pixel_crc32 = codec::Crc32(image.pixels.data(), image.pixels.size());
  h.extension = codec::MetadataExtension(options.metadata, options.source, image, metadata_not_kept);
  if (codec::RecordsSource(options.source))
    h.version_minor = codec::kVersionMinorSource;
  else if (!h.extension.empty())
    h.version_minor = codec::kVersionMinorMetadata;
  return h;
}

// One coding of an image: its header (payload_bytes set) and payload.
struct Candidate {
  Header header;
  std::vector<uint8_t> payload;
  double bits = 0;
  Coding coding = Coding::kModel;
  uint64_t Bytes() const { return codec::WriteHeader(header).size() + payload.size(); }
};

// The coding by `model` (docs/format.md sections 3-4), with the adaptive stage when `adaptive`.
Candidate EncodeWithModel(const Image& image, const Header& base, const models::CodingModel& model, Order order,
                          bool wavefront, bool adaptive, uint8_t adaptive_kind, const Progress& progress) {
  const uint32_t colour_channels = ColourChannels(image.channels);
  Candidate c;
  Header& h = c.header;
  h = base;
  h.architecture = model.Identity().architecture;
  h.weights_sha256 = model.Identity().weights_sha256;
  h.order = wavefront ? codec::kOrderRasterWavefront : static_cast<uint8_t>(order);

  entropy::RangeEncoder encoder;
  codec::RangeSymbolSink sink(encoder);  // alpha, and colour without the adaptive stage
  std::unique_ptr<adaptive::Stage> stage;
  std::unique_ptr<codec::AdaptiveSymbolSink> adaptive_sink;
  if (adaptive) {
    const adaptive::StageParams params = DefaultStageParams(h.order, adaptive_kind);
    h.stage = adaptive::Serialize(params);
    stage = std::make_unique<adaptive::Stage>(params, image.width, image.height, colour_channels);
    adaptive_sink = std::make_unique<codec::AdaptiveSymbolSink>(encoder, *stage);
  }
  models::SymbolSink& colour_sink = adaptive_sink ? static_cast<models::SymbolSink&>(*adaptive_sink) : sink;
  const double colour_share = static_cast<double>(colour_channels) / image.channels;
  if (HasAlpha(image.channels)) {
    std::vector<uint8_t> colour;
    SplitColour(image, colour);
    const models::PlaneView view = View(image.width, image.height, colour_channels, colour.data());
    if (wavefront)
      model.EncodeWavefront(view, colour_sink, Stage(progress, 0, colour_share));
    else
      model.Encode(view, colour_sink, Stage(progress, 0, colour_share));
    codec::EncodeAlpha(image, sink, Stage(progress, colour_share, 1));
  } else {
    // CodingModel::Encode guarantees it does not modify the pixels.
    uint8_t* pixels = const_cast<uint8_t*>(image.pixels.data());
    const models::PlaneView view = View(image.width, image.height, colour_channels, pixels);
    if (wavefront)
      model.EncodeWavefront(view, colour_sink, Stage(progress, 0, 1));
    else
      model.Encode(view, colour_sink, Stage(progress, 0, 1));
  }
  c.payload = encoder.Finish();
  h.payload_bytes = c.payload.size();
  c.bits = sink.bits() + (adaptive_sink ? adaptive_sink->bits() : 0.0);
  return c;
}

Candidate FallbackCandidate(const Header& base, Coding coding, std::vector<uint8_t> payload) {
  Candidate c;
  c.header = base;
  c.coding = coding;
  Header& h = c.header;
  if (coding == Coding::kDeflate) {
    h.architecture = codec::DeflateArchitecture();
    h.weights_sha256 = codec::DeflateHash();
    h.order = codec::kOrderDeflate;
  } else {
    h.architecture = codec::PaletteArchitecture();
    h.weights_sha256 = codec::PaletteHash();
    h.order = codec::kOrderPalette;
    h.stage = adaptive::Serialize(codec::PaletteStageParams());
  }
  c.payload = std::move(payload);
  h.payload_bytes = c.payload.size();
  c.bits = 8.0 * c.payload.size();
  return c;
}

// Decodes a stream of a fallback coding (order byte 3 or 4; docs/format.md section 3.3).
// No model is involved; the header's identity must be the coding's own.
Image DecodeFallback(const Header& h, const uint8_t* payload, const DecodeOptions& options, bool check_crc) {
  const bool deflate = h.order == codec::kOrderDeflate;
  const std::string& architecture = deflate ? codec::DeflateArchitecture() : codec::PaletteArchitecture();
  const std::array<uint8_t, 32>& hash = deflate ? codec::DeflateHash() : codec::PaletteHash();
  if (h.architecture != architecture || h.weights_sha256 != hash) {
    throw Error(ErrorCode::kCorruptInput, "header's coding order " + std::to_string(h.order) + " is coded by " +
                                              models::DescribeIdentity({architecture, hash}) + ", not " +
                                              models::DescribeIdentity({h.architecture, h.weights_sha256}));
  }
  // Committed only as the coding writes it (see LazyZeroBuffer).
  LazyZeroBuffer buffer(size_t{h.width} * h.height * h.channels);
  if (deflate) {
    codec::DecodeDeflate(payload, h.payload_bytes, h.width, h.height, h.channels, buffer.data());
  } else {
    codec::DecodePalette(payload, h.payload_bytes, *h.stage_params, h.width, h.height, h.channels, buffer.data());
  }
  Image image = EmptyImageOf(h);
  constexpr size_t kBand = size_t{1} << 20;
  for (size_t at = 0; at < image.SubpixelCount(); at += kBand) {
    const size_t n = std::min(kBand, image.SubpixelCount() - at);
    image.pixels.insert(image.pixels.end(), buffer.data() + at, buffer.data() + at + n);
    buffer.ReleaseBefore(at + n);
  }
  if (check_crc && codec::Crc32(image.pixels.data(), image.pixels.size()) != h.pixel_crc32)
    throw Error(ErrorCode::kCorruptInput, "decoded pixels do not match the stream's checksum (corrupt payload)");
  if (options.progress) options.progress(1.0);
  return image;
}

// The 8-bit image whose header is `h` from its payload (docs/format.md sections 3-4), the
// payload's presence checked. `check_crc`: compare with h.pixel_crc32 (not for the high bytes
// of a 16-bit stream, whose checksum covers the whole 16-bit image).
Image DecodeEightBit(const Header& h, const uint8_t* payload, const DecodeOptions& options, bool check_crc);

// `chosen`, when not null, receives the header of the stream it returns.
EncodeResult EncodeEightBit(const Image& image, const EncodeOptions& options, Header* chosen);

// The image's 16-bit rows as the deflate coding of section 3.3 sees them: an 8-bit image of
// 2 * channels bytes a pixel (PNG's filtering of 16-bit rows, bpp = 2 * channels).
Image AsBytes(const Image& image) {
  Image bytes;
  bytes.width = image.width;
  bytes.height = image.height;
  bytes.channels = image.channels * 2;
  bytes.pixels = image.pixels;
  return bytes;
}

bool UseFallbacks(const EncodeOptions& options) {
  return options.fallback == Fallback::kOn || (options.fallback == Fallback::kAuto && options.model == "default");
}

// A 16-bit image (docs/format.md section 3.4): the high bytes coded as the 8-bit image they
// form (every choice of EncodeEightBit), then the low-byte section.
EncodeResult EncodeSixteenBit(const Image& image, const EncodeOptions& options) {
  Header h;
  EncodeResult result = EncodeEightBit(codec::HighBytes(image), options, &h);
  const size_t header_bytes = result.stream.size() - h.payload_bytes;  // the payload ends the stream
  const std::vector<uint8_t> low = codec::EncodeLowBytes(image);
  const std::vector<uint8_t> payload =
      codec::SixteenBitPayload(result.stream.data() + header_bytes, h.payload_bytes, low);
  const uint64_t high_bytes = h.payload_bytes;
  h.bits_per_sample = 16;
  h.pixel_crc32 = codec::Crc32(image.pixels.data(), image.pixels.size());
  h.payload_bytes = payload.size();
  result.stream = codec::WriteHeader(h);
  result.stream.insert(result.stream.end(), payload.begin(), payload.end());
  result.model_bits += 8.0 * static_cast<double>(payload.size() - high_bytes);  // the low bytes as coded
  // Never grows: the 16-bit rows deflated as PNG deflates them (order 3), the cheaper on a tie.
  if (UseFallbacks(options)) {
    const Image bytes = AsBytes(image);
    if (!codec::DeflateCannotWin(bytes, result.stream.size())) {
      std::vector<uint8_t> payload16 = {codec::kSixteenBitDeflate};
      const std::vector<uint8_t> zlib = codec::EncodeDeflate(bytes);
      payload16.insert(payload16.end(), zlib.begin(), zlib.end());
      Candidate deflate = FallbackCandidate(BaseHeader(image, options, nullptr), Coding::kDeflate, std::move(payload16));
      deflate.header.bits_per_sample = 16;
      if (deflate.Bytes() <= result.stream.size()) {
        result.stream = codec::WriteHeader(deflate.header);
        result.stream.insert(result.stream.end(), deflate.payload.begin(), deflate.payload.end());
        result.model_bits = deflate.bits;
        result.coding = deflate.coding;
        result.architecture = deflate.header.architecture;
      }
    }
  }
  return result;
}

Image DecodeSixteenBit(const Header& h, const uint8_t* payload, const DecodeOptions& options) {
  if (h.payload_bytes > 0 && payload[0] == codec::kSixteenBitDeflate) {
    // The 16-bit rows deflated: bytes as an image of 2 * channels.
    if (h.order != codec::kOrderDeflate)
      throw Error(ErrorCode::kCorruptInput, "16-bit payload: deflate layout in a stream of order " + std::to_string(h.order));
    Header bytes = h;
    bytes.channels = static_cast<uint8_t>(2 * h.channels);
    bytes.payload_bytes = h.payload_bytes - 1;
    Image image = DecodeFallback(bytes, payload + 1, options, true);
    image.channels = h.channels;
    image.bit_depth = 16;
    return image;
  }
  size_t high_offset = 0;
  uint64_t high_bytes = 0;
  codec::SplitSixteenBitPayload(payload, h.payload_bytes, &high_offset, &high_bytes);
  Header high = h;
  high.bits_per_sample = 8;
  high.payload_bytes = high_bytes;
  const Image high_image = DecodeEightBit(high, payload + high_offset, options, false);
  Image image = codec::DecodeLowBytes(high_image, payload + high_offset + high_bytes,
                                      h.payload_bytes - high_offset - high_bytes);
  if (codec::Crc32(image.pixels.data(), image.pixels.size()) != h.pixel_crc32)
    throw Error(ErrorCode::kCorruptInput, "decoded pixels do not match the stream's checksum (corrupt payload)");
  return image;
}

// The source format a stream records (docs/format.md section 2.1), its palette completed
// from the decoded image; a stream whose image exceeds its recorded maxval, or whose palette
// record does not fit its image, is corrupt. Empty when there is no record or the extension
// area does not parse (its metadata is then unreadable; the pixels stand).
SourceFormat RecordedSource(const Header& h, const Image& image) {
  SourceFormat source;
  if (h.version_minor < codec::kVersionMinorSource || h.extension.empty()) return source;
  if (!codec::ParseMetadataExtension(h.extension, nullptr, &source)) return SourceFormat{};
  if (!codec::CompletePalette(h.extension, image, &source))
    throw Error(ErrorCode::kCorruptInput, "the header's palette record does not fit the decoded image (corrupt stream)");
  if (source.maxval == 0) return source;
  const uint32_t full = h.bits_per_sample == 16 ? 65535 : 255;
  if (source.maxval > full) {
    throw Error(ErrorCode::kCorruptInput, "the header records maxval " + std::to_string(source.maxval) +
                                              ", above its " + std::to_string(h.bits_per_sample) + "-bit samples");
  }
  const size_t i = FirstSampleAbove(image, source.maxval);
  if (i < image.SubpixelCount()) {
    throw Error(ErrorCode::kCorruptInput, "decoded subpixel " + std::to_string(i) + " (" +
                                              std::to_string(image.sample(i)) + ") is above the recorded maxval " +
                                              std::to_string(source.maxval) + " (corrupt stream)");
  }
  return source;
}

}  // namespace

EncodeResult Encode(const Image& image, const EncodeOptions& options) {
  const models::ScopedCodingThreads threads(options.threads);  // the engines' thread count
  return Guarded("encode", [&] {
    ValidateImage(image);
    ValidateSource(image, options.source);
    if (options.source.png_colour_type < 0 || options.source.png_colour_type == 3 || LowBitGreySource(options.source) ||
        PaletteOutputPossible(image))
      return image.bit_depth == 16 ? EncodeSixteenBit(image, options) : EncodeEightBit(image, options, nullptr);
    // A PNG colour type other than palette is recorded only where it decides what the decoder
    // writes: without it, an 8-bit RGB or RGBA image of at most 256 colours becomes a palette PNG,
    // and a 1-, 2- or 4-bit grey PNG an 8-bit one.
    EncodeOptions without = options;
    without.source.png_colour_type = -1;
    without.source.png_bit_depth = 0;
    return image.bit_depth == 16 ? EncodeSixteenBit(image, without) : EncodeEightBit(image, without, nullptr);
  });
}

namespace {
EncodeResult EncodeEightBit(const Image& image, const EncodeOptions& options, Header* chosen_header) {
  if (options.order != Order::kRaster && options.order != Order::kMultiscale)
    throw Error(ErrorCode::kInvalidArgument, "unknown coding order");
  const uint32_t colour_channels = ColourChannels(image.channels);
  const std::shared_ptr<const models::CodingModel> model =
      models::ResolveModel(options.model, options.order, colour_channels, options.device);

  if (options.layout == Layout::kWavefront && (options.order != Order::kRaster || model->WavefrontSlope() <= 0))
    throw Error(ErrorCode::kInvalidArgument, "the wavefront layout needs raster order and a model with a bounded "
                                             "causal window (local-pixelcnn); model " +
                                                 models::DescribeIdentity(model->Identity()) + " has none");
  const bool wavefront = options.order == Order::kRaster && options.layout != Layout::kRaster &&
                         model->WavefrontSlope() > 0;
  std::vector<std::string> metadata_not_kept;
  const Header base = BaseHeader(image, options, &metadata_not_kept);

  // Never grows: the cheap codings and the model (run once); the smallest stream wins,
  // the cheaper coding on a tie (docs/format.md section 6): candidates are kept in order
  // deflate, palette, the stage alone, the model.
  const bool fallback = UseFallbacks(options);
  std::vector<Candidate> candidates;
  if (fallback) {
    const std::optional<std::vector<uint8_t>> palette = codec::FindPalette(image);
    if (palette) {
      candidates.push_back(FallbackCandidate(
          base, Coding::kPalette, codec::EncodePalette(image, *palette, codec::PaletteStageParams())));
    }
    // The stage alone: only for images of up to 2^18 pixels, where its pass is cheap (on
    // larger images, photos, the model wins; in our synthetic set it never beat the default
    // model, which it may on small graphics).
    const models::Order0Model order0;
    if (options.adaptive && !palette && size_t{image.width} * image.height <= (size_t{1} << 18) &&
        !SameIdentity(order0.Identity(), model->Identity()))
      candidates.push_back(EncodeWithModel(image, base, order0, Order::kRaster, false, true, options.adaptive_kind, {}));
  }
  candidates.push_back(
      EncodeWithModel(image, base, *model, options.order, wavefront, options.adaptive, options.adaptive_kind,
                      options.progress));
  // Deflate last to compute, first in order: on large rows (photos) skipped when a level-6
  // pass is over a tenth larger than the best (level 9 there costs about 0.6 s per Kodak image).
  if (fallback) {
    uint64_t best_bytes = candidates.front().Bytes();
    for (const Candidate& c : candidates) best_bytes = std::min<uint64_t>(best_bytes, c.Bytes());
    if (!codec::DeflateCannotWin(image, best_bytes))
      candidates.insert(candidates.begin(), FallbackCandidate(base, Coding::kDeflate, codec::EncodeDeflate(image)));
  }
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i)
    if (candidates[i].Bytes() < candidates[best].Bytes()) best = i;
  Candidate& chosen = candidates[best];

  EncodeResult result;
  result.stream = codec::WriteHeader(chosen.header);
  result.stream.insert(result.stream.end(), chosen.payload.begin(), chosen.payload.end());
  result.model_bits = chosen.bits;
  result.coding = chosen.coding;
  result.architecture = chosen.header.architecture;
  result.metadata_not_kept = std::move(metadata_not_kept);
  if (chosen_header != nullptr) *chosen_header = chosen.header;
  if (options.progress) options.progress(1.0);
  return result;
}
}  // namespace

Image Decode(const uint8_t* data, size_t size, const DecodeOptions& options) {
  const models::ScopedCodingThreads threads(options.threads);  // the engines' thread count
  return Guarded("decode", [&] {
    size_t header_bytes = 0;
    const Header h = codec::ReadHeader(data, size, options.limits, &header_bytes);
    const size_t present = size - header_bytes;
    if (present < h.payload_bytes) {
      throw Error(ErrorCode::kTruncatedInput, "stream ends inside the payload (" + std::to_string(present) +
                                                  " of " + std::to_string(h.payload_bytes) + " bytes present)");
    }
    if (present > h.payload_bytes) {
      throw Error(ErrorCode::kCorruptInput, std::to_string(present - h.payload_bytes) +
                                                " unexpected bytes after the end of the stream");
    }
    Image image = h.bits_per_sample == 16 ? DecodeSixteenBit(h, data + header_bytes, options)
                                          : DecodeEightBit(h, data + header_bytes, options, true);
    RecordedSource(h, image);  // checks the record against the image
    return image;
  });
}

SourceFormat ReadSourceFormat(const uint8_t* data, size_t size, const Image& decoded) {
  return Guarded("read source format", [&] {
    Limits unlimited;
    unlimited.max_width = unlimited.max_height = unlimited.max_pixels = unlimited.max_memory_bytes = ~uint64_t{0};
    const Header h = codec::ReadHeader(data, size, unlimited, nullptr);
    if (decoded.width != h.width || decoded.height != h.height || decoded.channels != h.channels ||
        decoded.bit_depth != h.bits_per_sample)
      throw Error(ErrorCode::kInvalidArgument, "ReadSourceFormat: the image is not the stream's");
    return RecordedSource(h, decoded);
  });
}

namespace {
Image DecodeEightBit(const Header& h, const uint8_t* payload, const DecodeOptions& options, bool check_crc) {
  if (h.order >= codec::kOrderDeflate) return DecodeFallback(h, payload, options, check_crc);
  const std::shared_ptr<const models::CodingModel> model = ModelForStream(h, options);
  const bool wavefront = h.order == codec::kOrderRasterWavefront;

  // ReadHeader checked the limits, including the memory these planes take. They are
  // committed only as the model and the alpha coder write them; the image itself is
  // allocated once the whole payload has decoded and ended cleanly.
  const size_t pixels = size_t{h.width} * h.height;
  const uint32_t colour_channels = ColourChannels(h.channels);
  const double colour_share = static_cast<double>(colour_channels) / h.channels;
  const bool alpha = HasAlpha(h.channels);
  LazyZeroBuffer colour(pixels * colour_channels);
  LazyZeroBuffer alpha_plane(alpha ? pixels : 0);
  entropy::RangeDecoder decoder(payload, h.payload_bytes);
  codec::RangeSymbolSource source(decoder);
  std::unique_ptr<adaptive::Stage> stage;
  std::unique_ptr<codec::AdaptiveSymbolSource> adaptive_source;
  if (h.stage_params) {  // ReadHeader parsed and checked the record (and positions 2 only with order 2)
    stage = std::make_unique<adaptive::Stage>(*h.stage_params, h.width, h.height, colour_channels);
    adaptive_source = std::make_unique<codec::AdaptiveSymbolSource>(decoder, *stage);
  }
  models::SymbolSource& colour_source =
      adaptive_source ? static_cast<models::SymbolSource&>(*adaptive_source) : source;
  const models::PlaneView view = View(h.width, h.height, colour_channels, colour.data());
  if (wavefront)
    model->DecodeWavefront(view, colour_source, Stage(options.progress, 0, alpha ? colour_share : 1));
  else
    model->Decode(view, colour_source, Stage(options.progress, 0, alpha ? colour_share : 1));
  if (alpha) {
    codec::DecodeAlphaPlane(h.width, h.height, alpha_plane.data(), source,
                            Stage(options.progress, colour_share, 1));
  }
  if (!decoder.AtCleanEnd())
    throw Error(ErrorCode::kCorruptInput, "payload holds more than the image (its coded end does not match)");

  // The image grows band by band (its capacity reserved, so only written pages count)
  // while the planes' copied pages are released: assembling it adds no peak memory.
  Image image = EmptyImageOf(h);
  constexpr size_t kBandPixels = size_t{1} << 18;
  std::vector<uint8_t> band;
  for (size_t p0 = 0; p0 < pixels; p0 += kBandPixels) {
    const size_t n = std::min(kBandPixels, pixels - p0);
    const uint8_t* from = colour.data() + p0 * colour_channels;
    if (alpha) {
      const uint32_t c = h.channels;
      band.resize(n * c);
      for (size_t i = 0; i < n; ++i) {
        std::memcpy(&band[i * c], from + i * colour_channels, colour_channels);
        band[i * c + colour_channels] = alpha_plane.data()[p0 + i];
      }
      image.pixels.insert(image.pixels.end(), band.begin(), band.end());
      alpha_plane.ReleaseBefore(p0 + n);
    } else {
      image.pixels.insert(image.pixels.end(), from, from + n * colour_channels);
    }
    colour.ReleaseBefore((p0 + n) * colour_channels);
  }
  const uint32_t crc = check_crc ? codec::Crc32(image.pixels.data(), image.pixels.size()) : h.pixel_crc32;
  if (crc != h.pixel_crc32) {
    throw Error(ErrorCode::kCorruptInput, "decoded pixels do not match the stream's checksum (corrupt payload, "
                                          "or a model that does not reproduce the encoder's probabilities)");
  }
  if (options.progress) options.progress(1.0);
  return image;
}
}  // namespace

StreamInfo ReadStreamInfo(const uint8_t* data, size_t size, const Limits& limits) {
  return Guarded("read stream info", [&] {
    size_t header_bytes = 0;
    const Header h = codec::ReadHeader(data, size, limits, &header_bytes);
    StreamInfo info;
    info.version_major = h.version_major;
    info.version_minor = h.version_minor;
    info.architecture = h.architecture;
    info.weights_sha256 = h.weights_sha256;
    info.order = h.order >= codec::kOrderDeflate ? Order::kRaster : OrderOf(h);
    info.layout = h.order == codec::kOrderRasterWavefront ? Layout::kWavefront : Layout::kRaster;
    info.coding = h.order == codec::kOrderDeflate   ? Coding::kDeflate
                  : h.order == codec::kOrderPalette ? Coding::kPalette
                                                    : Coding::kModel;
    info.width = h.width;
    info.height = h.height;
    info.channels = h.channels;
    info.bits_per_sample = h.bits_per_sample;
    info.payload_bytes = h.payload_bytes;
    info.pixel_checksum = h.pixel_crc32;
    info.header_bytes = header_bytes;
    info.adaptive = !h.stage.empty();
    info.extension_bytes = h.extension.size();
    if (h.version_minor >= codec::kVersionMinorMetadata && !h.extension.empty())
      info.metadata_unreadable = !codec::ParseMetadataExtension(h.extension, &info.metadata, &info.source);
    return info;
  });
}

std::vector<std::string> ShippedModelNames() {
  return Guarded("list models", [] { return models::ShippedModelNames(); });
}

}  // namespace pixelzip
