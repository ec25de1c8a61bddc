// Config loading and validation (lb/config/config.hpp): a valid file parses into the
// expected struct, and each kind of mistake is one ConfigError naming file, line and key;
// per-mode keys (proxy_ip, dscp, encap, mtu) and DSCP code assignment.
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lb/config/config.hpp"

#ifndef LB_ENGINE_SOURCE_DIR
#error "LB_ENGINE_SOURCE_DIR must be defined by the build"
#endif

namespace {

// Line numbers matter: the failure cases below name them.
const char* const kValid = R"([engine]
name = "lb-test"
max_flows = 1024

[timeouts]
tcp_syn = 5
udp = 30

[[ports]]
name = "front"
tap = "t-front"
mac = "02:00:00:71:00:02"
address = "203.0.113.2/24"

[[ports]]
name = "back"
tap = "t-back"
mac = "02:00:00:02:00:01"
address = "192.0.2.1/24"

[[routes]]
destination = "0.0.0.0/0"
via = "203.0.113.1"

[[vips]]
name = "web"
address = "203.0.113.10"
port = 80
protocol = "tcp"
mode = "inline"
algorithm = "rr"
backends = [
  { address = "192.0.2.11", port = 8080 },
  { address = "192.0.2.12", weight = 3 },
]
)";

// One arm, one VIP per forwarding mode (docs/lab.md, "Engine config keys per mode").
const char* const kModes = R"([[ports]]
name = "front"
tap = "t-front"
mac = "02:00:00:71:00:02"
address = "203.0.113.2/24"
mtu = 1500

[[routes]]
destination = "0.0.0.0/0"
via = "203.0.113.1"

[[vips]]
name = "proxied"
address = "203.0.113.10"
port = 80
protocol = "tcp"
mode = "proxy"
proxy_ip = "203.0.113.20"
backends = [{ address = "198.18.0.11" }, { address = "198.18.0.12", port = 8080 }]

[[vips]]
name = "l2"
address = "203.0.113.30"
port = 80
protocol = "tcp"
mode = "dsr-l2"
backends = [{ address = "203.0.113.11" }, { address = "203.0.113.12", port = 80 }]

[[vips]]
name = "marked"
address = "203.0.113.40"
port = 80
protocol = "udp"
mode = "dsr-l3-dscp"
dscp = 10
backends = [{ address = "198.18.0.11" }]

[[vips]]
name = "tunnelled"
address = "203.0.113.50"
port = 443
protocol = "tcp"
mode = "dsr-l3-tunnel"
encap = "ipip"
backends = [{ address = "198.18.0.11" }]
)";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// `base` with lines first..last (1-based, inclusive) replaced by `text`.
std::string edited(int first, int last, const std::string& text, const char* base = kValid) {
  auto lines = lines_of(base);
  std::string out;
  for (int n = 1; n <= static_cast<int>(lines.size()); ++n) {
    if (n == first) out += text + "\n";
    if (n < first || n > last) out += lines[n - 1] + "\n";
  }
  return out;
}

TEST(Config, TheTestConfigItselfIsOnTheLinesTheCasesAssume) {
  auto lines = lines_of(kValid);
  ASSERT_GE(lines.size(), 35u);
  EXPECT_EQ(lines[28 - 1], "port = 80");
  EXPECT_EQ(lines[31 - 1], "algorithm = \"rr\"");
  EXPECT_EQ(lines[33 - 1], "  { address = \"192.0.2.11\", port = 8080 },");
  EXPECT_EQ(lines[11 - 1], "tap = \"t-front\"");
}

TEST(Config, TheModesConfigItselfIsOnTheLinesTheCasesAssume) {
  auto lines = lines_of(kModes);
  ASSERT_EQ(lines.size(), 45u);
  EXPECT_EQ(lines[6 - 1], "mtu = 1500");
  EXPECT_EQ(lines[12 - 1], "[[vips]]");
  EXPECT_EQ(lines[18 - 1], "proxy_ip = \"203.0.113.20\"");
  EXPECT_EQ(lines[26 - 1], "mode = \"dsr-l2\"");
  EXPECT_EQ(lines[27 - 1], "backends = [{ address = \"203.0.113.11\" }, { address = \"203.0.113.12\", port = 80 }]");
  EXPECT_EQ(lines[35 - 1], "dscp = 10");
  EXPECT_EQ(lines[36 - 1], "backends = [{ address = \"198.18.0.11\" }]");
  EXPECT_EQ(lines[44 - 1], "encap = \"ipip\"");
  EXPECT_EQ(lines[45 - 1], "backends = [{ address = \"198.18.0.11\" }]");
}

TEST(Config, ValidConfigParsesIntoTheExpectedFields) {
  lb::Config c = lb::parse_config(kValid, "test.toml");
  EXPECT_EQ(c.source, "test.toml");
  EXPECT_EQ(c.name, "lb-test");
  EXPECT_EQ(c.control_socket, "/run/lbd.sock") << "default kept";
  EXPECT_EQ(c.max_flows, 1024u);
  EXPECT_EQ(c.timeouts.tcp_syn, 5u);
  EXPECT_EQ(c.timeouts.udp, 30u);
  EXPECT_EQ(c.timeouts.tcp_established, 900u) << "default kept";

  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].name, "front");
  EXPECT_EQ(c.ports[0].tap, "t-front");
  EXPECT_EQ(c.ports[0].netns, "");
  EXPECT_EQ(c.ports[0].mac.str(), "02:00:00:71:00:02");
  EXPECT_EQ(c.ports[0].address.str(), "203.0.113.2/24");
  EXPECT_EQ(c.ports[1].name, "back");
  EXPECT_EQ(c.ports[1].address.str(), "192.0.2.1/24");

  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].destination.str(), "0.0.0.0/0");
  EXPECT_EQ(c.routes[0].via.str(), "203.0.113.1");

  ASSERT_EQ(c.vips.size(), 1u);
  const auto& v = c.vips[0];
  EXPECT_EQ(v.name, "web");
  EXPECT_EQ(v.address.str(), "203.0.113.10");
  EXPECT_EQ(v.port, 80);
  EXPECT_STREQ(lb::to_string(v.protocol), "tcp");
  EXPECT_STREQ(lb::to_string(v.mode), "inline");
  EXPECT_STREQ(lb::to_string(v.algorithm), "rr");
  ASSERT_EQ(v.backends.size(), 2u);
  EXPECT_EQ(v.backends[0].address.str(), "192.0.2.11");
  EXPECT_EQ(v.backends[0].port, 8080);
  EXPECT_EQ(v.backends[0].weight, 1u) << "default weight";
  EXPECT_EQ(v.backends[1].address.str(), "192.0.2.12");
  EXPECT_EQ(v.backends[1].port, 80) << "a backend without a port takes the VIP's";
  EXPECT_EQ(v.backends[1].weight, 3u);
}

