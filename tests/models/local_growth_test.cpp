// Growing a trained local-pixelcnn into a larger one (GrowLocalPixelCnn, TrainOptions::grow_from): the grown
// network computes the trained one's function, every added weight is reachable by gradients, and the trainer
// continues from it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "models/nn/arch/local_pixelcnn/module.h"
#include "models/nn/torch/logistic_mixture.h"
#include "models/nn/train/trainable.h"
#include "models/nn/train/trainer.h"
#include "tests/models/model_test_util.h"
#include "pixelzip/error.h"

#include <unistd.h>

namespace pixelzip::models::nn {
namespace {

using model_test::RandomPixels;
using model_test::ScopedTorchThreads;
using model_test::SyntheticImages;

LocalPixelCnnConfig Config(int kernel, int hidden, int inner, int blocks) {
  LocalPixelCnnConfig c;
  c.channels = 3;
  c.kernel = kernel;
  c.hidden = hidden;
  c.inner = inner;
  c.blocks = blocks;
  c.mixtures = 4;
  return c;
}

// A small network with non-zero biases and full-size block output weights, so that every part matters.
LocalPixelCnn TrainedLooking(const LocalPixelCnnConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  LocalPixelCnn m(c);
  torch::NoGradGuard ng;
  for (auto& p : m->parameters())
    if (p.dim() == 1) p.uniform_(-0.3, 0.3);
  for (auto& w : m->block_w2) w.mul_(5.0);
  return m;
}

TEST(LocalPixelCnnGrowth, GrownNetworkComputesTheSameFunction) {
  ScopedTorchThreads one_thread(1);
  auto small = TrainedLooking(Config(5, 16, 24, 2), 3);
  for (const auto& big_config : {Config(7, 24, 40, 3), Config(5, 16, 24, 2), Config(9, 16, 32, 2), Config(5, 20, 24, 4)}) {
    torch::manual_seed(11);
    LocalPixelCnn big(big_config);
    GrowLocalPixelCnn(*small, *big);
    auto q = RandomPixels(2, 3, 13, 17, 7);
    torch::NoGradGuard ng;
    const auto want = small->forward(q), got = big->forward(q);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-4) << big_config.ToString();
  }
}

TEST(LocalPixelCnnGrowth, GradientsReachEveryAddedPart) {
  ScopedTorchThreads one_thread(1);
  auto small = TrainedLooking(Config(5, 16, 24, 2), 3);
  torch::manual_seed(11);
  LocalPixelCnn big(Config(7, 24, 40, 3));
  GrowLocalPixelCnn(*small, *big);
  auto q = RandomPixels(2, 3, 12, 12, 8);
  DiscretizedMixLogisticNll(q / 255.0, big->forward(q), 4).sum().backward();
  using torch::indexing::Slice;
  auto grad_norm = [](const torch::Tensor& g) { return g.abs().sum().item<double>(); };
  const auto& w0 = big->conv0_weight.grad();
  EXPECT_GT(grad_norm(w0.index({Slice(0, 16), Slice(0, 3), 0, Slice()})), 0.0);  // new top row of old channels' taps
  EXPECT_GT(grad_norm(big->block_w1[0].grad().index({Slice(), Slice(16)})), 0.0);  // reads of new hidden channels
  EXPECT_GT(grad_norm(big->block_w2[0].grad().index({Slice(), Slice(24)})), 0.0);  // reads of new inner units
  EXPECT_GT(grad_norm(big->block_w2[2].grad()), 0.0);                              // the new block's output
  EXPECT_GT(grad_norm(big->head_weight.grad().index({Slice(), Slice(16)})), 0.0);
  // What writes into the new units is read only through weights that start at zero: it learns from the next step.
  EXPECT_EQ(grad_norm(w0.index({Slice(16)})), 0.0);
  torch::optim::SGD sgd(big->parameters(), torch::optim::SGDOptions(1e-2));
  sgd.step();
  sgd.zero_grad();
  DiscretizedMixLogisticNll(q / 255.0, big->forward(q), 4).sum().backward();
  EXPECT_GT(grad_norm(big->conv0_weight.grad().index({Slice(16), Slice(0, 3)})), 0.0);  // new hidden channels
  EXPECT_GT(grad_norm(big->block_w1[0].grad().index({Slice(24)})), 0.0);              // new inner units
  EXPECT_GT(grad_norm(big->block_w1[2].grad()), 0.0);                                 // the new block's input
}

TEST(LocalPixelCnnGrowth, RefusesToShrinkOrChangeTheOutput) {
  auto small = TrainedLooking(Config(7, 16, 24, 2), 3);
  for (const auto& c : {Config(5, 16, 24, 2), Config(7, 12, 24, 2), Config(7, 16, 20, 2), Config(7, 16, 24, 1)}) {
    LocalPixelCnn big(c);
    EXPECT_THROW(GrowLocalPixelCnn(*small, *big), Error) << c.ToString();
  }
  auto other_mixtures = Config(7, 16, 24, 2);
  other_mixtures.mixtures = 5;
  LocalPixelCnn big(other_mixtures);
  EXPECT_THROW(GrowLocalPixelCnn(*small, *big), Error);
  auto pixelcnnpp = MakeTrainableNetwork("pixelcnn++", "filters=8,nr_resnet=1,stages=3,mixtures=4", 3);
  auto local = MakeTrainableNetwork("local-pixelcnn", "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4", 3);
  EXPECT_THROW(local->GrowFrom(*pixelcnnpp), Error);
  EXPECT_THROW(pixelcnnpp->GrowFrom(*local), Error);
}

TEST(LocalPixelCnnGrowth, TrainerContinuesFromAGrownCheckpoint) {
  ScopedTorchThreads one_thread(1);
  const auto dir = std::filesystem::temp_directory_path() / ("local_growth_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto train = SyntheticImages(3, 20, 3, 5), held_out = SyntheticImages(1, 16, 3, 50);
  TrainOptions o;
  o.hyper = "kernel=5,hidden=16,inner=24,blocks=2,mixtures=4";
  o.steps = 6;
  o.batch = 4;
  o.crop = 12;
  o.warmup_steps = 2;
  o.eval_every = 6;
  o.checkpoint_every = 6;
  o.threads = 1;
  o.progress_bar = false;
  o.checkpoint_path = (dir / "small.ckpt").string();
  o.export_path = (dir / "small.pxzm").string();
  const auto small = Train(train, held_out, o);

  TrainOptions g = o;
  g.hyper = "kernel=7,hidden=24,inner=32,blocks=3,mixtures=4";
  g.grow_from = o.checkpoint_path;
  g.checkpoint_path = (dir / "big.ckpt").string();
  g.export_path = (dir / "big.pxzm").string();
  const auto grown = Train(train, held_out, g);  // at the small checkpoint's step: no training, the same function
  EXPECT_NEAR(grown.float_bpd, small.float_bpd, 1e-4);
  EXPECT_FALSE(std::filesystem::exists(g.checkpoint_path));

  g.steps = 9;
  const auto trained = Train(train, held_out, g);
  EXPECT_GT(trained.float_bpd, 0.0);
  ASSERT_TRUE(std::filesystem::exists(g.checkpoint_path));
  g.grow_from.clear();  // the grown checkpoint now resumes like any other
  g.steps = 10;
  EXPECT_NO_THROW(Train(train, held_out, g));

  TrainOptions wrong = g;
  wrong.checkpoint_path = (dir / "wrong.ckpt").string();
  wrong.grow_from = o.checkpoint_path;
  wrong.hyper = "kernel=3,hidden=16,inner=24,blocks=2,mixtures=4";  // smaller kernel
  EXPECT_THROW(Train(train, held_out, wrong), Error);
  wrong.architecture = "pixelcnn++";
  wrong.hyper = "";
  EXPECT_THROW(Train(train, held_out, wrong), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pixelzip::models::nn
