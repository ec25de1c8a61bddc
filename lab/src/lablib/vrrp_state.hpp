// vrrp_state.hpp: one engine's VRRP state as `lbctl vrrp --json` reports it, read over its
// control socket, with the engine's own change time put on the lab's wall clock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace lab {

struct VrrpReading {
    std::string state;             // "master", "backup", "initialize"
    std::string reason;            // last_change.reason
    std::int64_t changed_ms = 0;   // wall_ms() at the poll minus last_change.ago_ms
    long master_down_ms = 0;
    long advert_interval_ms = 0;
    std::string master_ip;
    std::uint64_t adverts_received = 0;
    std::uint64_t garp_rounds = 0;
    std::uint64_t transitions = 0;   // to master + to backup + to initialize, ever
    std::map<std::string, std::uint64_t> drops;  // by reason ("ttl", "checksum", ...)
};

// Parses `lbctl vrrp --json` output read at `now_ms`; nullopt for anything else (and for
// an engine without [vrrp]).
std::optional<VrrpReading> parse_vrrp_json(const std::string& text, std::int64_t now_ms);

// Asks the engine behind `socket` (500 ms timeout); nullopt when it does not answer.
std::optional<VrrpReading> read_vrrp(const std::string& socket);

// Reads every `every_ms` until `pred` holds or `deadline_ms` (wall_ms) has passed; the
// last reading (nullopt when the last ask went unanswered). Reads at least once.
std::optional<VrrpReading> poll_vrrp(const std::string& socket, std::int64_t deadline_ms,
                                     const std::function<bool(const VrrpReading&)>& pred, int every_ms = 20);

}  // namespace lab
