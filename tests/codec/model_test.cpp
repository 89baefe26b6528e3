// The reference model order0-adaptive and the model registry.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "models/order0_model.h"
#include "models/registry.h"
#include "pixelzip/error.h"

namespace pixelzip::models {
namespace {

void ExpectValidCdf(const SubpixelCdf& cdf) {
  EXPECT_EQ(cdf.At(0), 0u);
  EXPECT_EQ(cdf.At(kSymbols), kCdfTotal);
  for (int s = 0; s < kSymbols; ++s) ASSERT_GE(cdf.At(s + 1), cdf.At(s) + 1) << "symbol " << s;
}

TEST(AdaptiveFrequencies, StartsUniform) {
  AdaptiveFrequencies f;
  ExpectValidCdf(f);
  for (int s = 0; s < kSymbols; ++s) EXPECT_EQ(f.At(s + 1) - f.At(s), 256u);
}

TEST(AdaptiveFrequencies, StaysValidThroughRescalesAndConcentratesMass) {
  AdaptiveFrequencies f;
  for (int i = 0; i < 20000; ++i) {
    f.Update(200);
    ASSERT_LE(f.Total(), 1u << 16);
    if (i % 997 == 0) ExpectValidCdf(f);
  }
  ExpectValidCdf(f);
  // Every other symbol keeps count 1; the total is at least 2^15 after a halving, so
  // 200 gets at least 65536 - 255 * (1 + 65280 / 2^15) > 64700 of the 2^16.
  EXPECT_GE(f.At(201) - f.At(200), 64700u);
  for (int s = 0; s < kSymbols; ++s) {
    if (s != 200) {
      EXPECT_EQ(f.Count(s), 1u);
    }
  }
}

TEST(AdaptiveFrequencies, ExactValuesAfterKnownUpdates) {
  AdaptiveFrequencies f({32, 1u << 16});
  f.Update(0);
  f.Update(0);
  f.Update(255);
  // counts: 65, 1 x 254, 33; total 352.
  EXPECT_EQ(f.Total(), 352u);
  EXPECT_EQ(f.At(1), 1u + 65u * 65280u / 352u);
  EXPECT_EQ(f.At(255), 255u + 319u * 65280u / 352u);
  ExpectValidCdf(f);
}

TEST(AdaptiveFrequencies, RejectsBadParameters) {
  EXPECT_THROW(AdaptiveFrequencies({0, 1u << 16}), Error);
  EXPECT_THROW(AdaptiveFrequencies({32, 200}), Error);
  EXPECT_THROW(AdaptiveFrequencies({32, (1u << 24) + 1}), Error);
}

TEST(Order0Model, IdentityIsTheSha256OfItsDescription) {
  const Order0Model model;
  EXPECT_EQ(model.Identity().architecture, "order0-adaptive");
  const std::string text = Order0Model::CanonicalDescription({});
  EXPECT_EQ(model.Identity().weights_sha256, Sha256(text.data(), text.size()));
  // Pinned: a change here changes every stream's header (bump the format, regenerate goldens).
  EXPECT_EQ(HexDigest(model.Identity().weights_sha256), "06e22a572432ab714143e64d52dec840cffb93d6a66f2fde6284d5145c540358");
  EXPECT_NE(Order0Model({16, 1u << 16}).Identity().weights_sha256, model.Identity().weights_sha256);
}

TEST(Sha256, KnownAnswer) {
  EXPECT_EQ(HexDigest(Sha256("abc", 3)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// Records the symbols and CDFs the model hands out; replays them when decoding.
class RecordingSink : public SymbolSink {
 public:
  void Put(const SymbolPosition&, const SubpixelCdf& cdf, int symbol) override {
    ExpectValidCdf(cdf);
    symbols.push_back(symbol);
  }
  std::vector<int> symbols;
};
class ReplaySource : public SymbolSource {
 public:
  explicit ReplaySource(const std::vector<int>& s) : symbols(s) {}
  int Get(const SymbolPosition&, const SubpixelCdf& cdf) override {
    ExpectValidCdf(cdf);
    return symbols.at(next++);
  }
  const std::vector<int>& symbols;
  size_t next = 0;
};

TEST(Order0Model, VisitsSubpixelsInRasterOrder) {
  std::vector<uint8_t> pixels(5 * 4 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  PlaneView view{5, 4, 3, pixels.data()};
  RecordingSink sink;
  int rows = 0;
  Order0Model().Encode(view, sink, [&rows](double) { ++rows; });
  EXPECT_EQ(rows, 4);
  ASSERT_EQ(sink.symbols.size(), pixels.size());
  for (size_t i = 0; i < pixels.size(); ++i) EXPECT_EQ(sink.symbols[i], pixels[i]);

  std::vector<uint8_t> out(pixels.size());
  ReplaySource source(sink.symbols);
  Order0Model().Decode(PlaneView{5, 4, 3, out.data()}, source, {});
  EXPECT_EQ(out, pixels);
}

TEST(Registry, ResolvesDefaultAndNames) {
  // order0-adaptive, unless a neural model with a higher rank is compiled in.
  for (uint32_t c : {1u, 3u}) {
    const std::string name = DefaultModelName(Order::kRaster, c);
    ASSERT_FALSE(name.empty());
    const auto model = ResolveModel("default", Order::kRaster, c, Device::kCpu);
    EXPECT_EQ(model->Identity().weights_sha256, OpenModel(name, Device::kCpu)->Identity().weights_sha256);
    EXPECT_TRUE(model->SupportsChannels(c));
  }
  // A colour multiscale model ships with the neural models; none for grey.
  const std::string multiscale = DefaultModelName(Order::kMultiscale, 3);
  if (!multiscale.empty()) {
    EXPECT_EQ(ResolveModel("default", Order::kMultiscale, 3, Device::kCpu)->Order(), pixelzip::Order::kMultiscale);
  }
  EXPECT_EQ(DefaultModelName(Order::kMultiscale, 1), "");
  EXPECT_EQ(OpenModel("order0-adaptive", Device::kAuto)->Identity().weights_sha256,
            Order0Model().Identity().weights_sha256);
  const std::vector<std::string> names = ShippedModelNames();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "order0-adaptive");
}

TEST(Registry, ErrorCodes) {
  auto code = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  EXPECT_EQ(code([] { ResolveModel("default", Order::kMultiscale, 1, Device::kCpu); }), ErrorCode::kUnsupported);
  EXPECT_EQ(code([] { ResolveModel("default", Order::kRaster, 2, Device::kCpu); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code([] { ResolveModel("nonexistent", Order::kRaster, 3, Device::kCpu); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code([] { OpenModel("default", Device::kCpu); }), ErrorCode::kInvalidArgument);
  // An existing file, but no loader is registered in this test binary (unless the
  // neural models are compiled in).
  SetModelFileLoader({});
  EXPECT_EQ(code([] { OpenModel(PIXELZIP_GOLDEN_DIR "/valid_rgb_16x12.pxz", Device::kCpu); }),
            ErrorCode::kUnsupported);
}

TEST(Registry, FindsByHash) {
  const auto model = FindModelByHash(Order0Model().Identity().weights_sha256, Device::kCpu);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->Identity().architecture, "order0-adaptive");
  std::array<uint8_t, 32> other{};
  EXPECT_EQ(FindModelByHash(other, Device::kCpu), nullptr);
}

TEST(Registry, RuntimeRegistrationAndItsChecks) {
  const AdaptiveFrequencies::Params params{8, 1u << 12};
  ShippedModelEntry entry;
  entry.name = "order0-registry-test";
  entry.identity = Order0Model(params).Identity();
  entry.colour_channels = {3};
  entry.default_rank = 1000;
  entry.factory = [params](Device) { return std::make_shared<const Order0Model>(params); };
  const std::string grey_default = DefaultModelName(Order::kRaster, 1);
  RegisterShippedModel(entry);
  EXPECT_EQ(DefaultModelName(Order::kRaster, 3), "order0-registry-test");  // outranks the others
  EXPECT_EQ(DefaultModelName(Order::kRaster, 1), grey_default);            // it codes only 3 channels
  EXPECT_NE(FindModelByHash(entry.identity.weights_sha256, Device::kCpu), nullptr);
  EXPECT_THROW(RegisterShippedModel(entry), Error);  // same name

  ShippedModelEntry same_hash = entry;
  same_hash.name = "another-name";
  EXPECT_THROW(RegisterShippedModel(same_hash), Error);

  ShippedModelEntry liar = entry;  // registered identity differs from what the factory builds
  liar.name = "order0-liar";
  liar.identity.weights_sha256[0] ^= 1;
  RegisterShippedModel(liar);
  try {
    OpenModel("order0-liar", Device::kCpu);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelInvalid);
  }

  ShippedModelEntry bad = entry;
  bad.name = "bad-channels";
  bad.identity.weights_sha256[1] ^= 1;
  bad.colour_channels = {2};
  EXPECT_THROW(RegisterShippedModel(bad), Error);
  bad.colour_channels = {3};
  bad.identity.architecture = "has space";
  EXPECT_THROW(RegisterShippedModel(bad), Error);
}

}  // namespace
}  // namespace pixelzip::models
