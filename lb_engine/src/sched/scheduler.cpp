#include "lb/sched/scheduler.hpp"

#include "lb/hash.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

namespace lb {

namespace {

constexpr uint32_t kNil = 0xffffffffu;

// splitmix64's finalizer, a bijection on 64 bits: two different (a, b) pairs packed into
// one word never collide before the mix, and every output bit depends on every input bit.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

uint64_t mix2(uint32_t a, uint32_t b) { return mix64((uint64_t{a} << 32) | b); }

uint64_t load_of(const SchedBackend& b) { return (uint64_t{b.established} << 8) + b.other; }

// Scans the n backends cyclically from `next` and returns the first index for which
// ok(i) holds, advancing `next` past it; -1 (and `next` unchanged) when none does.
template <typename Ok>
int scan(size_t& next, size_t n, Ok&& ok) {
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (next + k) % n;
    if (ok(i)) {
      next = i + 1;
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

// ------------------------------------------------------------------------------ Scheduler

Scheduler::Scheduler(const SchedOptions& o) : opt_(o) {
  // Maglev's permutations visit every slot only when the table size is prime.
  if (!is_prime(opt_.maglev_table_size))
    throw std::invalid_argument("maglev table size " + std::to_string(opt_.maglev_table_size) +
                                " is not a prime");
}

void Scheduler::update(std::span<const SchedBackend> b) {
  const size_t n = b.size();
  all_.assign(n, 1);
  wrr_current_.assign(n, 0);
  in_group_.assign(n, 0);
  choose_group(b);
  if (opt_.algorithm == Algorithm::maglev) {
    build_maglev(b);
  } else {
    maglev_.clear();  // 256 KiB at the default size: only kept while maglev is in use
    maglev_.shrink_to_fit();
    maglev_w_.clear();
  }
}

void Scheduler::set_algorithm(Algorithm a, std::span<const SchedBackend> b) {
  opt_.algorithm = a;
  update(b);
}

int Scheduler::pick(std::span<const SchedBackend> b, uint32_t src_hash, uint32_t flow_hash) {
  switch (opt_.algorithm) {
    case Algorithm::rr: return pick_rr(b, all_);
    case Algorithm::wrr: return pick_wrr(b, all_);
    case Algorithm::lc: return pick_lc(b, false);
    case Algorithm::wlc: return pick_lc(b, true);
    case Algorithm::rtt: return pick_rtt(b);
    case Algorithm::priority: {
      const int r = pick_wrr(b, in_group_);
      if (r >= 0 || in_group_.size() != b.size()) return r;
      // Every serving member stopped taking flows since the last update(): choose the
      // groups again now (in place, no allocation) rather than refuse the flow.
      choose_group(b);
      return pick_wrr(b, in_group_);
    }
    case Algorithm::sh: return pick_sh(b, src_hash);
    case Algorithm::maglev: {
      if (maglev_.empty()) return -1;
      const int32_t i = maglev_[flow_hash % maglev_.size()];
      if (i < 0) return -1;  // nobody took new flows at the last update()
      if (static_cast<size_t>(i) < b.size() && b[i].takes_new_flows()) return i;
      return pick_rr(b, all_);  // its owner stopped taking flows; stale until update()
    }
  }
  return -1;
}

// Backends added after the last update() (beyond the per-backend state) are not picked by
// the stateful algorithms until the next update().
int Scheduler::pick_rr(std::span<const SchedBackend> b, std::span<const uint8_t> allowed) {
  const size_t n = std::min(b.size(), allowed.size());
  return scan(rr_next_, n, [&](size_t i) { return allowed[i] && b[i].takes_new_flows(); });
}

// nginx's smooth weighted round robin: every pick adds each weight to its backend's
// current value, takes the largest (the lowest index on ties) and charges it the total.
// Over any window of sum(weights) picks each backend gets exactly its weight, interleaved.
int Scheduler::pick_wrr(std::span<const SchedBackend> b, std::span<const uint8_t> allowed) {
  const size_t n = std::min({b.size(), allowed.size(), wrr_current_.size()});
  int64_t total = 0;
  int best = -1;
  for (size_t i = 0; i < n; ++i) {
    if (!allowed[i] || !b[i].takes_new_flows()) continue;
    wrr_current_[i] += b[i].weight;
    total += b[i].weight;
    if (best < 0 || wrr_current_[i] > wrr_current_[best]) best = static_cast<int>(i);
  }
  if (best >= 0) wrr_current_[best] -= total;
  return best;
}

// Load as IPVS counts it: an established flow weighs 256 others. wlc compares
// load_a / w_a < load_b / w_b as load_a * w_b < load_b * w_a, in 128 bits (a load is up to
// 2^40, a weight up to 2^32). Ties go to the first backend found scanning from rr_next_,
// which then moves past the winner, so equally loaded backends take turns instead of the
// lowest index taking every flow until its counts catch up.
int Scheduler::pick_lc(std::span<const SchedBackend> b, bool weighted) {
  __extension__ using u128 = unsigned __int128;
  const size_t n = b.size();
  if (n == 0) return -1;
  const size_t start = rr_next_ % n;
  int best = -1;
  uint64_t best_load = 0;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (start + k) % n;
    if (!b[i].takes_new_flows()) continue;
    const uint64_t load = load_of(b[i]);
    bool better = best < 0;
    if (!better && weighted)
      better = u128{load} * b[best].weight < u128{best_load} * b[i].weight;
    else if (!better)
      better = load < best_load;
    if (better) {
      best = static_cast<int>(i);
      best_load = load;
    }
  }
  if (best >= 0) rr_next_ = static_cast<size_t>(best) + 1;
  return best;
}

int Scheduler::pick_rtt(std::span<const SchedBackend> b) {
  const size_t n = b.size();
  // Unmeasured first: a backend earns a score only by being given flows.
  const int fresh = scan(rr_next_, n, [&](size_t i) { return b[i].takes_new_flows() && b[i].rtt_ms < 0; });
  if (fresh >= 0) return fresh;

  double fastest = -1;
  for (size_t i = 0; i < n; ++i)
    if (b[i].takes_new_flows() && (fastest < 0 || b[i].rtt_ms < fastest)) fastest = b[i].rtt_ms;
  if (fastest < 0) return -1;
  // The 1 ms floor keeps sub-millisecond jitter from splitting equal servers into tiers.
  const double limit = fastest + std::max(1.0, fastest * 0.5);

  if (++explore_count_ % kRttExploreEvery == 0) {
    const int slow = scan(explore_next_, n, [&](size_t i) { return b[i].takes_new_flows() && b[i].rtt_ms > limit; });
    if (slow >= 0) return slow;
  }
  return scan(rr_next_, n, [&](size_t i) { return b[i].takes_new_flows() && b[i].rtt_ms <= limit; });
}

// Weighted rendezvous hashing (Schindelhauer and Schomaker's logarithmic method, as in
// "weighted HRW"): each backend scores w / -ln(u), u uniform in (0, 1) from a hash of
// (client, backend key); the highest score wins. Backend i then wins with probability
// w_i / sum(w), and a backend joining or leaving moves only the clients it wins or had.
int Scheduler::pick_sh(std::span<const SchedBackend> b, uint32_t src_hash) {
  int best = -1;
  double best_score = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!b[i].takes_new_flows()) continue;
    // 52 bits + 1/2: u in [2^-53, 1 - 2^-53], both exact, so ln(u) is finite and < 0.
    const double u = (static_cast<double>(mix2(src_hash, b[i].key) >> 12) + 0.5) * 0x1p-52;
    const double score = b[i].weight / -std::log(u);
    if (best < 0 || score > best_score) {
      best = static_cast<int>(i);
      best_score = score;
    }
  }
  return best;
}

// The Maglev paper's population (section 3.4) with weights. Each backend's preference
// list is offset + j * skip (mod M), offset = h1(key) % M, skip = h2(key) % (M - 1) + 1;
// backends take turns claiming their next unclaimed preferred slot until all M are taken.
// Weights (as katran's MaglevHashV2): every round each backend adds its weight to a
// credit and takes a turn when the credit reaches the largest weight (paying that). The
// heaviest backends take a turn every round, one of weight w a fraction w / max of the
// rounds, so slot ownership is proportional to weight within one turn per backend, and
// the turns stay interleaved however large or coprime the weights are.
void Scheduler::build_maglev(std::span<const SchedBackend> b) {
  const uint32_t m = opt_.maglev_table_size;
  std::vector<uint32_t> w(b.size(), 0);
  for (size_t i = 0; i < b.size(); ++i) w[i] = b[i].takes_new_flows() ? b[i].weight : 0;
  // Only departures since the last build? Then keep the stayers' slots (see the header).
  bool only_left = maglev_.size() == m && maglev_w_.size() == w.size() && w != maglev_w_;
  for (size_t i = 0; only_left && i < w.size(); ++i) only_left = w[i] == maglev_w_[i] || w[i] == 0;
  std::vector<int32_t> old;
  if (only_left) old.swap(maglev_);
  maglev_w_ = w;
  fill_maglev(b);
  if (!only_left) return;
  for (uint32_t s = 0; s < m; ++s)
    if (old[s] >= 0 && w[static_cast<size_t>(old[s])] > 0) maglev_[s] = old[s];
}

void Scheduler::fill_maglev(std::span<const SchedBackend> b) {
  const uint32_t m = opt_.maglev_table_size;
  maglev_.assign(m, -1);
  struct Turn {
    int32_t backend;
    uint32_t pos, skip, weight;
    uint64_t credit;
  };
  std::vector<Turn> t;
  uint32_t wmax = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!b[i].takes_new_flows()) continue;
    const uint32_t offset = static_cast<uint32_t>(mix2(b[i].key, 0x6d61676cu) % m);
    const uint32_t skip = static_cast<uint32_t>(mix2(b[i].key, 0x736b6970u) % (m - 1)) + 1;
    t.push_back(Turn{static_cast<int32_t>(i), offset, skip, b[i].weight, 0});
    wmax = std::max(wmax, b[i].weight);
  }
  if (t.empty()) return;
  uint32_t filled = 0;
  for (;;) {
    for (Turn& x : t) {
      x.credit += x.weight;
      if (x.credit < wmax) continue;
      x.credit -= wmax;
      // M is prime and 0 < skip < M, so the preference list visits every slot: this ends.
      while (maglev_[x.pos] >= 0) x.pos = static_cast<uint32_t>((uint64_t{x.pos} + x.skip) % m);
      maglev_[x.pos] = x.backend;
      x.pos = static_cast<uint32_t>((uint64_t{x.pos} + x.skip) % m);
      if (++filled == m) return;
    }
  }
}

