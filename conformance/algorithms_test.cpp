// Scheduling-algorithms conformance: one inline lab, the algorithms suite once
// (lab/src/lablib/algorithms.cpp: real clients, the engine set up at runtime with
// lbctl and lab_server delays), then one test per case asserting its expectation,
// expected vs measured per distribution. The report lands in
// reports/conformance/algorithms/ (algorithms.html, results.json, junit.xml).
#include "lab_fixture.hpp"

#include "lablib/algorithms.hpp"
#include "lablib/lab.hpp"
#include "lablib/util.hpp"

#include <unistd.h>

#include <filesystem>
#include <memory>

namespace {

std::unique_ptr<lab::AlgoRun> g_run;

const std::string& skip_reason() {
    static const std::string reason = conformance::skip_reason_for("inline");
    return reason;
}

// Runs the suite once for the whole binary, in a lab named ct<pid>.
class AlgorithmsEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        if (!skip_reason().empty()) return;
        auto paths = lab::Paths::discover();
        conformance::reap_stale_labs(paths);
        lab::RunOptions opt;
        opt.suite = "algorithms";
        opt.out = paths.reports_dir() / "conformance" / "algorithms";
        opt.name = "ct" + std::to_string(::getpid());
        try {
            auto res = lab::run_modes(paths, opt);
            if (res.algorithms) g_run = std::make_unique<lab::AlgoRun>(std::move(*res.algorithms));
        } catch (const std::exception& e) {
            g_run = std::make_unique<lab::AlgoRun>();
            g_run->error = e.what();
        }
        lab::info("report: " + (opt.out / "algorithms.html").string());
    }
};

class SuiteTest {
protected:
    static void skip_or_require_run() {
        if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
        ASSERT_NE(g_run, nullptr) << "the algorithms suite did not run";
        if (g_run->skipped()) GTEST_SKIP() << g_run->skip_reason;
    }
};

class Algorithm : public ::testing::TestWithParam<lab::AlgoSpec>, protected SuiteTest {
protected:
    void SetUp() override { skip_or_require_run(); }
};

TEST_P(Algorithm, MeetsItsExpectation) {
    const lab::AlgoSpec& spec = GetParam();
    const lab::AlgoCase* c = g_run->find(spec.name);
    ASSERT_NE(c, nullptr) << spec.name << " did not run" << (g_run->error.empty() ? "" : ": " + g_run->error);
    SCOPED_TRACE(spec.name + ": " + spec.expectation);
    EXPECT_EQ(c->error, "") << "commands:\n" << lab::join(c->commands, "\n");
    EXPECT_FALSE(c->checks.empty()) << "nothing was measured";
    for (const auto& k : c->checks)
        EXPECT_TRUE(k.ok) << k.name << ":\n  expected " << k.expected << "\n  measured " << k.actual;
}

INSTANTIATE_TEST_SUITE_P(Algorithms, Algorithm, ::testing::ValuesIn(lab::algorithm_cases()),
                         [](const ::testing::TestParamInfo<lab::AlgoSpec>& info) { return info.param.test_name; });

class Suite : public ::testing::Test, protected SuiteTest {
protected:
    void SetUp() override { skip_or_require_run(); }
};

TEST_F(Suite, EveryCaseRanAndTheLabCameDown) {
    EXPECT_EQ(g_run->error, "");
    EXPECT_EQ(g_run->cases.size(), lab::algorithm_cases().size());
    EXPECT_FALSE(std::filesystem::exists(lab::Paths::discover().state_dir(g_run->lab))) << "lab state left behind";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec))
        EXPECT_NE(e.path().filename().string().rfind(g_run->lab + "-", 0), 0u) << "namespace left behind: " << e.path();
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    lab::install_interrupt_handlers();
    ::testing::AddGlobalTestEnvironment(new AlgorithmsEnvironment);
    return RUN_ALL_TESTS();
}
