#include "train_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "commands.h"
#include "formats/idx_io.h"
#include "formats/image_io.h"
#include "models/nn/train/trainer.h"
#include "pixelzip/error.h"

namespace pixelzip::cli {
namespace {

// Colour planes the model codes: alpha dropped; RGB -> luma (ITU-R BT.601, integer) for grey models.
Image ModelPlanes(const Image& in, bool grey) {
  const uint32_t colour = in.channels >= 3 ? 3 : 1;
  Image out;
  out.width = in.width;
  out.height = in.height;
  out.channels = grey ? 1 : 3;
  out.pixels.resize(size_t(in.width) * in.height * out.channels);
  for (size_t i = 0; i < size_t(in.width) * in.height; ++i) {
    const uint8_t* p = &in.pixels[i * in.channels];
    const int r = p[0], g = colour == 3 ? p[1] : p[0], b = colour == 3 ? p[2] : p[0];
    if (grey) {
      out.pixels[i] = uint8_t((299 * r + 587 * g + 114 * b + 500) / 1000);
    } else {
      out.pixels[3 * i] = uint8_t(r);
      out.pixels[3 * i + 1] = uint8_t(g);
      out.pixels[3 * i + 2] = uint8_t(b);
    }
  }
  return out;
}

std::vector<std::string> ImageFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".png" || ext == ".ppm" || ext == ".pgm" || ext == ".pnm") files.push_back(e.path().string());
  }
  if (ec) throw CommandError(dir, kExitIo, "cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Image> LoadPlanes(const std::vector<std::string>& files, bool grey) {
  std::vector<Image> images;
  for (const auto& f : files) images.push_back(ModelPlanes(ReadImageFile(f), grey));
  return images;
}

}  // namespace

// Training from an IDX images file (grey), optionally labelled: the last N images are held out.
models::nn::ExportReport TrainOnIdx(const TrainCommandOptions& o, models::nn::TrainOptions t) {
  auto images = ReadIdxImages(o.data_dir);
  std::vector<int> labels;
  if (!o.labels.empty()) {
    labels = ReadIdxLabels(o.labels);
    if (labels.size() != images.size()) throw CommandError(o.labels, kExitUsage, "has a different count than the images file");
  }
  if (images.size() < 2) throw CommandError(o.data_dir, kExitUsage, "needs at least two images (training and held-out)");
  const size_t held = size_t(std::clamp<int>(o.held_out, 1, int(images.size()) - 1));
  std::vector<Image> train(images.begin(), images.end() - long(held)), held_out(images.end() - long(held), images.end());
  if (!labels.empty()) {
    t.train_labels.assign(labels.begin(), labels.end() - long(held));
    t.held_out_labels.assign(labels.end() - long(held), labels.end());
  }
  std::fprintf(stderr, "pixelzip train: %zu training images, %zu held out (the last ones of %s)%s\n", train.size(), held_out.size(),
               o.data_dir.c_str(), labels.empty() ? "" : ", labelled");
  return models::nn::Train(train, held_out, t);
}

int RunTrain(const TrainCommandOptions& o) {
  const bool idx = std::filesystem::is_regular_file(o.data_dir);
  if (!o.labels.empty() && !idx) throw CommandError(o.labels, kExitUsage, "--labels needs --data to be an IDX images file");
  const auto files = idx ? std::vector<std::string>{} : ImageFiles(o.data_dir);
  models::nn::TrainOptions t;
  t.architecture = o.arch;
  t.hyper = o.hyper;
  t.checkpoint_path = o.checkpoint;
  t.grow_from = o.grow_from;
  t.log_path = o.log;
  t.steps = o.steps;
  t.batch = o.batch;
  t.crop = o.crop;
  t.threads = o.threads;
  t.learning_rate = o.learning_rate;
  t.lr_decay_per_step = o.lr_decay;
  t.ema_decay = o.ema_decay;
  t.qat = o.qat;
  t.export_path = o.export_path;
  t.progress_bar = o.progress;
  if (idx) {
    TrainOnIdx(o, t);
  } else {
    if (files.size() < 2) throw CommandError(o.data_dir, kExitUsage, "needs at least two images (training and held-out)");
    const size_t held = size_t(std::clamp<int>(o.held_out, 1, int(files.size()) - 1));
    std::vector<std::string> train_files(files.begin(), files.end() - long(held));
    std::vector<std::string> held_files(files.end() - long(held), files.end());
    std::fprintf(stderr, "pixelzip train: %zu training images, held out: ", train_files.size());
    for (const auto& f : held_files) std::fprintf(stderr, "%s ", std::filesystem::path(f).filename().c_str());
    std::fprintf(stderr, "\n");
    models::nn::Train(LoadPlanes(train_files, o.grey), LoadPlanes(held_files, o.grey), t);
  }
  if (!o.report_dir.empty() && !o.export_path.empty()) {
    if (o.checkpoint.empty()) throw CommandError("", kExitUsage, "--report-dir needs --checkpoint");
    std::ifstream in(o.export_path, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto r = models::nn::EvaluateOnCrops(o.checkpoint, bytes, LoadPlanes(ImageFiles(o.report_dir), o.grey), o.report_crop);
    std::printf("report: %d centre crops of %d px from %s: float %.4f bpd, integer %.4f bpd (gap %+.4f)\n", r.crops,
                o.report_crop, o.report_dir.c_str(), r.float_bpd, r.integer_bpd, r.integer_bpd - r.float_bpd);
  }
  return kExitOk;
}

}  // namespace pixelzip::cli
