// control.hpp: talking to a lab's running programs: the engine through lbctl and its
// control socket (topology.toml names it per lb node), and lab_server through the
// unix control socket `lab up` gives every server (docs/lab.md, "State directory").
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "lablib/paths.hpp"
#include "lablib/process.hpp"
#include "lablib/topology.hpp"

namespace lab {

// The lab's topology, for commands that act on a running lab. Throws Error when the
// lab does not exist (listing those that do) or has no topology.toml yet.
Topology running_topology(const Paths& paths, const std::string& lab);

// The node named `node` with role `role` ("lb", "server"). Throws Error naming the
// nodes of that role when there is no such node or it has another role.
const Node& node_with_role(const Topology& t, const std::string& node, const std::string& role);

// The control socket of an lb node: its `control_socket` in topology.toml, else
// STATE/<node>.sock.
std::string engine_socket(const Paths& paths, const Topology& t, const Node& lb);

// Where `lab up` puts the control socket of a server node's lab_server:
// STATE/<node>.ctl (lab_server --control).
std::filesystem::path server_control_socket(const Paths& paths, const std::string& lab,
                                            const std::string& node);

// lbctl --socket SOCKET ARGS...
std::vector<std::string> lbctl_argv(const Paths& paths, const std::string& socket,
                                    const std::vector<std::string>& args);

// Runs lbctl ARGS against `socket` (stdout captured; exit 0 for "ok..." answers).
CommandResult lbctl(const Paths& paths, const std::string& socket, const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Sends one line to a unix stream socket and returns the first answer line (without
// its newline). Throws Error naming the socket when it cannot connect or no answer
// line arrives within `timeout`.
std::string unix_request(const std::filesystem::path& socket, const std::string& line,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Sends one line to a unix stream socket and returns everything it answers up to the
// moment it closes the connection (lbd's control socket answers one command so; the
// line is the one lbctl sends: its words, with `json` for --json). Throws Error naming
// the socket when it cannot connect or the answer does not end within `timeout`.
std::string unix_request_all(const std::filesystem::path& socket, const std::string& line,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5));

// `delay MS` to the lab_server of server node `node` (0 stops the delay). Throws Error
// for an unknown node, a node that is no server, a missing socket or an error answer.
void set_server_delay(const Paths& paths, const std::string& lab, const std::string& node, int ms);

// `status CODE` to the lab_server of server node `node`: GET / and GET /health answer
// CODE (200..599; 200 restores). Throws Error as set_server_delay does.
void set_server_status(const Paths& paths, const std::string& lab, const std::string& node, int code);

}  // namespace lab
