// Regenerates the golden streams in tests/data/golden/ (docs/format.md, section 6).
// Built with the tests, run only by hand:
//   build/tests/codec/make_golden tests/data/golden
// The golden files pin the stream format: a change that alters them is a format
// change and must bump the format version (container.h) before they are regenerated.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using pixelzip::Image;
using pixelzip::codec::Header;
using namespace pixelzip::test;

std::vector<uint8_t> Cut(const std::vector<uint8_t>& s, size_t n) { return {s.begin(), s.begin() + n}; }

// Writes the stream a 1.x-3.x writer made (the pre-4.0 golden file, byte for byte) and its
// 4.x twin (CompactGoldenFile).
void WriteBoth(const std::string& dir, const std::string& stem, const std::vector<uint8_t>& stream) {
  WriteFileBytes(dir + "/" + stem + ".pxz", Legacy(stream));
  WriteFileBytes(dir + "/" + CompactGoldenFile(stem), stream);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "tests/data/golden";
  try {
    for (const ValidGolden& g : ValidGoldens()) {
      const Image image = MakeImage(g.width, g.height, g.channels, g.seed);
      WriteBoth(dir, g.stem, pixelzip::Encode(image, Order0Options(g.adaptive, g.kind)).stream);
      WriteFileBytes(dir + "/" + g.stem + PnmExtension(g.channels), PnmBytes(image));
    }

    for (const WavefrontGolden& g : WavefrontGoldens()) {
      const Image image = MakeImage(g.width, g.height, g.channels, g.seed);
      WriteBoth(dir, g.stem, pixelzip::Encode(image, WavefrontOptions(g)).stream);
      WriteFileBytes(dir + "/" + g.stem + PnmExtension(g.channels), PnmBytes(image));
    }

    for (const MultiscaleGolden& g : MultiscaleGoldens()) {
      const Image image = MakeImage(g.width, g.height, g.channels, g.seed);
      WriteBoth(dir, g.stem, pixelzip::Encode(image, MultiscaleOptions(g)).stream);
      WriteFileBytes(dir + "/" + g.stem + PnmExtension(g.channels), PnmBytes(image));
    }

    for (const FallbackGolden& g : FallbackGoldens()) {
      const Image image = FallbackGoldenImage(g);
      const pixelzip::EncodeResult r = pixelzip::Encode(image, FallbackOptions());
      if (r.coding != g.coding) throw std::runtime_error(std::string(g.stem) + ": the encoder chose another coding");
      WriteBoth(dir, g.stem, r.stream);
      WriteFileBytes(dir + "/" + g.stem + PnmExtension(g.channels), PnmBytes(image));
    }

    for (const SixteenBitGolden& g : SixteenBitGoldens()) {
      const Image image = SixteenBitGoldenImage(g);
      const pixelzip::EncodeResult r = pixelzip::Encode(image, SixteenBitOptions(g));
      if (r.coding != g.coding) throw std::runtime_error(std::string(g.stem) + ": the encoder chose another coding");
      WriteFileBytes(dir + "/" + g.stem + ".pxz", r.stream);
      WriteFileBytes(dir + "/" + g.stem + PnmExtension(g.channels), PnmBytes(image));
    }

    for (const SourceGolden& g : SourceGoldens()) {
      const Image image = SourceGoldenImage(g);
      const std::vector<uint8_t> stream = pixelzip::Encode(image, SourceOptions(g)).stream;
      WriteFileBytes(dir + "/" + g.stem + ".pxz", stream);
      WriteFileBytes(dir + "/" + g.stem + PnmExtension(g.channels), PnmBytes(image));
      size_t header_bytes = 0;
      Header h = HeaderOf(stream, &header_bytes);
      if (g.source.maxval == 100) {  // tag 3, u16 100 -> 50
        h.extension.at(3) = 50;
        WriteFileBytes(dir + "/" + kSourceAboveMaxvalGolden, WithHeader(stream, h));
      }
      if (g.source.png_colour_type == 3) {  // the first entry's 3-bit number set to 7: no colour, no literal
        h.extension.at(3 + 5) |= 0xe0;
        WriteFileBytes(dir + "/" + kSourceBadPaletteGolden, WithHeader(stream, h));
      }
    }

    // Every invalid stream is a damaged copy of the RGB one.
    const ValidGolden& base = ValidGoldens().front();
    const std::vector<uint8_t> valid =
        Legacy(pixelzip::Encode(MakeImage(base.width, base.height, base.channels, base.seed), Order0Options()).stream);
    size_t hb = 0;
    const Header h = HeaderOf(valid, &hb);
    const size_t arch = h.architecture.size();
    const size_t payload = valid.size() - hb;
    auto with = [&](auto edit) {
      Header x = h;
      edit(x);
      return WithHeader(valid, x);
    };

    std::map<std::string, std::vector<uint8_t>> out;
    {
      Header x = h;
      x.version_minor = 7;
      x.extension = {1, 2, 3, 4, 5};
      WriteFileBytes(dir + "/" + kFutureMinorGolden, WithHeader(valid, x));
    }
    {
      pixelzip::EncodeOptions options = Order0Options();
      options.metadata = MetadataGolden();
      WriteBoth(dir, std::string(kMetadataGolden).substr(0, std::string(kMetadataGolden).find('.')),
                pixelzip::Encode(MakeImage(base.width, base.height, base.channels, base.seed), options).stream);
    }
    out["bad_magic.pxz"] = valid;
    out["bad_magic.pxz"][1] = 'Q';
    out["short_bad_magic.pxz"] = {'G', 'I'};
    out["future_major.pxz"] = with([](Header& x) { x.version_major = pixelzip::codec::kVersionMajor + 1; });
    out["version_0.pxz"] = with([](Header& x) { x.version_major = 0; });
    out["damaged_major_version.pxz"] = valid;  // major 1 -> 257, header CRC left as it was
    out["damaged_major_version.pxz"][5] ^= 0x01;
    out["truncated_empty.pxz"] = {};
    out["truncated_in_magic.pxz"] = Cut(valid, 2);
    out["truncated_in_version.pxz"] = Cut(valid, 6);
    out["truncated_in_hash.pxz"] = Cut(valid, 9 + arch + 10);
    out["truncated_in_header_crc.pxz"] = Cut(valid, hb - 2);
    out["truncated_no_payload.pxz"] = Cut(valid, hb);
    out["truncated_half_payload.pxz"] = Cut(valid, hb + payload / 2);
    out["truncated_last_byte.pxz"] = Cut(valid, valid.size() - 1);
    out["bad_header_crc.pxz"] = valid;
    out["bad_header_crc.pxz"][hb - 1] ^= 0x40;
    out["header_bit_flip.pxz"] = valid;
    out["header_bit_flip.pxz"][ChannelsOffset(arch) + 1] ^= 0x01;  // width, CRC left stale
    out["bad_pixel_crc.pxz"] = with([](Header& x) { x.pixel_crc32 ^= 1; });
    out["payload_byte_flip.pxz"] = valid;
    out["payload_byte_flip.pxz"][hb + payload / 2] ^= 0x10;
    out["dims_2p31.pxz"] = with([](Header& x) { x.width = x.height = 1u << 31; });
    out["pixels_over_limit.pxz"] = with([](Header& x) {  // each dimension within its limit
      x.width = 65536;
      x.height = 8192;
    });
    out["payload_too_short_for_size.pxz"] = with([](Header& x) { x.width = x.height = 4096; });
    out["zero_width.pxz"] = valid;
    for (int i = 0; i < 4; ++i) out["zero_width.pxz"][ChannelsOffset(arch) + 1 + i] = 0;
    FixHeaderCrc(out["zero_width.pxz"], hb);
    out["channels_5.pxz"] = valid;
    out["channels_5.pxz"][ChannelsOffset(arch)] = 5;
    FixHeaderCrc(out["channels_5.pxz"], hb);
    out["unknown_order.pxz"] = valid;
    out["unknown_order.pxz"][ChannelsOffset(arch) - 1] = 7;
    FixHeaderCrc(out["unknown_order.pxz"], hb);
    {
      std::vector<uint8_t> s = valid;
      s.erase(s.begin() + 9, s.begin() + 9 + static_cast<std::ptrdiff_t>(arch));
      s[8] = 0;
      FixHeaderCrc(s, hb - arch);
      out["empty_architecture.pxz"] = s;
    }
    out["trailing_garbage.pxz"] = valid;
    for (char c : std::string("garbage")) out["trailing_garbage.pxz"].push_back(static_cast<uint8_t>(c));
    out["unknown_model.pxz"] = with([](Header& x) { x.weights_sha256[0] ^= 0xff; });
    {
      const ValidGolden& b2 = ValidGoldens()[4];  // valid2_rgb_16x12
      const std::vector<uint8_t> v2 =
          Legacy(pixelzip::Encode(MakeImage(b2.width, b2.height, b2.channels, b2.seed), Order0Options(true)).stream);
      size_t hb2 = 0;
      const Header h2 = HeaderOf(v2, &hb2);
      // The stage record: u16 length at 63 + L, then its bytes (docs/format.md section 2).
      const size_t record = 63 + h2.architecture.size();
      std::vector<uint8_t> s = v2;
      s[record + 2] = 9;  // kind
      FixHeaderCrc(s, hb2);
      out["v2_unknown_stage_kind.pxz"] = s;
      s = v2;
      s[record] = static_cast<uint8_t>(h2.stage.size() - 1);
      s.erase(s.begin() + static_cast<std::ptrdiff_t>(record + 2 + h2.stage.size() - 1));
      FixHeaderCrc(s, hb2 - 1);
      out["v2_stage_record_short.pxz"] = s;
      out["v2_payload_byte_flip.pxz"] = v2;
      out["v2_payload_byte_flip.pxz"][hb2 + (v2.size() - hb2) / 2] ^= 0x10;
      out["v2_truncated_half_payload.pxz"] = Cut(v2, hb2 + (v2.size() - hb2) / 2);
    }

    {
      // The compact header (docs/format.md section 2.2): order at 8, channels 9, bits per
      // sample 10, then the varints width (16: one byte at 11) and height (12: one byte at 12).
      const ValidGolden& b2 = ValidGoldens()[4];  // valid2_rgb_16x12
      const std::vector<uint8_t> c =
          pixelzip::Encode(MakeImage(b2.width, b2.height, b2.channels, b2.seed), Order0Options(true)).stream;
      size_t hb = 0;
      const Header h = HeaderOf(c, &hb);
      const size_t stage_at = 13 + 1 + h.architecture.size() + 32;  // the stage record's length
      auto edited = [&](auto edit) {
        std::vector<uint8_t> s = c;
        const size_t header = edit(s);
        FixHeaderCrc(s, header);
        return s;
      };
      out["compact_truncated_in_width.pxz"] = Cut(c, 11);
      out["compact_overlong_width.pxz"] = edited([&](std::vector<uint8_t>& s) {  // 16 as 0x90 0x00
        s[11] = 0x90;
        s.insert(s.begin() + 12, 0x00);
        return hb + 1;
      });
      out["compact_width_over_32_bits.pxz"] = edited([&](std::vector<uint8_t>& s) {  // 2^32
        s[11] = 0x80;
        s.insert(s.begin() + 12, {0x80, 0x80, 0x80, 0x10});
        return hb + 4;
      });
      out["compact_zero_height.pxz"] = edited([&](std::vector<uint8_t>& s) { return s[12] = 0, hb; });
      out["compact_bits_per_sample_12.pxz"] = edited([&](std::vector<uint8_t>& s) { return s[10] = 12, hb; });
      out["compact_stage_record_too_long.pxz"] = edited([&](std::vector<uint8_t>& s) {  // 300 > 255
        s[stage_at] = 0xac;
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(stage_at) + 1, 0x02);
        return hb + 1;
      });
      out["compact_order_deflate_with_a_model.pxz"] = edited([&](std::vector<uint8_t>& s) { return s[8] = 3, hb; });
      out["compact_bad_header_crc.pxz"] = c;
      out["compact_bad_header_crc.pxz"][hb - 1] ^= 0x40;
      out["compact_major_damaged_to_1.pxz"] = c;  // header CRC left as it was
      out["compact_major_damaged_to_1.pxz"][4] = 1;
      out["compact_truncated_in_extension.pxz"] = Cut(c, hb - 4);  // needs 5 extension bytes
      out["compact_truncated_in_extension.pxz"][hb - 5] = 5;
      out["compact_truncated_half_payload.pxz"] = Cut(c, hb + (c.size() - hb) / 2);
      out["compact_trailing_garbage.pxz"] = c;
      out["compact_trailing_garbage.pxz"].push_back(0);
      Header x = h;
      x.weights_sha256[0] ^= 0xff;
      out["compact_unknown_model.pxz"] = WithHeader(c, x);
    }

    for (const InvalidGolden& g : InvalidGoldens()) {
      auto it = out.find(g.file);
      if (it == out.end()) {
        std::fprintf(stderr, "make_golden: no recipe for %s\n", g.file);
        return 1;
      }
      WriteFileBytes(dir + "/" + g.file, it->second);
      out.erase(it);
    }
    if (!out.empty()) {
      std::fprintf(stderr, "make_golden: %s is not listed in InvalidGoldens()\n", out.begin()->first.c_str());
      return 1;
    }
    std::printf("make_golden: wrote %zu valid and %zu invalid streams to %s\n", ValidGoldens().size() + 2,
                InvalidGoldens().size(), dir.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_golden: %s\n", e.what());
    return 1;
  }
  return 0;
}
