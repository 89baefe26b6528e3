#include "models/nn/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "models/nn/catalog.h"
#include "models/nn/train/trainable.h"
#include "models/nn/torch/logistic_mixture.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {
namespace {

// Images as uint8 tensors [H, W, C] (shared storage with nothing).
std::vector<torch::Tensor> ToTensors(const std::vector<Image>& images) {
  std::vector<torch::Tensor> out;
  for (const auto& im : images) {
    out.push_back(torch::from_blob(const_cast<uint8_t*>(im.pixels.data()),
                                   {int64_t(im.height), int64_t(im.width), int64_t(im.channels)}, torch::kUInt8)
                      .clone());
  }
  return out;
}

// Pixel values as the network sees them: q = 2v - 255, float, [B, C, H, W].
torch::Tensor ToNetworkInput(const torch::Tensor& hwc_batch) {
  return hwc_batch.permute({0, 3, 1, 2}).to(torch::kFloat32) * 2.0 - 255.0;
}

class CropSampler {
 public:
  CropSampler(const std::vector<torch::Tensor>& images, int crop, uint64_t seed) : images_(images), crop_(crop), rng_(seed) {
    for (const auto& t : images_)
      if (t.size(0) < crop || t.size(1) < crop) throw Error(ErrorCode::kInvalidArgument, "a training image is smaller than the crop");
  }
  // Also records the image index of every crop (last_images()).
  torch::Tensor Next(int batch) {
    std::vector<torch::Tensor> crops;
    last_images_.clear();
    for (int i = 0; i < batch; ++i) {
      last_images_.push_back(int64_t(rng_() % images_.size()));
      const auto& im = images_[size_t(last_images_.back())];
      const int64_t y = rng_() % (im.size(0) - crop_ + 1), x = rng_() % (im.size(1) - crop_ + 1);
      auto c = im.narrow(0, y, crop_).narrow(1, x, crop_);
      const auto flips = rng_() % 4;
      if (flips & 1) c = c.flip({1});
      if (flips & 2) c = c.flip({0});
      crops.push_back(c);
    }
    return ToNetworkInput(torch::stack(crops));
  }
  const std::vector<int64_t>& last_images() const { return last_images_; }

 private:
  const std::vector<torch::Tensor>& images_;
  std::vector<int64_t> last_images_;
  int crop_;
  std::mt19937_64 rng_;
};

// Fixed held-out crops: up to 8 per image, 64x64 (or the whole image once if smaller), seeded.
// `source` receives the image index of every crop.
std::vector<torch::Tensor> HeldOutCrops(const std::vector<torch::Tensor>& images, std::vector<int64_t>* source) {
  std::vector<torch::Tensor> out;
  std::mt19937_64 rng(12345);
  for (size_t n = 0; n < images.size(); ++n) {
    const auto& im = images[n];
    const int64_t s = std::min<int64_t>({64, im.size(0), im.size(1)});
    const int count = s == im.size(0) && s == im.size(1) ? 1 : 8;
    for (int i = 0; i < count; ++i) {
      source->push_back(int64_t(n));
      const int64_t y = rng() % (im.size(0) - s + 1), x = rng() % (im.size(1) - s + 1);
      out.push_back(ToNetworkInput(im.narrow(0, y, s).narrow(1, x, s).unsqueeze(0)));
    }
  }
  return out;
}

struct Ema {
  std::vector<torch::Tensor> shadow;
  void Init(const std::vector<torch::Tensor>& params) {
    shadow.clear();
    for (const auto& p : params) shadow.push_back(p.detach().clone());
  }
  void Update(const std::vector<torch::Tensor>& params, double decay) {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < params.size(); ++i) shadow[i].mul_(decay).add_(params[i].detach(), 1.0 - decay);
  }
  void Swap(std::vector<torch::Tensor>& params) {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < params.size(); ++i) {
      auto tmp = params[i].detach().clone();
      params[i].detach().copy_(shadow[i]);
      shadow[i].copy_(tmp);
    }
  }
};

