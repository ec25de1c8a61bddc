// The client side of every scenario: each runs one real client program in client1
// and reads what the server answered. Nothing here knows about captures or checks.
#include "lablib/lab.hpp"
#include "lablib/scenario.hpp"
#include "lablib/util.hpp"

#include <unistd.h>

#include <filesystem>
#include <regex>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr auto kShort = seconds(20);
constexpr auto kBulk = seconds(120);

std::string bounded(const std::string& s, size_t n = 2000) {
    return s.size() <= n ? s : s.substr(0, n) + "... (" + std::to_string(s.size()) + " bytes)";
}

// Runs argv in the client's namespace; records the command for the report.
CommandResult client_run(const ScenarioContext& c, ScenarioOutcome& out,
                         const std::vector<std::string>& argv, milliseconds timeout) {
    out.commands.push_back(c.client.name + "$ " + shell_join(argv));
    return run_command(in_netns(c.client.netns, argv), timeout);
}

// `lab_client udp VIP PORT --message MESSAGE [more...]` from a source port chosen here
// (base + pid % 2000), so the checks know the client's port even when the server sees
// another one (proxy). Sets cport and exit_code.
CommandResult udp_client_run(const ScenarioContext& c, ScenarioOutcome& out, int base, const std::string& port,
                             const std::string& message, const std::vector<std::string>& more = {}) {
    const std::string cport = std::to_string(base + ::getpid() % 2000);
    out.values["cport"] = cport;
    std::vector<std::string> argv{c.paths.tool("lab_client").string(), "udp", c.topo.vip, port, "--message",
                                  message, "--source-port", cport};
    argv.insert(argv.end(), more.begin(), more.end());
    auto r = client_run(c, out, argv, kShort);
    out.values["exit_code"] = std::to_string(r.exit_code);
    return r;
}

// "<local_ip> <local_port> <http_code> [more...]" written by curl -w.
bool parse_write_out(const std::string& line, ScenarioOutcome& out) {
    auto w = split_ws(line);
    if (w.size() < 3) return false;
    out.values["client_ip"] = w[0];
    out.values["cport"] = w[1];
    out.values["http_code"] = w[2];
    return true;
}

std::string fail_text(const CommandResult& r) {
    return r.describe();
}

}  // namespace

ScenarioSpec http_scenario() {
    ScenarioSpec s;
    s.name = "http";
    s.title = "HTTP GET / from client1: the body names the server and the client address it saw";
    s.run = [](const ScenarioContext& c) {
        ScenarioOutcome out;
        auto r = client_run(c, out,
                            {"curl", "-s", "--max-time", "10", "-w",
                             "\n%{local_ip} %{local_port} %{http_code}\n",
                             "http://" + c.topo.vip + "/"},
                            kShort);
        out.output = bounded(trim(r.out));
        out.values["exit_code"] = std::to_string(r.exit_code);
        auto lines = split(trim(r.out), '\n');
        if (!r.ok()) {
            out.error = fail_text(r);
            return out;
        }
        if (lines.size() < 2 || !parse_write_out(lines.back(), out)) {
            out.error = "unexpected curl output: " + bounded(r.out, 200);
            return out;
        }
        if (!parse_server_answer(lines.front(), out.values)) {
            out.error = "the body is not `serverN IP:PORT`: " + bounded(lines.front(), 200);
            return out;
        }
        out.ok = out.values["http_code"] == "200";
        if (!out.ok) out.error = "HTTP status " + out.values["http_code"];
        return out;
    };
    return s;
}

