// Round robin over a VIP's backends: each new flow goes to the next usable backend.
#pragma once
#include <cstdint>
#include <span>

namespace lb {

class RoundRobin {
 public:
  // The index of the next backend for which usable[i] is non-zero, or -1 if none is.
  int pick(std::span<const uint8_t> usable) {
    const size_t n = usable.size();
    for (size_t i = 0; i < n; ++i) {
      size_t idx = (next_ + i) % n;
      if (usable[idx]) {
        next_ = (idx + 1) % n;
        return static_cast<int>(idx);
      }
    }
    return -1;
  }

 private:
  size_t next_ = 0;
};

}  // namespace lb
