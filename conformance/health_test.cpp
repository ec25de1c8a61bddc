// Health-check conformance: the health suite once (lab/src/lablib/health.cpp: in each
// mode's own lab, server1 killed, cut off and made to answer 500 while a client makes a
// new connection every 50 ms, the engine's backend table polled every 50 ms; in the
// inline lab also every server at once), then one test per mode and case asserting its
// checks: detection and recovery within their limits, no failed or misdirected request
// after detection, the echo VIP's TCP check following the right faults, the all-down
// RST. A mode the machine cannot run is a SKIP with its reason. The report lands in
// reports/conformance/health/ (health.html, results.json, junit.xml).
#include "lab_fixture.hpp"

#include "lablib/health.hpp"
#include "lablib/lab.hpp"
#include "lablib/modes.hpp"
#include "lablib/util.hpp"

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>

namespace {

std::unique_ptr<lab::HealthRun> g_run;
std::string g_lab_prefix;

// The modes this machine can run, each with its skip reason ("" when it can).
const std::map<std::string, std::string>& skip_reasons() {
    static const std::map<std::string, std::string> reasons = [] {
        std::map<std::string, std::string> r;
        for (const auto& m : lab::all_modes()) r[m.name] = conformance::skip_reason_for(m.name);
        return r;
    }();
    return reasons;
}

bool any_runnable() {
    for (const auto& [mode, reason] : skip_reasons())
        if (reason.empty()) return true;
    return false;
}

// Runs the suite once for the whole binary; each mode's lab is named ct<pid>.
class HealthEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        if (!any_runnable()) return;
        auto paths = lab::Paths::discover();
        conformance::reap_stale_labs(paths);
        lab::RunOptions opt;
        opt.suite = "health";
        opt.modes = "all";
        opt.out = paths.reports_dir() / "conformance" / "health";
        opt.name = "ct" + std::to_string(::getpid());
        g_lab_prefix = opt.name;
        try {
            auto res = lab::run_modes(paths, opt);
            if (res.health) g_run = std::make_unique<lab::HealthRun>(std::move(*res.health));
        } catch (const std::exception& e) {
            g_run = std::make_unique<lab::HealthRun>();
            lab::HealthModeRun m;
            m.mode = "all";
            m.error = e.what();
            g_run->modes.push_back(m);
        }
        lab::info("report: " + (opt.out / "health.html").string());
    }
};

const lab::HealthModeRun* mode_run(const std::string& mode) {
    if (!g_run) return nullptr;
    for (const auto& m : g_run->modes)
        if (m.mode == mode) return &m;
    return nullptr;
}

struct CaseParam {
    std::string mode;
    lab::HealthCaseSpec spec;
};

void PrintTo(const CaseParam& p, std::ostream* os) { *os << p.mode << " " << p.spec.name; }

std::vector<CaseParam> all_cases() {
    std::vector<CaseParam> out;
    for (const auto& m : lab::all_modes())
        for (const auto& c : lab::health_cases())
            if (c.runs_in(m.name)) out.push_back({m.name, c});
    return out;
}

std::string camel(const std::string& s) {
    std::string out;
    bool up = true;
    for (char ch : s) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) {
            up = true;
            continue;
        }
        out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
        up = false;
    }
    return out;
}

class HealthCase : public ::testing::TestWithParam<CaseParam> {
protected:
    void SetUp() override {
        const std::string& reason = skip_reasons().at(GetParam().mode);
        if (!reason.empty()) GTEST_SKIP() << reason;
        ASSERT_NE(g_run, nullptr) << "the health suite did not run";
        const lab::HealthModeRun* m = mode_run(GetParam().mode);
        ASSERT_NE(m, nullptr) << "mode " << GetParam().mode << " did not run"
                              << (g_run->modes.empty() ? "" : ": " + g_run->modes.front().error);
        if (m->skipped()) GTEST_SKIP() << m->skip_reason;
    }
};

TEST_P(HealthCase, MeetsItsExpectation) {
    const auto& p = GetParam();
    const lab::HealthModeRun* m = mode_run(p.mode);
    const lab::FaultCase* c = m->find(p.spec.name);
    ASSERT_NE(c, nullptr) << p.spec.name << " did not run in " << p.mode << (m->error.empty() ? "" : ": " + m->error);
    SCOPED_TRACE(p.mode + " " + p.spec.name + ": " + p.spec.expectation);
    EXPECT_EQ(c->error, "") << "commands:\n" << lab::join(c->commands, "\n");
    EXPECT_FALSE(c->checks.empty()) << "nothing was judged";
    for (const auto& k : c->checks)
        EXPECT_TRUE(k.ok) << k.name << ":\n  expected " << k.expected << "\n  measured " << k.actual;
    EXPECT_FALSE(c->requests.empty()) << "the request loop printed nothing";
}

INSTANTIATE_TEST_SUITE_P(Health, HealthCase, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<CaseParam>& info) {
                             return camel(info.param.mode) + "_" + info.param.spec.test_name;
                         });

TEST(HealthSuite, EveryRunnableModeRanAndItsLabCameDown) {
    if (!any_runnable()) GTEST_SKIP() << skip_reasons().begin()->second;
    ASSERT_NE(g_run, nullptr) << "the health suite did not run";
    for (const auto& m : g_run->modes) {
        EXPECT_EQ(m.error, "") << m.mode;
        if (m.skipped()) continue;
        EXPECT_FALSE(std::filesystem::exists(lab::Paths::discover().state_dir(m.lab))) << "lab state left: " << m.lab;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec))
            EXPECT_NE(e.path().filename().string().rfind(m.lab + "-", 0), 0u) << "namespace left behind: " << e.path();
    }
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    lab::install_interrupt_handlers();
    ::testing::AddGlobalTestEnvironment(new HealthEnvironment);
    return RUN_ALL_TESTS();
}
