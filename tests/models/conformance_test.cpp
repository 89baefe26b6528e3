// One table-driven conformance test over the catalog (models/nn/catalog.h), in the
// spirit of ggml's test-backend-ops and dav1d's checkasm: every architecture, as a
// tiny randomly initialised and calibrated network exported to a model file, is
// checked against the plain reference, its integer CPU engine:
//  * the fake-quantised forward's likelihood equals the integer model's code length
//    (to within the CDFs' rounding: 0.02 bits per subpixel);
//  * the batched LibTorch encoder equals the incremental CPU engine (the same stream),
//    and the decoder (the CPU engine, pixel by pixel) gives the image back;
//  * image sizes (batch shapes) and LibTorch thread counts change nothing;
//  * CUDA equals the CPU where a GPU is present (skipped otherwise);
//  * the model file round-trips and a corrupted or cut file is refused;
//  * training lowers the float and the fake-quantised loss, and the trainer exports a model that codes
//    like the fake-quantised network.
// The per-architecture test files keep what is specific to their architecture.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "models/nn/arch/aux_pixelcnn/engine.h"
#include "models/nn/arch/diagonal_bilstm/engine.h"
#include "models/nn/arch/gated_pixelcnn/engine.h"
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/arch/multiscale/engine.h"
#include "models/nn/arch/pixelcnn/engine.h"
#include "models/nn/arch/pixelcnnpp/engine.h"
#include "models/nn/arch/row_lstm/engine.h"
#include "models/nn/catalog.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/train/trainable.h"
#include "pixelzip/error.h"
#include "tests/models/model_test_util.h"

