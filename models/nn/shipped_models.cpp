// The neural models compiled into pixelzip (models/weights/*.pxzm, embedded at
// build time) and the loader for model files given by path.
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

#include "models/nn/arch/gated_pixelcnn/coding_model.h"
#include "models/nn/arch/local_pixelcnn/coding_model.h"
#include "models/nn/model_loader.h"
#include "models/nn/torch/device.h"
#include "models/nn/runtime/model_file.h"
#include "models/nn/arch/multiscale/coding_model.h"
#include "models/nn/arch/aux_pixelcnn/coding_model.h"
#include "models/nn/arch/diagonal_bilstm/coding_model.h"
#include "models/nn/arch/pixelcnnpp/coding_model.h"
#include "models/nn/arch/pixelcnn/coding_model.h"
#include "models/nn/arch/row_lstm/coding_model.h"
#include "models/registry.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

struct EmbeddedModelFile {
  const char* name;
  const uint8_t* data;
  size_t size;
};
extern const EmbeddedModelFile kEmbeddedModelFiles[];

namespace {

struct ShippedInfo {
  int default_rank;
  const char* summary;
};

// What each shipped weight file is for. A file without an entry here ships with rank 0.
const std::map<std::string, ShippedInfo>& KnownModels() {
  static const std::map<std::string, ShippedInfo> known = {
      {"local-pixelcnn-rgb", {10, "Local PixelCNN (11x11 causal context + MED, 8 residual blocks of 96/192), RGB; the default for colour images"}},
      {"local-pixelcnn-grey", {10, "Local PixelCNN, grey; the default for grey images"}},
      {"multiscale-pixelcnn-rgb", {10, "Multiscale PixelCNN (8-px local-pixelcnn base, 3 group nets), RGB; the default in multiscale order"}},
      {"aux-grey-rgb", {0, "PixelCNN with an auxiliary grey image (grey local PixelCNN, then colour given grey), RGB; selectable"}},
      {"aux-pyramid-rgb", {0, "PixelCNN with auxiliary subsampled levels (base local PixelCNN, then each 2x level given the smaller), RGB; selectable"}},
      {"pixelcnn++-rgb", {0, "PixelCNN++ (32 filters, 2 blocks per stage, 3 stages), RGB; selectable, 7x the decoding work"}},
      {"gated-pixelcnn-rgb", {0, "Gated PixelCNN (vertical + horizontal stacks, 5 gated layers of 32), RGB; selectable"}},
      {"gated-pixelcnn-fmnist", {0, "Conditional Gated PixelCNN, grey, 10 classes (Fashion-MNIST 28x28); selectable"}},
      {"pixelcnn-rgb", {0, "PixelCNN (van den Oord et al. 2016; 256-way softmax, 5 residual blocks), RGB; selectable, a baseline"}},
      {"row-lstm-rgb", {0, "Row LSTM (PixelRNN: 7x7 mask-A conv, 2 LSTM layers of 32, integer recurrence), RGB; selectable"}},
      {"diagonal-bilstm-rgb", {0, "Diagonal BiLSTM (PixelRNN: 7x7 mask-A conv, 2 bidirectional diagonal LSTM layers of 32, integer recurrence), RGB; selectable"}},
  };
  return known;
}

}  // namespace

std::shared_ptr<const CodingModel> ModelFromBytes(const std::vector<uint8_t>& bytes, const std::string& source, Device device) {
  const auto file = ModelFile::Parse(bytes.data(), bytes.size(), source);
  const std::string& arch = file.Text("architecture");
  if (arch == kLocalPixelCnnArch) return std::make_shared<LocalPixelCnnCodingModel>(bytes, source, EncoderEngine(device));
  if (arch == kPixelCnnArch) return std::make_shared<PixelCnnCodingModel>(bytes, source, EncoderEngine(device));
  if (arch == kPixelCnnPPArch) return std::make_shared<PixelCnnPPCodingModel>(bytes, source, EncoderEngine(device));
  if (arch == kGatedPixelCnnArch) return std::make_shared<GatedPixelCnnCodingModel>(bytes, source, EncoderEngine(device));
  if (arch == kMultiscalePixelCnnArch)
    return std::make_shared<MultiscaleCodingModel>(bytes, source, EncoderEngine(device));
  if (arch == kRowLstmArch) return std::make_shared<RowLstmCodingModel>(bytes, source, EncoderEngine(device));
  if (arch == kDiagonalBiLstmArch) return std::make_shared<DiagonalBiLstmCodingModel>(bytes, source, EncoderEngine(device));
  if (arch == kAuxGreyArch) return std::make_shared<AuxGreyCodingModel>(bytes, source, EncoderEngine(device));
  if (arch == kAuxPyramidArch) return std::make_shared<AuxPyramidCodingModel>(bytes, source, EncoderEngine(device));
  throw Error(ErrorCode::kModelInvalid, source + ": unknown model architecture '" + arch + "'");
}

double ModelCodeLengthBits(const CodingModel& model, const PlaneView& image) {
  class Counter : public SymbolSink {
   public:
    double bits = 0;
    void Put(const SubpixelCdf& cdf, int s) override {
      bits -= std::log2(double(cdf.At(s + 1) - cdf.At(s)) / double(kCdfTotal));
    }
  } counter;
  model.Encode(image, counter, {});
  return counter.bits;
}

}  // namespace pixelzip::models::nn

namespace pixelzip::models::nn {

void AddShippedModels(ModelTable& table) {
  for (const EmbeddedModelFile* f = kEmbeddedModelFiles; f->name; ++f) {
    std::vector<uint8_t> bytes(f->data, f->data + f->size);
    const std::string name = f->name;
    const auto file = ModelFile::Parse(bytes.data(), bytes.size(), "shipped model " + name);
    ShippedModelEntry e;
    e.name = name;
    e.identity.architecture = file.Text("architecture");
    e.identity.weights_sha256 = file.Sha256();
    e.order = e.identity.architecture == kMultiscalePixelCnnArch ? Order::kMultiscale : Order::kRaster;
    e.colour_channels = {uint32_t(file.Int32("channels", 1)[0])};
    const auto known = KnownModels().find(name);
    e.default_rank = known == KnownModels().end() ? 0 : known->second.default_rank;
    e.summary = known == KnownModels().end() ? e.identity.architecture : known->second.summary;
    auto shared_bytes = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
    e.factory = [shared_bytes, name](Device device) {
      return ModelFromBytes(*shared_bytes, "shipped model " + name, device);
    };
    table.entries.push_back(std::move(e));
  }
  table.file_loader = [](const std::string& path, Device device) -> std::shared_ptr<const CodingModel> {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::kIo, path + ": cannot open model file");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return ModelFromBytes(bytes, path, device);
  };
}

}  // namespace pixelzip::models::nn
