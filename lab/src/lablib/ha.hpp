// ha.hpp: the HA failover scenario (issue 6): an HA lab (`lab up --ha`, lb-a master at
// priority 200, lb-b backup at 100), long-lived downloads and a steady request loop
// through the VIP, lb-a's engine killed (lb-b must take over within its master-down
// interval), then started again (it preempts). Measures how long traffic stopped each
// time, which requests failed, and whether any long-lived connection broke; and, from a
// capture at every port of both engines for the whole scenario, the failover as the
// wire saw it: the adverts, the gratuitous ARPs, the first frame the new master
// forwarded, each against the fault's time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lablib/health.hpp"
#include "lablib/paths.hpp"
#include "lablib/pcap.hpp"
#include "lablib/topology.hpp"

namespace lab {

struct HaOptions {
    std::string mode = "proxy";  // any mode `lab up --ha` builds
    std::string name;            // lab name; empty: "ha" + pid
    bool sync = true;            // false: no [sync] (a DSR mode keeps flows by a consistent hash)
    std::string algorithm;       // the VIPs' algorithm (empty: rr; maglev without sync)
    int downloads = 4;           // long-lived rate-limited downloads from client2
    int held = 4;                // idle keep-alive connections from client2, asked again at the end
    std::filesystem::path out;   // where ha-<mode>.json and ha-<mode>/*.pcap go (empty: not kept)
};

// One long-lived download: curl from client2, rate-limited so it spans both transitions.
struct HaDownload {
    int index = 0;
    long expected_bytes = 0;
    long bytes = -1;        // what curl received (-1: no summary line)
    int http_code = 0;
    int curl_exit = -1;     // curl's own exit code (%{exitcode})
    std::string error;      // curl's stderr, one line
    bool broken() const { return curl_exit != 0 || http_code != 200 || bytes != expected_bytes; }
};

struct HaCheck {
    std::string name;
    bool ok = false;
    std::string expected;
    std::string actual;
};

// An engine's port as the capture sees it: the frames on `point` whose source MAC is
// `mac` are the ones that engine sent (the lab's engines send from their own MACs, no
// VRRP virtual MAC).
struct HaPort {
    std::string node;   // "lb-b"
    std::string point;  // capture point id, "lb-b.front"
    std::string mac;
    std::string ip;     // the port's own address: traffic from or to it (sync, health probes) is no data
};

// Every port of every lb node in `t` that has a MAC.
std::vector<HaPort> ha_ports(const Topology& t);

// One frame of the failover story, as captured.
struct HaFrame {
    enum class Kind { advert, garp, forwarded, to_engine };
    Kind kind = Kind::advert;
    double time = 0;         // capture time, seconds since the epoch (CLOCK_REALTIME, as wall_ms())
    std::string node;        // who sent it (advert, garp, forwarded) or whom it was addressed to (to_engine)
    std::string point;       // where it was captured, and its frame number there
    size_t index = 0;
    std::string src_mac;
    std::string address;     // advert: its source IP; garp: the address announced
    std::string arp_mac;     // garp: the ARP sender hardware address
    int priority = -1;       // advert: the VRRP priority
    std::string summary;     // Packet::summary()
    bool seen() const { return time > 0; }
    // Milliseconds after `ms` (a wall_ms() time), to 0.1 ms.
    double ms_after(std::int64_t ms) const;
};

const char* to_string(HaFrame::Kind k);

// The frames that tell the failover story, from each port's capture (point id → its
// packets), sorted by time: every VRRP advert (IPv4 protocol 112 to 224.0.0.18),
// gratuitous ARP request and forwarded data frame an engine sent (source MAC its own;
// data: any other IPv4 frame whose innermost source is no lb address, so neither sync
// nor health probes count), and every data frame addressed to an engine's MAC from a
// MAC that is no engine's, to an address that is no lb port's (traffic the router or a
// server sent it). A point without packets adds nothing.
std::vector<HaFrame> ha_frames(const std::vector<HaPort>& ports,
                               const std::map<std::string, std::vector<Packet>>& captures);

// What the capture shows of one transition. Its window runs from the moment the fault
// command was issued until the next one was (the failback: until the capture ended).
struct HaWire {
    HaFrame new_first_advert;       // the new master's first advert in the window
    HaFrame old_last_advert;        // the old master's last advert before new_first_advert (or the window's end), from any time
    HaFrame old_last_any;           // the old master's last advert in the window
    int old_adverts_after = 0;      // its adverts later than new_first_advert + one advert interval
    int old_forwarded_after = 0;    // its forwarded frames in that time
    int priority_zero = 0;          // adverts with priority 0 in the window, from anyone
    int garps = 0;                  // gratuitous ARPs from the new master in the window
    HaFrame first_garp, last_garp;
    std::vector<std::string> garp_addresses;  // the addresses they announced, sorted
    std::vector<std::string> garp_macs;       // their ARP sender MACs, sorted
    HaFrame first_forwarded;        // the new master's first forwarded data frame in the window
    int forwarded_before = 0;       // its forwarded frames before new_first_advert (failover: since the capture began)
    HaFrame first_to_new;           // the first data frame addressed to the new master in the window
};

// One transition: a kill (lb-b takes over) or a start (lb-a preempts back).
struct HaTransition {
    std::string what;                 // "kill lb-a", "start lb-a"
    std::int64_t issued_ms = 0;       // the fault command began (CLOCK_REALTIME)
    std::int64_t fault_ms = 0;        // lab fault's at_ms (CLOCK_REALTIME)
    std::int64_t master_ms = 0;       // the new master's own change time (poll time - ago_ms); 0: never
    std::string new_master;           // "lb-b" / "lb-a"
    std::string reason;               // the new master's last_change.reason
    std::int64_t first_ok_ms = 0;     // end of the first successful request started after fault_ms; 0: none
    long takeover_ms() const { return master_ms ? static_cast<long>(master_ms - fault_ms) : -1; }
    long traffic_gap_ms() const { return first_ok_ms ? static_cast<long>(first_ok_ms - fault_ms) : -1; }
    int failed = 0;                   // failed requests that started in [fault_ms - timeout, next phase)
    std::string old_master;           // "lb-a" / "lb-b"
    std::string old_state;            // the old master's VRRP state read after the transition ("" : dead)
    std::int64_t old_change_ms = 0;   // and its change time (poll time - ago_ms)
    HaWire wire;
};

struct HaRun {
    std::string mode;
    bool sync = true;
    std::string algorithm = "rr";
    std::string lab;
    bool skipped = false;
    std::string skip_reason;
    std::string error;                // the scenario could not run to its end
    double seconds = 0;
    long master_down_ms = 0;          // lb-b's master-down interval (lbctl vrrp --json)
    long advert_interval_ms = 0;
    std::int64_t loop_start_ms = 0, loop_end_ms = 0;
    std::int64_t capture_start_ms = 0, capture_end_ms = 0;
    std::string vip;
    std::vector<HaPort> ports;        // the captured ports
    std::vector<std::pair<std::string, std::string>> pcaps;  // point id → pcap path under the out dir
    std::vector<HaFrame> vrrp;        // every advert and gratuitous ARP captured, by time
    HaTransition failover, failback;
    std::vector<TimedRequest> requests;
    std::vector<HaDownload> downloads;
    int held = 0;                     // idle connections opened before the kill
    std::vector<std::string> held_again;  // per connection: "ok SERVER" or "failed: WHY"
    int held_ok() const;
    int failed_outside_windows = 0;
    std::vector<HaCheck> checks;
    std::vector<std::string> notes;   // commands run and readings
    int broken_downloads() const;
    bool passed() const;
    // "proxy", "dsr-l2-nosync": names the run's files and anchors; title() is for people.
    std::string id() const { return sync ? mode : mode + "-nosync"; }
    std::string title() const { return sync ? mode : mode + " (no sync, " + algorithm + ")"; }
};

// Runs the scenario in its own lab, brought down on every path. Skip (lab.hpp) becomes
// HaRun::skipped; any other failure is HaRun::error plus a failed check.
HaRun run_ha_failover(const Paths& paths, const HaOptions& opt);

// Fills run.failover.wire and run.failback.wire from `frames` (ha_frames), using the
// transitions' issued, fault and new/old master names, run.capture_end_ms and
// run.advert_interval_ms; keeps the adverts and GARPs in run.vrrp. Pure.
void ha_wire_timeline(HaRun& run, const std::vector<HaFrame>& frames);

// The checks of a run (filled into run.checks): takeover within master-down + kTakeoverSlackMs,
// traffic again within master-down + kTrafficSlackMs, every request failed only inside a
// transition window, no broken long-lived download (the flows are synced in every mode);
// and from the capture: lb-b's first advert one master-down interval after lb-a's last
// (no earlier than kTimerToleranceMs before it, no later than kTakeoverSlackMs after),
// each new master's gratuitous ARPs for the VIP from its own MAC beginning within one
// advert interval of its first advert, no frame forwarded by a new master before its
// first advert and some after it, and lb-b quiet (no advert, nothing forwarded) from one
// advert interval after lb-a's first advert on.
void judge_ha(HaRun& run);

constexpr long kTakeoverSlackMs = 150;
constexpr long kTrafficSlackMs = 700;  // a request's connect timeout (500) plus the loop's interval and slack
// The engine's timers count whole milliseconds from when it read its clock, which can
// be a little after the capture stamped the advert that restarted them.
constexpr double kTimerToleranceMs = 5;

// The run as JSON (ha-<id>.json; an entry of results.json's "ha" section).
nlohmann::json ha_json(const HaRun& run);
// Judged checks as a JSON array of {name, ok, expected, actual}.
nlohmann::json ha_checks_json(const std::vector<HaCheck>& checks);

// The page ha.html (report_ha.cpp; health.html's approach): a summary table, then per
// mode the measured times, an SVG of the whole run (each engine's adverts and GARPs on
// a lane of its own, each request a bar, lines at the faults and state changes), per
// transition the wire's timeline as a table and a close-up SVG, the checks, links to
// the pcaps, the commands and readings. `generated` (ISO 8601) also links the page to
// index.html, results.json and junit.xml, which are then beside it; empty: a page of
// its own (conformance).
// `guard`, when given, adds its section (ha_guard_html) at the end.
struct HaGuardRun;
std::string ha_html(const std::vector<HaRun>& runs, const std::string& generated = "", const HaGuardRun* guard = nullptr);

}  // namespace lab
