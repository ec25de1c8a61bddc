// Inline (two-arm) conformance: one lab, every scenario once (http, udp, icmp, 10 MiB
// download and upload) with captures at every interface, then the inline check table
// (lab/src/lablib/mode_inline.cpp), one test per row, plus the scenario outcomes.
// Pcaps and the report land in the repository's reports/ (reports/inline/<scenario>/).
#include "lab_fixture.hpp"

#include "lablib/paths.hpp"

#include <filesystem>

namespace {

using conformance::CheckTableTest;
using conformance::LabTest;

class Conformance : public CheckTableTest {};

TEST_P(Conformance, Check) { expect_passed(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Inline, Conformance, ::testing::ValuesIn(conformance::table("inline")),
                         conformance::row_name);

class InlineOutcome : public LabTest {};

TEST_F(InlineOutcome, ServerSeesTheClientIp) {
    EXPECT_EQ(value("http", "seen_ip"), var("http", "cip"))
        << "the server's answer: " << run().scenario("http")->outcome.output;
    EXPECT_EQ(value("http", "seen_port"), value("http", "cport"));
}

TEST_F(InlineOutcome, UdpEchoComesBackFromAServerThatSawTheClient) {
    EXPECT_EQ(value("udp", "echo"), "hello");
    EXPECT_EQ(value("udp", "seen_ip"), var("udp", "cip"));
}

TEST_F(InlineOutcome, PingOfTheVipIsAnswered) { EXPECT_EQ(value("icmp", "received"), "3"); }

TEST_F(InlineOutcome, DownloadSha256MatchesThePattern) {
    ASSERT_FALSE(value("download", "expected_sha256").empty()) << run().scenario("download")->outcome.error;
    EXPECT_EQ(value("download", "size"), "10485760");
    EXPECT_EQ(value("download", "sha256"), value("download", "expected_sha256"));
}

TEST_F(InlineOutcome, UploadReachesTheServerIntact) {
    ASSERT_FALSE(value("upload", "file_sha256").empty()) << run().scenario("upload")->outcome.error;
    EXPECT_EQ(value("upload", "upload_length"), value("upload", "file_length"));
    EXPECT_EQ(value("upload", "upload_sha256"), value("upload", "file_sha256"));
}

TEST_F(InlineOutcome, EveryScenarioRanAndTheLabCameDown) {
    EXPECT_EQ(run().error, "");
    for (const char* s : {"http", "udp", "icmp", "download", "upload"}) {
        auto* sr = run().scenario(s);
        ASSERT_NE(sr, nullptr) << s << " did not run";
        EXPECT_TRUE(sr->outcome.ok) << s << ": " << sr->outcome.error;
        EXPECT_TRUE(sr->problems.empty()) << s << ": " << sr->problems.front();
    }
    EXPECT_FALSE(std::filesystem::exists(lab::Paths::discover().state_dir(run().lab)))
        << "lab state left behind";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec))
        EXPECT_NE(e.path().filename().string().rfind(run().lab + "-", 0), 0u)
            << "namespace left behind: " << e.path();
}

}  // namespace

int main(int argc, char** argv) { return conformance::run_all(argc, argv, "inline"); }
