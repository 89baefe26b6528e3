// PNG reading and writing through libpng's low-level API.
//
// libpng reports errors by calling our error callback, which longjmps back to
// the setjmp in RunPngDecode / RunPngEncode. Rules that keep this safe:
//  - The frames that call setjmp (RunPngDecode, RunPngEncode) hold no objects
//    with destructors and are never inlined; every C++ object they touch
//    (the pixel vector, the output vector) lives in the caller's frame,
//    which longjmp never skips.
//  - Callbacks (read, write, error) hold no objects with destructors either,
//    and no exception ever propagates through a libpng frame: allocation
//    failures are caught in small noexcept helpers and reported as flags.
//  - Errors become pixelzip::Error only after libpng's structs are destroyed,
//    back in ordinary C++ code.
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "formats/image_io.h"
#include "formats/image_io_internal.h"

namespace pixelzip {
namespace {

constexpr size_t kMessageSize = 256;
// PNG's own limit on width and height (2^31 - 1); libpng's default user
// limit (1,000,000) would refuse legal images that fit kMaxImageBytes.
constexpr png_uint_32 kPngMaxDimension = 0x7fffffffu;

bool ResizeNoThrow(std::vector<uint8_t>* v, size_t n) noexcept {
  try {
    v->resize(n);
    return true;
  } catch (...) {
    return false;
  }
}

bool AppendNoThrow(std::vector<uint8_t>* v, const uint8_t* data, size_t n) noexcept {
  try {
    v->insert(v->end(), data, data + n);
    return true;
  } catch (...) {
    return false;
  }
}

// ---------------------------------------------------------------- reading

// Why RunPngDecode stopped without a libpng error.
enum class PngStop { kDone, kBadLayout, kTooLarge, kTooShort, kOutOfMemory };

// Deflate codes at best 258 bytes in 2 bits.
constexpr uint64_t kMaxDeflateRatio = 1032;

// Channels after png_set_expand; 0 for an unknown colour type.
png_uint_32 ExpandedChannels(int color_type, bool has_trns) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return has_trns ? 2 : 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return has_trns ? 4 : 3;
    case PNG_COLOR_TYPE_PALETTE: return has_trns ? 4 : 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
  }
  return 0;
}

struct PngReadState {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  bool ran_out = false;          // the read callback hit the end of the data
  char error[kMessageSize] = {};    // libpng's error message
  char warning[kMessageSize] = {};  // libpng's last warning (explains "Invalid IHDR data")

  // Filled by RunPngDecode.
  PngStop stop = PngStop::kDone;
  png_uint_32 width = 0;
  png_uint_32 height = 0;
  int bit_depth = 0;
  int color_type = 0;
  png_uint_32 channels = 0;  // after expansion
  uint64_t stored_bytes = 0;  // filtered size before expansion, not interlaced
  size_t rowbytes = 0;
  bool has_trns = false;
  // A palette PNG's PLTE and tRNS entries (colour type 3 only; for ImageMetadata::source).
  png_color plte[256] = {};
  png_byte trns[256] = {};
  int plte_count = 0, trns_count = 0;
  bool want_metadata = false;  // keep ancillary chunks as unknown chunks (raw bytes, with their place)
  std::vector<uint8_t>* pixels = nullptr;  // owned by ReadPng's frame
};

// Ancillary chunks read as raw bytes (libpng's "unknown chunk" path, even for chunks it
// knows) so that they are kept byte for byte. tRNS is not among them: it becomes alpha.
constexpr png_byte kRawChunks[] = "iCCP\0sRGB\0gAMA\0cHRM\0cICP\0mDCv\0cLLi\0pHYs\0eXIf\0iTXt\0tEXt\0zTXt\0"
                                  "tIME\0sPLT\0oFFs\0pCAL\0sCAL\0sTER\0bKGD\0sBIT\0hIST";
constexpr int kRawChunkCount = 21;
// Of those, the ones kept whatever the image's layout.
constexpr const char* kAlwaysKept[] = {"iCCP", "sRGB", "gAMA", "cHRM", "cICP", "mDCv", "cLLi", "pHYs", "eXIf",
                                       "iTXt", "tEXt", "zTXt", "tIME", "sPLT", "oFFs", "pCAL", "sCAL", "sTER"};

void CopyMessage(char* dst, png_const_charp msg) {
  std::snprintf(dst, kMessageSize, "%s", msg != nullptr ? msg : "(no message)");
}