TEST(Config, ExampleInlineConfigLoads) {
  const std::string path = LB_ENGINE_SOURCE_DIR "/examples/inline.toml";
  lb::Config c;
  ASSERT_NO_THROW(c = lb::load_config(path));
  EXPECT_EQ(c.source, path);
  EXPECT_EQ(c.name, "lb-a");
  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].address.str(), "203.0.113.2/24");
  EXPECT_EQ(c.ports[0].mac.str(), "02:00:00:71:00:02");
  EXPECT_EQ(c.ports[1].address.str(), "192.0.2.1/24");
  EXPECT_EQ(c.ports[1].mac.str(), "02:00:00:02:00:01");
  ASSERT_EQ(c.vips.size(), 2u);
  EXPECT_STREQ(lb::to_string(c.vips[0].protocol), "tcp");
  EXPECT_STREQ(lb::to_string(c.vips[1].protocol), "udp");
  for (auto& v : c.vips) {
    EXPECT_EQ(v.address.str(), "203.0.113.10");
    EXPECT_EQ(v.port, 80);
    ASSERT_EQ(v.backends.size(), 3u);
    EXPECT_EQ(v.backends[2].address.str(), "192.0.2.13");
  }
}

TEST(Config, MissingFileIsAConfigErrorNamingThePath) {
  try {
    lb::load_config("/nonexistent/lbd.toml");
    FAIL() << "no ConfigError";
  } catch (const lb::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/lbd.toml"), std::string::npos) << e.what();
  }
}

// ----------------------------------------------------------------- mistakes (a table)

struct BadCase {
  const char* name;
  int first, last;       // lines of kValid replaced
  const char* text;      // by this
  int line;              // the line the error must name
  const char* key;       // and the key (empty: no key, e.g. a syntax error)
  const char* base = kValid;  // the config edited
};

const BadCase kBad[] = {
    {"UnknownMode", 30, 30, "mode = \"magic\"", 30, "vips[0].mode"},
    {"UnknownAlgorithm", 31, 31, "algorithm = \"fastest\"", 31, "vips[0].algorithm"},
    {"BadVipAddress", 27, 27, "address = \"203.0.113.300\"", 27, "vips[0].address"},
    {"BadBackendAddress", 33, 33, "  { address = \"192.0.2.x\", port = 8080 },", 33, "vips[0].backends[0].address"},
    {"BadPortAddress", 13, 13, "address = \"203.0.113/24\"", 13, "ports[0].address"},
    {"DuplicateBackend", 34, 34, "  { address = \"192.0.2.11\", port = 8080 },", 34, "vips[0].backends[1]"},
    {"VipPortZero", 28, 28, "port = 0", 28, "vips[0].port"},
    {"VipPort70000", 28, 28, "port = 70000", 28, "vips[0].port"},
    {"BackendPortZero", 33, 33, "  { address = \"192.0.2.11\", port = 0 },", 33, "vips[0].backends[0].port"},
    {"BackendPort70000", 33, 33, "  { address = \"192.0.2.11\", port = 70000 },", 33, "vips[0].backends[0].port"},
    {"EmptyBackendList", 32, 35, "backends = []", 32, "vips[0].backends"},
    {"UnknownKeyInVip", 31, 31, "algoritm = \"rr\"", 31, "vips[0].algoritm"},
    {"UnknownKeyInPort", 11, 11, "tapp = \"t-front\"", 11, "ports[0].tapp"},
    {"UnknownKeyInEngine", 3, 3, "max_flow = 1024", 3, "engine.max_flow"},
    {"BackendNotOnAnyPortSubnet", 34, 34, "  { address = \"198.51.100.12\" },", 34, "vips[0].backends[1].address"},
    {"RouteViaNotOnAnyPortSubnet", 23, 23, "via = \"198.51.100.1\"", 23, "routes[0].via"},
    {"TomlSyntaxError", 28, 28, "port = = 80", 28, ""},
    {"UnterminatedString", 26, 26, "name = \"web", 26, ""},
};

// Per-mode keys and rules, as edits of kModes. A line of text inserted after line N
// shifts the later ones: the expected line counts it.
const char* const kMarked2 = R"(backends = [{ address = "198.18.0.11" }]

[[vips]]
name = "marked2"
address = "203.0.113.41"
port = 80
protocol = "udp"
mode = "dsr-l3-dscp"
dscp = 10
backends = [{ address = "198.18.0.12" }])";  // dscp on line 53
const char* const kMarkedTcp11 = R"(backends = [{ address = "198.18.0.11" }]

[[vips]]
name = "marked-tcp"
address = "203.0.113.40"
port = 80
protocol = "tcp"
mode = "dsr-l3-dscp"
dscp = 11
backends = [{ address = "198.18.0.12" }])";  // dscp on line 53

