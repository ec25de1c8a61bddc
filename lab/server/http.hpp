// HTTP/1.x request parsing and response heads for lab_server. Pure functions and a
// streaming chunked decoder: no I/O here, so every rule is unit-testable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lab::srv::http {

// Requests whose head (request line + headers) exceeds this are refused with 431.
inline constexpr std::size_t kMaxHeadBytes = 16 * 1024;
inline constexpr std::size_t kMaxHeaders = 100;

enum class BodyKind { none, length, chunked };

struct Header {
  std::string name;   // as sent
  std::string value;  // surrounding whitespace removed
};

struct Request {
  std::string method;  // case-sensitive token, e.g. "GET"
  std::string target;  // as sent
  std::string path;    // target without scheme/authority, query or fragment
  int version_minor = 1;  // HTTP/1.<minor>, 0 or 1
  std::vector<Header> headers;
  BodyKind body = BodyKind::none;
  std::uint64_t content_length = 0;  // meaningful when body == length
  bool keep_alive = true;            // after this request's response
  bool expect_continue = false;      // "Expect: 100-continue" was sent
};

// Why a head was refused: the status to answer with and a short reason for the log
// and the response body.
struct ParseError {
  int status = 400;
  std::string reason;
};

// Number of bytes of blank lines (CRLF or LF) at the start of buf; RFC 9112 lets a
// server ignore them before a request line.
std::size_t leading_blank_lines(std::string_view buf);

// Length of the head at the start of buf, including the empty line that ends it
// (CRLF CRLF or, leniently, LF LF), or 0 if the head is not complete yet.
std::size_t find_head_end(std::string_view buf);

// Parses one complete head as delimited by find_head_end. Returns the request, or the
// error status: 400 malformed, 417 unsupported Expect, 431 too many headers,
// 501 unsupported transfer coding, 505 unsupported HTTP version.
std::variant<Request, ParseError> parse_request_head(std::string_view head);

// Decodes a chunked body incrementally (RFC 9112 section 7.1). Chunk extensions and
// trailer fields are read and ignored.
class ChunkedDecoder {
 public:
  using Sink = std::function<void(const char*, std::size_t)>;

  // Consumes bytes from `in`, passing decoded body bytes to `sink`. Returns how many
  // bytes of `in` were consumed: fewer than in.size() only once done() or failed(),
  // and the rest then belongs to the next request.
  std::size_t feed(std::string_view in, const Sink& sink);
  bool done() const { return state_ == State::done; }
  bool failed() const { return state_ == State::failed; }
  const std::string& error() const { return error_; }
  std::uint64_t body_bytes() const { return total_; }

 private:
  enum class State { size_line, data, data_end, trailer, done, failed };
  bool take_line(std::string_view in, std::size_t& pos, std::string& line);
  void fail(std::string why);

  State state_ = State::size_line;
  std::string line_;
  std::uint64_t remaining_ = 0;
  std::uint64_t total_ = 0;
  std::size_t trailer_lines_ = 0;
  std::string error_;
};

// Standard reason phrase for a status code ("Unknown" for codes it does not know).
std::string_view reason_phrase(int status);

// True for statuses whose responses never carry a body (1xx, 204, 304).
bool status_has_no_body(int status);

// A complete response head ending in CRLF CRLF. `content_length` is omitted when the
// status has no body; `extra` are additional "Name: value" lines without CRLF.
std::string response_head(int status, std::string_view server_name,
                          std::string_view content_type, std::uint64_t content_length,
                          bool keep_alive, const std::vector<std::string>& extra = {});

}  // namespace lab::srv::http