void PngReadErrorFn(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngReadState*>(png_get_error_ptr(png));
  if (st != nullptr) CopyMessage(st->error, msg);
  png_longjmp(png, 1);
}

void PngReadWarningFn(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngReadState*>(png_get_error_ptr(png));
  if (st != nullptr) CopyMessage(st->warning, msg);
}

void PngReadFn(png_structp png, png_bytep out, size_t n) {
  auto* st = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (n > st->size - st->pos) {
    st->ran_out = true;
    png_error(png, "unexpected end of file");
  }
  std::memcpy(out, st->data + st->pos, n);
  st->pos += n;
}

// Returns false if libpng raised an error (message in st->error), true
// otherwise with st->stop saying how far it got.
// No objects with destructors in this frame: libpng longjmps into it.
__attribute__((noinline)) bool RunPngDecode(png_structp png, png_infop info, PngReadState* st) {
  if (setjmp(png_jmpbuf(png))) return false;

  png_set_user_limits(png, kPngMaxDimension, kPngMaxDimension);
  png_set_read_fn(png, st, PngReadFn);
  if (st->want_metadata) {
    // Unknown chunks: the ancillary ones are kept (IF_SAFE keeps ancillary chunks in libpng
    // 1.6; CollectChunks sorts out the unsafe-to-copy ones), an unknown critical chunk is
    // still an error, as without metadata.
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_IF_SAFE, nullptr, 0);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, kRawChunks, kRawChunkCount);
  }
  png_read_info(png, info);

  int interlace = 0;
  png_get_IHDR(png, info, &st->width, &st->height, &st->bit_depth, &st->color_type, &interlace, nullptr,
               nullptr);
  const uint64_t sample_bytes = st->bit_depth == 16 ? 2 : 1;  // 16-bit samples stay 16-bit (big-endian)
  // Size checks come before png_read_update_info, which already allocates
  // (and clears) row buffers of the full width.
  const bool has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  st->has_trns = has_trns;
  if (st->color_type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp plte = nullptr;
    int plte_count = 0;
    if (png_get_PLTE(png, info, &plte, &plte_count) != 0 && plte_count > 0 && plte_count <= 256) {
      std::memcpy(st->plte, plte, sizeof(png_color) * static_cast<size_t>(plte_count));
      st->plte_count = plte_count;
    }
    png_bytep trns = nullptr;
    int trns_count = 0;
    if (has_trns && png_get_tRNS(png, info, &trns, &trns_count, nullptr) != 0 && trns != nullptr && trns_count > 0 &&
        trns_count <= st->plte_count) {
      std::memcpy(st->trns, trns, static_cast<size_t>(trns_count));
      st->trns_count = trns_count;
    }
  }
  st->channels = ExpandedChannels(st->color_type, has_trns);
  if (st->channels == 0) {
    st->stop = PngStop::kBadLayout;
    return true;
  }
  if (uint64_t{st->width} * st->height * st->channels > kMaxImageBytes / sample_bytes) {
    st->stop = PngStop::kTooLarge;
    return true;
  }
  // Everything after the first IDAT header must inflate to at least the
  // non-interlaced filtered size; deflate can't do better than 1032:1, so a
  // file too short for its dimensions is refused before allocating for them.
  const uint64_t stored_row_bits = uint64_t{st->width} * png_get_channels(png, info) * st->bit_depth;
  st->stored_bytes = ((stored_row_bits + 7) / 8 + 1) * st->height;
  if (st->stored_bytes > kMaxDeflateRatio * uint64_t{st->size - st->pos} + 1024) {
    st->stop = PngStop::kTooShort;
    return true;
  }
  // Palette -> RGB, grey below 8 bits -> 8 bits (scaled), tRNS -> alpha
  // channel. No gamma, background or colour-space transforms.
  png_set_expand(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);

  st->rowbytes = png_get_rowbytes(png, info);
  if (png_get_bit_depth(png, info) != 8 * sample_bytes || png_get_channels(png, info) != st->channels ||
      st->rowbytes != size_t{st->width} * st->channels * sample_bytes) {
    st->stop = PngStop::kBadLayout;
    return true;
  }
  if (!ResizeNoThrow(st->pixels, st->rowbytes * st->height)) {
    st->stop = PngStop::kOutOfMemory;
    return true;
  }
  // With interlace handling on, each pass fills its pixels into the same
  // full-size rows, so after the last pass the rows hold the whole image.
  for (int pass = 0; pass < passes; ++pass) {
    for (png_uint_32 y = 0; y < st->height; ++y) {
      png_read_row(png, st->pixels->data() + size_t{y} * st->rowbytes, nullptr);
    }
  }
  // Reads up to IEND, so a file cut after the image data is still refused; the chunks after
  // IDAT go into `info` too.
  png_read_end(png, info);
  st->stop = PngStop::kDone;
  return true;
}