const BadCase kBadModes[] = {
    {"ProxyWithoutProxyIp", 18, 18, "", 12, "vips[0].proxy_ip", kModes},
    {"ProxyIpNotOnAPortSubnet", 18, 18, "proxy_ip = \"198.18.0.20\"", 18, "vips[0].proxy_ip", kModes},
    {"ProxyIpOnANonProxyVip", 26, 26, "mode = \"dsr-l2\"\nproxy_ip = \"203.0.113.20\"", 27, "vips[1].proxy_ip", kModes},
    {"ProxyBackendWithoutARoute", 8, 10, "\n\n", 19, "vips[0].backends[0].address", kModes},
    {"DscpOnANonDscpVip", 44, 44, "dscp = 10", 44, "vips[3].dscp", kModes},
    {"DscpZero", 35, 35, "dscp = 0", 35, "vips[2].dscp", kModes},
    {"Dscp64", 35, 35, "dscp = 64", 35, "vips[2].dscp", kModes},
    {"DscpNotAnInteger", 35, 35, "dscp = \"af11\"", 35, "vips[2].dscp", kModes},
    {"TwoVipAddressesWithOneDscp", 45, 45, kMarked2, 53, "vips[4].dscp", kModes},
    {"TwoDscpCodesForOneVipAddress", 45, 45, kMarkedTcp11, 53, "vips[4].dscp", kModes},
    {"DsrL2BackendNotOnAPortSubnet", 27, 27, "backends = [{ address = \"198.18.0.11\" }]", 27,
     "vips[1].backends[0].address", kModes},
    {"DsrL2BackendPortDiffers", 27, 27, "backends = [{ address = \"203.0.113.11\", port = 8080 }]", 27,
     "vips[1].backends[0].port", kModes},
    {"DsrL3DscpBackendPortDiffers", 36, 36, "backends = [{ address = \"198.18.0.11\", port = 8080 }]", 36,
     "vips[2].backends[0].port", kModes},
    {"DsrL3TunnelBackendPortDiffers", 45, 45, "backends = [{ address = \"198.18.0.11\", port = 80 }]", 45,
     "vips[3].backends[0].port", kModes},
    {"UnknownEncap", 44, 44, "encap = \"gre\"", 44, "vips[3].encap", kModes},
    {"EncapOnANonTunnelVip", 35, 35, "encap = \"ipip\"", 35, "vips[2].encap", kModes},
    {"PortMtuBelow576", 6, 6, "mtu = 100", 6, "ports[0].mtu", kModes},
};

class ConfigRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigRejects, WithFileLineAndKey) {
  const BadCase& c = GetParam();
  const std::string text = edited(c.first, c.last, c.text, c.base);
  const std::string want_where = "test.toml:" + std::to_string(c.line) + ":";
  try {
    lb::parse_config(text, "test.toml");
    FAIL() << "accepted; expected an error at " << want_where << " " << c.key << "\n" << text;
  } catch (const lb::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(want_where, 0), 0u) << "expected the message to start with: " << want_where
                                           << "\n  actual message: " << msg;
    if (*c.key) {
      EXPECT_NE(msg.find(std::string(" ") + c.key + ":"), std::string::npos)
          << "expected the key: " << c.key << "\n  actual message: " << msg;
    }
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  } catch (const std::exception& e) {
    FAIL() << "expected ConfigError, got another exception: " << e.what();
  }
}

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

INSTANTIATE_TEST_SUITE_P(Toml, ConfigRejects, ::testing::ValuesIn(kBad),
                         [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });
