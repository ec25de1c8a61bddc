// Connection sync between two engines: a small versioned binary format, carried in UDP
// datagrams the VRRP master builds itself and sends from its sync port's address to its
// peer (default UDP port 8848). Self-contained: no clock, no I/O, no engine state. The
// writer batches records into one datagram payload; the reader walks one with every
// read bounds-checked and never trusts a length it has not checked.
//
// Datagram payload, all multi-byte fields in network byte order:
//   header, 12 bytes:
//     magic 0x4c42 ("LB") (2) | version 1 (1) | flags 0 (1) | seq (4) | count (2) | reserved 0 (2)
//   then `count` records that exactly fill the rest, each:
//     type (1) | len (1, the whole record's length, >= 2) | body
//   A record of an unknown type is skipped by its length (counted); a known type longer
//   than this version's body is read for the fields it knows (a later version may append
//   fields). A record shorter than its type's body, or running past the payload, makes the
//   rest of the datagram malformed (records before it stand).
//
// A flow key is 12 bytes: saddr (4) | daddr (4) | sport (2) | dport (2); the protocol
// travels once per record. A VIP is named by address, port and protocol and a backend
// by address and port, never by the sender's table indices: the two engines need the
// same VIPs, not the same order or the same runtime history.
//
//   type 1 flow, 50 bytes: a flow created (and every flow of a dump)
//     vip addr (4) | vip port (2) | proto (1) | state (1) | original key (12) |
//     reply key (12, zero for a one-way DSR flow) | backend addr (4) | backend port (2) |
//     flags (1: bit 0 one-way, bit 1 FIN from the client, bit 2 FIN from the server) |
//     reserved (1) | age_ms (4) | expires_in_ms (4)
//     Proxy flows carry their PIP port in the reply key's dport: the peer translates an
//     established connection exactly as the sender did.
//   type 2 flow_state, 22 bytes: a flow's TCP state changed, or its deadline moved on
//     proto (1) | state (1) | flags (1) | reserved (1) | original key (12) | expires_in_ms (4)
//   type 3 flow_remove, 16 bytes: a flow ended before it expired (RST, reuse, eviction)
//     proto (1) | reserved (1) | original key (12)
//   type 4 persist, 24 bytes: a source-IP persistence record
//     vip addr (4) | vip port (2) | proto (1) | reserved (1) | masked source (4) |
//     backend addr (4) | backend port (2) | expires_in_ms (4)
//   type 5 dump_request, 6 bytes: "send me your whole table" (a backup that starts)
//     nonce (4)
//   type 6 dump_end, 10 bytes: the last record of a dump
//     nonce (4, the request's) | flows (4, how many flow records the dump held)
//
// States are lb::TcpState's numbers: none 0, syn_sent 1, syn_recv 2, established 3,
// fin_wait 4, closing 5, closed 6; anything else is malformed. Times are relative
// (milliseconds of age, milliseconds until expiry), so the two clocks need not agree.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "lb/flow/flow_table.hpp"

namespace lb::ha {

inline constexpr uint16_t kSyncMagic = 0x4c42;
inline constexpr uint8_t kSyncVersion = 1;
inline constexpr size_t kSyncHeaderLen = 12;
inline constexpr size_t kSyncMaxPayload = 1400;  // UDP payload; with 28 bytes of headers it fits any MTU >= 1428
inline constexpr uint16_t kSyncDefaultPort = 8848;

enum class SyncType : uint8_t {
  flow = 1,
  flow_state = 2,
  flow_remove = 3,
  persist = 4,
  dump_request = 5,
  dump_end = 6,
};
const char* to_string(SyncType t);  // "flow", "flow_state", ...
// The length of a record of type `t` in this version (0 for an unknown type).
size_t sync_record_len(SyncType t);

// Flag bits of flow and flow_state records.
inline constexpr uint8_t kSyncOneWay = 1, kSyncFinOriginal = 2, kSyncFinReply = 4;

// One record, decoded. Which fields mean something depends on `type` (see above); ports
// of VIPs and backends are in host order, flow keys as in FlowTable (network order).
struct SyncRecord {
  SyncType type = SyncType::flow;
  uint8_t proto = 0;
  TcpState state = TcpState::none;
  uint8_t flags = 0;
  FlowKey original, reply;
  uint32_t vip_addr = 0;      // network order
  uint16_t vip_port = 0;
  uint32_t backend_addr = 0;  // network order
  uint16_t backend_port = 0;
  uint32_t source = 0;        // persist: the masked client address, network order
  uint32_t age_ms = 0, expires_in_ms = 0;
  uint32_t nonce = 0, flows = 0;
};

// Builds one datagram payload. Never allocates.
class SyncWriter {
 public:
  // Appends `r`; false (nothing written) when it would not fit in kSyncMaxPayload.
  bool add(const SyncRecord& r);
  // Writes the header with `seq` and returns the whole payload (valid until the next
  // add or clear).
  std::span<const uint8_t> finish(uint32_t seq);
  void clear();
  bool empty() const { return count_ == 0; }
  uint16_t count() const { return count_; }
  size_t size() const { return len_; }

 private:
  std::array<uint8_t, kSyncMaxPayload> buf_{};
  size_t len_ = kSyncHeaderLen;
  uint16_t count_ = 0;
};

// Why (the rest of) a datagram was not applied.
enum class SyncError : uint8_t {
  none,
  short_datagram,  // shorter than the header
  bad_magic,
  bad_version,     // a version this engine does not read
  bad_record,      // a record too short for its type, past the end, a bad state, or the count disagrees
  count_
};
const char* to_string(SyncError e);

// Walks the records of one datagram payload at p[0, len).
class SyncReader {
 public:
  SyncReader(const uint8_t* p, size_t len);  // checks the header
  // none, or what is wrong: after construction with the header, after next() returned
  // false with a record.
  SyncError error() const { return error_; }
  uint32_t seq() const { return seq_; }
  uint16_t count() const { return count_; }
  // Decodes the next record of a known type into `out`. False at the end or on an error.
  bool next(SyncRecord& out);
  uint32_t unknown_records() const { return unknown_; }  // skipped so far

 private:
  const uint8_t* p_;
  size_t len_, pos_ = kSyncHeaderLen;
  SyncError error_ = SyncError::none;
  uint32_t seq_ = 0;
  uint16_t count_ = 0, read_ = 0;
  uint32_t unknown_ = 0;
};

}  // namespace lb::ha