// ---------------------------------------------------------------- writing

struct PngWriteState {
  std::vector<uint8_t>* out = nullptr;  // owned by EncodePng's frame
  const Image* image = nullptr;
  png_unknown_chunk* chunks = nullptr;  // metadata chunks, owned by EncodePng's frame
  int chunk_count = 0;
  int level = 6;
  // Palette PNG (colour type 3) when palette_count > 0: `indices` holds one index byte per
  // pixel (libpng packs them to bit_depth), `palette` and `trans` (trans_count entries,
  // the non-opaque ones, which come first) the PLTE and tRNS data. Owned by EncodePng's frame.
  const uint8_t* indices = nullptr;
  const png_color* palette = nullptr;
  const png_byte* trans = nullptr;
  int palette_count = 0, trans_count = 0, bit_depth = 8;
  // Grey PNG of grey_depth 1, 2 or 4 bits when grey_depth > 0: `grey_levels` holds one level
  // (0 to 2^grey_depth - 1) per pixel, libpng packs them; grey_trns >= 0: the tRNS level.
  // Owned by EncodePng's frame.
  int grey_depth = 0, grey_trns = -1;
  const uint8_t* grey_levels = nullptr;
  bool out_of_memory = false;
  char error[kMessageSize] = {};
};

void PngWriteErrorFn(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngWriteState*>(png_get_error_ptr(png));
  if (st != nullptr) CopyMessage(st->error, msg);
  png_longjmp(png, 1);
}

void PngWriteWarningFn(png_structp, png_const_charp) {}

void PngWriteFn(png_structp png, png_bytep data, size_t n) {
  auto* st = static_cast<PngWriteState*>(png_get_io_ptr(png));
  if (!AppendNoThrow(st->out, data, n)) {
    st->out_of_memory = true;
    png_error(png, "out of memory");
  }
}

void PngFlushFn(png_structp) {}

// No objects with destructors in this frame: libpng longjmps into it.
__attribute__((noinline)) bool RunPngEncode(png_structp png, png_infop info, PngWriteState* st) {
  if (setjmp(png_jmpbuf(png))) return false;

  const Image& image = *st->image;
  static const int kColorTypes[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                     PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_user_limits(png, kPngMaxDimension, kPngMaxDimension);
  png_set_write_fn(png, st, PngWriteFn, PngFlushFn);
  png_set_compression_level(png, st->level);
  const bool palette = st->palette_count > 0;
  const bool low_grey = st->grey_depth > 0;
  png_set_IHDR(png, info, image.width, image.height,
               palette ? st->bit_depth : low_grey ? st->grey_depth : image.bit_depth == 16 ? 16 : 8,
               palette ? PNG_COLOR_TYPE_PALETTE : low_grey ? PNG_COLOR_TYPE_GRAY : kColorTypes[image.channels],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette) {
    png_set_PLTE(png, info, st->palette, st->palette_count);
    if (st->trans_count > 0) png_set_tRNS(png, info, st->trans, st->trans_count, nullptr);
  }
  if (low_grey && st->grey_trns >= 0) {
    png_color_16 colour{};
    colour.gray = static_cast<png_uint_16>(st->grey_trns);
    png_set_tRNS(png, info, nullptr, 0, &colour);
  }
  if (st->chunk_count > 0) {
    // Written as they were read: every chunk, in order, in its place.
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, nullptr, 0);
    png_set_unknown_chunks(png, info, st->chunks, st->chunk_count);
  }
  png_write_info(png, info);
  if ((palette && st->bit_depth < 8) || low_grey) png_set_packing(png);
  const size_t rowbytes = palette || low_grey ? size_t{image.width}
                                              : size_t{image.width} * image.channels * image.BytesPerSample();
  const uint8_t* rows = palette ? st->indices : low_grey ? st->grey_levels : image.pixels.data();
  for (uint32_t y = 0; y < image.height; ++y) {
    png_write_row(png, rows + size_t{y} * rowbytes);
  }
  png_write_end(png, info);
  return true;
}