INSTANTIATE_TEST_SUITE_P(Modes, ConfigRejects, ::testing::ValuesIn(kBadModes),
                         [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

// ----------------------------------------------------------------- modes

TEST(Config, ModesConfigParsesIntoTheExpectedFields) {
  lb::Config c = lb::parse_config(kModes, "modes.toml");
  ASSERT_EQ(c.ports.size(), 1u);
  EXPECT_EQ(c.ports[0].mtu, 1500);
  ASSERT_EQ(c.vips.size(), 4u);
  EXPECT_STREQ(lb::to_string(c.vips[0].mode), "proxy");
  EXPECT_EQ(c.vips[0].proxy_ip.str(), "203.0.113.20");
  EXPECT_EQ(c.vips[0].backends[1].port, 8080) << "proxy translates ports";
  EXPECT_STREQ(lb::to_string(c.vips[1].mode), "dsr-l2");
  EXPECT_EQ(c.vips[1].backends[0].port, 80) << "a backend without a port takes the VIP's";
  EXPECT_STREQ(lb::to_string(c.vips[2].mode), "dsr-l3-dscp");
  EXPECT_EQ(c.vips[2].dscp, 10);
  EXPECT_STREQ(lb::to_string(c.vips[3].mode), "dsr-l3-tunnel");
  EXPECT_EQ(c.vips[3].backends[0].port, 443);
  for (int i : {0, 1, 3}) EXPECT_EQ(c.vips[i].dscp, 0) << "only a dsr-l3-dscp VIP has a code (vips[" << i << "])";
  for (int i : {1, 2, 3}) EXPECT_EQ(c.vips[i].proxy_ip.family, lb::IpAddr::Family::none) << "vips[" << i << "]";
}

TEST(Config, PortMtuDefaultsTo1500) {
  lb::Config c = lb::parse_config(edited(6, 6, "", kModes), "modes.toml");
  EXPECT_EQ(c.ports[0].mtu, 1500);
}

TEST(Config, TunnelEncapDefaultsToIpip) {
  EXPECT_NO_THROW(lb::parse_config(edited(44, 44, "", kModes), "modes.toml"));
}

// Example configs for every mode (lb_engine/examples/): each loads, with the lab's plan.
struct ExampleCase {
  const char* file;
  const char* mode;
  const char* first_backend;
};
class ExampleConfig : public ::testing::TestWithParam<ExampleCase> {};

TEST_P(ExampleConfig, LoadsWithTheLabsAddressPlan) {
  const ExampleCase& ex = GetParam();
  const std::string path = std::string(LB_ENGINE_SOURCE_DIR "/examples/") + ex.file;
  lb::Config c;
  try {
    c = lb::load_config(path);
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  ASSERT_EQ(c.vips.size(), 2u);
  ASSERT_FALSE(c.ports.empty());
  EXPECT_EQ(c.ports[0].address.str(), "203.0.113.2/24");
  for (auto& v : c.vips) {
    SCOPED_TRACE(v.name);
    EXPECT_STREQ(lb::to_string(v.mode), ex.mode);
    EXPECT_EQ(v.address.str(), "203.0.113.10");
    ASSERT_EQ(v.backends.size(), 3u);
    EXPECT_EQ(v.backends[0].address.str(), ex.first_backend);
    EXPECT_EQ(v.proxy_ip.str(), v.mode == lb::Mode::proxy ? "203.0.113.20" : "none");
    EXPECT_EQ(v.dscp, v.mode == lb::Mode::dsr_l3_dscp ? 10 : 0);
  }
  if (c.vips[0].mode != lb::Mode::inline_nat) {
    EXPECT_EQ(c.ports.size(), 1u) << "one arm";
  }
}

void PrintTo(const ExampleCase& c, std::ostream* os) { *os << c.file; }

const ExampleCase kExamples[] = {
    {"inline.toml", "inline", "192.0.2.11"},
    {"proxy.toml", "proxy", "198.18.0.11"},
    {"dsr-l2.toml", "dsr-l2", "203.0.113.11"},
    {"dsr-l3-dscp.toml", "dsr-l3-dscp", "198.18.0.11"},
    {"dsr-l3-tunnel.toml", "dsr-l3-tunnel", "198.18.0.11"},
    {"ha-proxy.toml", "proxy", "198.18.0.11"},
    {"ha-inline.toml", "inline", "192.0.2.11"},
};
INSTANTIATE_TEST_SUITE_P(Examples, ExampleConfig, ::testing::ValuesIn(kExamples),
                         [](const ::testing::TestParamInfo<ExampleCase>& i) {
                           std::string n;
                           for (const char* p = i.param.file; *p && *p != '.'; ++p) n += std::isalnum(*p) ? *p : '_';
                           return n;
                         });

// A dsr-l3-dscp VIP with `address`, `protocol` and, when non-zero, an explicit `dscp`.
std::string dscp_vip(const std::string& address, const char* protocol, int dscp = 0) {
  std::string t = "\n[[vips]]\naddress = \"" + address + "\"\nport = 80\nprotocol = \"" + protocol +
                  "\"\nmode = \"dsr-l3-dscp\"\n";
  if (dscp) t += "dscp = " + std::to_string(dscp) + "\n";
  return t + "backends = [{ address = \"198.18.0.11\" }]\n";
}
const char* const kOneArmHead = R"([[ports]]
name = "front"
tap = "t-front"
mac = "02:00:00:71:00:02"
address = "203.0.113.2/24"

[[routes]]
destination = "0.0.0.0/0"
via = "203.0.113.1"
)";

TEST(ConfigDscp, AutomaticCodesAreOnePerVipAddress) {
  const std::string text = std::string(kOneArmHead) + dscp_vip("203.0.113.10", "tcp") + dscp_vip("203.0.113.10", "udp") +
                           dscp_vip("203.0.113.11", "tcp") + dscp_vip("203.0.113.12", "udp", 1) +
                           dscp_vip("203.0.113.11", "udp");
  lb::Config c = lb::parse_config(text, "dscp.toml");
  ASSERT_EQ(c.vips.size(), 5u);
  for (auto& v : c.vips) {
    EXPECT_GE(v.dscp, 1) << v.name;
    EXPECT_LE(v.dscp, 63) << v.name;
  }
  EXPECT_EQ(c.vips[0].dscp, c.vips[1].dscp) << "tcp and udp VIPs of one address share its code";
  EXPECT_EQ(c.vips[2].dscp, c.vips[4].dscp) << "tcp and udp VIPs of one address share its code";
  EXPECT_EQ(c.vips[3].dscp, 1) << "an explicit code is kept";
  std::set<int> codes = {c.vips[0].dscp, c.vips[2].dscp, c.vips[3].dscp};
  EXPECT_EQ(codes.size(), 3u) << "three addresses, three codes: " << int(c.vips[0].dscp) << ", " << int(c.vips[2].dscp)
                              << ", " << int(c.vips[3].dscp);
}

TEST(ConfigDscp, AnAddressWithAnExplicitCodeLendsItToItsOtherVips) {
  const std::string text = std::string(kOneArmHead) + dscp_vip("203.0.113.10", "tcp") + dscp_vip("203.0.113.10", "udp", 7);
  lb::Config c = lb::parse_config(text, "dscp.toml");
  EXPECT_EQ(c.vips[0].dscp, 7);
  EXPECT_EQ(c.vips[1].dscp, 7);
}

TEST(ConfigDscp, SixtyThreeAddressesGetAllSixtyThreeCodes) {
  std::string text = kOneArmHead;
  for (int i = 0; i < 63; ++i) text += dscp_vip("10.0.0." + std::to_string(i + 1), "tcp");
  lb::Config c = lb::parse_config(text, "dscp.toml");
  std::set<int> codes;
  for (auto& v : c.vips) codes.insert(v.dscp);
  EXPECT_EQ(codes.size(), 63u);
  EXPECT_EQ(*codes.begin(), 1);
  EXPECT_EQ(*codes.rbegin(), 63);
}

// The 64th address has no code left: the error names that VIP (its [[vips]] line) and its
// dscp key, as a missing key is named.
TEST(ConfigDscp, MoreThanSixtyThreeAddressesIsAnErrorNamingTheVipLeftWithout) {
  std::string text = kOneArmHead;
  int vip_line = 0;
  for (int i = 0; i < 64; ++i) {
    if (i == 63) vip_line = static_cast<int>(lines_of(text).size()) + 2;  // after the blank line
    text += dscp_vip("10.0.0." + std::to_string(i + 1), "tcp");
  }
  ASSERT_EQ(lines_of(text)[vip_line - 1], "[[vips]]");
  ASSERT_EQ(lines_of(text)[vip_line], "address = \"10.0.0.64\"");
  const std::string want_where = "dscp.toml:" + std::to_string(vip_line) + ":";
  try {
    lb::parse_config(text, "dscp.toml");
    FAIL() << "accepted 64 dsr-l3-dscp VIP addresses";
  } catch (const lb::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(want_where, 0), 0u) << "expected the message to start with: " << want_where
                                           << "\n  actual message: " << msg;
    EXPECT_NE(msg.find(" vips[63].dscp:"), std::string::npos) << "expected the key: vips[63].dscp\n  actual message: " << msg;
  }
}

// ----------------------------------------------------------------- scheduling keys

std::string sched_vip(const std::string& keys, const std::string& backend_keys = "") {
  return std::string(kOneArmHead) + "\n[[vips]]\nname = \"web\"\naddress = \"203.0.113.10\"\nport = 80\n"
         "protocol = \"tcp\"\nmode = \"proxy\"\nproxy_ip = \"203.0.113.20\"\n" + keys +
         "backends = [{ address = \"198.18.0.11\"" + backend_keys + " }, { address = \"198.18.0.12\" }]\n";
}

std::string sched_error(const std::string& text) {
  try {
    lb::parse_config(text, "s.toml");
  } catch (const lb::ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(ConfigScheduling, EveryAlgorithmIsAccepted) {
  for (const char* a : {"rr", "wrr", "lc", "wlc", "rtt", "priority", "sh", "maglev"}) {
    lb::Config c = lb::parse_config(sched_vip(std::string("algorithm = \"") + a + "\"\n"), "s.toml");
    EXPECT_STREQ(lb::to_string(c.vips[0].algorithm), a);
  }
}

TEST(ConfigScheduling, PriorityPersistenceAndMaglevKeysAreRead) {
  lb::Config c = lb::parse_config(
      sched_vip("algorithm = \"priority\"\nmin_active = 2\nmaglev_table_size = 251\npersistence_timeout = 300\n"
                "persistence_netmask = 24\n",
                ", group = 2, weight = 5"),
      "s.toml");
  const auto& v = c.vips[0];
  EXPECT_EQ(v.min_active, 2u);
  EXPECT_EQ(v.maglev_table_size, 251u);
  EXPECT_EQ(v.persistence_timeout, 300u);
  EXPECT_EQ(v.persistence_netmask, 24);
  EXPECT_EQ(v.backends[0].group, 2u);
  EXPECT_EQ(v.backends[0].weight, 5u);
  EXPECT_EQ(v.backends[1].group, 1u) << "the default group";
}

TEST(ConfigScheduling, BadValuesAreRejectedNamingTheKey) {
  EXPECT_NE(sched_error(sched_vip("algorithm = \"fastest\"\n")).find("vips[0].algorithm: unknown algorithm 'fastest'"),
            std::string::npos);
  EXPECT_NE(sched_error(sched_vip("maglev_table_size = 65536\n")).find("vips[0].maglev_table_size: 65536 is not prime"),
            std::string::npos);
  EXPECT_NE(sched_error(sched_vip("persistence_netmask = 24\n")).find("vips[0].persistence_netmask: has no effect"),
            std::string::npos);
  EXPECT_NE(sched_error(sched_vip("persistence_timeout = 300\npersistence_netmask = 33\n"))
                .find("vips[0].persistence_netmask: 33 is out of range"),
            std::string::npos);
  EXPECT_NE(sched_error(sched_vip("", ", group = 0")).find("vips[0].backends[0].group: 0 is out of range"),
            std::string::npos);
  EXPECT_NE(sched_error(sched_vip("min_active = 0\n")).find("vips[0].min_active: 0 is out of range"), std::string::npos);
}

// ----------------------------------------------------------------- health checks

TEST(ConfigHealth, WithoutHealthKeysNothingIsCheckedAndFlowsAreKept) {
  lb::Config c = lb::parse_config(kValid, "test.toml");
  const auto& v = c.vips[0];
  EXPECT_EQ(v.health.type, lb::CheckType::none);
  EXPECT_EQ(v.health.interval_ms, 2000u);
  EXPECT_EQ(v.health.timeout_ms, 1000u);
  EXPECT_EQ(v.health.rise, 2u);
  EXPECT_EQ(v.health.fall, 3u);
  EXPECT_EQ(v.health.path, "/");
  EXPECT_EQ(v.health.status, 200);
  EXPECT_EQ(v.backends[0].health.type, lb::CheckType::none);
  EXPECT_EQ(v.on_backend_down, lb::OnDown::keep);
  EXPECT_EQ(v.when_all_down, lb::AllDown::reset);
}

// The VIP's table is every backend's check; a backend's own table changes only its keys.
TEST(ConfigHealth, VipCheckIsTheDefaultAndABackendOverridesOnlyTheKeysItNames) {
  const std::string text = edited(33, 35, R"(  { address = "192.0.2.11", port = 8080 },
  { address = "192.0.2.12", weight = 3, health = { port = 8081, path = "/ready", rise = 5 } },
]
on_backend_down = "reset"
when_all_down = "icmp"

[vips.health]
type = "http"
interval_ms = 500
timeout_ms = 200
rise = 3
fall = 4
path = "/health"
status = 204
body = "ready")");
  lb::Config c = lb::parse_config(text, "test.toml");
  const auto& v = c.vips[0];
  EXPECT_EQ(v.on_backend_down, lb::OnDown::reset);
  EXPECT_EQ(v.when_all_down, lb::AllDown::icmp);
  for (const lb::HealthConfig* h : {&v.health, &v.backends[0].health, &v.backends[1].health}) {
    EXPECT_STREQ(lb::to_string(h->type), "http");
    EXPECT_EQ(h->interval_ms, 500u);
    EXPECT_EQ(h->timeout_ms, 200u);
    EXPECT_EQ(h->fall, 4u);
    EXPECT_EQ(h->status, 204);
    EXPECT_EQ(h->body, "ready");
  }
  EXPECT_EQ(v.health.rise, 3u);
  EXPECT_EQ(v.health.port, 0) << "0: each backend's port";
  EXPECT_EQ(v.health.path, "/health");
  EXPECT_EQ(v.backends[0].health.rise, 3u);
  EXPECT_EQ(v.backends[0].health.port, 0);
  EXPECT_EQ(v.backends[0].health.path, "/health");
  EXPECT_EQ(v.backends[1].health.rise, 5u) << "overridden";
  EXPECT_EQ(v.backends[1].health.port, 8081) << "overridden";
  EXPECT_EQ(v.backends[1].health.path, "/ready") << "overridden";
}

TEST(ConfigHealth, EveryCheckTypeIsAccepted) {
  for (const char* t : {"none", "icmp", "tcp", "http"}) {
    lb::Config c = lb::parse_config(edited(35, 35, std::string("]\nhealth = { type = \"") + t + "\" }"), "test.toml");
    EXPECT_STREQ(lb::to_string(c.vips[0].health.type), t);
  }
}

// kValid's VIP with a [vips.health] table after its backends: `keys` start on line 38.
std::string with_health(const std::string& keys) { return "]\n\n[vips.health]\n" + keys; }

const std::string kHealthEdits[] = {
    with_health("interval_ms = 1000\ntimeout_ms = 1000"),
    with_health("timeout_ms = 2000"),
    with_health("type = \"ping\""),
    with_health("status = 600"),
    with_health("status = 99"),
    with_health("rise = 0"),
    with_health("fall = 0"),
    with_health("path = \"health\""),
    with_health("path = \"/a b\""),
    with_health("intreval_ms = 500"),
    // The VIP's interval with a backend's own timeout: checked once merged.
    "  { address = \"192.0.2.11\", port = 8080, health = { timeout_ms = 1000 } },\n"
    "  { address = \"192.0.2.12\", weight = 3 },\n" + with_health("interval_ms = 1000\ntimeout_ms = 500"),
    "algorithm = \"rr\"\non_backend_down = \"drop\"",
    "algorithm = \"rr\"\nwhen_all_down = \"wait\"",
};

const BadCase kBadHealth[] = {
    {"HealthTimeoutNotBelowInterval", 35, 35, kHealthEdits[0].c_str(), 39, "vips[0].health.timeout_ms"},
    {"HealthTimeoutAboveTheDefaultInterval", 35, 35, kHealthEdits[1].c_str(), 38, "vips[0].health.timeout_ms"},
    {"HealthUnknownType", 35, 35, kHealthEdits[2].c_str(), 38, "vips[0].health.type"},
    {"HealthStatus600", 35, 35, kHealthEdits[3].c_str(), 38, "vips[0].health.status"},
    {"HealthStatus99", 35, 35, kHealthEdits[4].c_str(), 38, "vips[0].health.status"},
    {"HealthRiseZero", 35, 35, kHealthEdits[5].c_str(), 38, "vips[0].health.rise"},
    {"HealthFallZero", 35, 35, kHealthEdits[6].c_str(), 38, "vips[0].health.fall"},
    {"HealthPathWithoutLeadingSlash", 35, 35, kHealthEdits[7].c_str(), 38, "vips[0].health.path"},
    {"HealthPathWithASpace", 35, 35, kHealthEdits[8].c_str(), 38, "vips[0].health.path"},
    {"HealthUnknownKey", 35, 35, kHealthEdits[9].c_str(), 38, "vips[0].health.intreval_ms"},
    {"BackendHealthTimeoutNotBelowTheVipsInterval", 33, 35, kHealthEdits[10].c_str(), 33,
     "vips[0].backends[0].health.timeout_ms"},
    {"UnknownOnBackendDown", 31, 31, kHealthEdits[11].c_str(), 32, "vips[0].on_backend_down"},
    {"UnknownWhenAllDown", 31, 31, kHealthEdits[12].c_str(), 32, "vips[0].when_all_down"},
};

INSTANTIATE_TEST_SUITE_P(Health, ConfigRejects, ::testing::ValuesIn(kBadHealth),
                         [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });


// ----------------------------------------------------------------- [vrrp] and [sync]

// kValid with `tail` appended: the tail's line n is line kValidLines + n of the file.
const int kValidLines = static_cast<int>(lines_of(kValid).size());
std::string with_tail(const std::string& tail) { return std::string(kValid) + tail; }

TEST(ConfigHa, WithoutVrrpOrSyncTheEngineIsStandalone) {
  lb::Config c = lb::parse_config(kValid, "test.toml");
  EXPECT_FALSE(c.vrrp.has_value());
  EXPECT_FALSE(c.sync.has_value());
}

TEST(ConfigHa, VrrpKeysAreReadAndTheRestDefault) {
  lb::Config c = lb::parse_config(with_tail("[vrrp]\nport = \"front\"\nvrid = 51\npriority = 150\n"), "test.toml");
  ASSERT_TRUE(c.vrrp.has_value());
  const lb::HaVrrpConfig& v = *c.vrrp;
  EXPECT_EQ(v.port, "front");
  EXPECT_EQ(v.vrid, 51);
  EXPECT_EQ(v.priority, 150);
  EXPECT_EQ(v.advert_interval_ms, 1000u) << "default";
  EXPECT_TRUE(v.preempt) << "default";
  EXPECT_EQ(v.preempt_delay_ms, 0u) << "default";
  EXPECT_FALSE(v.virtual_mac) << "default";
  EXPECT_EQ(v.garp_count, 5u) << "default";
  EXPECT_EQ(v.garp_interval_ms, 100u) << "default";
  EXPECT_EQ(v.garp_refresh_ms, 0u) << "default";
  EXPECT_EQ(v.track_port_penalty, 0u) << "default";
  EXPECT_EQ(v.track_backends_penalty, 0u) << "default";
  EXPECT_FALSE(c.sync.has_value());
}

TEST(ConfigHa, EveryVrrpKeyAndSyncAreRead) {
  lb::Config c = lb::parse_config(with_tail(R"([vrrp]
vrid = 7
priority = 255
advert_interval_ms = 100
preempt = false
preempt_delay_ms = 5000
port = "back"
virtual_mac = true
garp_count = 3
garp_interval_ms = 50
garp_refresh_ms = 60000
track_port_penalty = 30
track_backends_penalty = 60

[sync]
port = "back"
peer = "192.0.2.2"
udp_port = 9000
)"),
                                  "test.toml");
  ASSERT_TRUE(c.vrrp.has_value());
  const lb::HaVrrpConfig& v = *c.vrrp;
  EXPECT_EQ(v.vrid, 7);
  EXPECT_EQ(v.priority, 255);
  EXPECT_EQ(v.advert_interval_ms, 100u);
  EXPECT_FALSE(v.preempt);
  EXPECT_EQ(v.preempt_delay_ms, 5000u);
  EXPECT_EQ(v.port, "back");
  EXPECT_TRUE(v.virtual_mac);
  EXPECT_EQ(v.garp_count, 3u);
  EXPECT_EQ(v.garp_interval_ms, 50u);
  EXPECT_EQ(v.garp_refresh_ms, 60000u);
  EXPECT_EQ(v.track_port_penalty, 30u);
  EXPECT_EQ(v.track_backends_penalty, 60u);
  ASSERT_TRUE(c.sync.has_value());
  EXPECT_EQ(c.sync->port, "back");
  EXPECT_EQ(c.sync->peer.str(), "192.0.2.2");
  EXPECT_EQ(c.sync->udp_port, 9000);
}

TEST(ConfigHa, VrrpAddressesAreReadWithTheirPorts) {
  lb::Config c = lb::parse_config(with_tail("[vrrp]\nport = \"front\"\naddresses = [{ port = \"back\", address = "
                                            "\"192.0.2.254\" }, { port = \"front\", address = \"203.0.113.99\" }]\n"),
                                  "test.toml");
  ASSERT_TRUE(c.vrrp.has_value());
  ASSERT_EQ(c.vrrp->addresses.size(), 2u);
  EXPECT_EQ(c.vrrp->addresses[0].port, "back");
  EXPECT_EQ(c.vrrp->addresses[0].address.str(), "192.0.2.254");
  EXPECT_EQ(c.vrrp->addresses[1].port, "front");
  EXPECT_EQ(c.vrrp->addresses[1].address.str(), "203.0.113.99");
}

TEST(ConfigHa, SyncUdpPortDefaultsTo8848) {
  lb::Config c = lb::parse_config(
      with_tail("[vrrp]\nport = \"front\"\n\n[sync]\nport = \"front\"\npeer = \"203.0.113.3\"\n"), "test.toml");
  ASSERT_TRUE(c.sync.has_value());
  EXPECT_EQ(c.sync->udp_port, 8848);
}

struct HaBadCase {
  const char* name;
  const char* tail;  // appended to kValid
  int tail_line;     // the line of the tail the error must name (1 = the tail's first line)
  const char* key;
};

const HaBadCase kBadHa[] = {
    {"VridZero", "[vrrp]\nport = \"front\"\nvrid = 0\n", 3, "vrrp.vrid"},
    {"Vrid256", "[vrrp]\nport = \"front\"\nvrid = 256\n", 3, "vrrp.vrid"},
    {"PriorityZero", "[vrrp]\nport = \"front\"\npriority = 0\n", 3, "vrrp.priority"},
    {"Priority256", "[vrrp]\nport = \"front\"\npriority = 256\n", 3, "vrrp.priority"},
    {"AdvertIntervalNotAMultipleOfTen", "[vrrp]\nport = \"front\"\nadvert_interval_ms = 105\n", 3, "vrrp.advert_interval_ms"},
    {"AdvertIntervalBelowTen", "[vrrp]\nport = \"front\"\nadvert_interval_ms = 0\n", 3, "vrrp.advert_interval_ms"},
    {"AdvertIntervalAbove40950", "[vrrp]\nport = \"front\"\nadvert_interval_ms = 40960\n", 3, "vrrp.advert_interval_ms"},
    {"PreemptNotABool", "[vrrp]\nport = \"front\"\npreempt = \"yes\"\n", 3, "vrrp.preempt"},
    {"VirtualMacNotABool", "[vrrp]\nport = \"front\"\nvirtual_mac = 1\n", 3, "vrrp.virtual_mac"},
    {"VrrpUnknownPort", "[vrrp]\nvrid = 5\nport = \"frnt\"\n", 3, "vrrp.port"},
    {"VrrpWithoutPort", "[vrrp]\nvrid = 5\n", 1, "vrrp.port"},
    {"VrrpUnknownKey", "[vrrp]\nport = \"front\"\nadvert_int = 100\n", 3, "vrrp.advert_int"},
    {"GarpIntervalZero", "[vrrp]\nport = \"front\"\ngarp_interval_ms = 0\n", 3, "vrrp.garp_interval_ms"},
    {"AddressesNotAnArray", "[vrrp]\nport = \"front\"\naddresses = \"192.0.2.254\"\n", 3, "vrrp.addresses"},
    {"AddressOffItsPortsSubnet", "[vrrp]\nport = \"front\"\naddresses = [{ port = \"back\", address = \"203.0.113.99\" }]\n",
     3, "vrrp.addresses[0].address"},
    {"AddressIsAPortsOwn", "[vrrp]\nport = \"front\"\naddresses = [{ port = \"back\", address = \"192.0.2.1\" }]\n", 3,
     "vrrp.addresses[0].address"},
    {"AddressIsTheVip", "[vrrp]\nport = \"front\"\naddresses = [{ port = \"front\", address = \"203.0.113.10\" }]\n", 3,
     "vrrp.addresses[0].address"},
    {"AddressUnknownPort", "[vrrp]\nport = \"front\"\naddresses = [{ port = \"bak\", address = \"192.0.2.254\" }]\n", 3,
     "vrrp.addresses[0].port"},
    {"AddressWithoutAddress", "[vrrp]\nport = \"front\"\naddresses = [{ port = \"back\" }]\n", 3, "vrrp.addresses[0].address"},
    {"AddressUnknownKey", "[vrrp]\nport = \"front\"\naddresses = [{ port = \"back\", address = \"192.0.2.254\", mac = 1 }]\n",
     3, "vrrp.addresses[0].mac"},
    {"TrackPenaltyAbove255", "[vrrp]\nport = \"front\"\ntrack_backends_penalty = 300\n", 3, "vrrp.track_backends_penalty"},
    {"SyncWithoutVrrp", "[sync]\nport = \"front\"\npeer = \"203.0.113.3\"\n", 1, "sync"},
    {"SyncUnknownPort", "[vrrp]\nport = \"front\"\n[sync]\nport = \"sync\"\npeer = \"203.0.113.3\"\n", 4, "sync.port"},
    {"SyncPeerOffTheSubnet", "[vrrp]\nport = \"front\"\n[sync]\nport = \"front\"\npeer = \"192.0.2.3\"\n", 5, "sync.peer"},
    {"SyncPeerIsOurOwnAddress", "[vrrp]\nport = \"front\"\n[sync]\nport = \"front\"\npeer = \"203.0.113.2\"\n", 5, "sync.peer"},
    {"SyncPeerNotAnAddress", "[vrrp]\nport = \"front\"\n[sync]\nport = \"front\"\npeer = \"lb-b\"\n", 5, "sync.peer"},
    {"SyncUdpPortZero", "[vrrp]\nport = \"front\"\n[sync]\nport = \"front\"\npeer = \"203.0.113.3\"\nudp_port = 0\n", 6,
     "sync.udp_port"},
    {"SyncUnknownKey", "[vrrp]\nport = \"front\"\n[sync]\nport = \"front\"\npeer = \"203.0.113.3\"\npeers = 1\n", 6,
     "sync.peers"},
};

class ConfigHaRejects : public ::testing::TestWithParam<HaBadCase> {};

TEST_P(ConfigHaRejects, WithFileLineAndKey) {
  const HaBadCase& c = GetParam();
  const std::string text = with_tail(c.tail);
  const std::string want_where = "test.toml:" + std::to_string(kValidLines + c.tail_line) + ":";
  try {
    lb::parse_config(text, "test.toml");
    FAIL() << "accepted; expected an error at " << want_where << " " << c.key << "\n" << text;
  } catch (const lb::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(want_where, 0), 0u) << "expected the message to start with: " << want_where
                                           << "\n  actual message: " << msg;
    EXPECT_NE(msg.find(std::string(" ") + c.key + ":"), std::string::npos)
        << "expected the key: " << c.key << "\n  actual message: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

INSTANTIATE_TEST_SUITE_P(Ha, ConfigHaRejects, ::testing::ValuesIn(kBadHa),
                         [](const ::testing::TestParamInfo<HaBadCase>& i) { return std::string(i.param.name); });

TEST(ConfigHa, MoreThan255AdvertisedAddressesAreRejectedAtTheVrrpTable) {
  std::string text = kOneArmHead;
  for (int i = 0; i < 256; ++i)
    text += "\n[[vips]]\naddress = \"10.0." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1) +
            "\"\nport = 80\nprotocol = \"tcp\"\nmode = \"dsr-l3-tunnel\"\nbackends = [{ address = \"198.18.0.11\" }]\n";
  text += "\n[vrrp]\nport = \"front\"\n";
  const int vrrp_line = static_cast<int>(lines_of(text).size()) - 1;
  try {
    lb::parse_config(text, "test.toml");
    FAIL() << "accepted 256 advertised addresses";
  } catch (const lb::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("test.toml:" + std::to_string(vrrp_line) + ": vrrp: ", 0), 0u) << msg;
  }
}

TEST(ConfigHa, ASyncPortWhoseMtuCannotCarryAFullDatagramIsRejected) {
  // kValid with "mtu = 1400" after the front port's address (line 13), and [vrrp] and [sync].
  const std::string text = edited(13, 13, "address = \"203.0.113.2/24\"\nmtu = 1400") +
                           "[vrrp]\nport = \"front\"\n[sync]\nport = \"front\"\npeer = \"203.0.113.3\"\n";
  const int sync_port_line = kValidLines + 1 + 4;
  try {
    lb::parse_config(text, "test.toml");
    FAIL() << "accepted a sync port with MTU 1400";
  } catch (const lb::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("test.toml:" + std::to_string(sync_port_line) + ": sync.port: ", 0), 0u) << msg;
  }
}

