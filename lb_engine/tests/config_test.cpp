// Config loading and validation (lb/config/config.hpp): a valid file parses into the
// expected struct, and each kind of mistake is one ConfigError naming file, line and key.
#include <gtest/gtest.h>

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

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// kValid with lines first..last (1-based, inclusive) replaced by `text`.
std::string edited(int first, int last, const std::string& text) {
  auto lines = lines_of(kValid);
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

class ConfigRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigRejects, WithFileLineAndKey) {
  const BadCase& c = GetParam();
  const std::string text = edited(c.first, c.last, c.text);
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

}  // namespace