// The ancillary chunks libpng kept as unknown chunks, sorted into kept and not kept.
void CollectChunks(png_structp png, png_infop info, const PngReadState& st, ImageMetadata* metadata) {
  png_unknown_chunkp chunks = nullptr;
  const int count = png_get_unknown_chunks(png, info, &chunks);
  // bKGD and sBIT are written for the colour type and bit depth: kept only when those stay.
  const bool same_layout = (st.bit_depth == 8 || st.bit_depth == 16) && !st.has_trns &&
                           st.color_type != PNG_COLOR_TYPE_PALETTE;
  for (int i = 0; i < count; ++i) {
    const png_unknown_chunk& c = chunks[i];
    const std::string type(reinterpret_cast<const char*>(c.name), 4);
    std::string why;
    bool known = false;
    for (const char* k : kAlwaysKept) known = known || type == k;
    if (known) {
    } else if (type == "bKGD" || type == "sBIT") {
      if (!same_layout) {
        why = "it is written for the colour type and bit depth of the file, which pixelzip widens to " + std::string(st.bit_depth == 16 ? "16-bit " : "8-bit ") +
              std::string(st.channels == 1 ? "grey" : st.channels == 2 ? "grey+alpha" : st.channels == 3 ? "RGB" : "RGBA");
      }
    } else if (type == "hIST") {
      why = "it belongs to the palette, which pixelzip widens to RGB";
    } else if ((c.name[3] & 0x20) == 0) {
      why = "an unknown chunk that is not safe to copy once the image data is rewritten (PNG specification, 5.4)";
    }
    if (!why.empty()) {
      metadata->not_kept.push_back(type + " chunk: " + why);
      continue;
    }
    MetadataItem item;
    item.kind = MetadataItem::Kind::kPngChunk;
    item.png_type = type;
    item.place = (c.location & PNG_AFTER_IDAT) != 0  ? MetadataItem::Place::kAfterIdat
                 : (c.location & PNG_HAVE_PLTE) != 0 ? MetadataItem::Place::kBeforeIdat
                                                     : MetadataItem::Place::kBeforePlte;
    item.data.assign(c.data, c.data + c.size);
    metadata->items.push_back(std::move(item));
  }
}

}  // namespace

namespace formats_internal {

Image ReadPng(const uint8_t* data, size_t size, const std::string& name, ImageMetadata* metadata) {
  std::vector<uint8_t> pixels;
  PngReadState st;
  st.data = data;
  st.size = size;
  st.pixels = &pixels;
  st.want_metadata = metadata != nullptr;

  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, PngReadErrorFn, PngReadWarningFn);
  if (png == nullptr) throw Error(ErrorCode::kInternal, name + ": could not initialise libpng");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    throw Error(ErrorCode::kInternal, name + ": could not initialise libpng");
  }
  const bool ok = RunPngDecode(png, info, &st);
  if (ok && st.stop == PngStop::kDone && metadata != nullptr) {
    try {
      CollectChunks(png, info, st, metadata);
    } catch (...) {
      png_destroy_read_struct(&png, &info, nullptr);
      throw;
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);

  if (!ok) {
    if (st.ran_out) {
      throw Error(ErrorCode::kTruncatedInput, name + ": truncated PNG: the file ends before the image is complete");
    }
    std::string message = name + ": corrupt PNG: " + st.error;
    if (std::strcmp(st.error, "Invalid IHDR data") == 0 && st.warning[0] != '\0') {
      message += std::string(" (") + st.warning + ")";
    }
    throw Error(ErrorCode::kCorruptInput, message);
  }
  switch (st.stop) {
    case PngStop::kDone:
      break;
    case PngStop::kBadLayout:
      throw Error(ErrorCode::kInternal, name + ": libpng produced an unexpected pixel layout");
    case PngStop::kTooLarge:
      // Throws kLimitExceeded with the dimensions in the message.
      formats_internal::CheckedImageBytes(st.width, st.height, st.channels * (st.bit_depth == 16 ? 2 : 1), name);
      throw Error(ErrorCode::kInternal, name + ": image size check disagrees");
    case PngStop::kTooShort:
      throw Error(ErrorCode::kTruncatedInput,
                  name + ": truncated PNG: the file is too short to hold a " + std::to_string(st.width) + "x" +
                      std::to_string(st.height) + " image (" + std::to_string(st.stored_bytes) +
                      " bytes of image data can't be compressed into " + std::to_string(st.size - st.pos) + ")");
    case PngStop::kOutOfMemory:
      throw Error(ErrorCode::kLimitExceeded, name + ": out of memory allocating " + std::to_string(st.width) +
                                                 "x" + std::to_string(st.height) + " image");
  }
  Image image;
  image.width = st.width;
  image.height = st.height;
  image.channels = st.channels;
  image.bit_depth = st.bit_depth == 16 ? 16 : 8;
  image.pixels = std::move(pixels);
  if (metadata != nullptr) {
    SourceFormat& source = metadata->source;
    source = SourceFormat{};
    source.png_colour_type = st.color_type;
    source.png_bit_depth = st.bit_depth;
    if (st.color_type == PNG_COLOR_TYPE_PALETTE) {
      for (int j = 0; j < st.plte_count; ++j) {
        source.plte.insert(source.plte.end(), {st.plte[j].red, st.plte[j].green, st.plte[j].blue});
      }
      // A tRNS that reads as alpha: the entries libpng gave (never more than PLTE's).
      if (st.has_trns) source.trns.assign(st.trns, st.trns + st.trns_count);
    }
  }
  return image;
}

}  // namespace formats_internal

