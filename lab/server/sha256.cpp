#include "sha256.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "pattern.hpp"

namespace lab::srv {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("libcrypto: cannot initialise SHA-256");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* data, std::size_t n) {
  if (n > 0) EVP_DigestUpdate(ctx_, data, n);
}

std::string Sha256::final_hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0x0f]);
  }
  return out;
}

std::string pattern_sha256(std::uint64_t n) {
  Sha256 sha;
  std::vector<std::uint8_t> buf(1 << 20);
  for (std::uint64_t off = 0; off < n;) {
    const std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - off));
    pattern_fill(off, buf.data(), chunk);
    sha.update(buf.data(), chunk);
    off += chunk;
  }
  return sha.final_hex();
}

}  // namespace lab::srv
