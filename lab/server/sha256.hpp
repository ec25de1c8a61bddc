// SHA-256 over OpenSSL libcrypto (EVP), plus the SHA-256 of a pattern prefix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct evp_md_ctx_st;

namespace lab::srv {

// Incremental SHA-256. Construction throws std::runtime_error if libcrypto cannot
// allocate a context (a startup-class failure); update/final never fail afterwards.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t n);
  // Returns the lowercase hex digest and resets the hash for reuse.
  std::string final_hex();

 private:
  evp_md_ctx_st* ctx_;
};

// Lowercase hex SHA-256 of the first n bytes of lab::pattern_fill's pattern.
std::string pattern_sha256(std::uint64_t n);

}  // namespace lab::srv
