// lab_fixture.hpp: what every conformance binary shares. A gtest Environment runs one
// mode once (lab up, every scenario under capture, checks, report into the repository's
// reports/, lab down); the tests then read its results. Missing root, kernel features
// or commands make every test a SKIP with the reason.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lablib/modes.hpp"
#include "lablib/paths.hpp"
#include "lablib/run.hpp"

namespace conformance {

// Why this machine cannot run the binary's mode, or "" when it can: not root, a kernel
// feature (netns, veth, bridge, tun) or a command (tcpdump, ethtool, curl, ping)
// missing, or what the mode needs besides (nftables for dsr-l3-dscp; the kernel's ipip
// or lab_decap for dsr-l3-tunnel). Computed once (netns_scripts/features.sh probes the
// kernel).
const std::string& skip_reason();
// The same for any mode (computed on each call).
std::string skip_reason_for(const std::string& mode);

// Brings down labs named ct<pid> whose process is gone (a conformance run killed by
// ctest's timeout); nothing else is touched.
void reap_stale_labs(const lab::Paths& paths);

// Runs `mode` once for the whole binary, in a lab named ct<pid>, writing the report
// and pcaps to the repository's reports/conformance/<mode>/ (index.html, results.json,
// junit.xml, <mode>/<scenario>/*.pcap).
class ModeEnvironment : public ::testing::Environment {
public:
    explicit ModeEnvironment(std::string mode) : mode_(std::move(mode)) {}
    void SetUp() override;
    static const lab::ModeRun* result();  // null before SetUp or when skipped
    static const std::string& mode();     // the mode this binary runs

private:
    std::string mode_;
};

// Base fixture: skips with the reason, or makes sure the mode ran.
class LabTest : public ::testing::Test {
protected:
    void SetUp() override;
    const lab::ModeRun& run() const { return *ModeEnvironment::result(); }
    // The outcome value `key` of `scenario` ("" if missing).
    std::string value(const std::string& scenario, const std::string& key) const;
    std::string var(const std::string& scenario, const std::string& key) const;
    // The fact `name` measured in `scenario`, or null.
    const lab::Fact* fact(const std::string& scenario, const std::string& name) const;
    // The http server's answer names `address` (a Vars name: "cip", "proxy_ip") as
    // the client address it saw.
    void expect_server_saw(const std::string& address) const;
    // The http reply did (inline, proxy) or did not (DSR) reach an LB port, measured
    // from the captures; either way the server's reply was captured leaving it.
    void expect_reply_crosses_lb(bool crosses) const;
};

// TEST_P base over a mode's check table.
class CheckTableTest : public ::testing::TestWithParam<lab::CheckCase> {
protected:
    void SetUp() override;
    // Fails field by field (expected vs actual), then with the decoded packet.
    void expect_passed(const lab::CheckCase& c);
};

// The check table of a mode, for INSTANTIATE_TEST_SUITE_P, and the test name of a row.
std::vector<lab::CheckCase> table(const std::string& mode);
std::string row_name(const ::testing::TestParamInfo<lab::CheckCase>& info);

// main(): interrupt handlers (SIGINT/SIGTERM still bring the lab down), the
// environment, RUN_ALL_TESTS.
int run_all(int argc, char** argv, const std::string& mode);

}  // namespace conformance