TEST(ConfigHa, ExampleHaConfigLoadsWithVrrpAndSyncOnTheFrontPort) {
  const std::string path = LB_ENGINE_SOURCE_DIR "/examples/ha-proxy.toml";
  lb::Config c;
  try {
    c = lb::load_config(path);
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  ASSERT_TRUE(c.vrrp.has_value());
  EXPECT_EQ(c.vrrp->port, "front");
  EXPECT_EQ(c.vrrp->vrid, 51);
  ASSERT_TRUE(c.sync.has_value());
  EXPECT_EQ(c.sync->port, "front");
  EXPECT_EQ(c.sync->peer.str(), "203.0.113.3") << "lb-b in the lab's plan";
  EXPECT_EQ(c.sync->udp_port, 8848);
}

TEST(ConfigHa, ExampleInlineHaConfigHoldsTheServersGatewayAsAVrrpAddressOnBack) {
  lb::Config c;
  ASSERT_NO_THROW(c = lb::load_config(LB_ENGINE_SOURCE_DIR "/examples/ha-inline.toml"));
  ASSERT_TRUE(c.vrrp.has_value());
  ASSERT_EQ(c.vrrp->addresses.size(), 1u);
  EXPECT_EQ(c.vrrp->addresses[0].port, "back");
  EXPECT_EQ(c.vrrp->addresses[0].address.str(), "192.0.2.1");
  EXPECT_EQ(c.ports[1].address.str(), "192.0.2.2/24") << "the engine's own back address is another one";
}

}  // namespace