std::vector<uint8_t> EncodePng(const Image& image, int compression_level) {
  return EncodePng(image, compression_level, {}, nullptr);
}

std::vector<uint8_t> EncodePng(const Image& image, int compression_level, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept) {
  return EncodePng(image, compression_level, metadata, not_kept, false);
}

namespace {

// A recorded palette (SourceFormat, colour type 3) for `image`: its PLTE and tRNS entries, as
// recorded, and the index of each pixel (the first entry equal to it). False when the image
// is not 8-bit RGB (no tRNS) or RGBA (with tRNS), or has a pixel that is no entry.
bool IndicesInRecordedPalette(const Image& image, const SourceFormat& source, std::vector<uint8_t>* indices) {
  const uint32_t c = image.channels;
  const size_t entries = source.plte.size() / 3;
  if (image.bit_depth != 8 || source.plte.size() % 3 != 0 || entries == 0 || entries > 256 ||
      source.trns.size() > entries || !((c == 3 && source.trns.empty()) || (c == 4 && !source.trns.empty()))) {
    return false;
  }
  std::vector<std::pair<uint32_t, uint8_t>> index_of;  // RGBA packed, entry; the first of equal ones
  for (size_t j = 0; j < entries; ++j) {
    const uint32_t a = j < source.trns.size() ? source.trns[j] : 255;
    const uint32_t v = uint32_t{source.plte[3 * j]} << 24 | uint32_t{source.plte[3 * j + 1]} << 16 |
                       uint32_t{source.plte[3 * j + 2]} << 8 | a;
    index_of.emplace_back(v, static_cast<uint8_t>(j));
  }
  std::stable_sort(index_of.begin(), index_of.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  const size_t pixels = size_t{image.width} * image.height;
  indices->resize(pixels);
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* p = &image.pixels[i * c];
    const uint32_t v = uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | (c == 4 ? p[3] : 255u);
    const auto it = std::lower_bound(index_of.begin(), index_of.end(), v,
                                     [](const auto& e, uint32_t value) { return e.first < value; });
    if (it == index_of.end() || it->first != v) return false;
    (*indices)[i] = it->second;
  }
  return true;
}

// The image with samples 0..maxval scaled to the bit depth's full range, rounded (the PNG
// specification's scaling, section 12.4).
Image ScaledToFullRange(const Image& image, uint32_t maxval) {
  Image scaled = image;
  const uint64_t full = image.bit_depth == 16 ? 65535 : 255;
  for (size_t i = 0; i < image.SubpixelCount(); ++i) {
    scaled.set_sample(i, static_cast<uint16_t>((image.sample(i) * full + maxval / 2) / maxval));
  }
  return scaled;
}

std::vector<uint8_t> EncodePngWith(const Image& image, int compression_level, const std::vector<MetadataItem>& metadata,
                                   std::vector<std::string>* not_kept, bool palette, const SourceFormat* recorded);

}  // namespace

