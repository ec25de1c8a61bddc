#include "lablib/topology.hpp"
#include "lablib/util.hpp"
#include "sample_topology.hpp"

#include <gtest/gtest.h>

using namespace lab;

TEST(Topology, ParsesNodesInterfacesAndAddresses) {
    auto t = Topology::parse(labtest::sample_topology(), "topology.toml");
    EXPECT_EQ(t.lab, "t");
    EXPECT_EQ(t.vip, "203.0.113.10");
    EXPECT_EQ(t.servers, 3);
    const Node& lb = t.require_node("lb-a");
    EXPECT_EQ(lb.role, "lb");
    EXPECT_EQ(lb.control_socket, "/run/lblab/t/lb-a.sock");
    ASSERT_NE(lb.iface("front"), nullptr);
    EXPECT_EQ(lb.iface("front")->dev, "lba-front");
    EXPECT_EQ(lb.iface("front")->netns, "t-sw");
    EXPECT_EQ(lb.iface("front")->ip(), "203.0.113.2");
    EXPECT_EQ(t.find_iface("server2.eth0")->mac, "02:00:00:02:00:0c");
    EXPECT_EQ(t.find_iface("server9.eth0"), nullptr);
    EXPECT_EQ(t.with_role("server").size(), 3u);
}

TEST(Topology, CapturePointsAreEveryNodeInterfaceButTheSwitchSide) {
    auto t = Topology::parse(labtest::sample_topology(), "topology.toml");
    std::vector<std::string> ids;
    for (const auto& p : t.capture_points()) ids.push_back(p.id());
    EXPECT_EQ(ids, (std::vector<std::string>{"client1.eth0", "client2.eth0", "router.eth0", "router.eth1",
                                             "lb-a.front", "lb-a.back", "server1.eth0", "server2.eth0",
                                             "server3.eth0"}));
}

TEST(Topology, MissingVipIsAnErrorNamingTheFile) {
    std::string text = labtest::sample_topology();
    text.replace(text.find("vip = "), std::string("vip = \"203.0.113.10\"").size(), "");
    try {
        Topology::parse(text, "x/topology.toml");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("x/topology.toml"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("vip"), std::string::npos) << e.what();
    }
}

TEST(Topology, SyntaxErrorNamesTheLine) {
    try {
        Topology::parse("lab = \"t\"\nnodes = [\n", "bad.toml");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.toml:"), std::string::npos) << e.what();
    }
}

TEST(LabName, FollowsTheScriptsRule) {
    EXPECT_TRUE(valid_lab_name("lab"));
    EXPECT_TRUE(valid_lab_name("ct12345"));
    EXPECT_TRUE(valid_lab_name("a-b-c"));
    EXPECT_FALSE(valid_lab_name("-x"));
    EXPECT_FALSE(valid_lab_name(""));
    EXPECT_FALSE(valid_lab_name("thirteen-char"));
    EXPECT_FALSE(valid_lab_name("a/b"));
}
