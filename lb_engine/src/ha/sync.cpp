// The sync format's codec (lb/ha/sync.hpp). Fields are written and read byte by byte
// through put/get helpers rather than packed structs: records are packed back to back
// at odd offsets, and a helper that takes an offset is where the bounds are checked.
#include "lb/ha/sync.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace lb::ha {

namespace {

constexpr uint8_t kMaxState = static_cast<uint8_t>(TcpState::closed);

// Writers: `o` is where the field starts; the caller reserved the room.
void put8(uint8_t* o, uint8_t v) { *o = v; }
void put16(uint8_t* o, uint16_t host) {
  o[0] = static_cast<uint8_t>(host >> 8);
  o[1] = static_cast<uint8_t>(host);
}
void put32(uint8_t* o, uint32_t host) {
  put16(o, static_cast<uint16_t>(host >> 16));
  put16(o + 2, static_cast<uint16_t>(host));
}
void put_raw32(uint8_t* o, uint32_t net) { std::memcpy(o, &net, 4); }  // already network order
void put_raw16(uint8_t* o, uint16_t net) { std::memcpy(o, &net, 2); }
void put_key(uint8_t* o, const FlowKey& k) {
  put_raw32(o, k.saddr);
  put_raw32(o + 4, k.daddr);
  put_raw16(o + 8, k.sport);
  put_raw16(o + 10, k.dport);
}

uint16_t get16(const uint8_t* i) { return static_cast<uint16_t>(i[0] << 8 | i[1]); }
uint32_t get32(const uint8_t* i) { return uint32_t{get16(i)} << 16 | get16(i + 2); }
uint32_t get_raw32(const uint8_t* i) {
  uint32_t v;
  std::memcpy(&v, i, 4);
  return v;
}
uint16_t get_raw16(const uint8_t* i) {
  uint16_t v;
  std::memcpy(&v, i, 2);
  return v;
}
FlowKey get_key(const uint8_t* i, uint8_t proto) {
  FlowKey k;
  k.saddr = get_raw32(i);
  k.daddr = get_raw32(i + 4);
  k.sport = get_raw16(i + 8);
  k.dport = get_raw16(i + 10);
  k.proto = proto;
  return k;
}

}  // namespace

const char* to_string(SyncType t) {
  switch (t) {
    case SyncType::flow: return "flow";
    case SyncType::flow_state: return "flow_state";
    case SyncType::flow_remove: return "flow_remove";
    case SyncType::persist: return "persist";
    case SyncType::dump_request: return "dump_request";
    case SyncType::dump_end: return "dump_end";
  }
  return "?";
}

size_t sync_record_len(SyncType t) {
  switch (t) {
    case SyncType::flow: return 50;
    case SyncType::flow_state: return 22;
    case SyncType::flow_remove: return 16;
    case SyncType::persist: return 24;
    case SyncType::dump_request: return 6;
    case SyncType::dump_end: return 10;
  }
  return 0;
}

const char* to_string(SyncError e) {
  switch (e) {
    case SyncError::none: return "none";
    case SyncError::short_datagram: return "short_datagram";
    case SyncError::bad_magic: return "bad_magic";
    case SyncError::bad_version: return "bad_version";
    case SyncError::bad_record: return "bad_record";
    case SyncError::count_: break;
  }
  return "?";
}

// ---------------------------------------------------------------- writing

bool SyncWriter::add(const SyncRecord& r) {
  const size_t n = sync_record_len(r.type);
  if (n == 0 || len_ + n > buf_.size() || count_ == UINT16_MAX) return false;
  uint8_t* o = buf_.data() + len_;
  std::memset(o, 0, n);
  put8(o, static_cast<uint8_t>(r.type));
  put8(o + 1, static_cast<uint8_t>(n));
  uint8_t* b = o + 2;
  switch (r.type) {
    case SyncType::flow:
      put_raw32(b, r.vip_addr);
      put16(b + 4, r.vip_port);
      put8(b + 6, r.proto);
      put8(b + 7, static_cast<uint8_t>(r.state));
      put_key(b + 8, r.original);
      put_key(b + 20, r.reply);
      put_raw32(b + 32, r.backend_addr);
      put16(b + 36, r.backend_port);
      put8(b + 38, r.flags);
      put32(b + 40, r.age_ms);
      put32(b + 44, r.expires_in_ms);
      break;
    case SyncType::flow_state:
      put8(b, r.proto);
      put8(b + 1, static_cast<uint8_t>(r.state));
      put8(b + 2, r.flags);
      put_key(b + 4, r.original);
      put32(b + 16, r.expires_in_ms);
      break;
    case SyncType::flow_remove:
      put8(b, r.proto);
      put_key(b + 2, r.original);
      break;
    case SyncType::persist:
      put_raw32(b, r.vip_addr);
      put16(b + 4, r.vip_port);
      put8(b + 6, r.proto);
      put_raw32(b + 8, r.source);
      put_raw32(b + 12, r.backend_addr);
      put16(b + 16, r.backend_port);
      put32(b + 18, r.expires_in_ms);
      break;
    case SyncType::dump_request:
      put32(b, r.nonce);
      break;
    case SyncType::dump_end:
      put32(b, r.nonce);
      put32(b + 4, r.flows);
      break;
  }
  len_ += n;
  ++count_;
  return true;
}

