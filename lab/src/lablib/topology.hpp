// topology.hpp: a lab's topology.toml (docs/lab.md), as the topology script built it.
// The orchestrator reads addresses, MACs and capture points from here, never from
// its own copy of the address plan.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lab {

struct Iface {
    std::string name;     // capture name: <node>.<name>.pcap
    std::string dev;      // the netdev to capture on
    std::string netns;    // where that netdev lives
    std::string segment;  // clients | front | back | remote
    std::string address;  // "198.51.100.11/24", may be empty
    std::string mac;      // "02:00:00:64:00:0b", lowercase
    std::string ip() const;  // address without the prefix length
};

struct Node {
    std::string name;
    std::string role;  // client | router | lb | server (others are not captured)
    std::string netns;
    std::string config;          // lb only: the engine's config file
    std::string control_socket;  // lb only
    std::string engine;          // lb only: "" (lbd) or "kernel" (topo.sh --kernel: nftables, no lbd)
    std::string decap;           // server, dsr-l3-tunnel: "kernel" | "user" (lab_decap) | ""
    std::vector<Iface> ifaces;
    const Iface* iface(const std::string& name) const;
};

// A place where a scenario captures: one interface of one node.
struct CapturePoint {
    std::string node;
    std::string iface;
    std::string dev;
    std::string netns;
    std::string id() const { return node + "." + iface; }  // "lb-a.front"
};

struct Topology {
    std::string lab;
    std::string mode;
    std::string state_dir;
    std::string switch_netns;
    std::string vip;
    int servers = 0;
    int dscp = -1;         // dsr-l3-dscp: the code that marks the VIP (-1: none)
    std::string proxy_ip;  // proxy: the LB's source address toward the servers
    bool ha = false;       // `lab up --ha`: two lb nodes (lb-a, lb-b) sharing the VIP with VRRP
    std::vector<Node> nodes;

    // Throws Error naming the file and the key when something required is missing.
    static Topology load(const std::filesystem::path& file);
    static Topology parse(const std::string& text, const std::string& source_name);

    const Node* node(const std::string& name) const;
    const Node& require_node(const std::string& name) const;  // throws Error
    std::vector<const Node*> with_role(const std::string& role) const;
    // Every interface of a client, router, lb or server node, in file order.
    std::vector<CapturePoint> capture_points() const;
    // "node.iface" → the interface, or nullptr.
    const Iface* find_iface(const std::string& point) const;
};

}  // namespace lab
