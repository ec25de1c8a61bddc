#include "lab_fixture.hpp"

#include "lablib/features.hpp"
#include "lablib/lab.hpp"
#include "lablib/paths.hpp"
#include "lablib/process.hpp"
#include "lablib/util.hpp"

#include <unistd.h>

#include <map>
#include <memory>

namespace conformance {

namespace {

std::unique_ptr<lab::ModeRun> g_result;
std::string g_mode;

}  // namespace

std::string skip_reason_for(const std::string& mode_name) {
    auto paths = lab::Paths::discover();
    const auto& mode = lab::find_mode(mode_name);
    if (::geteuid() != 0) return lab::mode_skip_reason(paths, mode, {});
    return lab::mode_skip_reason(paths, mode, lab::probe_features(paths));
}

// Labs named ct<pid> whose process is gone were left by a conformance run that was
// killed (ctest's timeout sends SIGKILL): bring them down. Nothing else is touched.
void reap_stale_labs(const lab::Paths& paths) {
    for (const auto& name : lab::list_labs(paths)) {
        if (name.size() < 3 || name.rfind("ct", 0) != 0) continue;
        auto digits = name.substr(2);
        if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
        pid_t pid = static_cast<pid_t>(std::stol(digits));
        if (pid == ::getpid() || ::kill(pid, 0) == 0) continue;
        try {
            lab::info("removing lab " + name + " left by a conformance run that died: " +
                      lab::lab_down(paths, name));
        } catch (const std::exception& e) {
            lab::info(std::string("warning: ") + e.what());
        }
    }
}

const std::string& skip_reason() {
    static const std::string reason = skip_reason_for(g_mode);
    return reason;
}

void ModeEnvironment::SetUp() {
    if (!skip_reason().empty()) return;
    auto paths = lab::Paths::discover();
    reap_stale_labs(paths);
    lab::RunOptions opt;
    opt.modes = mode_;
    // Each binary's own report, so that running them one after another keeps every
    // mode's (reports/index.html is `lab run --mode all`'s comparison page).
    opt.out = paths.reports_dir() / "conformance" / mode_;
    opt.name = "ct" + std::to_string(::getpid());
    try {
        auto res = lab::run_modes(paths, opt);
        if (!res.modes.empty()) g_result = std::make_unique<lab::ModeRun>(std::move(res.modes.front()));
    } catch (const std::exception& e) {
        g_result = std::make_unique<lab::ModeRun>();
        g_result->mode = mode_;
        g_result->error = e.what();
    }
    if (g_result) lab::info("report: " + (opt.out / "index.html").string());
}

const lab::ModeRun* ModeEnvironment::result() { return g_result.get(); }

const std::string& ModeEnvironment::mode() { return g_mode; }

void LabTest::SetUp() {
    if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
    ASSERT_NE(ModeEnvironment::result(), nullptr) << "the mode did not run";
    if (run().skipped()) GTEST_SKIP() << run().skip_reason;
}

std::string LabTest::value(const std::string& scenario, const std::string& key) const {
    auto* s = run().scenario(scenario);
    if (!s) return {};
    auto it = s->outcome.values.find(key);
    return it == s->outcome.values.end() ? std::string() : it->second;
}

std::string LabTest::var(const std::string& scenario, const std::string& key) const {
    auto* s = run().scenario(scenario);
    if (!s) return {};
    auto it = s->vars.find(key);
    return it == s->vars.end() ? std::string() : it->second;
}

const lab::Fact* LabTest::fact(const std::string& scenario, const std::string& name) const {
    for (const auto& f : run().facts)
        if (f.scenario == scenario && f.name == name) return &f;
    return nullptr;
}

void LabTest::expect_server_saw(const std::string& address) const {
    ASSERT_NE(run().scenario("http"), nullptr) << "http did not run: " << run().error;
    ASSERT_FALSE(var("http", address).empty()) << "no value " << address;
    EXPECT_EQ(value("http", "seen_ip"), var("http", address))
        << "the server's answer: " << run().scenario("http")->outcome.output;
}

void LabTest::expect_reply_crosses_lb(bool crosses) const {
    const lab::Fact* f = fact("http", "reply crosses the LB");
    ASSERT_NE(f, nullptr) << "the fact was not measured: " << run().error;
    ASSERT_TRUE(f->numbers.count("reply_packets_to_lb")) << f->value;
    EXPECT_GT(f->numbers.at("reply_packets_from_server"), 0) << "no reply captured leaving the server: " << f->value;
    if (crosses)
        EXPECT_GT(f->numbers.at("reply_packets_to_lb"), 0) << f->value;
    else
        EXPECT_EQ(f->numbers.at("reply_packets_to_lb"), 0) << f->value;
}

void CheckTableTest::SetUp() {
    if (!skip_reason().empty()) GTEST_SKIP() << skip_reason();
    ASSERT_NE(ModeEnvironment::result(), nullptr) << "the mode did not run";
    if (ModeEnvironment::result()->skipped()) GTEST_SKIP() << ModeEnvironment::result()->skip_reason;
}

void CheckTableTest::expect_passed(const lab::CheckCase& c) {
    const lab::ModeRun& run = *ModeEnvironment::result();
    const lab::CheckResult* r = run.check(c.name);
    ASSERT_NE(r, nullptr) << c.name << " was not evaluated" << (run.error.empty() ? "" : ": " + run.error);
    SCOPED_TRACE(c.description);
    if (!r->error.empty()) ADD_FAILURE() << r->error;
    for (const auto& f : r->fields)
        EXPECT_TRUE(f.ok) << (r->hop.empty() ? "" : "hop " + r->hop + " ") << "at "
                          << (r->packet_point.empty() ? r->points : r->packet_point) << ", " << f.name
                          << ": expected " << f.expected << ", actual " << f.actual;
    if (!r->passed && r->packet)
        ADD_FAILURE() << "packet #" << r->packet->index << " at " << r->packet_point << ": "
                      << r->packet->summary() << "\n" << r->packet->hexdump();
    if (!r->passed && !HasFailure()) ADD_FAILURE() << r->report();
}

std::vector<lab::CheckCase> table(const std::string& mode) { return lab::find_mode(mode).checks(); }

std::string row_name(const ::testing::TestParamInfo<lab::CheckCase>& info) { return info.param.name; }

int run_all(int argc, char** argv, const std::string& mode) {
    ::testing::InitGoogleTest(&argc, argv);
    g_mode = mode;
    lab::install_interrupt_handlers();
    ::testing::AddGlobalTestEnvironment(new ModeEnvironment(mode));
    return RUN_ALL_TESTS();
}

}  // namespace conformance
