// The HA pair against bad input and a split segment (ha_guard.hpp). Every reading is the
// engines' own (lbctl vrrp --json over their control sockets, polled every 20 ms); every
// time is the engine's change time against the wall clock of the action that caused it.
#include "lablib/ha_guard.hpp"

#include "lablib/control.hpp"
#include "lablib/fault.hpp"
#include "lablib/lab.hpp"
#include "lablib/process.hpp"
#include "lablib/util.hpp"
#include "lablib/vrrp_state.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr int kMalformedCount = 3;
constexpr int kRogueCount = 10;  // one every 100 ms: a second of a higher-priority router
constexpr long kTimerSlackMs = 150;

// What to break, the lab_client flag for it, and the engine's drop reason.
struct Malformed {
    const char* what;
    std::vector<std::string> args;
    const char* reason;
};
const std::vector<Malformed>& malformed_kinds() {
    static const std::vector<Malformed> k{
        {"VRRP version 2", {"--break", "version"}, "version"},
        {"type 2 (not an advertisement)", {"--break", "type"}, "type"},
        {"bad VRRP checksum", {"--break", "checksum"}, "checksum"},
        {"TTL 64", {"--break", "ttl"}, "ttl"},
        {"count says one address more than sent", {"--break", "length"}, "length"},
        {"bad IPv4 header checksum", {"--break", "ip-checksum"}, "ip_checksum"},
        {"Max Adver Int 0", {"--break", "zero-interval"}, "zero_interval"},
        {"unknown VRID 52", {"--vrid", "52"}, "unknown_vrid"},
    };
    return k;
}

VrrpReading must_read(const std::string& socket, const std::string& who) {
    auto r = read_vrrp(socket);
    if (!r) throw Error(who + ": no answer to `vrrp json` on " + socket);
    return *r;
}

// The at_ms of the last "sent ..." line of lab_client vrrp-advert's output; 0: none.
std::int64_t last_sent_ms(const std::string& out) {
    std::int64_t last = 0;
    for (const auto& line : split(out, '\n')) {
        auto at = line.rfind("at_ms=");
        if (line.rfind("sent ", 0) == 0 && at != std::string::npos) last = std::atoll(line.c_str() + at + 6);
    }
    return last;
}

std::string ms(long v) { return v < 0 ? std::string("never") : std::to_string(v) + " ms"; }

std::string malformed_check(const Malformed& k) {
    return std::string("advert with ") + k.what + ": dropped as " + k.reason + ", nothing changes";
}
const char* const kRogueYield = "valid adverts at priority 254 from a third router (lab_client's own encoder) make lb-a backup";
const char* const kRogueBack = "lb-a is master again one master-down interval after the last of them";
const char* const kSplit = "partitioned, lb-b hears no advert and becomes master too (dual master)";
const char* const kHealed = "healed, one master again: lb-a (priority 200), lb-b backup";
const char* const kNeigh = "after the heal the router's ARP entry for the VIP is lb-a's MAC again (lb-a re-announces)";
const char* const kRequest = "a request through the VIP succeeds after the heal";

}  // namespace

std::vector<std::string> ha_guard_check_names() {
    std::vector<std::string> out;
    for (const auto& k : malformed_kinds()) out.push_back(malformed_check(k));
    out.insert(out.end(), {kRogueYield, kRogueBack, kSplit, kHealed, kNeigh, kRequest});
    return out;
}

bool HaGuardRun::passed() const {
    if (skipped) return true;
    if (!error.empty() || checks.empty()) return false;
    return std::all_of(checks.begin(), checks.end(), [](const HaCheck& c) { return c.ok; });
}

