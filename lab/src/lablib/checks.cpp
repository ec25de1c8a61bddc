#include "lablib/checks.hpp"

#include "lablib/util.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>

namespace lab {

namespace fs = std::filesystem;

namespace {

template <typename Lookup>
std::string expand_with(const std::string& text, Lookup&& lookup) {
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] == '{') {
            auto close = text.find('}', i);
            if (close == std::string::npos) throw Error("unbalanced '{' in '" + text + "'");
            out += lookup(text.substr(i + 1, close - i - 1));
            i = close + 1;
        } else {
            out += text[i++];
        }
    }
    return out;
}

}  // namespace

std::string expand(const std::string& text, const Vars& vars) {
    return expand_with(text, [&](const std::string& key) {
        auto it = vars.find(key);
        if (it == vars.end()) throw Error("unknown value {" + key + "} in '" + text + "'");
        return it->second;
    });
}

std::string expand(const std::string& text, const Vars& vars, const Packet& p) {
    return expand_with(text, [&](const std::string& key) {
        if (starts_with(key, "packet.")) return packet_field(p, key.substr(7));
        auto it = vars.find(key);
        if (it == vars.end()) throw Error("unknown value {" + key + "} in '" + text + "'");
        return it->second;
    });
}

const char* to_string(CheckKind k) {
    switch (k) {
        case CheckKind::Packet: return "packet";
        case CheckKind::Absent: return "absence";
        case CheckKind::Checksums: return "checksums";
        case CheckKind::Outcome: return "outcome";
        case CheckKind::Every: return "every packet";
    }
    return "?";
}

bool glob_match(const std::string& pattern, const std::string& text) {
    // Iterative '*' backtracking.
    size_t p = 0, t = 0, star = std::string::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::optional<uint32_t> parse_ipv4(const std::string& s) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
    return ntohl(a.s_addr);
}

// "a.b.c.d" or "a.b.c.d/n" against an address.
bool ip_matches(const std::string& want, const std::string& have) {
    if (want.empty()) return true;
    auto slash = want.find('/');
    if (slash == std::string::npos) return want == have;
    auto net = parse_ipv4(want.substr(0, slash));
    auto addr = parse_ipv4(have);
    if (!net || !addr) return false;
    int len = std::stoi(want.substr(slash + 1));
    uint32_t mask = len <= 0 ? 0 : (len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1));
    return (*net & mask) == (*addr & mask);
}

bool port_matches(const std::string& want, uint16_t have) {
    return want.empty() || want == std::to_string(have);
}

bool one_way(const Match& m, const IpView& p, bool swapped) {
    const std::string& sip = swapped ? p.dst_ip : p.src_ip;
    const std::string& dip = swapped ? p.src_ip : p.dst_ip;
    uint16_t sport = swapped ? p.dst_port : p.src_port;
    uint16_t dport = swapped ? p.src_port : p.dst_port;
    if (!ip_matches(m.src_ip, sip) || !ip_matches(m.dst_ip, dip)) return false;
    if (!m.src_port.empty() || !m.dst_port.empty()) {
        if (!p.has_ports) return false;
        if (!port_matches(m.src_port, sport) || !port_matches(m.dst_port, dport)) return false;
    }
    return true;
}

std::string checksum_verdict(const FrameChecksums& c) {
    if (!c.valid()) return c.describe();
    if (!c.fully_verified()) return "valid (" + c.describe() + ")";
    return "valid";
}

