// Training of the PixelCNN-family models on random crops (LibTorch, float or
// fake-quantized), with Adam, Polyak averaging, a learning-rate schedule,
// resumable checkpoints and a log of held-out bits/dim.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pixelzip/image.h"

namespace pixelzip::models::nn {

struct TrainOptions {
  std::string architecture = "local-pixelcnn";
  std::string checkpoint_path;       // resumed if it exists; overwritten atomically
  std::string log_path;              // TSV: step, seconds, lr, train bpd, held-out bpd
  int64_t steps = 1000;              // total steps (a resumed run continues to this count)
  int batch = 32;
  int crop = 32;
  double learning_rate = 2e-3;
  double lr_decay_per_step = 0.99998;  // lr = base * decay^step after warm-up
  int warmup_steps = 200;
  double ema_decay = 0.999;
  int eval_every = 500;
  int checkpoint_every = 500;
  int threads = 0;                   // 0: all cores
  uint64_t seed = 1;
  bool progress_bar = true;
  std::string hyper;                 // architecture hyperparameters, "key=value,key=value"; with a checkpoint that
                                     // exists, a non-empty hyper that differs replaces the checkpoint's (the parameter
                                     // shapes must match, e.g. act_bits) and the quantisation scales are recalibrated
  std::string grow_from;             // when checkpoint_path does not exist yet: start from this smaller checkpoint's EMA
                                     // weights grown into `hyper` (TrainableNetwork::GrowFrom), at its step count,
                                     // with fresh optimiser moments
  bool qat = false;                  // fake-quantised forward equal to the integer model (calibrates scales once)
  std::string export_path;           // write the integer model file here at the end (from the EMA weights)
  // Class of each training / held-out image, for class-conditional models (hyperparameter classes=K);
  // empty: unconditional. When given, both have one entry per image, each in [0, K).
  std::vector<int> train_labels, held_out_labels;
};

struct ExportReport {
  double float_bpd = 0;    // held-out bits/dim of the float (or fake-quantised) EMA model
  double integer_bpd = 0;  // held-out bits/dim of the exported integer model's CDFs
};

// Trains on `train` (colour channels only: 1 or 3), evaluating on `held_out`.
// Throws pixelzip::Error on bad options or I/O failure.
struct CropReport {
  double float_bpd = 0;    // float EMA weights of the checkpoint (no quantisation)
  double integer_bpd = 0;  // the integer model file's CDFs (bits actually coded, less the coder's few bytes)
  int crops = 0;
};
// Bits/dim on the centre crop (crop x crop, or the whole image if smaller) of every image.
// Throws pixelzip::Error on a missing checkpoint or a model file that is not the checkpoint's architecture.
CropReport EvaluateOnCrops(const std::string& checkpoint_path, const std::vector<uint8_t>& model_file,
                           const std::vector<Image>& images, int crop);

// Returns the export report when options.export_path is set (zeros otherwise).
ExportReport Train(const std::vector<Image>& train, const std::vector<Image>& held_out, const TrainOptions& options);

}  // namespace pixelzip::models::nn