ScenarioSpec udp_scenario() {
    ScenarioSpec s;
    s.name = "udp";
    s.title = "UDP echo from client1 (lab_client udp VIP 80 --message hello, from a chosen source port)";
    s.run = [](const ScenarioContext& c) {
        ScenarioOutcome out;
        auto r = udp_client_run(c, out, 33000, "80", "hello");
        out.output = bounded(trim(r.out));
        if (!r.ok()) {
            out.error = fail_text(r);
            return out;
        }
        for (const auto& line : split(trim(r.out), '\n')) {
            std::string rest;
            if (parse_server_answer(line, out.values, &rest)) {
                out.values["echo"] = rest;
                out.ok = rest == "hello";
                if (!out.ok) out.error = "the echo carries '" + rest + "', not 'hello'";
                return out;
            }
        }
        out.error = "no `serverN IP:PORT hello` line in the answer: " + bounded(r.out, 200);
        return out;
    };
    return s;
}

ScenarioSpec unreachable_scenario() {
    ScenarioSpec s;
    s.name = "unreachable";
    s.title = "UDP to VIP:9, where no server listens: the server's ICMP port unreachable must reach client1 "
              "translated (lab_client udp VIP 9: its connected socket reports ECONNREFUSED)";
    s.run = [](const ScenarioContext& c) {
        ScenarioOutcome out;
        auto r = udp_client_run(c, out, 35000, "9", "anyone?", {"--timeout-ms", "3000"});
        out.output = bounded(trim(r.out + "\n" + r.err));
        const bool refused = (r.out + r.err).find("Connection refused") != std::string::npos;
        out.values["refused"] = refused ? "yes" : "no";
        out.ok = r.exit_code == 1 && refused;
        if (!out.ok)
            out.error = r.ok() ? "something answered on VIP:9" : "no ECONNREFUSED: " + fail_text(r);
        return out;
    };
    return s;
}

ScenarioSpec client_gone_scenario() {
    ScenarioSpec s;
    s.name = "client-gone";
    s.title = "UDP to VIP:80 from a port no socket holds (lab_client udp --from-closed-port): client1's "
              "ICMP port unreachable about the echo must reach the server translated";
    s.run = [](const ScenarioContext& c) {
        ScenarioOutcome out;
        auto r = udp_client_run(c, out, 37000, "80", "bye", {"--from-closed-port"});
        out.output = bounded(trim(r.out + "\n" + r.err));
        out.ok = r.ok();
        if (!out.ok) out.error = fail_text(r);
        return out;
    };
    return s;
}

ScenarioSpec icmp_scenario() {
    ScenarioSpec s;
    s.name = "icmp";
    s.title = "ping -c 3 the VIP from client1: the engine answers itself";
    s.run = [](const ScenarioContext& c) {
        ScenarioOutcome out;
        auto r = client_run(c, out, {"ping", "-c", "3", "-W", "1", c.topo.vip}, kShort);
        out.output = bounded(trim(r.out));
        out.values["exit_code"] = std::to_string(r.exit_code);
        static const std::regex re(R"(([0-9]+) packets transmitted, ([0-9]+) (packets )?received)");
        std::smatch m;
        if (std::regex_search(r.out, m, re)) {
            out.values["transmitted"] = m[1];
            out.values["received"] = m[2];
        }
        if (r.exit_code == 127) {
            out.error = fail_text(r);
            return out;
        }
        out.ok = r.ok() && out.values["received"] == "3";
        if (!out.ok) out.error = fail_text(r);
        return out;
    };
    return s;
}

