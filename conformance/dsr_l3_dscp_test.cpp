// dsr-l3-dscp conformance: the dsr-l3-dscp check table
// (lab/src/lablib/mode_dsr_l3_dscp.cpp), one test per row, plus what the mode means for
// its clients and servers. SKIPs without nftables. Pcaps and the report land in
// reports/conformance/dsr-l3-dscp/.
#include "lab_fixture.hpp"

namespace {

class Conformance : public conformance::CheckTableTest {};

TEST_P(Conformance, Check) { expect_passed(GetParam()); }

INSTANTIATE_TEST_SUITE_P(DsrL3Dscp, Conformance, ::testing::ValuesIn(conformance::table("dsr-l3-dscp")),
                         conformance::row_name);

class DsrL3DscpMode : public conformance::LabTest {};

TEST_F(DsrL3DscpMode, ServerSeesTheClientIp) { expect_server_saw("cip"); }

TEST_F(DsrL3DscpMode, DscpReplyNeverCrossesTheLb) { expect_reply_crosses_lb(false); }

}  // namespace

int main(int argc, char** argv) { return conformance::run_all(argc, argv, "dsr-l3-dscp"); }