// The IP-layer fields, shared by the outer and the inner header.
std::optional<std::string> ip_field(const IpView& p, const std::string& f) {
    if (f == "src_ip") return p.src_ip;
    if (f == "dst_ip") return p.dst_ip;
    if (f == "src_port") return p.has_ports ? std::to_string(p.src_port) : "-";
    if (f == "dst_port") return p.has_ports ? std::to_string(p.dst_port) : "-";
    if (f == "ttl") return std::to_string(p.ttl);
    if (f == "protocol") return p.protocol_name();
    if (f == "icmp_type") return p.is_icmp ? std::to_string(p.icmp_type) : "-";
    if (f == "icmp_code") return p.is_icmp ? std::to_string(p.icmp_code) : "-";
    if (f == "icmp_mtu") return p.icmp_mtu >= 0 ? std::to_string(p.icmp_mtu) : "-";
    if (f == "dscp") return std::to_string(p.dscp);
    if (f == "ecn") return std::to_string(p.ecn);
    if (f == "ip_len") return std::to_string(p.ip_total_length);
    if (f == "df") return p.dont_fragment ? "1" : "0";
    if (f == "tcp_flags") return p.protocol == 6 ? p.tcp_flags_string() : "-";
    if (f == "checksums") return checksum_verdict(p.checksums);
    if (f == "quoted.src_ip") return p.has_quoted ? p.quoted_src_ip : "-";
    if (f == "quoted.dst_ip") return p.has_quoted ? p.quoted_dst_ip : "-";
    if (f == "quoted.protocol")
        return p.has_quoted ? IpView{.protocol = p.quoted_protocol}.protocol_name() : "-";
    if (f == "quoted.src_port") return p.quoted_src_port >= 0 ? std::to_string(p.quoted_src_port) : "-";
    if (f == "quoted.dst_port") return p.quoted_dst_port >= 0 ? std::to_string(p.quoted_dst_port) : "-";
    return std::nullopt;
}

// "<= 1500" → ("<=", "1500"); no operator → ("", text).
std::pair<std::string, std::string> split_relation(const std::string& e) {
    for (const char* op : {"<=", ">=", "!=", "<", ">"}) {
        std::string o(op);
        if (starts_with(e, o)) return {o, trim(e.substr(o.size()))};
    }
    return {"", e};
}

std::optional<long long> parse_int(const std::string& s) {
    if (s.empty()) return std::nullopt;
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) return std::nullopt;
    for (size_t k = i; k < s.size(); ++k)
        if (!std::isdigit(static_cast<unsigned char>(s[k]))) return std::nullopt;
    return std::stoll(s);
}

}  // namespace

bool value_satisfies(const std::string& field, const std::string& expected, const std::string& actual) {
    if (field == "checksums" || ends_with(field, ".checksums")) return starts_with(actual, "valid");
    auto dots = expected.find("..");
    if (dots != std::string::npos) {
        auto lo = parse_int(trim(expected.substr(0, dots)));
        auto hi = parse_int(trim(expected.substr(dots + 2)));
        auto a = parse_int(actual);
        if (lo && hi) return a && *a >= *lo && *a <= *hi;
    }
    auto [op, rhs] = split_relation(expected);
    if (op == "!=") return lower(rhs) != lower(actual);
    if (!op.empty()) {
        auto want = parse_int(rhs);
        auto a = parse_int(actual);
        if (!want || !a) return false;
        if (op == "<=") return *a <= *want;
        if (op == ">=") return *a >= *want;
        if (op == "<") return *a < *want;
        return *a > *want;
    }
    return lower(expected) == lower(actual);
}

Match Match::resolved(const Vars& vars) const {
    Match m = *this;
    m.proto = expand(proto, vars);
    m.src_ip = expand(src_ip, vars);
    m.dst_ip = expand(dst_ip, vars);
    m.src_port = expand(src_port, vars);
    m.dst_port = expand(dst_port, vars);
    m.icmp_type = expand(icmp_type, vars);
    m.src_mac = lower(expand(src_mac, vars));
    m.dst_mac = lower(expand(dst_mac, vars));
    return m;
}

