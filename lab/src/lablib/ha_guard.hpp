// ha_guard.hpp: the HA pair against bad input and a split segment (issue 6, "Bad input"),
// in one HA lab (proxy mode; VRRP does not depend on the forwarding mode):
//
//  1. malformed adverts: the router, as a third box on the front segment, sends adverts
//     (lab_client vrrp-advert, an encoder written apart from the engine's) with one RFC
//     5798 §7.1 check broken each: version, type, VRRP checksum, TTL, length, IPv4 header
//     checksum, zero interval, and an unknown VRID. Both engines must count each for its
//     reason and change nothing (lb-a stays master since the same moment, lb-b backup).
//  2. interop: valid adverts from the router at priority 254 make lb-a backup (master
//     203.0.113.1); when they stop, lb-a is master again after its master-down interval.
//  3. partition: `lab fault lb-b partition` isolates the two lbs' front ports; lb-b hears
//     no advert and becomes master too (dual master). `lab fault lb-b heal`: one master
//     again, lb-a by priority, within a few advert intervals; the router's ARP entry for
//     the VIP points at lb-a again, and a request through the VIP succeeds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lablib/ha.hpp"
#include "lablib/paths.hpp"

namespace lab {

struct HaGuardOptions {
    std::string name;           // lab name; empty: "hg" + pid
    std::filesystem::path out;  // where ha-guard.json goes (empty: not written)
};

struct HaGuardRun {
    std::string mode = "proxy";
    std::string lab;
    bool skipped = false;
    std::string skip_reason;
    std::string error;
    long master_down_a_ms = 0, master_down_b_ms = 0, advert_interval_ms = 0;
    long rogue_recover_ms = -1;    // last rogue advert sent → lb-a master again
    long split_master_ms = -1;     // partition → lb-b master
    long heal_resolved_ms = -1;    // heal → lb-b backup and lb-a master
    std::vector<HaCheck> checks;
    std::vector<std::string> notes;  // commands run and readings
    bool passed() const;
};

HaGuardRun run_ha_guard(const Paths& paths, const HaGuardOptions& opt);

// The names of the checks a run makes, in order (for one test per check).
std::vector<std::string> ha_guard_check_names();

// ha-guard.json; the "guard" entry of results.json's "ha" section.
nlohmann::json ha_guard_json(const HaGuardRun& run);
// Its section of ha.html (report_ha.cpp): the measured times, the checks, the commands.
std::string ha_guard_html(const HaGuardRun& run);

constexpr long kHealSlackMs = 300;  // heal → one master: two adverts' round trip, the poll, slack

}  // namespace lab