std::vector<uint8_t> EncodePng(const Image& image, int compression_level, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept, bool palette) {
  return EncodePngWith(image, compression_level, metadata, not_kept, palette, nullptr);
}

std::vector<uint8_t> EncodePng(const Image& image, int compression_level, const std::vector<MetadataItem>& metadata,
                               std::vector<std::string>* not_kept, const SourceFormat& source) {
  formats_internal::ValidateImageForEncode(image, "EncodePng");
  const uint32_t full = image.bit_depth == 16 ? 65535 : 255;
  if (source.maxval != 0 && source.maxval != full) {
    if (source.maxval > full) {
      throw Error(ErrorCode::kInvalidArgument, "EncodePng: maxval " + std::to_string(source.maxval) +
                                                   " is above the " + std::to_string(image.bit_depth) +
                                                   "-bit image's range");
    }
    for (size_t i = 0; i < image.SubpixelCount(); ++i) {
      if (image.sample(i) > source.maxval) {
        throw Error(ErrorCode::kInvalidArgument, "EncodePng: sample " + std::to_string(i) + " (" +
                                                     std::to_string(image.sample(i)) + ") is above the maxval " +
                                                     std::to_string(source.maxval));
      }
    }
    // PNG holds samples of 2^depth levels only: scaled, with sBIT when the maxval is 2^k - 1.
    std::vector<MetadataItem> with_sbit = metadata;
    int k = 0;
    while (k < 16 && (uint32_t{1} << k) - 1 < source.maxval) ++k;
    const bool power = (uint32_t{1} << k) - 1 == source.maxval;
    const bool has_sbit = std::any_of(metadata.begin(), metadata.end(), [](const MetadataItem& item) {
      return item.kind == MetadataItem::Kind::kPngChunk && item.png_type == "sBIT";
    });
    if (power && !has_sbit) {
      MetadataItem sbit;
      sbit.png_type = "sBIT";
      sbit.place = MetadataItem::Place::kBeforePlte;
      sbit.data.assign(image.channels, static_cast<uint8_t>(k));
      with_sbit.insert(with_sbit.begin(), sbit);
    }
    if (not_kept != nullptr) {
      not_kept->push_back("PNM maxval " + std::to_string(source.maxval) + ": PNG cannot hold it; the samples are scaled to 0-" +
                          std::to_string(full) + (power ? " with an sBIT chunk of " + std::to_string(k) + " bits" : std::string()) +
                          " (decompress to .pgm, .ppm or .pam to keep it)");
    }
    return EncodePngWith(ScaledToFullRange(image, source.maxval), compression_level, with_sbit, not_kept, false,
                         nullptr);
  }
  const bool recorded = source.png_colour_type == 3 || source.png_colour_type == 0;
  return EncodePngWith(image, compression_level, metadata, not_kept, source.png_colour_type == 3,
                       recorded ? &source : nullptr);
}

namespace {

// A recorded grey source of 1, 2 or 4 bits (SourceFormat, colour type 0) for `image`: one level
// per pixel (sample / (255 / (2^depth - 1))) and the tRNS level (-1: none). False when the
// image is not 8-bit grey, or grey+alpha that a tRNS chunk gives (alpha 0 or 255, the
// transparent pixels all of one grey that no opaque pixel has; all opaque needs a level no
// pixel uses), or has a sample that is no multiple of the step: then it is written as 8-bit.
bool LevelsOfRecordedGrey(const Image& image, const SourceFormat& source, std::vector<uint8_t>* levels,
                          int* trns_level) {
  const int d = source.png_bit_depth;
  if (source.png_colour_type != 0 || (d != 1 && d != 2 && d != 4) || image.bit_depth != 8 ||
      (image.channels != 1 && image.channels != 2))
    return false;
  const uint32_t step = 255 / ((1u << d) - 1);
  const uint32_t c = image.channels;
  const size_t pixels = size_t{image.width} * image.height;
  levels->resize(pixels);
  bool used[16] = {}, opaque_used[16] = {};
  int transparent = -1;
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t v = image.pixels[i * c];
    if (v % step != 0) return false;
    const uint8_t level = static_cast<uint8_t>(v / step);
    (*levels)[i] = level;
    used[level] = true;
    if (c == 2) {
      const uint8_t a = image.pixels[i * c + 1];
      if (a == 255) {
        opaque_used[level] = true;
      } else if (a != 0 || (transparent >= 0 && transparent != level)) {
        return false;
      } else {
        transparent = level;
      }
    }
  }
  *trns_level = -1;
  if (c == 1) return true;
  if (transparent >= 0) {
    if (opaque_used[transparent]) return false;
    *trns_level = transparent;
    return true;
  }
  for (int level = 0; level < (1 << d); ++level) {  // every pixel opaque: a level none has
    if (!used[level]) {
      *trns_level = level;
      return true;
    }
  }
  return false;
}

