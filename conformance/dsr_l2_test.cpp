// dsr-l2 conformance: the dsr-l2 check table (lab/src/lablib/mode_dsr_l2.cpp), one test
// per row, plus what the mode means for its clients and servers. Pcaps and the report
// land in reports/conformance/dsr-l2/.
#include "lab_fixture.hpp"

namespace {

class Conformance : public conformance::CheckTableTest {};

TEST_P(Conformance, Check) { expect_passed(GetParam()); }

INSTANTIATE_TEST_SUITE_P(DsrL2, Conformance, ::testing::ValuesIn(conformance::table("dsr-l2")),
                         conformance::row_name);

class DsrL2Mode : public conformance::LabTest {};

TEST_F(DsrL2Mode, ServerSeesTheClientIp) { expect_server_saw("cip"); }

TEST_F(DsrL2Mode, DsrL2ReplyNeverCrossesTheLb) { expect_reply_crosses_lb(false); }

}  // namespace

int main(int argc, char** argv) { return conformance::run_all(argc, argv, "dsr-l2"); }
