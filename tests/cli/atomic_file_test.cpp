// The atomic-output helper and the small pure functions of the CLI, called directly.
#include "atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "commands.h"
#include "test_util.h"

namespace pixelzip::cli {
namespace {

using testing::Exists;
using testing::ReadBytes;
using testing::ScratchDir;
using testing::WriteBytes;

const std::vector<uint8_t> kHello = {'h', 'e', 'l', 'l', 'o'};
const std::vector<uint8_t> kOld = {'o', 'l', 'd'};

TEST(AtomicFileTest, CommitCreatesTheFileAndNothingElse) {
  ScratchDir dir;
  {
    AtomicFile file(dir / "out.bin", /*overwrite=*/false);
    EXPECT_FALSE(Exists(dir / "out.bin")) << "visible before Commit";
    ASSERT_FALSE(file.temp_path().empty());
    EXPECT_TRUE(Exists(file.temp_path()));
    EXPECT_EQ(file.temp_path().rfind(dir.path() + "/.out.bin.", 0), 0u) << file.temp_path();
    file.Write(kHello);
    file.Commit();
    EXPECT_TRUE(file.temp_path().empty());
  }
  EXPECT_EQ(ReadBytes(dir / "out.bin"), kHello);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFileTest, ModeFollowsUmask) {
  ScratchDir dir;
  const mode_t old = umask(027);
  WriteOutput(dir / "out.bin", kHello, false);
  umask(old);
  struct stat st {};
  ASSERT_EQ(stat((dir / "out.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(AtomicFileTest, DestroyedWithoutCommitLeavesNothing) {
  ScratchDir dir;
  {
    AtomicFile file(dir / "out.bin", false);
    file.Write(kHello);
  }
  EXPECT_TRUE(dir.List().empty());
}

TEST(AtomicFileTest, RefusesAnExistingFileAndLeavesItUntouched) {
  ScratchDir dir;
  WriteBytes(dir / "out.bin", kOld);
  EXPECT_THROW(AtomicFile(dir / "out.bin", false), OutputExistsError);
  EXPECT_THROW(WriteOutput(dir / "out.bin", kHello, false), OutputExistsError);
  EXPECT_EQ(ReadBytes(dir / "out.bin"), kOld);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFileTest, RefusesAFileThatAppearsBeforeCommit) {
  ScratchDir dir;
  {
    AtomicFile file(dir / "out.bin", false);
    file.Write(kHello);
    WriteBytes(dir / "out.bin", kOld);  // someone else wins the race
    EXPECT_THROW(file.Commit(), OutputExistsError);
  }
  EXPECT_EQ(ReadBytes(dir / "out.bin"), kOld);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFileTest, OverwriteReplacesTheFile) {
  ScratchDir dir;
  WriteBytes(dir / "out.bin", kOld);
  WriteOutput(dir / "out.bin", kHello, /*overwrite=*/true);
  EXPECT_EQ(ReadBytes(dir / "out.bin"), kHello);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFileTest, MissingDirectoryIsAnIoError) {
  ScratchDir dir;
  try {
    AtomicFile file(dir / "no/such/dir/out.bin", false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
}

TEST(AtomicFileTest, ADirectoryIsNotAnOutput) {
  ScratchDir dir;
  EXPECT_THROW(AtomicFile(dir.path(), true), Error);
  EXPECT_THROW(AtomicFile("-", true), Error);
}

TEST(AtomicFileTest, RelativePathInCurrentDirectory) {
  ScratchDir dir;
  char old_cwd[4096];
  ASSERT_NE(getcwd(old_cwd, sizeof old_cwd), nullptr);
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  WriteOutput("plain-name.bin", kHello, false);
  ASSERT_EQ(chdir(old_cwd), 0);
  EXPECT_EQ(ReadBytes(dir / "plain-name.bin"), kHello);
}

TEST(AtomicFileTest, SignalRemovesTheTemporaryFile) {
  ScratchDir dir;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    AtomicFile file(dir / "out.bin", false);
    file.Write(kHello);
    raise(SIGTERM);
    _exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM) << "the handler must re-raise the signal";
  EXPECT_TRUE(dir.List().empty());
}

TEST(ReadInputTest, ReadsAWholeFile) {
  ScratchDir dir;
  std::vector<uint8_t> big(300000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  WriteBytes(dir / "big", big);
  EXPECT_EQ(ReadInput(dir / "big"), big);
}

TEST(ReadInputTest, Errors) {
  ScratchDir dir;
  try {
    ReadInput(dir / "missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
  }
  try {
    ReadInput(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos);
  }
  WriteBytes(dir / "big", std::vector<uint8_t>(100));
  try {
    ReadInput(dir / "big", 99);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded);
  }
}

TEST(CliHelpersTest, SameFileAndExists) {
  ScratchDir dir;
  WriteBytes(dir / "a", kHello);
  EXPECT_TRUE(SameFile(dir / "a", dir.path() + "/./a"));
  EXPECT_FALSE(SameFile(dir / "a", dir / "b"));
  EXPECT_TRUE(FileExists(dir / "a"));
  EXPECT_FALSE(FileExists(dir / "b"));
  EXPECT_EQ(DisplayName("-", false), "<stdin>");
  EXPECT_EQ(DisplayName("-", true), "<stdout>");
  EXPECT_EQ(DisplayName("x.png", true), "x.png");
}

TEST(CliHelpersTest, DefaultDecompressedName) {
  EXPECT_EQ(DefaultDecompressedName("photo.png.pxz"), "photo.png");
  EXPECT_EQ(DefaultDecompressedName("photo.ppm.pxz"), "photo.ppm");
  EXPECT_EQ(DefaultDecompressedName("dir/photo.PXZ"), "dir/photo.png");
  EXPECT_EQ(DefaultDecompressedName("photo.pxz"), "photo.png");
  EXPECT_EQ(DefaultDecompressedName("photo.bin"), "photo.bin.png");
  EXPECT_EQ(DefaultDecompressedName("dir/.pxz"), "dir/.png");
}

TEST(CliHelpersTest, FormatErrorLine) {
  EXPECT_EQ(FormatErrorLine("a.png", "a.png: bad CRC"), "pixelzip: a.png: bad CRC");
  EXPECT_EQ(FormatErrorLine("a.png", "bad\nCRC\n"), "pixelzip: a.png: bad CRC");
  EXPECT_EQ(FormatErrorLine("", "no subcommand"), "pixelzip: no subcommand");
  EXPECT_EQ(FormatErrorLine("a.png", ""), "pixelzip: a.png: failed");
}

TEST(CliHelpersTest, ExitCodesAreDistinctPerErrorClass) {
  EXPECT_EQ(ExitCodeFor(ErrorCode::kIo), kExitIo);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kCorruptInput), kExitCorrupt);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kTruncatedInput), kExitCorrupt);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kUnsupported), kExitUnsupported);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kLimitExceeded), kExitLimit);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kModelMismatch), kExitModel);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kModelInvalid), kExitModel);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kInvalidArgument), kExitUsage);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kInternal), kExitInternal);
}

}  // namespace
}  // namespace pixelzip::cli