void SaveCheckpoint(const std::string& path, torch::nn::Module& model, Ema& ema, torch::optim::Adam& opt, int64_t step,
                    const std::string& arch, const std::string& hyper, int channels, const torch::Tensor& scales) {
  torch::serialize::OutputArchive ar;
  if (scales.defined()) ar.write("scales", scales);
  ar.write("architecture", c10::IValue(arch));
  ar.write("hyper", c10::IValue(hyper));
  ar.write("channels", c10::IValue(int64_t(channels)));
  ar.write("step", c10::IValue(step));
  torch::serialize::OutputArchive model_ar, ema_ar, opt_ar;
  model.save(model_ar);
  for (size_t i = 0; i < ema.shadow.size(); ++i) ema_ar.write("p" + std::to_string(i), ema.shadow[i]);
  opt.save(opt_ar);
  ar.write("model", model_ar);
  ar.write("ema", ema_ar);
  ar.write("optimizer", opt_ar);
  const std::string tmp = path + ".tmp";
  ar.save_to(tmp);
  std::filesystem::rename(tmp, path);
}

}  // namespace

ExportReport Train(const std::vector<Image>& train, const std::vector<Image>& held_out, const TrainOptions& o) {
  if (train.empty()) throw Error(ErrorCode::kInvalidArgument, "no training images");
  const int channels = int(train[0].channels);
  for (const auto& im : train)
    if (int(im.channels) != channels) throw Error(ErrorCode::kInvalidArgument, "training images mix channel counts");
  for (const auto& im : held_out)
    if (int(im.channels) != channels) throw Error(ErrorCode::kInvalidArgument, "held-out images differ in channel count from the training images");
  if (channels != 1 && channels != 3) throw Error(ErrorCode::kInvalidArgument, "training images must be grey or RGB");
  at::set_num_threads(o.threads > 0 ? o.threads : int(std::thread::hardware_concurrency()));
  torch::manual_seed(o.seed);

  std::string arch = o.architecture, hyper = o.hyper;
  int64_t step = 0;
  torch::Tensor scales_tensor;
  std::unique_ptr<torch::serialize::InputArchive> resume;
  if (!o.checkpoint_path.empty() && std::filesystem::exists(o.checkpoint_path)) {
    resume = std::make_unique<torch::serialize::InputArchive>();
    resume->load_from(o.checkpoint_path);
    c10::IValue v;
    resume->read("architecture", v);
    arch = v.toStringRef();
    resume->read("hyper", v);
    const std::string saved_hyper = v.toStringRef();
    const bool hyper_changed = !o.hyper.empty() && o.hyper != saved_hyper;
    if (hyper_changed)
      std::fprintf(stderr, "hyperparameters of %s replaced: '%s' -> '%s' (scales recalibrated)\n", o.checkpoint_path.c_str(),
                   saved_hyper.c_str(), o.hyper.c_str());
    else
      hyper = saved_hyper;
    resume->read("channels", v);
    if (v.toInt() != channels)
      throw Error(ErrorCode::kInvalidArgument, o.checkpoint_path + ": checkpoint is for " + std::to_string(v.toInt()) + "-channel images");
    resume->read("step", v);
    step = v.toInt();
    torch::Tensor st;
    if (!hyper_changed && resume->try_read("scales", st)) scales_tensor = st;
  }
  auto net = MakeTrainableNetwork(arch, hyper, channels);
  const bool conditional = !o.train_labels.empty();
  if (conditional) {
    if (net->classes() < 2) throw Error(ErrorCode::kInvalidArgument, "labels given but the model is not class-conditional (set classes=K)");
    if (o.train_labels.size() != train.size() || o.held_out_labels.size() != held_out.size())
      throw Error(ErrorCode::kInvalidArgument, "labels must give one class per training and held-out image");
    for (const auto* v : {&o.train_labels, &o.held_out_labels})
      for (int c : *v)
        if (c < 0 || c >= net->classes()) throw Error(ErrorCode::kInvalidArgument, "a label is outside [0, classes)");
  }
  // The class of each image in `indices` (conditional models).
  auto set_classes = [&](const std::vector<int>& labels, const std::vector<int64_t>& indices) {
    if (!conditional) return;
    std::vector<int64_t> c;
    for (int64_t i : indices) c.push_back(labels[size_t(i)]);
    net->SetClasses(torch::tensor(c, torch::kInt64));
  };
  torch::nn::Module& model = net->module();
  auto params = model.parameters();
  torch::optim::Adam opt(params, torch::optim::AdamOptions(o.learning_rate).betas({0.95, 0.9995}));
  Ema ema;
  ema.Init(params);
  if (resume) {
    torch::serialize::InputArchive model_ar, ema_ar, opt_ar;
    resume->read("model", model_ar);
    std::vector<std::vector<int64_t>> shapes;
    for (const auto& p : params) shapes.push_back(p.sizes().vec());
    model.load(model_ar);  // replaces the tensors whatever their shapes: check them
    for (size_t i = 0; i < params.size(); ++i)
      if (model.parameters()[i].sizes().vec() != shapes[i])
        throw Error(ErrorCode::kInvalidArgument, o.checkpoint_path + ": the checkpoint's parameters do not have the shapes of '" +
                                                     hyper + "' (a hyperparameter that changes the network cannot resume it)");
    resume->read("ema", ema_ar);
    for (size_t i = 0; i < ema.shadow.size(); ++i) ema_ar.read("p" + std::to_string(i), ema.shadow[i]);
    resume->read("optimizer", opt_ar);
    opt.load(opt_ar);
    std::fprintf(stderr, "resumed %s at step %lld\n", o.checkpoint_path.c_str(), (long long)step);
  } else if (!o.grow_from.empty()) {
    torch::serialize::InputArchive small_ar;
    small_ar.load_from(o.grow_from);
    c10::IValue v;
    small_ar.read("architecture", v);
    if (v.toStringRef() != arch)
      throw Error(ErrorCode::kInvalidArgument, o.grow_from + ": checkpoint is a " + v.toStringRef() + ", not a " + arch);
    small_ar.read("hyper", v);
    const std::string small_hyper = v.toStringRef();
    small_ar.read("channels", v);
    if (v.toInt() != channels)
      throw Error(ErrorCode::kInvalidArgument, o.grow_from + ": checkpoint is for " + std::to_string(v.toInt()) + "-channel images");
    small_ar.read("step", v);
    step = v.toInt();
    auto small = MakeTrainableNetwork(arch, small_hyper, channels);
    {
      torch::NoGradGuard ng;
      torch::serialize::InputArchive ema_ar;
      small_ar.read("ema", ema_ar);
      auto small_params = small->module().parameters();
      for (size_t i = 0; i < small_params.size(); ++i) {
        torch::Tensor t;
        ema_ar.read("p" + std::to_string(i), t);
        if (t.sizes() != small_params[i].sizes())
          throw Error(ErrorCode::kInvalidArgument, o.grow_from + ": EMA weights do not match '" + small_hyper + "'");
        small_params[i].copy_(t);
      }
    }
    net->GrowFrom(*small);
    ema.Init(params);
    std::fprintf(stderr, "grew %s ('%s', step %lld) into '%s'\n", o.grow_from.c_str(), small_hyper.c_str(), (long long)step,
                 hyper.c_str());
  }
  int64_t n_params = 0;
  for (auto& p : params) n_params += p.numel();
  std::fprintf(stderr, "training %s, %lld parameters, %zu train / %zu held-out images%s\n", net->Describe().c_str(),
               (long long)n_params, train.size(), held_out.size(), o.qat ? ", quantisation-aware" : "");

  auto train_t = ToTensors(train);
  auto held_t = ToTensors(held_out);
  std::vector<int64_t> held_source;
  auto held_crops = HeldOutCrops(held_t, &held_source);
  if (o.qat || !o.export_path.empty()) {
    if (scales_tensor.defined()) {
      net->LoadScales(scales_tensor);
    } else {
      CropSampler calib(train_t, o.crop, o.seed + 99);
      std::vector<torch::Tensor> batches;
      for (int i = 0; i < 8; ++i) batches.push_back(calib.Next(o.batch));
      ema.Swap(params);
      net->Calibrate(batches);
      ema.Swap(params);
      scales_tensor = net->ScalesTensor();
      std::fprintf(stderr, "calibrated quantisation scales on %d crops\n", 8 * o.batch);
    }
  }
  CropSampler sampler(train_t, o.crop, o.seed + uint64_t(step) * 7919);
  std::ofstream log;
  if (!o.log_path.empty()) {
    const bool fresh = !std::filesystem::exists(o.log_path);
    log.open(o.log_path, std::ios::app);
    if (fresh) log << "step\tseconds\tlr\ttrain_bpd\theldout_bpd_ema\tquantised\n";
  }
  auto evaluate = [&]() {
    torch::NoGradGuard ng;
    model.eval();
    ema.Swap(params);
    double nll = 0, dims = 0;
    for (size_t i = 0; i < held_crops.size(); ++i) {
      const auto& c = held_crops[i];
      set_classes(o.held_out_labels, {held_source[i]});
      nll += net->Nll(c, o.qat).sum().item<double>();
      dims += double(c.numel());
    }
    ema.Swap(params);
    model.train();
    return dims > 0 ? nll / dims / std::log(2.0) : 0.0;
  };

  const auto t0 = std::chrono::steady_clock::now();
  double run_bpd = 0, run_n = 0;
  int64_t crops_seen = 0;
  while (step < o.steps) {
    const double lr = o.learning_rate * std::pow(o.lr_decay_per_step, double(step)) *
                      std::min(1.0, double(step + 1) / std::max(1, o.warmup_steps));
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
    auto q = sampler.Next(o.batch);
    set_classes(o.train_labels, sampler.last_images());
    auto loss = net->Nll(q, o.qat).mean() / double(q[0].numel()) / std::log(2.0);
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    opt.step();
    ema.Update(params, std::min(o.ema_decay, double(1 + step) / double(10 + step)));
    ++step;
    crops_seen += o.batch;
    run_bpd += loss.item<double>();
    run_n += 1;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (o.progress_bar && (step % 10 == 0)) {
      std::fprintf(stderr, "\rstep %lld/%lld  train %.4f bpd  %.1f crops/s   ", (long long)step, (long long)o.steps,
                   run_bpd / run_n, crops_seen / secs);
      std::fflush(stderr);
    }
    const bool last = step == o.steps;
    if (step % o.eval_every == 0 || last) {
      const double held = held_crops.empty() ? 0.0 : evaluate();
      std::fprintf(stderr, "\nstep %lld  train %.4f  held-out (EMA) %.4f bpd  lr %.2e  %.0f s\n", (long long)step,
                   run_bpd / run_n, held, lr, secs);
      if (log) log << step << '\t' << int64_t(secs) << '\t' << lr << '\t' << run_bpd / run_n << '\t' << held << '\t' << (o.qat ? 1 : 0) << std::endl;
      run_bpd = run_n = 0;
    }
    if (!o.checkpoint_path.empty() && (step % o.checkpoint_every == 0 || last))
      SaveCheckpoint(o.checkpoint_path, model, ema, opt, step, arch, hyper, channels, o.qat ? scales_tensor : torch::Tensor());
  }

  ExportReport report;
  if (o.export_path.empty()) return report;
  ema.Swap(params);
  const auto bytes = net->ExportModelFile();
  ema.Swap(params);
  {
    const std::string tmp = o.export_path + ".tmp";
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw Error(ErrorCode::kIo, tmp + ": cannot write model file");
    out.close();
    std::filesystem::rename(tmp, o.export_path);
  }
  report.float_bpd = held_crops.empty() ? 0.0 : evaluate();
  auto coded = ModelFromBytes(bytes, o.export_path, Device::kCpu);
  double bits = 0, dims = 0;
  for (const auto& c : held_crops) {
    auto hwc = ((c[0].permute({1, 2, 0}) + 255.0) / 2.0).round().to(torch::kUInt8).contiguous();
    PlaneView view{uint32_t(hwc.size(1)), uint32_t(hwc.size(0)), uint32_t(hwc.size(2)), hwc.data_ptr<uint8_t>()};
    bits += ModelCodeLengthBits(*coded, view);
    dims += double(hwc.numel());
  }
  report.integer_bpd = dims > 0 ? bits / dims : 0.0;
  std::fprintf(stderr, "exported %s (%zu bytes): held-out %s %.4f bpd, integer model %.4f bpd\n", o.export_path.c_str(),
               bytes.size(), o.qat ? "fake-quantised" : "float", report.float_bpd, report.integer_bpd);
  return report;
}