bool Match::matches(const Packet& p) const {
    if (!p.is_ipv4) return false;
    if (!src_mac.empty() && lower(p.src_mac) != src_mac) return false;
    if (!dst_mac.empty() && lower(p.dst_mac) != dst_mac) return false;
    const IpView* v = &p;
    if (layer == Layer::Inner) {
        if (!p.inner) return false;
        v = &*p.inner;
    } else if (layer == Layer::Innermost) {
        v = &p.innermost();
    }
    if (!proto.empty() && v->protocol_name() != proto) return false;
    if (!icmp_type.empty() && (!v->is_icmp || std::to_string(v->icmp_type) != icmp_type)) return false;
    return one_way(*this, *v, false) || (either_direction && one_way(*this, *v, true));
}

std::string Match::describe() const {
    auto end = [](const std::string& ip, const std::string& port) {
        std::string s = ip.empty() ? "any" : ip;
        if (!port.empty()) s += ":" + port;
        return s;
    };
    std::string s = layer == Layer::Inner ? "ipip with inner " : layer == Layer::Outer ? "outer " : "";
    s += proto.empty() ? "ip" : proto;
    s += " " + end(src_ip, src_port) + (either_direction ? " <> " : " > ") + end(dst_ip, dst_port);
    if (!icmp_type.empty()) s += " icmp type " + icmp_type;
    if (!src_mac.empty()) s += " from " + src_mac;
    if (!dst_mac.empty()) s += " to " + dst_mac;
    return s;
}

std::string packet_field(const Packet& p, const std::string& f) {
    if (f == "src_mac") return p.src_mac;
    if (f == "dst_mac") return p.dst_mac;
    if (f == "encap") return p.inner ? "ipip" : "none";
    if (starts_with(f, "inner.")) {
        auto name = f.substr(6);
        if (!p.inner) {
            if (!ip_field(IpView{}, name)) throw Error("unknown packet field '" + f + "'");
            return "-";
        }
        if (auto v = ip_field(*p.inner, name)) return *v;
        throw Error("unknown packet field '" + f + "'");
    }
    if (auto v = ip_field(p, f)) return *v;
    throw Error("unknown packet field '" + f + "'");
}

CaptureSet CaptureSet::load(const std::string& dir, const std::vector<std::string>& points) {
    CaptureSet cs;
    for (const auto& pt : points) {
        fs::path file = fs::path(dir) / (pt + ".pcap");
        cs.files[pt] = file.string();
        try {
            if (!fs::exists(file)) throw Error("no capture file " + file.string());
            cs.packets[pt] = read_pcap(file);
        } catch (const std::exception& e) {
            cs.errors[pt] = e.what();
        }
    }
    return cs;
}

std::vector<std::string> CaptureSet::select_points(const std::string& pattern) const {
    std::set<std::string> all;
    for (const auto& [k, v] : files) all.insert(k);
    for (const auto& [k, v] : packets) all.insert(k);
    std::vector<std::string> out;
    for (const auto& part : split(pattern, ',')) {
        auto pat = trim(part);
        for (const auto& pt : all)
            if (glob_match(pat, pt) && std::find(out.begin(), out.end(), pt) == out.end())
                out.push_back(pt);
    }
    return out;
}

