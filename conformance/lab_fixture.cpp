#include "lab_fixture.hpp"

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
bool g_ran = false;

// features.sh prints `key=yes|no reason` per feature.
std::map<std::string, std::pair<bool, std::string>> probe_features(const lab::Paths& paths) {
    std::map<std::string, std::pair<bool, std::string>> out;
    auto script = paths.script("features.sh");
    if (!std::filesystem::exists(script)) return out;
    auto r = lab::run_command({"bash", script.string()}, std::chrono::seconds(60));
    for (const auto& line : lab::split(r.out, '\n')) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        auto rest = line.substr(eq + 1);
        auto sp = rest.find(' ');
        std::string verdict = rest.substr(0, sp);
        std::string why = sp == std::string::npos ? "" : rest.substr(sp + 1);
        out[line.substr(0, eq)] = {verdict == "yes", why};
    }
    return out;
}

std::string compute_skip_reason() {
    if (::geteuid() != 0) return "needs root (network namespaces, veths, bridges, TAPs)";
    auto paths = lab::Paths::discover();
    auto features = probe_features(paths);
    if (features.empty()) return "";  // no features.sh: let lab up say what is missing
    for (const char* f : {"netns", "veth", "bridge", "tun", "tcpdump", "ethtool"}) {
        auto it = features.find(f);
        if (it != features.end() && !it->second.first)
            return std::string("kernel feature or command '") + f + "' missing: " + it->second.second;
    }
    for (const char* cmd : {"tcpdump", "curl", "ping", "ip"})
        if (lab::find_on_path(cmd).empty()) return std::string("command '") + cmd + "' not found";
    return "";
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

}  // namespace

const std::string& skip_reason() {
    static const std::string reason = compute_skip_reason();
    return reason;
}

void ModeEnvironment::SetUp() {
    if (!skip_reason().empty()) return;
    g_ran = true;
    auto paths = lab::Paths::discover();
    reap_stale_labs(paths);
    lab::RunOptions opt;
    opt.modes = mode_;
    opt.out = paths.reports_dir();
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
    lab::install_interrupt_handlers();
    ::testing::AddGlobalTestEnvironment(new ModeEnvironment(mode));
    return RUN_ALL_TESTS();
}

}  // namespace conformance
