// Shared by codec_test.cpp and fallback_test.cpp: decoding a stream whose header claims a
// huge image must report corruption having committed memory only for what it decoded.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "pixelzip/codec.h"

namespace pixelzip::test {

// Peak resident memory (VmHWM) and current (VmRSS) of this process, in bytes.
inline uint64_t ProcStatusBytes(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stoull(line.substr(std::string(key).size())) * 1024;
  }
  return 0;
}

// `stream` passes ReadStreamInfo; decoding it in a child process must throw kCorruptInput
// with the peak resident memory grown by at most 200 MiB. `payload` names the payload in
// the failure message ("random", "damaged").
inline void ExpectCorruptWithin200MiB(const std::vector<uint8_t>& stream, const char* payload) {
  ASSERT_NO_THROW(ReadStreamInfo(stream.data(), stream.size()));

  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const uint64_t before = ProcStatusBytes("VmRSS:");
    int code = 2;
    try {
      Decode(stream);
    } catch (const Error& e) {
      code = e.code() == ErrorCode::kCorruptInput ? 0 : 3;
    }
    const uint64_t grown = ProcStatusBytes("VmHWM:") - before;
    std::fprintf(stderr, "decoder's peak memory growth: %.1f MiB\n", grown / 1048576.0);
    _exit(code != 0 ? code : grown > (uint64_t{200} << 20) ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 1) << "the decoder committed over 200 MiB before reporting corruption";
  EXPECT_NE(WEXITSTATUS(status), 2) << "the " << payload << " payload decoded";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace pixelzip::test