namespace {

void eval_packet(const CheckCase& c, const Match& m, const std::vector<std::string>& pts,
                 const CaptureSet& caps, const Vars& vars, CheckResult& r) {
    size_t seen = 0;
    for (const auto& pt : pts) {
        auto err = caps.errors.find(pt);
        if (err != caps.errors.end()) {
            r.error = err->second;
            return;
        }
        auto it = caps.packets.find(pt);
        if (it == caps.packets.end()) continue;
        seen += it->second.size();
        for (const auto& p : it->second) {
            if (m.matches(p)) {
                r.packet = p;
                r.packet_point = pt;
                break;
            }
        }
        if (r.packet) break;
    }
    if (!r.packet) {
        r.error = "no packet matching " + m.describe() + " at " + join(pts, ", ") + " (" +
                  std::to_string(seen) + " packets captured there)";
        return;
    }
    bool all = true;
    for (const auto& e : c.expect) {
        FieldResult f;
        f.name = e.field;
        f.expected = expand(e.value, vars, *r.packet);
        f.actual = packet_field(*r.packet, e.field);
        f.ok = value_satisfies(e.field, f.expected, f.actual);
        all = all && f.ok;
        r.fields.push_back(f);
    }
    r.passed = all;
}

// Every packet matching, at every point, has every expected field; each field's
// result names how many packets failed it and shows the first one.
void eval_every(const CheckCase& c, const Match& m, const std::vector<std::string>& pts,
                const CaptureSet& caps, const Vars& vars, CheckResult& r) {
    std::vector<FieldResult> fields;
    std::vector<size_t> bad(c.expect.size(), 0);
    for (const auto& e : c.expect) fields.push_back({e.field, expand(e.value, vars), "", true});
    size_t n = 0;
    for (const auto& pt : pts) {
        auto err = caps.errors.find(pt);
        if (err != caps.errors.end()) {
            r.error = err->second;
            return;
        }
        auto it = caps.packets.find(pt);
        if (it == caps.packets.end()) continue;
        for (const auto& p : it->second) {
            if (!m.matches(p)) continue;
            ++n;
            for (size_t i = 0; i < c.expect.size(); ++i) {
                auto want = expand(c.expect[i].value, vars, p);
                auto have = packet_field(p, c.expect[i].field);
                if (value_satisfies(c.expect[i].field, want, have)) continue;
                if (bad[i]++ == 0) {
                    fields[i].actual = have + " (packet #" + std::to_string(p.index) + " at " + pt + ")";
                    fields[i].ok = false;
                    if (!r.packet) {
                        r.packet = p;
                        r.packet_point = pt;
                    }
                }
            }
        }
    }
    r.matched = n;
    bool all = n > 0;
    for (size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].ok)
            fields[i].actual = "all " + std::to_string(n) + " packets";
        else
            fields[i].actual += "; " + std::to_string(bad[i]) + " of " + std::to_string(n) + " packets";
        all = all && fields[i].ok;
    }
    fields.insert(fields.begin(), FieldResult{"packets matching", ">= 1", std::to_string(n), n > 0});
    r.fields = fields;
    r.passed = all;
}

void eval_absent(const Match& m, const std::vector<std::string>& pts, const CaptureSet& caps,
                 CheckResult& r) {
    bool all = true;
    for (const auto& pt : pts) {
        FieldResult f;
        f.name = "packets matching at " + pt;
        f.expected = "0";
        auto err = caps.errors.find(pt);
        if (err != caps.errors.end()) {
            f.actual = "unknown: " + err->second;
            f.ok = false;
            all = false;
            r.fields.push_back(f);
            continue;
        }
        size_t n = 0;
        auto it = caps.packets.find(pt);
        if (it != caps.packets.end()) {
            for (const auto& p : it->second) {
                if (!m.matches(p)) continue;
                if (n == 0 && !r.packet) {
                    r.packet = p;
                    r.packet_point = pt;
                }
                ++n;
            }
        }
        f.actual = std::to_string(n);
        f.ok = n == 0;
        r.matched += n;
        all = all && f.ok;
        r.fields.push_back(f);
    }
    r.passed = all;
}

