// Running and stopping processes: timeouts, exit codes, the manifest line written
// before a detached program runs, stopping by pid.
#include "frames.hpp"
#include "lablib/manifest.hpp"
#include "lablib/process.hpp"
#include "lablib/util.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

using namespace lab;
using namespace std::chrono;

TEST(RunCommand, CapturesOutputAndExitCode) {
    auto r = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"}, seconds(5));
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.out, "out\n");
    EXPECT_EQ(r.err, "err\n");
    EXPECT_NE(r.describe().find("exited 3: err"), std::string::npos) << r.describe();
}

TEST(RunCommand, KillsTheWholeGroupAtTheTimeout) {
    auto t0 = steady_clock::now();
    // The shell's child holds stdout too: only a group kill ends both.
    auto r = run_command({"sh", "-c", "sleep 30 & sleep 30"}, milliseconds(300));
    EXPECT_TRUE(r.timed_out);
    EXPECT_FALSE(r.ok());
    EXPECT_LT(steady_clock::now() - t0, seconds(5));
}

TEST(RunCommand, MissingProgramIs127) {
    auto r = run_command({"no-such-program-lblab"}, seconds(1));
    EXPECT_EQ(r.exit_code, 127);
}

TEST(SpawnDetached, RecordsThePidBeforeRunningAndStopsByPid) {
    labtest::TempDir dir;
    auto manifest = dir.path / "manifest";
    std::ofstream(manifest).close();
    auto marker = dir.path / "ran";
    // The program checks that its own pid is already in the manifest.
    std::string script = "grep -q \"^pid $$ \" " + manifest.string() + " && touch " + marker.string() +
                         "; echo started; exec sleep 30";
    auto p = spawn_detached({"sh", "-c", script}, dir.path / "x.log", manifest, "test.sleep");
    ASSERT_GT(p.pid, 0);
    auto m = Manifest::load(manifest);
    ASSERT_EQ(m.procs.size(), 1u);
    EXPECT_EQ(m.procs[0].pid, p.pid);
    EXPECT_EQ(m.procs[0].start_time, p.start_time);
    EXPECT_EQ(m.procs[0].label, "test.sleep");
    for (int i = 0; i < 200 && !std::filesystem::exists(marker); ++i) sleep_for(milliseconds(10));
    EXPECT_TRUE(std::filesystem::exists(marker)) << "the program ran before its manifest line existed";
    EXPECT_TRUE(proc_alive(p));
    EXPECT_EQ(::getsid(p.pid), p.pid) << "not in its own session";
    EXPECT_TRUE(stop_process(p, SIGTERM, seconds(3)));
    EXPECT_FALSE(proc_alive(p));
    EXPECT_NE(read_file(dir.path / "x.log").find("started"), std::string::npos);
}

TEST(SpawnDetached, RefusesWithoutAManifest) {
    labtest::TempDir dir;
    EXPECT_THROW(spawn_detached({"true"}, dir.path / "x.log", dir.path / "none", "t"), Error);
}

TEST(ProcAlive, ARecycledPidIsNotOurs) {
    auto st = proc_start_time(::getpid());
    ASSERT_TRUE(st.has_value());
    EXPECT_TRUE(proc_alive(::getpid(), *st));
    EXPECT_FALSE(proc_alive(::getpid(), *st + 1));
}
