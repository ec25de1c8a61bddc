// sample_topology.hpp: the inline lab of docs/lab.md as topology.toml, for tests.
#pragma once

#include <string>

namespace labtest {

inline std::string iface(const std::string& name, const std::string& dev, const std::string& ns,
                         const std::string& seg, const std::string& addr, const std::string& mac) {
    return "[[nodes.ifaces]]\nname = \"" + name + "\"\ndev = \"" + dev + "\"\nnetns = \"" + ns +
           "\"\nsegment = \"" + seg + "\"\naddress = \"" + addr + "\"\nmac = \"" + mac + "\"\n";
}

inline std::string node(const std::string& name, const std::string& role, const std::string& extra = "") {
    return "[[nodes]]\nname = \"" + name + "\"\nrole = \"" + role + "\"\nnetns = \"t-" + name + "\"\n" + extra;
}

inline std::string sample_topology() {
    std::string t =
        "lab = \"t\"\nmode = \"inline\"\nstate_dir = \"/run/lblab/t\"\nswitch_netns = \"t-sw\"\n"
        "vip = \"203.0.113.10\"\nservers = 3\n\n";
    t += node("client1", "client") + iface("eth0", "eth0", "t-client1", "clients", "198.51.100.11/24", "02:00:00:64:00:0b");
    t += node("client2", "client") + iface("eth0", "eth0", "t-client2", "clients", "198.51.100.12/24", "02:00:00:64:00:0c");
    t += node("router", "router") + iface("eth0", "eth0", "t-router", "clients", "198.51.100.1/24", "02:00:00:64:00:01") +
         iface("eth1", "eth1", "t-router", "front", "203.0.113.1/24", "02:00:00:71:00:01");
    t += node("lb-a", "lb", "config = \"/run/lblab/t/lb-a.toml\"\ncontrol_socket = \"/run/lblab/t/lb-a.sock\"\n") +
         iface("front", "lba-front", "t-sw", "front", "203.0.113.2/24", "02:00:00:71:00:02") +
         iface("back", "lba-back", "t-sw", "back", "192.0.2.1/24", "02:00:00:02:00:01");
    for (int i = 1; i <= 3; ++i) {
        char mac[32];
        std::snprintf(mac, sizeof mac, "02:00:00:02:00:%02x", 10 + i);
        t += node("server" + std::to_string(i), "server") +
             iface("eth0", "eth0", "t-server" + std::to_string(i), "back",
                   "192.0.2." + std::to_string(10 + i) + "/24", mac);
    }
    // A switch node, as a topology may list: never a capture point.
    t += node("sw", "switch") + iface("client1-eth0", "client1-eth0", "t-sw", "clients", "", "02:00:00:00:00:99");
    return t;
}

}  // namespace labtest