// Groups in ascending number until they hold min_active members that take new flows;
// every group when all of them together hold fewer. No allocation: in_group_ is sized.
void Scheduler::choose_group(std::span<const SchedBackend> b) {
  const size_t n = std::min(b.size(), in_group_.size());
  std::fill(in_group_.begin(), in_group_.end(), 0);
  const uint32_t need = std::max<uint32_t>(1, opt_.min_active);
  uint32_t have = 0;
  bool first = true;
  uint32_t last = 0;
  while (have < need) {
    bool found = false;
    uint32_t g = 0;
    for (size_t i = 0; i < n; ++i) {
      if ((first || b[i].group > last) && (!found || b[i].group < g)) {
        g = b[i].group;
        found = true;
      }
    }
    if (!found) break;
    for (size_t i = 0; i < n; ++i) {
      if (b[i].group != g) continue;
      in_group_[i] = 1;
      if (b[i].takes_new_flows()) ++have;
    }
    first = false;
    last = g;
  }
}

// ---------------------------------------------------------------------------- RttEstimator

namespace {
void ewma(double& avg, uint64_t& n, uint32_t sample) {
  if (n == 0)
    avg = sample;
  else
    avg += (sample - avg) / 4;
  ++n;
}
}  // namespace

void RttEstimator::add_connect_us(uint32_t us) { ewma(connect_us_, connect_n_, us); }
void RttEstimator::add_response_us(uint32_t us) { ewma(response_us_, response_n_, us); }

