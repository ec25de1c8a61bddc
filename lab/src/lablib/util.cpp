#include "lablib/util.hpp"

#include <openssl/evp.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

namespace lab {

namespace {
std::atomic<bool> g_interrupted{false};
std::atomic<bool> g_verbose{false};

extern "C" void on_signal(int) { g_interrupted.store(true); }
}  // namespace

void install_interrupt_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocking call returns EINTR and we look at the flag
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
}

bool interrupted() { return g_interrupted.load(); }

void check_interrupted() {
    if (interrupted()) throw Interrupted();
}

void sleep_for(std::chrono::milliseconds d) {
    using namespace std::chrono;
    auto end = steady_clock::now() + d;
    while (steady_clock::now() < end) {
        check_interrupted();
        auto left = duration_cast<milliseconds>(end - steady_clock::now());
        std::this_thread::sleep_for(std::min(left, milliseconds(20)));
    }
    check_interrupted();
}

void set_verbose(bool on) { g_verbose.store(on); }
bool verbose() { return g_verbose.load(); }

void log(const std::string& line) {
    if (verbose()) std::cerr << "lab: " << line << std::endl;
}

void info(const std::string& line) { std::cerr << "lab: " << line << std::endl; }

std::string trim(std::string_view s) {
    const char* ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(ws);
    return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        auto pos = s.find(sep, start);
        if (pos == std::string_view::npos) {
            out.emplace_back(s.substr(start));
            return out;
        }
        out.emplace_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

std::vector<std::string> split_ws(std::string_view s) {
    std::vector<std::string> out;
    std::istringstream in{std::string(s)};
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += sep;
        out += parts[i];
    }
    return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string shell_join(const std::vector<std::string>& argv) {
    std::vector<std::string> words;
    for (const auto& a : argv) {
        bool plain = !a.empty() &&
                     a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789-_./:=@%+,") == std::string::npos;
        if (plain) {
            words.push_back(a);
        } else {
            std::string q = "'";
            for (char c : a) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
            words.push_back(q + "'");
        }
    }
    return join(words, " ");
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw Error("cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string tail_file(const std::filesystem::path& p, int lines) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    auto all = split(ss.str(), '\n');
    if (!all.empty() && all.back().empty()) all.pop_back();
    size_t from = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
    std::vector<std::string> last(all.begin() + static_cast<long>(from), all.end());
    return join(last, "\n");
}

void write_file(const std::filesystem::path& p, std::string_view content) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write " + p.string());
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw Error("cannot write " + p.string());
}

std::string sha256_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw Error("cannot read " + p.string());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
    std::vector<char> buf(1 << 16);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), md, &len);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool valid_lab_name(std::string_view name) {
    static const std::regex re("^[A-Za-z0-9][A-Za-z0-9-]{0,11}$");
    return std::regex_match(name.begin(), name.end(), re);
}

}  // namespace lab
