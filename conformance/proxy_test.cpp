// Proxy (one-arm, full NAT) conformance: the proxy check table
// (lab/src/lablib/mode_proxy.cpp), one test per row, plus what the mode means for its
// clients and servers. Pcaps and the report land in reports/conformance/proxy/.
#include "lab_fixture.hpp"

namespace {

class Conformance : public conformance::CheckTableTest {};

TEST_P(Conformance, Check) { expect_passed(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Proxy, Conformance, ::testing::ValuesIn(conformance::table("proxy")),
                         conformance::row_name);

class ProxyMode : public conformance::LabTest {};

TEST_F(ProxyMode, ProxyRewritesBothEnds_ServerSeesTheProxyAddress) { expect_server_saw("proxy_ip"); }

TEST_F(ProxyMode, ReplyComesBackThroughTheLb) { expect_reply_crosses_lb(true); }

}  // namespace

int main(int argc, char** argv) { return conformance::run_all(argc, argv, "proxy"); }