double RttEstimator::score_ms() const {
  if (!measured()) return -1;
  return ((connect_n_ ? connect_us_ : 0) + (response_n_ ? response_us_ : 0)) / 1000;
}
double RttEstimator::connect_ms() const { return connect_n_ ? connect_us_ / 1000 : -1; }
double RttEstimator::response_ms() const { return response_n_ ? response_us_ / 1000 : -1; }

// ---------------------------------------------------------------------------- PersistTable
//
// Records in use are kept packed in recs_[0, used_): a new one is recs_[used_], and erase
// moves the last record into the hole (fixing its slot and list neighbours), so there is
// no free list. Slots use linear probing at a load factor of at most 1/2, with
// backward-shift deletion: no tombstones.

PersistTable::PersistTable(uint32_t capacity, uint32_t timeout_ms)
    : recs_(capacity ? capacity : 1), timeout_ms_(timeout_ms) {
  const uint32_t slots = std::bit_ceil(static_cast<uint32_t>(recs_.size()) * 2u);
  slots_.assign(slots, 0);
  mask_ = slots - 1;
}

uint32_t PersistTable::size() const { return used_; }

uint32_t PersistTable::find(uint32_t src) const {
  for (uint32_t s = mix32(src) & mask_;; s = (s + 1) & mask_) {
    const uint32_t r = slots_[s];
    if (r == 0) return kNil;
    if (recs_[r - 1].src == src) return r - 1;
  }
}

