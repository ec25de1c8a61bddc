#include "lablib/facts.hpp"

#include "lablib/util.hpp"

#include <cstdio>

namespace lab {

std::string human_bytes(uint64_t n) {
    char b[64];
    if (n >= (1u << 20))
        std::snprintf(b, sizeof b, "%llu bytes (%.2f MiB)", static_cast<unsigned long long>(n),
                      static_cast<double>(n) / (1 << 20));
    else
        std::snprintf(b, sizeof b, "%llu bytes", static_cast<unsigned long long>(n));
    return b;
}

namespace {

// The LB's ports that were captured: (point id, the port's MAC).
std::vector<std::pair<std::string, std::string>> lb_points(const Topology& topo, const ScenarioRun& run) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Node* n : topo.with_role("lb"))
        for (const auto& i : n->ifaces) {
            std::string id = n->name + "." + i.name;
            if (run.captures.packets.count(id)) out.emplace_back(id, i.mac);
        }
    return out;
}

std::vector<Match> resolve_all(const std::vector<Match>& ms, const Vars& vars, std::string* why) {
    std::vector<Match> out;
    try {
        for (const auto& m : ms) out.push_back(m.resolved(vars));
    } catch (const std::exception& e) {
        if (why) *why = e.what();
        return {};
    }
    return out;
}

bool any_matches(const std::vector<Match>& ms, const Packet& p) {
    for (const auto& m : ms)
        if (m.matches(p)) return true;
    return false;
}

std::string short_bytes(uint64_t n) {
    char b[48];
    if (n >= (1u << 20))
        std::snprintf(b, sizeof b, "%.2f MiB", static_cast<double>(n) / (1 << 20));
    else if (n >= 1024)
        std::snprintf(b, sizeof b, "%.1f KiB", static_cast<double>(n) / 1024);
    else
        std::snprintf(b, sizeof b, "%llu B", static_cast<unsigned long long>(n));
    return b;
}

}  // namespace

LbTraffic lb_traffic(const Topology& topo, const ScenarioRun& run, const std::vector<Match>& flow) {
    LbTraffic t;
    for (const auto& [pt, mac] : lb_points(topo, run)) {
        t.measured = true;
        t.points.push_back(pt);
        for (const auto& p : run.captures.packets.at(pt)) {
            if (!any_matches(flow, p)) continue;
            const IpView& v = p.innermost();
            bool up = v.has_ports && v.dst_port == 80;
            uint64_t bytes = p.ip_total_length;
            if (p.dst_mac == mac) {
                (up ? t.up_in_packets : t.down_in_packets) += 1;
                (up ? t.up_in_bytes : t.down_in_bytes) += bytes;
            } else if (p.src_mac == mac) {
                (up ? t.up_out_packets : t.down_out_packets) += 1;
                (up ? t.up_out_bytes : t.down_out_bytes) += bytes;
            }
        }
    }
    return t;
}

Fact fact_server_sees_client(const ScenarioRun& run) {
    Fact f{"server sees the client IP", run.name, "", {}};
    auto get = [&](const char* k) {
        auto it = run.vars.find(k);
        return it == run.vars.end() ? std::string() : it->second;
    };
    std::string seen = get("seen_ip"), cip = get("cip"), server = get("server");
    if (seen.empty()) {
        f.value = "unknown (the server's answer was not read: " +
                  (run.outcome.error.empty() ? std::string("no answer") : run.outcome.error) + ")";
        f.summary = "unknown";
        return f;
    }
    bool yes = seen == cip;
    f.value = std::string(yes ? "yes" : "no") + ": " + server + " saw " + seen + ":" +
              get("seen_port") + " (client " + cip + ":" + get("cport") + ")";
    f.summary = yes ? "yes (" + seen + ")" : "no: sees " + seen;
    f.numbers["sees_client_ip"] = yes ? 1 : 0;
    return f;
}

Fact fact_reply_crosses_lb(const Topology& topo, const ScenarioRun& run, const Match& reply) {
    Fact f{"reply crosses the LB", run.name, "", {}};
    std::string why;
    auto ms = resolve_all({reply}, run.vars, &why);
    auto lbs = lb_points(topo, run);
    auto server = run.vars.find("server");
    if (ms.empty() || lbs.empty() || server == run.vars.end()) {
        f.value = "unknown (" + (ms.empty() ? why : lbs.empty() ? "no capture at the LB" : "no answering server") + ")";
        f.summary = "unknown";
        return f;
    }
    uint64_t left = 0, at_lb = 0;
    auto sp = run.captures.packets.find(server->second + ".eth0");
    auto rmac = run.vars.find("rmac");
    if (sp != run.captures.packets.end() && rmac != run.vars.end())
        for (const auto& p : sp->second)
            if (p.src_mac == rmac->second && ms[0].matches(p)) ++left;
    std::vector<std::string> where;
    for (const auto& [pt, mac] : lbs) {
        uint64_t n = 0;
        for (const auto& p : run.captures.packets.at(pt))
            if (p.dst_mac == mac && ms[0].matches(p)) ++n;
        at_lb += n;
        if (n) where.push_back(pt);
    }
    std::string what = ms[0].describe();
    f.value = at_lb ? "yes: " + std::to_string(at_lb) + " of the " + std::to_string(left) + " reply packets (" +
                          what + ") that left " + server->second + " were addressed to the LB at " + join(where, ", ")
                    : "no: none of the " + std::to_string(left) + " reply packets (" + what + ") that left " +
                          server->second + " reached an LB port";
    f.summary = at_lb ? "yes" : "no";
    f.numbers["reply_packets_to_lb"] = static_cast<double>(at_lb);
    f.numbers["reply_packets_from_server"] = static_cast<double>(left);
    return f;
}

