// fault.hpp: `lab fault`: break one server of a running lab and mend it again, the ways
// a health check has to notice (docs/lab.md, "Faults").
//
//   kill-server   SIGKILL to the server's lab_server (its pid as the manifest records it): a crash
//   start-server  lab_server started again exactly as `lab up` starts it (recorded in the manifest)
//   link-down     the bridge-side end of the server's veth (<node>-<if> in NAME-sw) set down: the
//                 server loses carrier but keeps its addresses and routes
//   link-up       that end set up again; waits for carrier, then checks the server's routes against
//                 those saved at link-down and puts back any that went with the link
//   http-500      the server's control socket: `status 500` (GET / and GET /health answer 500)
//   http-200      `status 200`
//   kill-engine   (lb nodes) SIGKILL to the node's lbd (its recorded pid): an engine crash; its
//                 stale control socket is removed
//   start-engine  (lb nodes) lbd started again exactly as `lab up` starts it (recorded); done once
//                 its control socket answers
//   partition     (lb nodes, HA labs) every lb's front TAP isolated on br-front (bridge port
//                 isolation): the lbs hear no advert or sync datagram of each other, while the
//                 router and the servers still reach both
//   heal          the isolation lifted
//
// Each is idempotent where that makes sense (kill-server on a stopped server, link-down on
// a cut link, http-500 twice: nothing changes, `changed` is false); start-server on a
// running server, and http-500/http-200 on a stopped one, are errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lablib/paths.hpp"
#include "lablib/process.hpp"
#include "lablib/topology.hpp"

namespace lab {

enum class FaultAction {
    kill_server, start_server, link_down, link_up, http_500, http_200, kill_engine, start_engine, partition, heal
};

struct FaultActionSpec {
    FaultAction action;
    std::string name;     // "kill-server"
    std::string summary;  // one line for --help and errors
};

// Every action, in the order above.
const std::vector<FaultActionSpec>& fault_actions();
// The action named `name`; Error naming every action otherwise.
FaultAction parse_fault_action(const std::string& name);
const std::string& fault_action_name(FaultAction a);

struct FaultResult {
    std::string node;
    std::string action;
    bool changed = true;      // false: it already was so, nothing was done
    std::int64_t at_ms = 0;   // wall_ms() once the change was in effect: the process gone, the link
                              // down, the status set, the restarted server listening, carrier back
    std::string message;      // one line: what was done
    std::vector<std::string> notes;  // details: routes checked or restored, the old pid, ...
};

// Applies `action` to node `node` of lab `lab` (a server; an lb node for kill-engine and
// start-engine). Throws Error for a lab that does
// not exist, an unknown node or one that is no server (naming the servers), and an action
// that makes no sense in the server's state (start-server while it runs).
FaultResult apply_fault(const Paths& paths, const std::string& lab, const std::string& node, FaultAction action);

// The lbd of lb node `node` that the manifest records and that still runs, or nullopt.
std::optional<Proc> running_lbd(const Paths& paths, const std::string& lab, const std::string& node);

// The lab_server of server `node` that the manifest records and that still runs (the
// latest such line), or nullopt.
std::optional<Proc> running_lab_server(const Paths& paths, const std::string& lab, const std::string& node);

// `ip route show` output as comparable lines: the `linkdown` and `dead` flags dropped,
// runs of spaces squeezed, empty lines skipped.
std::vector<std::string> normalize_routes(const std::string& ip_route_output);
// The lines of `before` that `now` lacks, in the order of `before`.
std::vector<std::string> missing_routes(const std::vector<std::string>& before, const std::vector<std::string>& now);

}  // namespace lab
