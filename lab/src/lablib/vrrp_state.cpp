#include "lablib/vrrp_state.hpp"

#include "lablib/control.hpp"
#include "lablib/util.hpp"

#include <nlohmann/json.hpp>

namespace lab {

std::optional<VrrpReading> parse_vrrp_json(const std::string& text, std::int64_t now_ms) {
    try {
        auto j = nlohmann::json::parse(text);
        if (!j.value("vrrp", false)) return std::nullopt;
        VrrpReading r;
        r.state = j.value("state", "");
        r.master_down_ms = j.value("master_down_interval_ms", 0L);
        r.advert_interval_ms = j.value("advert_interval_ms", 0L);
        r.master_ip = j.value("master_ip", "");
        if (j.contains("last_change")) {
            r.reason = j["last_change"].value("reason", "");
            r.changed_ms = now_ms - j["last_change"].value("ago_ms", 0L);
        }
        if (j.contains("counters")) {
            r.adverts_received = j["counters"].value("adverts_received", std::uint64_t{0});
            r.garp_rounds = j["counters"].value("garp_rounds", std::uint64_t{0});
            for (const char* k : {"to_master", "to_backup", "to_initialize"})
                r.transitions += j["counters"].value(k, std::uint64_t{0});
        }
        if (j.contains("drops") && j["drops"].is_object())
            for (const auto& [k, v] : j["drops"].items())
                if (v.is_number_unsigned()) r.drops[k] = v.get<std::uint64_t>();
        return r;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::optional<VrrpReading> read_vrrp(const std::string& socket) {
    try {
        auto text = unix_request_all(socket, "vrrp json", std::chrono::milliseconds(500));
        return parse_vrrp_json(text, wall_ms());
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::optional<VrrpReading> poll_vrrp(const std::string& socket, std::int64_t deadline_ms,
                                     const std::function<bool(const VrrpReading&)>& pred, int every_ms) {
    while (true) {
        auto r = read_vrrp(socket);
        if ((r && pred(*r)) || wall_ms() >= deadline_ms) return r;
        sleep_for(std::chrono::milliseconds(every_ms));
    }
}

}  // namespace lab