CropReport EvaluateOnCrops(const std::string& checkpoint_path, const std::vector<uint8_t>& model_file,
                           const std::vector<Image>& images, int crop) {
  if (!std::filesystem::exists(checkpoint_path)) throw Error(ErrorCode::kIo, checkpoint_path + ": no such checkpoint");
  torch::serialize::InputArchive ar;
  ar.load_from(checkpoint_path);
  c10::IValue v;
  ar.read("architecture", v);
  const std::string arch = v.toStringRef();
  ar.read("hyper", v);
  const std::string hyper = v.toStringRef();
  ar.read("channels", v);
  const int channels = int(v.toInt());
  auto net = MakeTrainableNetwork(arch, hyper, channels);
  torch::nn::Module& model = net->module();
  torch::serialize::InputArchive model_ar, ema_ar;
  ar.read("model", model_ar);
  model.load(model_ar);
  ar.read("ema", ema_ar);
  auto params = model.parameters();
  {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < params.size(); ++i) {
      torch::Tensor t;
      ema_ar.read("p" + std::to_string(i), t);
      params[i].copy_(t);
    }
  }
  model.eval();
  auto coded = ModelFromBytes(model_file, "model file", Device::kCpu);
  CropReport r;
  double nll = 0, bits = 0, dims = 0;
  for (const auto& im : images) {
    if (int(im.channels) != channels) throw Error(ErrorCode::kInvalidArgument, "report image channel count differs from the model's");
    const uint32_t h = std::min<uint32_t>(uint32_t(crop), im.height), w = std::min<uint32_t>(uint32_t(crop), im.width);
    const uint32_t y0 = (im.height - h) / 2, x0 = (im.width - w) / 2;
    std::vector<uint8_t> px(size_t(h) * w * channels);
    for (uint32_t y = 0; y < h; ++y)
      std::copy_n(&im.pixels[((size_t(y0) + y) * im.width + x0) * channels], size_t(w) * channels, &px[size_t(y) * w * channels]);
    auto q = torch::from_blob(px.data(), {1, int64_t(h), int64_t(w), channels}, torch::kUInt8);
    auto qn = ToNetworkInput(q);
    {
      torch::NoGradGuard ng;
      nll += net->Nll(qn, false).sum().item<double>();
    }
    PlaneView view{w, h, uint32_t(channels), px.data()};
    bits += ModelCodeLengthBits(*coded, view);
    dims += double(px.size());
    ++r.crops;
  }
  r.float_bpd = dims > 0 ? nll / dims / std::log(2.0) : 0;
  r.integer_bpd = dims > 0 ? bits / dims : 0;
  return r;
}

}  // namespace pixelzip::models::nn