namespace pixelzip::models::nn {
namespace {

using namespace model_test;

struct Case {
  const char* arch;
  const char* hyper;  // small enough to run in a second
  int channels;
};

constexpr const char* kMultiscaleHyper =
    "base_side=2,hidden=12,inner=16,blocks=2,mixtures=3,base_kernel=3,base_hidden=12,base_inner=16,base_blocks=1";
constexpr const char* kRowLstmHyper = "kernel=5,hidden=12,state=10,layers=2,row_kernel=3,head=16,mixtures=3";
constexpr const char* kDiagonalBiLstmHyper = "kernel=5,hidden=12,state=10,layers=2,head=16,mixtures=3";
constexpr const char* kAuxPyramidHyper =
    "base_side=3,kernel=3,hidden=12,inner=16,blocks=2,mixtures=3,base_kernel=3,base_hidden=8,base_inner=8,base_blocks=1";

// Every architecture that codes grey images has a one-channel case too (aux-grey codes colour only).
const Case kCases[] = {
    {"local-pixelcnn", "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4", 3},
    {"local-pixelcnn", "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4,act_bits=12,weight_bits=16", 1},
    {"pixelcnn", "kernel=5,hidden=12,inner=6,blocks=2,head=9", 3},
    {"pixelcnn", "kernel=5,hidden=12,inner=6,blocks=2,head=9", 1},
    {"pixelcnn++", "filters=8,nr_resnet=1,stages=3,mixtures=4", 3},
    {"pixelcnn++", "filters=8,nr_resnet=1,stages=3,mixtures=4", 1},
    {"gated-pixelcnn", "kernel=3,features=8,layers=2,mixtures=2", 3},
    {"gated-pixelcnn", "kernel=3,features=8,layers=2,mixtures=2", 1},
    {"multiscale-pixelcnn", kMultiscaleHyper, 3},
    {"multiscale-pixelcnn", kMultiscaleHyper, 1},
    {"row-lstm", kRowLstmHyper, 3},
    {"row-lstm", kRowLstmHyper, 1},
    {"diagonal-bilstm", kDiagonalBiLstmHyper, 3},
    {"diagonal-bilstm", kDiagonalBiLstmHyper, 1},
    {"aux-grey", "kernel=5,hidden=12,inner=16,blocks=2,mixtures=3,grey_kernel=3,grey_hidden=8,grey_inner=8,grey_blocks=1", 3},
    {"aux-pyramid", kAuxPyramidHyper, 3},
    {"aux-pyramid", kAuxPyramidHyper, 1},
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = std::string(info.param.arch) + "_" + std::to_string(info.param.channels) + "ch_" +
                     std::to_string(info.index);
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

TEST(Conformance, EveryArchitectureHasACaseAndATrainer) {
  std::set<std::string> cased;
  for (const Case& c : kCases) cased.insert(c.arch);
  EXPECT_EQ(&TrainableCatalog(), &Catalog());  // the trainer's column is the catalog's
  for (const Architecture& a : TrainableCatalog()) {
    EXPECT_TRUE(cased.count(a.name)) << a.name << " has no conformance case";
    EXPECT_NE(a.trainable, nullptr) << a.name << " has no trainer";
    EXPECT_EQ(FindArchitecture(a.name), &a);
  }
  EXPECT_EQ(FindArchitecture("no-such-architecture"), nullptr);
  EXPECT_THROW(SetTrainableFactory("no-such-architecture", nullptr), Error);
  EXPECT_THROW(MakeTrainableNetwork("no-such-architecture", "", 3), Error);
}

// The file's model, read and written again by its architecture's integer model.
template <class IntModel>
std::vector<uint8_t> Reserialized(const ModelFile& file) {
  return ModelFileBytes(IntModel::Read(file));
}
const std::map<std::string, std::vector<uint8_t> (*)(const ModelFile&)> kReserialize = {
    {"local-pixelcnn", Reserialized<IntLocalPixelCnn>},   {"pixelcnn", Reserialized<IntPixelCnn>},
    {"pixelcnn++", Reserialized<IntPixelCnnPP>},          {"gated-pixelcnn", Reserialized<IntGatedPixelCnn>},
    {"multiscale-pixelcnn", Reserialized<IntMultiscalePixelCnn>}, {"row-lstm", Reserialized<IntRowLstm>},
    {"diagonal-bilstm", Reserialized<IntDiagonalBiLstm>}, {"aux-grey", Reserialized<IntAuxGrey>},
    {"aux-pyramid", Reserialized<IntAuxPyramid>},
};

// Every shipped model file (models/weights) is written again byte for byte by its architecture's model-file
// code: the shared writers (header, mixture tables, layers) write exactly what the shipped files hold.
TEST(Conformance, ShippedModelFilesAreWrittenAgainByteForByte) {
  for (const Architecture& a : Catalog()) EXPECT_TRUE(kReserialize.count(a.name)) << a.name;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(PIXELZIP_WEIGHTS_DIR)) {
    if (entry.path().extension() != ".pxzm") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const ModelFile file = ModelFile::Parse(bytes.data(), bytes.size(), entry.path().string());
    const auto reserialize = kReserialize.find(file.Text("architecture"));
    ASSERT_NE(reserialize, kReserialize.end()) << entry.path();
    EXPECT_TRUE(reserialize->second(file) == bytes) << entry.path();
    ++files;
  }
  EXPECT_GT(files, 0);
}

class ConformanceTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    ScopedTorchThreads one(1);
    net_ = MakeCalibratedNet(GetParam().arch, GetParam().hyper, GetParam().channels, 41, &file_);
  }
  std::shared_ptr<const CodingModel> Model(Device engine) const { return ModelFromBytes(file_, "test", engine); }

  std::unique_ptr<TrainableNetwork> net_;
  std::vector<uint8_t> file_;
};