std::vector<uint8_t> EncodePngWith(const Image& image, int compression_level, const std::vector<MetadataItem>& metadata,
                                   std::vector<std::string>* not_kept, bool palette, const SourceFormat* recorded) {
  formats_internal::ValidateImageForEncode(image, "EncodePng");
  // The palette: the recorded one when every pixel is in it; else the distinct pixels,
  // non-opaque ones first (tRNS lists only those), then by value; none when there are more than 256.
  const uint32_t c = image.channels;
  const bool alpha = c == 2 || c == 4;
  std::vector<uint8_t> indices;
  const bool use_recorded = recorded != nullptr && recorded->png_colour_type == 3 &&
                            IndicesInRecordedPalette(image, *recorded, &indices);
  std::vector<uint8_t> grey_levels;
  int grey_trns = -1;
  const bool low_grey = recorded != nullptr && !palette && LevelsOfRecordedGrey(image, *recorded, &grey_levels, &grey_trns);
  std::vector<uint32_t> colours;  // packed: opaque flag, then the channels
  if (palette && !use_recorded && c >= 3 && image.bit_depth == 8) {
    const size_t pixels = size_t{image.width} * image.height;
    auto pack = [&](size_t i) {
      uint64_t v = 0;
      for (uint32_t k = 0; k < c; ++k) v = v << 8 | image.pixels[i * c + k];
      const bool opaque = !alpha || image.pixels[i * c + c - 1] == 255;
      return v | uint64_t{opaque} << 32;
    };
    std::vector<uint64_t> seen;
    for (size_t i = 0; i < pixels && seen.size() <= 256; ++i) {
      const uint64_t v = pack(i);
      const auto it = std::lower_bound(seen.begin(), seen.end(), v);
      if (it == seen.end() || *it != v) seen.insert(it, v);
    }
    // A palette PNG reads back as RGB or RGBA (RGBA only with a tRNS chunk): RGB images get
    // no tRNS; RGBA images always get one, also when every pixel is opaque (then one entry,
    // 255), so that they read back as RGBA (what a palette PNG with an all-opaque tRNS reads as).
    if (seen.size() <= 256 && (c == 3 || c == 4)) {
      for (uint64_t v : seen) colours.push_back(static_cast<uint32_t>(v));
    }
  }
  std::vector<png_color> plte;
  std::vector<png_byte> trans;
  int bit_depth = 8;
  if (use_recorded) {
    const size_t entries = recorded->plte.size() / 3;
    plte.resize(entries);
    for (size_t j = 0; j < entries; ++j) {
      plte[j].red = recorded->plte[3 * j];
      plte[j].green = recorded->plte[3 * j + 1];
      plte[j].blue = recorded->plte[3 * j + 2];
    }
    trans.assign(recorded->trns.begin(), recorded->trns.end());
    // The recorded bit depth when it holds every entry, else the smallest that does.
    const int d = recorded->png_bit_depth;
    bit_depth = (d == 1 || d == 2 || d == 4 || d == 8) && entries <= (size_t{1} << d)
                    ? d
                    : entries <= 2 ? 1 : entries <= 4 ? 2 : entries <= 16 ? 4 : 8;
  } else if (!colours.empty()) {
    plte.resize(colours.size());
    for (size_t j = 0; j < colours.size(); ++j) {
      const uint32_t v = colours[j];
      auto channel = [&](uint32_t k) { return static_cast<png_byte>(v >> (8 * (c - 1 - k))); };
      const png_byte a = alpha ? channel(c - 1) : 255;
      if (c <= 2) {
        plte[j].red = plte[j].green = plte[j].blue = channel(0);
      } else {
        plte[j].red = channel(0);
        plte[j].green = channel(1);
        plte[j].blue = channel(2);
      }
      if (a != 255) trans.push_back(a);
    }
    if (c == 4 && trans.empty()) trans.push_back(255);  // every pixel opaque: tRNS keeps the alpha channel
    const size_t pixels = size_t{image.width} * image.height;
    indices.resize(pixels);
    std::vector<std::pair<uint32_t, uint8_t>> index_of;  // sorted by colour
    for (size_t j = 0; j < colours.size(); ++j) index_of.emplace_back(colours[j], static_cast<uint8_t>(j));
    std::sort(index_of.begin(), index_of.end());
    uint32_t last = 0;
    uint8_t last_index = 0;
    for (size_t i = 0; i < pixels; ++i) {
      uint32_t v = 0;
      for (uint32_t k = 0; k < c; ++k) v = v << 8 | image.pixels[i * c + k];
      if (i == 0 || v != last) {
        last = v;
        last_index = std::lower_bound(index_of.begin(), index_of.end(), std::make_pair(v, uint8_t{0}))->second;
      }
      indices[i] = last_index;
    }
    bit_depth = colours.size() <= 2 ? 1 : colours.size() <= 4 ? 2 : colours.size() <= 16 ? 4 : 8;
  }
  const bool as_palette = use_recorded || !colours.empty();
  std::vector<png_unknown_chunk> chunks;
  for (const MetadataItem& item : metadata) {
    if (as_palette && (item.png_type == "bKGD" || item.png_type == "sBIT" || item.png_type == "hIST")) {
      if (not_kept) not_kept->push_back(DescribeMetadataItem(item) + ": belongs to the source's colour type, not a palette PNG");
      continue;
    }
    const bool letters = item.png_type.size() == 4 && std::all_of(item.png_type.begin(), item.png_type.end(), [](char c) {
                           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
                         });
    if (item.kind != MetadataItem::Kind::kPngChunk || !letters || (item.png_type[0] & 0x20) == 0 ||
        item.data.size() > 0x7fffffffu) {
      if (not_kept) {
        not_kept->push_back(DescribeMetadataItem(item) + (item.kind == MetadataItem::Kind::kPngChunk
                                                              ? ": not an ancillary chunk PNG can hold"
                                                              : ": PNG has no place for it (decompress to PNM to keep it)"));
      }
      continue;
    }
    png_unknown_chunk c{};
    std::memcpy(c.name, item.png_type.data(), 4);
    c.name[4] = 0;
    c.data = const_cast<png_byte*>(item.data.data());
    c.size = item.data.size();
    c.location = item.place == MetadataItem::Place::kAfterIdat    ? PNG_AFTER_IDAT
                 : item.place == MetadataItem::Place::kBeforeIdat ? PNG_HAVE_PLTE
                                                                  : PNG_HAVE_IHDR;
    chunks.push_back(c);
  }
  if (compression_level < 0 || compression_level > 9) {
    throw Error(ErrorCode::kInvalidArgument,
                "EncodePng: compression level " + std::to_string(compression_level) + " is not in 0..9");
  }
  std::vector<uint8_t> out;
  PngWriteState st;
  st.out = &out;
  st.image = &image;
  st.level = compression_level;
  st.chunks = chunks.data();
  st.chunk_count = static_cast<int>(chunks.size());
  if (as_palette) {
    st.indices = indices.data();
    st.palette = plte.data();
    st.palette_count = static_cast<int>(plte.size());
    st.trans = trans.data();
    st.trans_count = static_cast<int>(trans.size());
    st.bit_depth = bit_depth;
  } else if (low_grey) {
    st.grey_depth = recorded->png_bit_depth;
    st.grey_trns = grey_trns;
    st.grey_levels = grey_levels.data();
  }

  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, PngWriteErrorFn, PngWriteWarningFn);
  if (png == nullptr) throw Error(ErrorCode::kInternal, "EncodePng: could not initialise libpng");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    throw Error(ErrorCode::kInternal, "EncodePng: could not initialise libpng");
  }
  const bool ok = RunPngEncode(png, info, &st);
  png_destroy_write_struct(&png, &info);
  if (!ok) {
    if (st.out_of_memory) throw Error(ErrorCode::kLimitExceeded, "EncodePng: out of memory");
    throw Error(ErrorCode::kInternal, std::string("EncodePng: libpng failed: ") + st.error);
  }
  return out;
}

}  // namespace

}  // namespace pixelzip