std::vector<Fact> facts_lb_traffic(const Topology& topo, const ScenarioRun& run, const std::vector<Match>& flow) {
    std::vector<Fact> out;
    std::string why;
    auto ms = resolve_all(flow, run.vars, &why);
    LbTraffic t = ms.empty() ? LbTraffic{} : lb_traffic(topo, run, ms);
    std::string where = join(t.points, ", ");
    auto fact = [&](const std::string& what, uint64_t pk, uint64_t by) {
        Fact x{"LB carried " + what, run.name, "", {}};
        if (ms.empty()) {
            x.value = "unknown (" + why + ")";
            x.summary = "unknown";
        } else if (!t.measured) {
            x.value = "unknown (no capture at an LB port)";
            x.summary = "unknown";
        } else {
            x.value = std::to_string(pk) + " packets, " + human_bytes(by) + " (at " + where + ")";
            x.summary = std::to_string(pk) + " pkts, " + short_bytes(by);
            x.numbers["packets"] = static_cast<double>(pk);
            x.numbers["bytes"] = static_cast<double>(by);
        }
        return x;
    };
    out.push_back(fact("client→LB", t.up_in_packets, t.up_in_bytes));
    out.push_back(fact("LB→server", t.up_out_packets, t.up_out_bytes));
    out.push_back(fact("server→LB", t.down_in_packets, t.down_in_bytes));
    out.push_back(fact("LB→client", t.down_out_packets, t.down_out_bytes));
    out.push_back(fact("in total (all four)",
                       t.up_in_packets + t.up_out_packets + t.down_in_packets + t.down_out_packets,
                       t.up_in_bytes + t.up_out_bytes + t.down_in_bytes + t.down_out_bytes));
    return out;
}

std::vector<Fact> standard_facts(const Topology& topo, const std::vector<ScenarioRun>& runs, const FactSpec& spec) {
    std::vector<Fact> out;
    for (const auto& r : runs) {
        if (r.name == "http") {
            out.push_back(fact_server_sees_client(r));
            out.push_back(fact_reply_crosses_lb(topo, r, spec.reply));
        }
        if (r.bulk) {
            auto t = facts_lb_traffic(topo, r, spec.flow);
            out.insert(out.end(), t.begin(), t.end());
            auto s = facts_lbctl(r);
            out.insert(out.end(), s.begin(), s.end());
        }
    }
    return out;
}

std::vector<Fact> facts_lbctl(const ScenarioRun& run) {
    std::vector<Fact> out;
    if (!run.stats_before || !run.stats_after) return out;
    const auto& a = *run.stats_before;
    const auto& b = *run.stats_after;
    auto num = [](const nlohmann::json& j, const char* k) -> double {
        if (!j.is_object() || !j.contains(k) || !j[k].is_number()) return 0;
        return j[k].get<double>();
    };
    try {
        if (b.contains("ports") && b["ports"].is_object()) {
            for (const auto& [port, cur] : b["ports"].items()) {
                nlohmann::json prev = (a.contains("ports") && a["ports"].contains(port))
                                          ? a["ports"][port]
                                          : nlohmann::json::object();
                Fact f{"lbctl: port " + port, run.name, "", {}};
                double rxp = num(cur, "rx_packets") - num(prev, "rx_packets");
                double rxb = num(cur, "rx_bytes") - num(prev, "rx_bytes");
                double txp = num(cur, "tx_packets") - num(prev, "tx_packets");
                double txb = num(cur, "tx_bytes") - num(prev, "tx_bytes");
                f.value = "rx " + std::to_string(static_cast<uint64_t>(rxp)) + " packets, " +
                          human_bytes(static_cast<uint64_t>(rxb)) + "; tx " +
                          std::to_string(static_cast<uint64_t>(txp)) + " packets, " +
                          human_bytes(static_cast<uint64_t>(txb));
                f.numbers = {{"rx_packets", rxp}, {"rx_bytes", rxb}, {"tx_packets", txp}, {"tx_bytes", txb}};
                f.summary = "rx " + std::to_string(static_cast<uint64_t>(rxp)) + " / tx " +
                            std::to_string(static_cast<uint64_t>(txp)) + " pkts";
                out.push_back(f);
            }
        }
        if (b.contains("drops") && b["drops"].is_object()) {
            std::vector<std::string> parts;
            Fact f{"lbctl: drops", run.name, "", {}};
            for (const auto& [reason, cur] : b["drops"].items()) {
                double prev = (a.contains("drops") && a["drops"].contains(reason) &&
                               a["drops"][reason].is_number())
                                  ? a["drops"][reason].get<double>()
                                  : 0;
                double d = (cur.is_number() ? cur.get<double>() : 0) - prev;
                if (d != 0) {
                    parts.push_back(reason + " " + std::to_string(static_cast<int64_t>(d)));
                    f.numbers[reason] = d;
                }
            }
            f.value = parts.empty() ? "none" : join(parts, ", ");
            f.summary = f.value;
            out.push_back(f);
        }
    } catch (const std::exception& e) {
        out.push_back(Fact{"lbctl", run.name, std::string("unreadable stats: ") + e.what(), {}});
    }
    return out;
}

}  // namespace lab
