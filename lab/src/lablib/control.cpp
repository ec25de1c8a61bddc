#include "lablib/control.hpp"

#include "lablib/lab.hpp"
#include "lablib/util.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;

Topology running_topology(const Paths& paths, const std::string& lab) {
    if (!valid_lab_name(lab)) throw Error("invalid lab name '" + lab + "'");
    if (!lab_exists(paths, lab)) {
        auto labs = list_labs(paths);
        throw Error("lab " + lab + " does not exist" +
                    (labs.empty() ? std::string(" (no labs found)") : " (labs found: " + join(labs, ", ") + ")"));
    }
    auto file = paths.topology(lab);
    if (!fs::exists(file)) throw Error("lab " + lab + " has no topology.toml yet (is it still coming up?)");
    return Topology::load(file);
}

const Node& node_with_role(const Topology& t, const std::string& node, const std::string& role) {
    std::vector<std::string> names;
    for (const Node* n : t.with_role(role)) names.push_back(n->name);
    std::string known = names.empty() ? "it has none" : role + " nodes: " + join(names, ", ");
    const Node* n = t.node(node);
    if (!n) throw Error("lab " + t.lab + " has no node '" + node + "' (" + known + ")");
    if (n->role != role)
        throw Error("node " + node + " of lab " + t.lab + " has role " + (n->role.empty() ? "(none)" : n->role) +
                    ", not " + role + " (" + known + ")");
    return *n;
}

std::string engine_socket(const Paths& paths, const Topology& t, const Node& lb) {
    if (!lb.control_socket.empty()) return lb.control_socket;
    return (paths.state_dir(t.lab) / (lb.name + ".sock")).string();
}

fs::path server_control_socket(const Paths& paths, const std::string& lab, const std::string& node) {
    return paths.state_dir(lab) / (node + ".ctl");
}

std::vector<std::string> lbctl_argv(const Paths& paths, const std::string& socket,
                                    const std::vector<std::string>& args) {
    std::vector<std::string> argv{paths.tool("lbctl").string(), "--socket", socket};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

CommandResult lbctl(const Paths& paths, const std::string& socket, const std::vector<std::string>& args,
                    milliseconds timeout) {
    return run_command(lbctl_argv(paths, socket, args), timeout);
}

namespace {

// How far a unix_exchange reads the answer.
enum class ReadUntil { FirstNewline, Close };

// Connects to `socket`, sends `line` and a newline, and reads the answer within
// `timeout`: up to its first newline (the rest, if any, is returned too; a read error
// ends the answer as closing does) or until the peer closes the connection (a read
// error throws). Throws Error naming the socket.
std::string unix_exchange(const fs::path& socket, const std::string& line, milliseconds timeout, ReadUntil until) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket.string().size() >= sizeof addr.sun_path) throw Error("socket path too long: " + socket.string());
    std::strcpy(addr.sun_path, socket.c_str());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error(std::string("socket: ") + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int e = errno;
        throw Error("cannot connect to " + socket.string() + ": " + std::strerror(e) +
                    (e == ENOENT || e == ECONNREFUSED ? " (is the program running?)" : ""));
    }
    std::string out = line + "\n";
    for (size_t sent = 0; sent < out.size();) {
        ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error("write to " + socket.string() + ": " + std::strerror(errno));
        sent += static_cast<size_t>(n);
    }
    const bool to_close = until == ReadUntil::Close;
    std::string answer;
    auto deadline = steady_clock::now() + timeout;
    // A whole answer (a table of backends as JSON) can be long; a first line is short.
    char buf[65536];
    const size_t want = to_close ? sizeof buf : 4096;
    while (to_close || answer.find('\n') == std::string::npos) {
        check_interrupted();
        auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
        if (left <= 0)
            throw Error((to_close ? "no whole answer from " : "no answer from ") + socket.string() + " within " +
                        std::to_string(timeout.count()) + " ms");
        pollfd p{fd, POLLIN, 0};
        int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 200)));
        if (rc < 0 && errno != EINTR) throw Error(std::string("poll: ") + std::strerror(errno));
        if (rc <= 0) continue;
        ssize_t n = ::read(fd, buf, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && to_close) throw Error("read from " + socket.string() + ": " + std::strerror(errno));
        if (n <= 0) break;
        answer.append(buf, static_cast<size_t>(n));
    }
    return answer;
}

}  // namespace

std::string unix_request(const fs::path& socket, const std::string& line, milliseconds timeout) {
    std::string answer = unix_exchange(socket, line, timeout, ReadUntil::FirstNewline);
    auto nl = answer.find('\n');
    if (nl == std::string::npos && answer.empty())
        throw Error(socket.string() + " closed the connection without an answer");
    return trim(answer.substr(0, nl));
}

namespace {

// One command to a server's lab_server control socket; "ok" or Error.
void server_command(const Paths& paths, const std::string& lab, const std::string& node, const std::string& line) {
    auto t = running_topology(paths, lab);
    node_with_role(t, node, "server");
    auto sock = server_control_socket(paths, lab, node);
    if (!fs::exists(sock))
        throw Error("lab_server of " + node + " has no control socket " + sock.string() +
                    " (it is started with --control there by `lab up`; is it running? lab fault " + node +
                    " start-server)");
    auto answer = unix_request(sock, line);
    if (answer != "ok") throw Error("lab_server of " + node + " refused `" + line + "`: " + answer);
}

}  // namespace

void set_server_delay(const Paths& paths, const std::string& lab, const std::string& node, int ms) {
    if (ms < 0) throw Error("the delay must be 0 or more milliseconds");
    server_command(paths, lab, node, "delay " + std::to_string(ms));
}

void set_server_status(const Paths& paths, const std::string& lab, const std::string& node, int code) {
    if (code < 200 || code > 599) throw Error("the status must be 200..599");
    server_command(paths, lab, node, "status " + std::to_string(code));
}

std::string unix_request_all(const fs::path& socket, const std::string& line, milliseconds timeout) {
    return unix_exchange(socket, line, timeout, ReadUntil::Close);
}

}  // namespace lab
