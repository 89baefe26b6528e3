// The adaptive stage through the codec with the shipped models (issue 21): round trips
// in both orders (raster in both layouts), grey and colour, with and without alpha, 1x1
// and odd sizes; format 4.0 whether the stage or the wavefront layout is on or not; and
// its effect on the rate of synthetic images.
#include <gtest/gtest.h>

#include <string>

#include "pixelzip/codec.h"
#include "tests/adaptive/synthetic_images.h"
#include "test_support.h"

namespace pixelzip {
namespace {

EncodeOptions Options(Order order, bool adaptive, Layout layout = Layout::kAuto) {
  EncodeOptions eo;
  eo.order = order;
  eo.adaptive = adaptive;
  eo.layout = layout;
  eo.fallback = Fallback::kOff;  // these tests measure the model's coding, with and without the stage
  return eo;
}

struct Case {
  Order order;
  uint32_t w, h, channels;
};

class AdaptiveCodecRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(AdaptiveCodecRoundTrip, DecodesToTheSamePixelsWithAndWithoutTheStage) {
  const Case k = GetParam();
  for (const std::string& name : {std::string("flat"), std::string("photolike")}) {
    Image image = synthetic::Make(name, k.w, k.h, k.channels == 2 || k.channels == 4 ? k.channels - 1 : k.channels, 4);
    if (k.channels == 2 || k.channels == 4) image = test::MakeImage(k.w, k.h, k.channels, 9);
    for (const bool adaptive : {true, false})
    for (const Layout layout : {Layout::kRaster, Layout::kAuto}) {
      SCOPED_TRACE(name + (adaptive ? " stage on" : " stage off") +
                   (layout == Layout::kRaster ? ", raster layout" : ", default layout"));
      const EncodeResult encoded = Encode(image, Options(k.order, adaptive, layout));
      const StreamInfo info = ReadStreamInfo(encoded.stream.data(), encoded.stream.size());
      // The default raster model (local-pixelcnn) writes the wavefront layout by default (2.0).
      const bool wavefront = k.order == Order::kRaster && layout == Layout::kAuto;
      EXPECT_EQ(info.layout, wavefront ? Layout::kWavefront : Layout::kRaster);
      EXPECT_EQ(info.version_major, 4u);
      EXPECT_EQ(info.adaptive, adaptive);
      EXPECT_EQ(Decode(encoded.stream), image);
      // The payload is the ideal code length (model_bits) plus at most a few bytes.
      EXPECT_LE(8.0 * info.payload_bytes, encoded.model_bits + 64);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AdaptiveCodecRoundTrip,
    ::testing::Values(Case{Order::kRaster, 1, 1, 1}, Case{Order::kRaster, 1, 1, 3}, Case{Order::kRaster, 13, 9, 1},
                      Case{Order::kRaster, 13, 9, 3}, Case{Order::kRaster, 6, 5, 2}, Case{Order::kRaster, 9, 7, 4},
                      Case{Order::kMultiscale, 1, 1, 3}, Case{Order::kMultiscale, 13, 9, 3},
                      Case{Order::kMultiscale, 33, 20, 3}),
    [](const auto& info) {
      return std::string(info.param.order == Order::kRaster ? "raster_" : "multiscale_") +
             std::to_string(info.param.w) + "x" + std::to_string(info.param.h) + "x" +
             std::to_string(info.param.channels);
    });

size_t StreamBytes(const Image& image, Order order, bool adaptive) {
  return Encode(image, Options(order, adaptive)).stream.size();
}

// A synthetic graphic (unlike the training photos): the stage must cut the rate a lot.
TEST(AdaptiveCodecRate, LowersTheRateOnASyntheticGraphic) {
  for (const char* name : {"flat", "text", "screenshot"}) {
    const Image image = synthetic::Make(name, 96, 80, 3, 2);
    const size_t on = StreamBytes(image, Order::kRaster, true), off = StreamBytes(image, Order::kRaster, false);
    EXPECT_LT(2 * on, off) << name << ": " << on << " bytes with the stage, " << off << " without";
  }
  const Image image = synthetic::Make("flat", 64, 64, 3, 3);
  EXPECT_LT(2 * StreamBytes(image, Order::kMultiscale, true), StreamBytes(image, Order::kMultiscale, false));
}

// A photo-like image (smooth field plus noise): the stage may not raise the rate by more
// than 0.5%.
TEST(AdaptiveCodecRate, DoesNotRaiseThePhotoLikeRateByMoreThanHalfAPercent) {
  const Image image = synthetic::Make("photolike", 96, 96, 3, 5);
  for (const Order order : {Order::kRaster, Order::kMultiscale}) {
    const size_t on = StreamBytes(image, order, true), off = StreamBytes(image, order, false);
    EXPECT_LE(double(on), 1.005 * double(off)) << on << " bytes with the stage, " << off << " without";
  }
}

// A perfectly flat image costs next to nothing (the 2^16 floor is per binary decision).
TEST(AdaptiveCodecRate, AFlatImageCostsAlmostNothing) {
  const Image image = synthetic::Blank(128, 128, 3, 200);
  const EncodeResult encoded = Encode(image, Options(Order::kRaster, true));
  const StreamInfo info = ReadStreamInfo(encoded.stream.data(), encoded.stream.size());
  EXPECT_LT(8.0 * info.payload_bytes / (128 * 128 * 3), 0.01);
  EXPECT_EQ(Decode(encoded.stream), image);
}

}  // namespace
}  // namespace pixelzip
