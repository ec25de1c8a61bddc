#include "http.hpp"

#include <time.h>

#include <algorithm>
#include <cctype>

namespace lab::srv::http {
namespace {

bool is_tchar(unsigned char c) {
  // RFC 9110 token characters.
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Splits a comma-separated header list into trimmed, non-empty elements.
std::vector<std::string_view> split_list(std::string_view v) {
  std::vector<std::string_view> out;
  while (true) {
    const auto comma = v.find(',');
    const auto item = trim_ows(v.substr(0, comma));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return out;
}

// Decimal digits only, no sign, no overflow.
bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

ParseError error(int status, std::string reason) { return ParseError{status, std::move(reason)}; }

// Splits the head into lines without their CR LF / LF. A CR anywhere else is an error.
bool split_lines(std::string_view head, std::vector<std::string_view>& lines) {
  while (!head.empty()) {
    const auto nl = head.find('\n');
    auto line = head.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return false;
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return true;
}

bool has_ctl(std::string_view s, bool allow_tab) {
  return std::any_of(s.begin(), s.end(), [allow_tab](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f;
  });
}

}  // namespace

std::size_t leading_blank_lines(std::string_view buf) {
  std::size_t pos = 0;
  while (true) {
    if (buf.substr(pos, 2) == "\r\n") {
      pos += 2;
    } else if (buf.substr(pos, 1) == "\n") {
      pos += 1;
    } else {
      return pos;
    }
  }
}

std::size_t find_head_end(std::string_view buf) {
  std::size_t start = 0;
  while (true) {
    const auto nl = buf.find('\n', start);
    if (nl == std::string_view::npos) return 0;
    const auto line = buf.substr(start, nl - start);
    if (start > 0 && (line.empty() || line == "\r")) return nl + 1;
    start = nl + 1;
  }
}

std::variant<Request, ParseError> parse_request_head(std::string_view head) {
  std::vector<std::string_view> lines;
  if (!split_lines(head, lines)) return error(400, "bare CR in request head");
  if (lines.empty()) return error(400, "empty request");

  Request req;
  // request-line = method SP request-target SP HTTP-version
  const auto line = lines[0];
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2) return error(400, "malformed request line");
  const auto method = line.substr(0, sp1);
  const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto version = line.substr(sp2 + 1);
  if (!is_token(method)) return error(400, "malformed method");
  if (target.empty() || target.find(' ') != std::string_view::npos ||
      has_ctl(target, false)) {
    return error(400, "malformed request target");
  }
  if (version == "HTTP/1.1") {
    req.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    req.version_minor = 0;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
             std::isdigit(static_cast<unsigned char>(version[5])) && version[6] == '.' &&
             std::isdigit(static_cast<unsigned char>(version[7]))) {
    return error(505, "unsupported HTTP version");
  } else {
    return error(400, "malformed HTTP version");
  }
  req.method = std::string(method);
  req.target = std::string(target);

  std::string_view path = target;
  if (path.front() != '/') {
    if (method == "OPTIONS" && path == "*") {
      // asterisk-form: no path to route; answered 404 like any unknown path.
    } else if (istarts_with(path, "http://") || istarts_with(path, "https://")) {
      // absolute-form: drop scheme and authority.
      path.remove_prefix(path.find("//") + 2);
      const auto slash = path.find_first_of("/?#");
      path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
      if (path.front() != '/') path = "/";
    } else {
      return error(400, "malformed request target");
    }
  }
  path = path.substr(0, path.find_first_of("?#"));
  req.path = std::string(path);

  if (lines.size() - 1 > kMaxHeaders) return error(431, "too many header fields");
  bool saw_length = false;
  bool saw_te = false;
  bool saw_host = false;
  std::string te_joined;
  bool close = false;
  bool keep_alive_token = false;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto hl = lines[i];
    if (hl.empty()) return error(400, "empty line inside head");
    if (hl.front() == ' ' || hl.front() == '\t') return error(400, "obsolete line folding");
    const auto colon = hl.find(':');
    if (colon == std::string_view::npos) return error(400, "header line without colon");
    const auto name = hl.substr(0, colon);
    if (!is_token(name)) return error(400, "malformed header name");
    const auto value = trim_ows(hl.substr(colon + 1));
    if (has_ctl(value, true)) return error(400, "control character in header value");
    req.headers.push_back(Header{std::string(name), std::string(value)});

    if (iequals(name, "Content-Length")) {
      // A list of identical values is tolerated (RFC 9110 section 8.6).
      const auto items = split_list(value);
      if (items.empty()) return error(400, "empty Content-Length");
      for (const auto item : items) {
        std::uint64_t n = 0;
        if (!parse_u64(item, n)) return error(400, "malformed Content-Length");
        if (saw_length && n != req.content_length) return error(400, "conflicting Content-Length");
        req.content_length = n;
        saw_length = true;
      }
    } else if (iequals(name, "Transfer-Encoding")) {
      if (saw_te) te_joined += ',';
      te_joined += value;
      saw_te = true;
    } else if (iequals(name, "Connection")) {
      for (const auto tok : split_list(value)) {
        if (iequals(tok, "close")) close = true;
        if (iequals(tok, "keep-alive")) keep_alive_token = true;
      }
    } else if (iequals(name, "Expect")) {
      if (!iequals(value, "100-continue")) return error(417, "unsupported Expect");
      req.expect_continue = true;
    } else if (iequals(name, "Host")) {
      if (saw_host) return error(400, "more than one Host");
      saw_host = true;
    }
  }

  if (saw_te) {
    // Both framings at once is a request-smuggling pattern: refuse it.
    if (saw_length) return error(400, "both Transfer-Encoding and Content-Length");
    if (req.version_minor == 0) return error(400, "Transfer-Encoding in HTTP/1.0");
    const auto codings = split_list(te_joined);
    if (codings.empty() || !iequals(codings.back(), "chunked")) {
      return error(400, "Transfer-Encoding does not end in chunked");
    }
    if (codings.size() != 1) return error(501, "unsupported transfer coding");
    req.body = BodyKind::chunked;
  } else if (saw_length) {
    req.body = req.content_length > 0 ? BodyKind::length : BodyKind::none;
  }
  req.keep_alive = req.version_minor == 1 ? !close : (keep_alive_token && !close);
  if (req.body == BodyKind::none) req.expect_continue = false;
  return req;
}

// ---- chunked ----

void ChunkedDecoder::fail(std::string why) {
  state_ = State::failed;
  error_ = std::move(why);
}

// Appends bytes up to and including LF to line_; true once a whole line is there
// (returned in `line` without CR LF). Lines are bounded so a peer cannot grow memory.
bool ChunkedDecoder::take_line(std::string_view in, std::size_t& pos, std::string& line) {
  const auto nl = in.find('\n', pos);
  const auto end = nl == std::string_view::npos ? in.size() : nl;
  line_.append(in.substr(pos, end - pos));
  pos = nl == std::string_view::npos ? in.size() : nl + 1;
  if (line_.size() > 4096) {
    fail("chunk line too long");
    return false;
  }
  if (nl == std::string_view::npos) return false;
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  line = std::move(line_);
  line_.clear();
  return true;
}

std::size_t ChunkedDecoder::feed(std::string_view in, const Sink& sink) {
  std::size_t pos = 0;
  std::string line;
  while (pos < in.size()) {
    switch (state_) {
      case State::done:
      case State::failed:
        return pos;
      case State::size_line: {
        if (!take_line(in, pos, line)) break;
        std::string_view s = line;
        s = s.substr(0, s.find(';'));
        s = trim_ows(s);
        if (s.empty()) {
          fail("empty chunk size");
          return pos;
        }
        std::uint64_t size = 0;
        std::size_t digits = 0;
        for (char c : s) {
          int d;
          if (c >= '0' && c <= '9') d = c - '0';
          else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
          else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
          else {
            fail("malformed chunk size");
            return pos;
          }
          if (size != 0 || d != 0) ++digits;
          if (digits > 15) {
            fail("chunk size too large");
            return pos;
          }
          size = size * 16 + static_cast<std::uint64_t>(d);
        }
        if (size == 0) {
          state_ = State::trailer;
        } else {
          remaining_ = size;
          state_ = State::data;
        }
        break;
      }
      case State::data: {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - pos));
        sink(in.data() + pos, n);
        pos += n;
        remaining_ -= n;
        total_ += n;
        if (remaining_ == 0) state_ = State::data_end;
        break;
      }
      case State::data_end:
        if (!take_line(in, pos, line)) break;
        if (!line.empty()) {
          fail("chunk data not followed by CRLF");
          return pos;
        }
        state_ = State::size_line;
        break;
      case State::trailer:
        if (!take_line(in, pos, line)) break;
        if (line.empty()) {
          state_ = State::done;
          return pos;
        }
        if (++trailer_lines_ > kMaxHeaders) {
          fail("too many trailer fields");
          return pos;
        }
        break;
    }
    if (state_ == State::failed) return pos;
  }
  return pos;
}

// ---- responses ----

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

bool status_has_no_body(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

std::string response_head(int status, std::string_view server_name,
                          std::string_view content_type, std::uint64_t content_length,
                          bool keep_alive, const std::vector<std::string>& extra) {
  char date[64] = "";
  const time_t now = time(nullptr);
  struct tm tm_utc {};
  if (gmtime_r(&now, &tm_utc) != nullptr) {
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
  }
  std::string h;
  h.reserve(256);
  h += "HTTP/1.1 ";
  h += std::to_string(status);
  h += ' ';
  h += reason_phrase(status);
  h += "\r\nX-Server: ";
  h += server_name;
  if (date[0] != '\0') {
    h += "\r\nDate: ";
    h += date;
  }
  if (!status_has_no_body(status)) {
    h += "\r\nContent-Type: ";
    h += content_type;
    h += "\r\nContent-Length: ";
    h += std::to_string(content_length);
  }
  h += keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close";
  for (const auto& line : extra) {
    h += "\r\n";
    h += line;
  }
  h += "\r\n\r\n";
  return h;
}

}  // namespace lab::srv::http