HaGuardRun run_ha_guard(const Paths& paths, const HaGuardOptions& opt) {
    HaGuardRun run;
    run.lab = opt.name.empty() ? "hg" + std::to_string(::getpid()) : opt.name;
    auto add = [&](std::string name, bool ok, std::string expected, std::string actual) {
        run.checks.push_back({std::move(name), ok, std::move(expected), std::move(actual)});
    };
    try {
        UpOptions up;
        up.name = run.lab;
        up.mode = run.mode;
        up.ha = true;
        run.notes.push_back("lab up --ha --mode " + run.mode + " --name " + run.lab);
        auto h = lab_up(paths, up);  // on failure it removes what it built
        LabGuard guard(paths, run.lab);
        const Node& lba = node_with_role(h.topo, "lb-a", "lb");
        const Node& lbb = node_with_role(h.topo, "lb-b", "lb");
        const Node& router = h.topo.require_node("router");
        const Node& client1 = h.topo.require_node("client1");
        const auto sock_a = engine_socket(paths, h.topo, lba), sock_b = engine_socket(paths, h.topo, lbb);
        std::string router_dev, lba_mac;
        for (const auto& i : router.ifaces)
            if (i.segment == "front") router_dev = i.dev;
        for (const auto& i : lba.ifaces)
            if (i.segment == "front") lba_mac = i.mac;
        if (router_dev.empty() || lba_mac.empty()) throw Error("topology.toml: no front interface on the router or lb-a");
        const std::string client = paths.tool("lab_client").string();
        // Adverts as the pair's own (VRID 51, the VIP) unless `extra` says otherwise.
        auto advert_cmd = [&](std::vector<std::string> extra) {
            std::vector<std::string> argv{client, "vrrp-advert", router_dev, "--priority", "254", "--interval-ms", "100",
                                          "--address", h.topo.vip};
            if (std::find(extra.begin(), extra.end(), "--vrid") == extra.end()) argv.insert(argv.end(), {"--vrid", "51"});
            argv.insert(argv.end(), extra.begin(), extra.end());
            return argv;
        };

        auto a = poll_vrrp(sock_a, wall_ms() + 3000, [](const VrrpReading& r) { return r.state == "master"; });
        if (!a || a->state != "master") throw Error("lb-a did not become master within 3 s of lab up");
        auto b = poll_vrrp(sock_b, wall_ms() + 1000, [](const VrrpReading& r) { return r.state == "backup"; });
        if (!b || b->state != "backup") throw Error("lb-b is not backup after lab up");
        run.master_down_a_ms = a->master_down_ms;
        run.master_down_b_ms = b->master_down_ms;
        run.advert_interval_ms = a->advert_interval_ms;

        // 1. Malformed adverts: counted for their reason by both engines, nothing changes.
        for (const auto& k : malformed_kinds()) {
            auto before_a = must_read(sock_a, "lb-a"), before_b = must_read(sock_b, "lb-b");
            auto argv = advert_cmd(k.args);
            argv.insert(argv.end(), {"--count", std::to_string(kMalformedCount)});
            run.notes.push_back("lab exec router -- lab_client " + shell_join(std::vector<std::string>(argv.begin() + 1, argv.end())));
            auto r = run_command(in_netns(router.netns, argv), seconds(10));
            if (!r.ok()) throw Error("lab_client vrrp-advert failed: " + trim(r.err.empty() ? r.describe() : r.err));
            auto count = [&](const VrrpReading& x) {
                auto it = x.drops.find(k.reason);
                return it == x.drops.end() ? std::uint64_t{0} : it->second;
            };
            auto want = [&](const VrrpReading& x, const VrrpReading& before) {
                return count(x) >= count(before) + kMalformedCount;
            };
            auto after_a = poll_vrrp(sock_a, wall_ms() + 1000, [&](const VrrpReading& x) { return want(x, before_a); });
            auto after_b = poll_vrrp(sock_b, wall_ms() + 1000, [&](const VrrpReading& x) { return want(x, before_b); });
            if (!after_a || !after_b) throw Error("an engine stopped answering after adverts with " + std::string(k.what));
            auto delta = [&](const VrrpReading& x, const VrrpReading& before) {
                return static_cast<long>(count(x) - count(before));
            };
            const long da = delta(*after_a, before_a), db = delta(*after_b, before_b);
            const bool same = after_a->state == "master" && after_b->state == "backup" &&
                              after_a->transitions == before_a.transitions && after_b->transitions == before_b.transitions;
            add(malformed_check(k),
                da == kMalformedCount && db == kMalformedCount && same,
                std::to_string(kMalformedCount) + " counted by lb-a and by lb-b; lb-a master, lb-b backup, no transition",
                "lb-a " + std::to_string(da) + ", lb-b " + std::to_string(db) + "; lb-a " + after_a->state + ", lb-b " +
                    after_b->state + (same ? "" : ", a state changed"));
        }

        // 2. A third RFC 5798 router at priority 254: lb-a yields, then takes over again.
        {
            auto before = must_read(sock_a, "lb-a");
            auto argv = advert_cmd({"--address", h.topo.proxy_ip.empty() ? h.topo.vip : h.topo.proxy_ip, "--count",
                                    std::to_string(kRogueCount), "--every-ms", "100"});
            run.notes.push_back("lab exec router -- lab_client " + shell_join(std::vector<std::string>(argv.begin() + 1, argv.end())));
            const auto t0 = wall_ms();  // for the notes: when the first one left
            auto r = run_command(in_netns(router.netns, argv), seconds(10));
            if (!r.ok()) throw Error("lab_client vrrp-advert failed: " + trim(r.err.empty() ? r.describe() : r.err));
            const std::int64_t last = last_sent_ms(r.out);
            // lb-a's backup spell ends one master-down interval after the last advert: by
            // then only its transition count shows there was one (to backup, to master).
            auto after = poll_vrrp(sock_a, wall_ms() + 2000, [](const VrrpReading& x) { return x.state == "master"; });
            if (!after) throw Error("lb-a stopped answering after the priority-254 adverts");
            const bool yielded = after->transitions >= before.transitions + 2;  // to backup, then to master
            run.rogue_recover_ms = after->state == "master" && last ? static_cast<long>(after->changed_ms - last) : -1;
            run.notes.push_back("first advert sent at " + std::to_string(t0) + ", last at " + std::to_string(last) +
                                "; lb-a " + after->state + " (" + after->reason + ")");
            add(kRogueYield,
                yielded && after->reason == "master_down", "a backup spell, then master again (master_down)",
                std::to_string(after->transitions - before.transitions) + " transitions, now " + after->state + " (" +
                    after->reason + ")");
            const long lo = run.master_down_a_ms - 50, hi = run.master_down_a_ms + kTimerSlackMs;
            add(kRogueBack,
                run.rogue_recover_ms >= lo && run.rogue_recover_ms <= hi,
                std::to_string(lo) + ".." + std::to_string(hi) + " ms", ms(run.rogue_recover_ms));
        }
        // lb-b must be backup again before the partition (it saw the same adverts).
        poll_vrrp(sock_b, wall_ms() + 2000, [](const VrrpReading& x) { return x.state == "backup"; });

        // 3. Partition: dual master; heal: one master by priority, the neighbours follow.
        {
            auto before_a = must_read(sock_a, "lb-a");
            run.notes.push_back("lab fault lb-b partition");
            auto f = apply_fault(paths, run.lab, "lb-b", FaultAction::partition);
            run.notes.push_back(f.message);
            auto sb = poll_vrrp(sock_b, f.at_ms + run.master_down_b_ms + 2000,
                                 [](const VrrpReading& x) { return x.state == "master"; });
            run.split_master_ms = sb && sb->state == "master" ? static_cast<long>(sb->changed_ms - f.at_ms) : -1;
            auto sa = must_read(sock_a, "lb-a");
            add(kSplit,
                run.split_master_ms >= 0 && run.split_master_ms <= run.master_down_b_ms + kTimerSlackMs &&
                    sa.state == "master" && sa.transitions == before_a.transitions,
                "lb-b master within " + std::to_string(run.master_down_b_ms + kTimerSlackMs) + " ms; lb-a stays master",
                "lb-b " + (sb ? sb->state : std::string("no answer")) + " after " + ms(run.split_master_ms) + "; lb-a " +
                    sa.state);
            sleep_for(milliseconds(500));  // lb-b's GARPs take the router's ARP entry

            run.notes.push_back("lab fault lb-b heal");
            auto hf = apply_fault(paths, run.lab, "lb-b", FaultAction::heal);
            run.notes.push_back(hf.message);
            auto hb = poll_vrrp(sock_b, hf.at_ms + 3000, [](const VrrpReading& x) { return x.state == "backup"; });
            auto ha = must_read(sock_a, "lb-a");
            run.heal_resolved_ms = hb && hb->state == "backup" ? static_cast<long>(hb->changed_ms - hf.at_ms) : -1;
            const long limit = run.advert_interval_ms + kHealSlackMs;
            add(kHealed,
                run.heal_resolved_ms >= 0 && run.heal_resolved_ms <= limit && ha.state == "master",
                "lb-b backup within " + std::to_string(limit) + " ms of the heal, lb-a master",
                "lb-b " + (hb ? hb->state + " (" + hb->reason + ")" : std::string("no answer")) + " after " +
                    ms(run.heal_resolved_ms) + "; lb-a " + ha.state);
            sleep_for(milliseconds(300));
            auto neigh = run_command(in_netns(router.netns, {"ip", "neigh", "show", h.topo.vip}), seconds(5));
            std::string entry = trim(neigh.out);
            run.notes.push_back("lab exec router -- ip neigh show " + h.topo.vip + "   # " + entry);
            add(kNeigh,
                entry.find(lba_mac) != std::string::npos, lba_mac, entry.empty() ? "(no entry)" : entry);
            auto curl = run_command(
                in_netns(client1.netns, {"curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}",
                                         "http://" + h.topo.vip + "/"}),
                seconds(5));
            add(kRequest, curl.ok() && trim(curl.out) == "200", "HTTP 200",
                curl.ok() ? "HTTP " + trim(curl.out) : curl.describe());
        }
        guard.down();
    } catch (const Skip& e) {
        run.skipped = true;
        run.skip_reason = e.what();
        run.checks.clear();
    } catch (const std::exception& e) {
        run.error = e.what();
        add("the scenario runs to its end", false, "no error", run.error);
    }
    if (!opt.out.empty()) {
        fs::create_directories(opt.out);
        std::ofstream(opt.out / "ha-guard.json") << ha_guard_json(run).dump(1) << "\n";
    }
    return run;
}

nlohmann::json ha_guard_json(const HaGuardRun& run) {
    nlohmann::json j;
    j["suite"] = "ha";
    j["scenario"] = "guard";
    j["mode"] = run.mode;
    j["lab"] = run.lab;
    j["skipped"] = run.skipped;
    if (run.skipped) j["skip_reason"] = run.skip_reason;
    if (!run.error.empty()) j["error"] = run.error;
    j["passed"] = run.passed();
    j["master_down_interval_ms"] = {{"lb-a", run.master_down_a_ms}, {"lb-b", run.master_down_b_ms}};
    j["advert_interval_ms"] = run.advert_interval_ms;
    j["third_router_recover_ms"] = run.rogue_recover_ms;
    j["partition_lb_b_master_ms"] = run.split_master_ms;
    j["heal_one_master_ms"] = run.heal_resolved_ms;
    j["checks"] = ha_checks_json(run.checks);
    j["notes"] = run.notes;
    return j;
}

}  // namespace lab