std::span<const uint8_t> SyncWriter::finish(uint32_t seq) {
  uint8_t* h = buf_.data();
  put16(h, kSyncMagic);
  put8(h + 2, kSyncVersion);
  put8(h + 3, 0);
  put32(h + 4, seq);
  put16(h + 8, count_);
  put16(h + 10, 0);
  return {buf_.data(), len_};
}

void SyncWriter::clear() {
  len_ = kSyncHeaderLen;
  count_ = 0;
}

// ---------------------------------------------------------------- reading

SyncReader::SyncReader(const uint8_t* p, size_t len) : p_(p), len_(len) {
  if (!p || len < kSyncHeaderLen) {
    error_ = SyncError::short_datagram;
    return;
  }
  if (get16(p) != kSyncMagic) {
    error_ = SyncError::bad_magic;
    return;
  }
  if (p[2] != kSyncVersion) {
    error_ = SyncError::bad_version;
    return;
  }
  seq_ = get32(p + 4);
  count_ = get16(p + 8);
}

bool SyncReader::next(SyncRecord& out) {
  while (error_ == SyncError::none) {
    if (read_ == count_) {
      if (pos_ != len_) error_ = SyncError::bad_record;  // bytes the count does not account for
      return false;
    }
    if (len_ - pos_ < 2) {
      error_ = SyncError::bad_record;
      return false;
    }
    const uint8_t* r = p_ + pos_;
    const size_t n = r[1];
    if (n < 2 || n > len_ - pos_) {
      error_ = SyncError::bad_record;
      return false;
    }
    pos_ += n;
    ++read_;
    const auto type = static_cast<SyncType>(r[0]);
    const size_t want = sync_record_len(type);
    if (want == 0) {  // a type of a later version
      ++unknown_;
      continue;
    }
    if (n < want) {
      error_ = SyncError::bad_record;
      return false;
    }
    out = SyncRecord{};
    out.type = type;
    const uint8_t* b = r + 2;
    auto state_ok = [&](uint8_t s) {
      if (s > kMaxState) error_ = SyncError::bad_record;
      out.state = static_cast<TcpState>(s);
      return error_ == SyncError::none;
    };
    switch (type) {
      case SyncType::flow:
        out.vip_addr = get_raw32(b);
        out.vip_port = get16(b + 4);
        out.proto = b[6];
        if (!state_ok(b[7])) return false;
        out.original = get_key(b + 8, out.proto);
        out.reply = get_key(b + 20, out.proto);
        out.backend_addr = get_raw32(b + 32);
        out.backend_port = get16(b + 36);
        out.flags = b[38];
        out.age_ms = get32(b + 40);
        out.expires_in_ms = get32(b + 44);
        break;
      case SyncType::flow_state:
        out.proto = b[0];
        if (!state_ok(b[1])) return false;
        out.flags = b[2];
        out.original = get_key(b + 4, out.proto);
        out.expires_in_ms = get32(b + 16);
        break;
      case SyncType::flow_remove:
        out.proto = b[0];
        out.original = get_key(b + 2, out.proto);
        break;
      case SyncType::persist:
        out.vip_addr = get_raw32(b);
        out.vip_port = get16(b + 4);
        out.proto = b[6];
        out.source = get_raw32(b + 8);
        out.backend_addr = get_raw32(b + 12);
        out.backend_port = get16(b + 16);
        out.expires_in_ms = get32(b + 18);
        break;
      case SyncType::dump_request:
        out.nonce = get32(b);
        break;
      case SyncType::dump_end:
        out.nonce = get32(b);
        out.flows = get32(b + 4);
        break;
    }
    return true;
  }
  return false;
}

}  // namespace lb::ha
