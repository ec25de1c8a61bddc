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

PortTraffic flow_traffic(const std::vector<Packet>& packets, const std::string& lb_mac,
                         const Vars& vars, const std::string& proto) {
    PortTraffic t;
    Match m;
    m.proto = proto;
    m.src_ip = vars.count("cip") ? vars.at("cip") : "";
    m.src_port = vars.count("cport") ? vars.at("cport") : "";
    m.either_direction = true;
    if (m.src_ip.empty() || m.src_port.empty()) return t;
    for (const auto& p : packets) {
        if (!m.matches(p)) continue;
        if (p.dst_mac == lb_mac) {
            ++t.in_packets;
            t.in_bytes += p.ip_total_length;
        } else if (p.src_mac == lb_mac) {
            ++t.out_packets;
            t.out_bytes += p.ip_total_length;
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
        return f;
    }
    bool yes = seen == cip;
    f.value = std::string(yes ? "yes" : "no") + ": " + server + " saw " + seen + ":" +
              get("seen_port") + " (client " + cip + ":" + get("cport") + ")";
    f.numbers["sees_client_ip"] = yes ? 1 : 0;
    return f;
}

Fact fact_reply_crosses_lb(const ScenarioRun& run, const std::string& lb_point,
                           const std::string& lb_mac) {
    Fact f{"reply crosses the LB", run.name, "", {}};
    auto it = run.captures.packets.find(lb_point);
    if (it == run.captures.packets.end() || !run.vars.count("rip") || !run.vars.count("cip")) {
        f.value = "unknown (no capture at " + lb_point + " or no answering server)";
        return f;
    }
    Match m;
    m.src_ip = run.vars.at("rip");
    m.dst_ip = run.vars.at("cip");
    uint64_t n = 0;
    for (const auto& p : it->second)
        if (m.matches(p) && p.dst_mac == lb_mac) ++n;
    f.value = n ? "yes: " + std::to_string(n) + " packets from " + m.src_ip + " to " + m.dst_ip +
                      " at " + lb_point + " addressed to the LB (" + lb_mac + ")"
                : "no: no packet from " + m.src_ip + " to " + m.dst_ip + " at " + lb_point +
                      " is addressed to the LB";
    f.numbers["reply_packets_to_lb"] = static_cast<double>(n);
    return f;
}

std::vector<Fact> facts_lb_traffic(const ScenarioRun& run, const std::string& front_point,
                                   const std::string& front_mac, const std::string& back_point,
                                   const std::string& back_mac) {
    std::vector<Fact> out;
    std::string proto = "tcp";
    auto cap = [&](const std::string& pt) -> const std::vector<Packet>* {
        auto it = run.captures.packets.find(pt);
        return it == run.captures.packets.end() ? nullptr : &it->second;
    };
    const auto* front = cap(front_point);
    const auto* back = cap(back_point);
    PortTraffic f = front ? flow_traffic(*front, front_mac, run.vars, proto) : PortTraffic{};
    PortTraffic b = back ? flow_traffic(*back, back_mac, run.vars, proto) : PortTraffic{};
    auto fact = [&](const std::string& what, const std::string& where, uint64_t pk, uint64_t by,
                    bool have) {
        Fact x{"LB carried " + what, run.name, "", {}};
        if (!have) {
            x.value = "unknown (no capture at " + where + ")";
        } else {
            x.value = std::to_string(pk) + " packets, " + human_bytes(by) + " (at " + where + ")";
            x.numbers["packets"] = static_cast<double>(pk);
            x.numbers["bytes"] = static_cast<double>(by);
        }
        return x;
    };
    out.push_back(fact("client→LB", front_point, f.in_packets, f.in_bytes, front));
    out.push_back(fact("LB→server", back_point, b.out_packets, b.out_bytes, back));
    out.push_back(fact("server→LB", back_point, b.in_packets, b.in_bytes, back));
    out.push_back(fact("LB→client", front_point, f.out_packets, f.out_bytes, front));
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
            out.push_back(f);
        }
    } catch (const std::exception& e) {
        out.push_back(Fact{"lbctl", run.name, std::string("unreadable stats: ") + e.what(), {}});
    }
    return out;
}

}  // namespace lab
