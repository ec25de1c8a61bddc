// dsr-l3-tunnel conformance: the dsr-l3-tunnel check table
// (lab/src/lablib/mode_dsr_l3_tunnel.cpp), one test per row, plus what the mode means
// for its clients and servers. SKIPs when the servers cannot decapsulate (neither the
// kernel's ipip nor lab_decap). Pcaps and the report land in
// reports/conformance/dsr-l3-tunnel/.
#include "lab_fixture.hpp"

namespace {

class Conformance : public conformance::CheckTableTest {};

TEST_P(Conformance, Check) { expect_passed(GetParam()); }

INSTANTIATE_TEST_SUITE_P(DsrL3Tunnel, Conformance, ::testing::ValuesIn(conformance::table("dsr-l3-tunnel")),
                         conformance::row_name);

class DsrL3TunnelMode : public conformance::LabTest {};

TEST_F(DsrL3TunnelMode, ServerSeesTheClientIp) { expect_server_saw("cip"); }

TEST_F(DsrL3TunnelMode, TunnelReplyNeverCrossesTheLb) { expect_reply_crosses_lb(false); }

TEST_F(DsrL3TunnelMode, UploadSucceedsThroughPathMtuDiscovery) {
    EXPECT_EQ(value("upload", "upload_sha256"), value("upload", "file_sha256"))
        << run().scenario("upload")->outcome.error;
    auto* c = run().check("DsrL3TunnelUpload_PathMtu_LbAnswersFragmentationNeeded");
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(c->passed) << c->report();
}

}  // namespace

int main(int argc, char** argv) { return conformance::run_all(argc, argv, "dsr-l3-tunnel"); }