ScenarioSpec download_scenario(uint64_t bytes) {
    ScenarioSpec s;
    s.name = "download";
    s.title = "GET /bytes/" + std::to_string(bytes) + " (" + std::to_string(bytes >> 20) +
              " MiB) from client1; SHA-256 against lab_client pattern-sha256";
    s.bulk = true;
    s.run = [bytes](const ScenarioContext& c) {
        ScenarioOutcome out;
        auto client = c.paths.tool("lab_client").string();
        std::vector<std::string> want_cmd{client, "pattern-sha256", std::to_string(bytes)};
        out.commands.push_back(shell_join(want_cmd));
        auto want = run_command(want_cmd, kShort);
        if (!want.ok() || split_ws(want.out).empty()) {
            out.error = fail_text(want);
            return out;
        }
        out.values["expected_sha256"] = split_ws(want.out).front();
        fs::path file = c.scratch / "download.bin";
        std::error_code ec;
        fs::remove(file, ec);
        auto r = client_run(c, out,
                            {"curl", "-s", "--max-time", "100", "-o", file.string(), "-w",
                             "%{local_ip} %{local_port} %{http_code} %{size_download} "
                             "%header{x-server}\n",
                             "http://" + c.topo.vip + "/bytes/" + std::to_string(bytes)},
                            kBulk);
        out.output = bounded(trim(r.out));
        out.values["exit_code"] = std::to_string(r.exit_code);
        auto w = split_ws(r.out);
        if (w.size() >= 4) {
            parse_write_out(r.out, out);
            out.values["size"] = w[3];
            if (w.size() >= 5) out.values["server"] = w[4];
        }
        if (fs::exists(file)) {
            out.values["sha256"] = sha256_file(file);
            fs::remove(file, ec);
        }
        if (!r.ok()) {
            out.error = fail_text(r);
            return out;
        }
        out.ok = out.values["http_code"] == "200" &&
                 out.values["sha256"] == out.values["expected_sha256"];
        if (!out.ok)
            out.error = out.values["http_code"] != "200"
                            ? "HTTP status " + out.values["http_code"]
                            : "SHA-256 of the body differs from the pattern's";
        return out;
    };
    return s;
}

ScenarioSpec upload_scenario(uint64_t bytes) {
    ScenarioSpec s;
    s.name = "upload";
    s.title = "POST /upload of " + std::to_string(bytes >> 20) +
              " MiB from client1; the server's length and SHA-256 must match the file's";
    s.bulk = true;
    s.run = [bytes](const ScenarioContext& c) {
        ScenarioOutcome out;
        auto client = c.paths.tool("lab_client").string();
        fs::path file = c.scratch / "upload.bin";
        std::vector<std::string> make{client, "make-file", file.string(), std::to_string(bytes)};
        out.commands.push_back(shell_join(make));
        auto mk = run_command(make, kShort);
        if (!mk.ok() || !fs::exists(file)) {
            out.error = fail_text(mk);
            return out;
        }
        out.values["file_sha256"] = sha256_file(file);
        out.values["file_length"] = std::to_string(fs::file_size(file));
        auto r = client_run(c, out,
                            {"curl", "-s", "--max-time", "100", "-H", "Expect:", "-H",
                             "Content-Type: application/octet-stream", "--data-binary",
                             "@" + file.string(), "-w", "\n%{local_ip} %{local_port} %{http_code}\n",
                             "http://" + c.topo.vip + "/upload"},
                            kBulk);
        std::error_code ec;
        fs::remove(file, ec);
        out.output = bounded(trim(r.out));
        out.values["exit_code"] = std::to_string(r.exit_code);
        if (!r.ok()) {
            out.error = fail_text(r);
            return out;
        }
        auto lines = split(trim(r.out), '\n');
        if (lines.size() < 2 || !parse_write_out(lines.back(), out)) {
            out.error = "unexpected curl output: " + bounded(r.out, 200);
            return out;
        }
        auto w = split_ws(lines.front());
        if (w.size() != 3) {
            out.error = "the answer is not `serverN LENGTH SHA256`: " + bounded(lines.front(), 200);
            return out;
        }
        out.values["server"] = w[0];
        out.values["upload_length"] = w[1];
        out.values["upload_sha256"] = w[2];
        out.ok = out.values["http_code"] == "200" && w[1] == out.values["file_length"] &&
                 w[2] == out.values["file_sha256"];
        if (!out.ok)
            out.error = out.values["http_code"] != "200" ? "HTTP status " + out.values["http_code"]
                                                          : "the server got other bytes than sent";
        return out;
    };
    return s;
}

}  // namespace lab
