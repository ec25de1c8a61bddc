// What every mode must deliver to its clients, whatever it does to the headers: the UDP
// echo, the ping, both 10 MiB transfers intact, every scenario run and the lab gone
// afterwards. Compiled into every conformance_<mode> binary.
#include "lab_fixture.hpp"

#include "lablib/paths.hpp"

#include <filesystem>

namespace {

using conformance::LabTest;

class Scenarios : public LabTest {};

TEST_F(Scenarios, UdpEchoComesBack) { EXPECT_EQ(value("udp", "echo"), "hello") << run().scenario("udp")->outcome.error; }

TEST_F(Scenarios, PingOfTheVipIsAnswered) { EXPECT_EQ(value("icmp", "received"), "3"); }

TEST_F(Scenarios, DownloadSha256MatchesThePattern) {
    ASSERT_FALSE(value("download", "expected_sha256").empty()) << run().scenario("download")->outcome.error;
    EXPECT_EQ(value("download", "size"), "10485760");
    EXPECT_EQ(value("download", "sha256"), value("download", "expected_sha256"));
}

TEST_F(Scenarios, UploadReachesTheServerIntact) {
    ASSERT_FALSE(value("upload", "file_sha256").empty()) << run().scenario("upload")->outcome.error;
    EXPECT_EQ(value("upload", "upload_length"), value("upload", "file_length"))
        << run().scenario("upload")->outcome.error;
    EXPECT_EQ(value("upload", "upload_sha256"), value("upload", "file_sha256"));
}

TEST_F(Scenarios, EveryScenarioRanAndTheLabCameDown) {
    EXPECT_EQ(run().error, "");
    for (const char* s : {"http", "udp", "icmp", "download", "upload"}) {
        auto* sr = run().scenario(s);
        ASSERT_NE(sr, nullptr) << s << " did not run";
        EXPECT_TRUE(sr->outcome.ok) << s << ": " << sr->outcome.error;
        EXPECT_TRUE(sr->problems.empty()) << s << ": " << sr->problems.front();
    }
    EXPECT_FALSE(std::filesystem::exists(lab::Paths::discover().state_dir(run().lab))) << "lab state left behind";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec))
        EXPECT_NE(e.path().filename().string().rfind(run().lab + "-", 0), 0u)
            << "namespace left behind: " << e.path();
}

}  // namespace
