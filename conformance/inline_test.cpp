// Inline (two-arm) conformance: one lab, every scenario once (http, udp, icmp, 10 MiB
// download and upload) with captures at every interface, then the inline check table
// (lab/src/lablib/mode_inline.cpp), one test per row, plus what the mode means for its
// clients and servers. Pcaps and the report land in reports/conformance/inline/.
#include "lab_fixture.hpp"

namespace {

class Conformance : public conformance::CheckTableTest {};

TEST_P(Conformance, Check) { expect_passed(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Inline, Conformance, ::testing::ValuesIn(conformance::table("inline")),
                         conformance::row_name);

class InlineMode : public conformance::LabTest {};

TEST_F(InlineMode, ServerSeesTheClientIpAndPort) {
    expect_server_saw("cip");
    EXPECT_EQ(value("http", "seen_port"), value("http", "cport"));
}

TEST_F(InlineMode, ReplyCrossesTheLbOnItsBackPort) { expect_reply_crosses_lb(true); }

}  // namespace

int main(int argc, char** argv) { return conformance::run_all(argc, argv, "inline"); }