void PersistTable::unlink(uint32_t i) {
  Rec& r = recs_[i];
  (r.prev != kNil ? recs_[r.prev].next : head_) = r.next;
  (r.next != kNil ? recs_[r.next].prev : tail_) = r.prev;
  r.prev = r.next = kNil;
}

void PersistTable::push_front(uint32_t i) {
  Rec& r = recs_[i];
  r.prev = kNil;
  r.next = head_;
  (head_ != kNil ? recs_[head_].prev : tail_) = i;
  head_ = i;
}

void PersistTable::erase(uint32_t i) {
  // The slot that points at i.
  uint32_t s = mix32(recs_[i].src) & mask_;
  while (slots_[s] != i + 1) s = (s + 1) & mask_;
  // Backward shift: pull later members of the cluster into the hole unless their home
  // lies cyclically within (hole, j], where moving them would put them before their home.
  uint32_t hole = s;
  for (uint32_t j = (s + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
    const uint32_t home = mix32(recs_[slots_[j] - 1].src) & mask_;
    const bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!between) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = 0;
  unlink(i);

  const uint32_t last = used_ - 1;
  if (i != last) {
    uint32_t ls = mix32(recs_[last].src) & mask_;
    while (slots_[ls] != last + 1) ls = (ls + 1) & mask_;
    slots_[ls] = i + 1;
    recs_[i] = recs_[last];
    Rec& r = recs_[i];
    (r.prev != kNil ? recs_[r.prev].next : head_) = i;
    (r.next != kNil ? recs_[r.next].prev : tail_) = i;
  }
  recs_[last] = Rec{};
  --used_;
}

int PersistTable::lookup(uint32_t masked_src, uint64_t now_ms) {
  const uint32_t i = find(masked_src);
  if (i == kNil) return -1;
  if (recs_[i].expires_ms <= now_ms) {
    erase(i);
    return -1;
  }
  unlink(i);
  push_front(i);
  return recs_[i].backend;
}

void PersistTable::record_until(uint32_t masked_src, int backend, uint64_t expires_ms) {
  if (backend < 0) return;
  uint32_t i = find(masked_src);
  if (i == kNil) {
    if (used_ == recs_.size()) {
      erase(tail_);
      ++evictions_;
    }
    i = used_++;
    recs_[i] = Rec{};
    recs_[i].src = masked_src;
    recs_[i].used = true;
    uint32_t s = mix32(masked_src) & mask_;
    while (slots_[s] != 0) s = (s + 1) & mask_;
    slots_[s] = i + 1;
  } else {
    unlink(i);
  }
  recs_[i].backend = backend;
  recs_[i].expires_ms = expires_ms;
  push_front(i);
}

void PersistTable::forget_backend(int backend) {
  // Downward, so the record erase() moves into the hole (the last one) was already seen.
  for (uint32_t i = used_; i-- > 0;)
    if (recs_[i].backend == backend) erase(i);
}

}  // namespace lb