void eval_checksums(const Match& m, const std::vector<std::string>& pts, const CaptureSet& caps,
                    CheckResult& r) {
    bool all = true;
    size_t total = 0;
    for (const auto& pt : pts) {
        FieldResult f;
        f.name = "bad checksums at " + pt;
        f.expected = "0";
        auto err = caps.errors.find(pt);
        if (err != caps.errors.end()) {
            f.actual = "unknown: " + err->second;
            all = false;
            r.fields.push_back(f);
            continue;
        }
        size_t n = 0, bad = 0, partial = 0;
        auto it = caps.packets.find(pt);
        if (it != caps.packets.end()) {
            for (const auto& p : it->second) {
                if (!m.matches(p)) continue;
                ++n;
                if (!p.checksums.valid()) {
                    if (bad == 0 && (!r.packet || r.packet->checksums.valid())) {
                        r.packet = p;
                        r.packet_point = pt;
                    }
                    ++bad;
                } else if (!p.checksums.fully_verified()) {
                    ++partial;
                }
            }
        }
        total += n;
        f.actual = std::to_string(bad);
        if (n == 0) continue;  // the flow does not cross this point: nothing to judge
        f.actual += " of " + std::to_string(n);
        if (partial) f.actual += " (" + std::to_string(partial) + " only partly verifiable: truncated)";
        f.ok = bad == 0;
        all = all && f.ok;
        r.fields.push_back(f);
    }
    r.matched = total;
    FieldResult t{"packets of the flow checked", ">= 1", std::to_string(total), total >= 1};
    r.fields.insert(r.fields.begin(), t);
    r.passed = all && t.ok;
}

void eval_outcome(const CheckCase& c, const Vars& vars, CheckResult& r) {
    bool all = true;
    for (const auto& e : c.expect) {
        FieldResult f;
        f.name = e.field;
        f.expected = expand(e.value, vars);
        auto it = vars.find(e.field);
        f.actual = it == vars.end() ? "(missing)" : it->second;
        f.ok = it != vars.end() && value_satisfies(e.field, f.expected, f.actual);
        all = all && f.ok;
        r.fields.push_back(f);
    }
    r.passed = all;
}

}  // namespace

CheckResult CheckResult::for_case(const CheckCase& c) {
    CheckResult r;
    r.name = c.name;
    r.description = c.description;
    r.scenario = c.scenario;
    r.hop = c.hop;
    r.kind = c.kind;
    r.points = c.points;
    return r;
}

CheckResult evaluate(const CheckCase& c, const CaptureSet& caps, const Vars& vars) {
    CheckResult r = CheckResult::for_case(c);
    try {
        if (c.kind == CheckKind::Outcome) {
            eval_outcome(c, vars, r);
            return r;
        }
        r.points = expand(c.points, vars);
        Match m = c.match.resolved(vars);
        r.selector = (c.kind == CheckKind::Packet ? "first " : c.kind == CheckKind::Every ? "every " : "") +
                     m.describe();
        auto pts = caps.select_points(r.points);
        if (pts.empty()) {
            r.error = "no capture point matches '" + r.points + "'";
            return r;
        }
        switch (c.kind) {
            case CheckKind::Packet: eval_packet(c, m, pts, caps, vars, r); break;
            case CheckKind::Absent: eval_absent(m, pts, caps, r); break;
            case CheckKind::Checksums: eval_checksums(m, pts, caps, r); break;
            case CheckKind::Every: eval_every(c, m, pts, caps, vars, r); break;
            case CheckKind::Outcome: break;
        }
    } catch (const std::exception& e) {
        r.passed = false;
        r.error = e.what();
    }
    if (!r.error.empty()) r.passed = false;
    return r;
}

std::string CheckResult::report() const {
    std::ostringstream o;
    o << (passed ? "PASS " : "FAIL ") << name << ": " << description << "\n";
    if (!hop.empty() || !points.empty()) {
        o << "  ";
        if (!hop.empty()) o << "hop " << hop << " ";
        if (!points.empty()) o << "at " << points;
        if (!selector.empty()) o << ", " << selector;
        o << "\n";
    }
    if (!error.empty()) o << "  error: " << error << "\n";
    for (const auto& f : fields) {
        if (f.ok && !passed) continue;
        o << "  " << (f.ok ? "ok   " : "DIFF ") << f.name << ": expected " << f.expected
          << ", actual " << f.actual << "\n";
    }
    if (packet && !passed) {
        o << "  packet #" << packet->index << " at " << packet_point << ": " << packet->summary() << "\n";
        auto dump = packet->hexdump();
        for (const auto& line : split(dump, '\n')) o << "    " << line << "\n";
    }
    return o.str();
}

}  // namespace lab
