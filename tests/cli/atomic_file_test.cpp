// The atomic-output helper and the small pure functions of the CLI, called directly.
#include "atomic_file.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

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

// -o naming a symbolic link: the link stays a link; its target gets the bytes.
TEST(AtomicFileTest, WritesThroughASymbolicLinkNeverOverIt) {
  ScratchDir dir;
  ASSERT_EQ(mkdir((dir / "sub").c_str(), 0755), 0);
  WriteBytes(dir / "sub/target.bin", kOld);
  ASSERT_EQ(symlink("sub/target.bin", (dir / "link.bin").c_str()), 0);
  EXPECT_THROW(WriteOutput(dir / "link.bin", kHello, /*overwrite=*/false), OutputExistsError);
  EXPECT_EQ(ReadBytes(dir / "sub/target.bin"), kOld);
  WriteOutput(dir / "link.bin", kHello, /*overwrite=*/true);
  struct stat st {};
  ASSERT_EQ(lstat((dir / "link.bin").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the link was replaced";
  EXPECT_EQ(ReadBytes(dir / "sub/target.bin"), kHello);
  EXPECT_EQ(dir.List(), (std::vector<std::string>{"link.bin", "sub"}));
  // A dangling link is refused, and nothing is created.
  ASSERT_EQ(symlink("missing.bin", (dir / "dangling.bin").c_str()), 0);
  EXPECT_THROW(WriteOutput(dir / "dangling.bin", kHello, true), Error);
  EXPECT_FALSE(Exists(dir / "missing.bin"));
  ASSERT_EQ(lstat((dir / "dangling.bin").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

// A FIFO is written through (a reader gets the bytes) and stays a FIFO, with or without overwrite.
TEST(AtomicFileTest, WritesThroughAFifo) {
  ScratchDir dir;
  const std::string fifo = dir / "pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (bool overwrite : {false, true}) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const int fd = open(fifo.c_str(), O_RDONLY);
      uint8_t buf[16];
      ssize_t total = 0, n = 0;
      while (fd >= 0 && (n = read(fd, buf + total, sizeof buf - size_t(total))) > 0) total += n;
      _exit(total == 5 && std::memcmp(buf, "hello", 5) == 0 ? 0 : 1);
    }
    AtomicFile file(fifo, overwrite);
    EXPECT_TRUE(file.writes_through());
    EXPECT_TRUE(file.temp_path().empty());
    file.Write(kHello);
    file.Commit();
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the reader did not get the bytes";
    struct stat st {};
    ASSERT_EQ(lstat(fifo.c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  }
  EXPECT_EQ(dir.List(), std::vector<std::string>{"pipe"});
  EXPECT_FALSE(OutputWouldReplace(fifo));
}

// A character device like /dev/null: made here with mknod (skipped without the right to),
// so a regression replaces a scratch node and never the real /dev/null.
TEST(AtomicFileTest, WritesThroughACharacterDeviceAndLinksToIt) {
  ScratchDir dir;
  const std::string node = dir / "null";
  if (mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) GTEST_SKIP() << "cannot mknod here";
  ASSERT_EQ(symlink("null", (dir / "null-link").c_str()), 0);
  WriteOutput(node, kHello, /*overwrite=*/false);
  WriteOutput(node, kHello, /*overwrite=*/true);
  WriteOutput(dir / "null-link", kHello, /*overwrite=*/true);
  struct stat st {};
  ASSERT_EQ(lstat(node.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device node was replaced by a regular file";
  ASSERT_EQ(lstat((dir / "null-link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(dir.List(), (std::vector<std::string>{"null", "null-link"}));
}

TEST(AtomicFileTest, RefusesBlockDevicesAndSockets) {
  ScratchDir dir;
  const std::string node = dir / "disk";
  if (mknod(node.c_str(), S_IFBLK | 0600, makedev(7, 0)) != 0) GTEST_SKIP() << "cannot mknod here";
  try {
    WriteOutput(node, kHello, true);
    FAIL() << "a block device was written";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  struct stat st {};
  ASSERT_EQ(lstat(node.c_str(), &st), 0);
  EXPECT_TRUE(S_ISBLK(st.st_mode));
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
