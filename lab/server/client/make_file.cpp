// lab_client make-file PATH N: writes the first N pattern bytes to PATH (for uploads).
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "commands.hpp"
#include "net.hpp"
#include "pattern.hpp"

namespace lab::client {

void setup_make_file(CLI::App& app) {
  auto opt = std::make_shared<MakeFileOptions>();
  auto* sub = app.add_subcommand("make-file", "write the first N bytes of the pattern to PATH");
  sub->add_option("PATH", opt->path, "file to create or truncate")->required();
  sub->add_option("N", opt->bytes, "number of bytes")->required()->check(kByteCount);
  sub->callback([opt] {
    if (const int rc = run_make_file(*opt); rc != 0) exit_with(rc);
  });
}

int run_make_file(const MakeFileOptions& opt) {
  const int fd = ::open(opt.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "lab_client make-file: %s: %s\n", opt.path.c_str(),
                 lab::srv::errno_text(errno).c_str());
    return 1;
  }
  lab::srv::Fd file(fd);
  std::vector<std::uint8_t> buf(1 << 20);
  for (std::uint64_t off = 0; off < opt.bytes;) {
    const auto chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), opt.bytes - off));
    lab::pattern_fill(off, buf.data(), chunk);
    for (std::size_t done = 0; done < chunk;) {
      const ssize_t w = ::write(file.get(), buf.data() + done, chunk - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        std::fprintf(stderr, "lab_client make-file: %s: %s\n", opt.path.c_str(),
                     lab::srv::errno_text(errno).c_str());
        return 1;
      }
      done += static_cast<std::size_t>(w);
    }
    off += chunk;
  }
  if (::close(file.release()) != 0) {
    std::fprintf(stderr, "lab_client make-file: %s: %s\n", opt.path.c_str(),
                 lab::srv::errno_text(errno).c_str());
    return 1;
  }
  return 0;
}

}  // namespace lab::client