TEST_P(ConformanceTest, ModelFileRoundTripsAndCorruptionIsRefused) {
  const ModelFile parsed = ModelFile::Parse(file_.data(), file_.size(), "test");
  EXPECT_EQ(parsed.Serialize(), file_);
  EXPECT_EQ(parsed.Text("architecture"), GetParam().arch);
  const auto model = Model(Device::kCpu);
  EXPECT_EQ(model->Identity().architecture, GetParam().arch);
  EXPECT_EQ(model->Identity().weights_sha256, parsed.Sha256());
  EXPECT_EQ(model->Order(), FindArchitecture(GetParam().arch)->order);
  EXPECT_TRUE(model->SupportsChannels(uint32_t(GetParam().channels)));
  for (size_t pos : {size_t(0), size_t(20), file_.size() / 2, file_.size() - 1}) {
    auto bad = file_;
    bad[pos] ^= 0x40;
    try {
      ModelFromBytes(bad, "bad", Device::kCpu);
      ADD_FAILURE() << "a file with byte " << pos << " flipped was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelInvalid) << e.what();
    }
  }
  auto cut = file_;
  cut.resize(cut.size() - 40);
  EXPECT_THROW(ModelFromBytes(cut, "cut", Device::kCpu), Error);
}

TEST_P(ConformanceTest, QuantisedForwardMatchesIntegerCodeLength) {
  ScopedTorchThreads one(1);
  const int C = GetParam().channels, H = 12, W = 12;
  const auto q = RandomPixels(1, C, H, W, 7);
  double fake_bits = 0;
  {
    torch::NoGradGuard ng;
    fake_bits = net_->Nll(q, /*quantized=*/true).sum().item<double>() / std::log(2.0);
  }
  auto bytes = ToBytes(q);
  const double int_bits = ModelCodeLengthBits(*Model(Device::kCpu), PlaneView{W, H, uint32_t(C), bytes.data()});
  EXPECT_NEAR(int_bits / (H * W * C), fake_bits / (H * W * C), 0.02);
}

TEST_P(ConformanceTest, BatchedEncoderEqualsIncrementalAndDecodes) {
  const int C = GetParam().channels;
  for (auto [h, w] : {std::pair{1, 1}, std::pair{9, 6}, std::pair{5, 17}, std::pair{40, 33}}) {
    SCOPED_TRACE(std::to_string(h) + "x" + std::to_string(w));
    ExpectEncodersAgreeAndRoundTrip([&](Device e) { return Model(e); }, C, h, w);
  }
}

TEST_P(ConformanceTest, ThreadCountsChangeNothing) {
  const int C = GetParam().channels, h = 17, w = 23;
  auto bytes = ToBytes(RandomPixels(1, C, h, w, 3));
  std::vector<uint8_t> reference;
  for (int threads : {1, 2, 3}) {
    ScopedTorchThreads n(threads);
    for (Device e : {Device::kCpu, Device::kTorchCpu}) {
      const auto stream = EncodeStream(*Model(e), bytes, w, h, C);
      if (reference.empty()) reference = stream;
      EXPECT_EQ(stream, reference) << threads << " threads, engine " << int(e);
    }
  }
}

// Training: the float and the fake-quantised loss fall, the scales survive a checkpoint, and the trainer's
// quantisation-aware run exports an integer model of the architecture that codes like its fake-quantised one.
TEST_P(ConformanceTest, LossFallsAndTheTrainerExportsAnIntegerModel) {
  ExpectLossFallsFloatAndQuantised(GetParam().arch, GetParam().hyper, GetParam().channels);
  ExpectTrainerExportsAnIntegerModel(GetParam().arch, GetParam().hyper, 8, GetParam().channels);
}

TEST_P(ConformanceTest, CudaEqualsCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const int C = GetParam().channels;
  for (auto [h, w] : {std::pair{1, 1}, std::pair{9, 6}, std::pair{40, 33}})
    ExpectEncodersAgreeAndRoundTrip([&](Device e) { return Model(e); }, C, h, w, {Device::kCuda});
}

INSTANTIATE_TEST_SUITE_P(Catalog, ConformanceTest, ::testing::ValuesIn(kCases), CaseName);

}  // namespace
}  // namespace pixelzip::models::nn
