// HA against bad input and a split segment (issue 6, "Bad input"): the scenario of
// lab/src/lablib/ha_guard.cpp in one HA lab (proxy; VRRP does not depend on the mode).
// Malformed VRRP adverts from a third box are dropped and counted for their reason by both
// engines; valid adverts from a third RFC 5798 speaker at a higher priority are obeyed;
// a partition makes two masters and its healing one again, lb-a by priority, with the
// router's ARP entry back on lb-a. One test per check; a SKIP says why when the machine
// cannot run it. The results land in reports/conformance/ha/ha-guard.json.
#include "lab_fixture.hpp"

#include "lablib/ha_guard.hpp"
#include "lablib/util.hpp"

#include <unistd.h>

#include <optional>

namespace {

std::optional<lab::HaGuardRun> g_run;

class GuardEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        auto paths = lab::Paths::discover();
        conformance::reap_stale_labs(paths);
        if (!conformance::skip_reason_for("proxy").empty()) return;
        lab::HaGuardOptions opt;
        opt.name = "ct" + std::to_string(::getpid()) + "g";
        opt.out = paths.reports_dir() / "conformance" / "ha";
        g_run = lab::run_ha_guard(paths, opt);
        lab::info("ha guard: " + std::string(g_run->passed() ? "pass" : "FAIL") + ", partition -> lb-b master " +
                  std::to_string(g_run->split_master_ms) + " ms, heal -> one master " +
                  std::to_string(g_run->heal_resolved_ms) + " ms");
    }
};

class HaGuardCheck : public ::testing::TestWithParam<std::string> {};

TEST_P(HaGuardCheck, Holds) {
    std::string reason = conformance::skip_reason_for("proxy");
    if (!reason.empty()) GTEST_SKIP() << reason;
    ASSERT_TRUE(g_run.has_value()) << "the scenario did not run";
    if (g_run->skipped) GTEST_SKIP() << g_run->skip_reason;
    ASSERT_TRUE(g_run->error.empty()) << g_run->error;
    const lab::HaCheck* c = nullptr;
    for (const auto& k : g_run->checks)
        if (k.name == GetParam()) c = &k;
    ASSERT_NE(c, nullptr) << "no check named '" << GetParam() << "'";
    EXPECT_TRUE(c->ok) << GetParam() << "\n  expected: " << c->expected << "\n  actual:   " << c->actual;
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
    std::string out;
    bool up = true;
    for (char ch : info.param) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) {
            up = true;
            continue;
        }
        out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
        up = false;
    }
    return out.substr(0, 120);
}

INSTANTIATE_TEST_SUITE_P(HaGuard, HaGuardCheck, ::testing::ValuesIn(lab::ha_guard_check_names()), name_of);

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    lab::install_interrupt_handlers();
    ::testing::AddGlobalTestEnvironment(new GuardEnvironment);
    return RUN_ALL_TESTS();
}
