// lab_client's HTTP parsing (client/http_get.hpp) without a network: URLs, response
// heads, the server name in a body, and the `serverN COUNT` summary.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "client/http_get.hpp"
#include "client/timeline.hpp"

namespace {

using lab::client::format_counts;
using lab::client::natural_less;
using lab::client::parse_http_url;
using lab::client::parse_response_head;
using lab::client::server_name_from_body;

TEST(HttpUrl, ParsesHostPortAndPath) {
  auto u = parse_http_url("http://203.0.113.10/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "203.0.113.10");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/");

  u = parse_http_url("HTTP://example.test:8080/a/b?x=1#frag");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "example.test");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/a/b?x=1");
  EXPECT_EQ(u->authority(), "example.test:8080");

  u = parse_http_url("http://[2001:db8::1]:81");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "2001:db8::1");
  EXPECT_EQ(u->port, 81);
  EXPECT_EQ(u->path, "/");
  EXPECT_EQ(u->authority(), "[2001:db8::1]:81");

  u = parse_http_url("http://h?q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->path, "/?q");
}

TEST(HttpUrl, RefusesWhatItCannotFetchAndSaysWhy) {
  for (const char* bad : {"https://h/", "h/", "http://", "http:///x", "http://h:/", "http://h:0/",
                          "http://h:65536/", "http://h:8x/", "http://u@h/", "http://[::1/", "http://[::1]x/"}) {
    std::string why;
    EXPECT_FALSE(parse_http_url(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(HttpUrl, GetRequestAsksToCloseUnlessKeptAlive) {
  auto u = parse_http_url("http://203.0.113.10/");
  ASSERT_TRUE(u);
  const auto close = lab::client::get_request(*u, false);
  EXPECT_EQ(close.rfind("GET / HTTP/1.1\r\nHost: 203.0.113.10\r\n", 0), 0u) << close;
  EXPECT_NE(close.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(close.substr(close.size() - 4), "\r\n\r\n");
  EXPECT_EQ(lab::client::get_request(*u, true).find("Connection"), std::string::npos);
}

TEST(ResponseHead, ReadsStatusLengthConnectionAndServer) {
  auto h = parse_response_head(
      "HTTP/1.1 200 OK\r\nX-Server: server2\r\ncontent-length: 29\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  ASSERT_TRUE(h->content_length);
  EXPECT_EQ(*h->content_length, 29u);
  EXPECT_TRUE(h->close);
  EXPECT_EQ(h->x_server, "server2");

  h = parse_response_head("HTTP/1.1 503 Service Unavailable\nConnection: keep-alive\n\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 503);
  EXPECT_FALSE(h->content_length);
  EXPECT_FALSE(h->close);

  h = parse_response_head("HTTP/1.0 200 OK\r\n\r\n");
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->close) << "HTTP/1.0 closes unless it says keep-alive";
}

TEST(ResponseHead, RefusesMalformedHeads) {
  for (const char* bad : {"", "SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
                          "HTTP/2 200\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"}) {
    std::string why;
    EXPECT_FALSE(parse_response_head(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(ServerName, IsTheFirstWordOfTheBody) {
  EXPECT_EQ(server_name_from_body("server1 198.51.100.11:40312\n"), "server1");
  EXPECT_EQ(server_name_from_body("server3\n"), "server3");
  EXPECT_EQ(server_name_from_body("server3"), "server3");
  EXPECT_EQ(server_name_from_body(""), "");
  EXPECT_EQ(server_name_from_body(" server1"), "");
  EXPECT_EQ(server_name_from_body("\nserver1"), "");
  EXPECT_EQ(server_name_from_body("server\x01" "1 x"), "");
  EXPECT_EQ(server_name_from_body(std::string(65, 'a') + " x"), "");
}

TEST(Counts, ServersInNaturalOrderThenFailures) {
  std::map<std::string, int> counts{{"server10", 1}, {"server2", 50}, {"server1", 49}};
  EXPECT_EQ(format_counts(counts, 0), "server1 49\nserver2 50\nserver10 1\nfailures 0\n");
  EXPECT_EQ(format_counts({}, 3), "failures 3\n");

  std::vector<std::string> names{"b", "a10", "a9", "a09x", "a", "server2", "server11"};
  std::sort(names.begin(), names.end(), natural_less);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "a9", "a09x", "a10", "b", "server2", "server11"}));
}

TEST(Timeline, OkAndFailedLinesRoundTrip) {
  lab::client::TimelineRecord ok;
  ok.index = 7;
  ok.start_ms = 1700000000123;
  ok.end_ms = 1700000000125;
  ok.ok = true;
  ok.server = "server2";
  EXPECT_EQ(lab::client::format_timeline_record(ok), "request 7 1700000000123 1700000000125 ok server2\n");
  auto back = lab::client::parse_timeline_record(lab::client::format_timeline_record(ok));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->index, 7);
  EXPECT_EQ(back->start_ms, 1700000000123);
  EXPECT_EQ(back->end_ms, 1700000000125);
  EXPECT_TRUE(back->ok);
  EXPECT_EQ(back->server, "server2");
  EXPECT_EQ(back->reason, "");

  lab::client::TimelineRecord refused{8, 1700000000173, 1700000000174, false, "", "connect: Connection refused"};
  EXPECT_EQ(lab::client::format_timeline_record(refused),
            "request 8 1700000000173 1700000000174 failed - connect: Connection refused\n");
  back = lab::client::parse_timeline_record("request 8 1700000000173 1700000000174 failed - connect: Connection refused");
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->ok);
  EXPECT_EQ(back->server, "");
  EXPECT_EQ(back->reason, "connect: Connection refused");

  // A 500 names the server that sent it; a reason never spans lines.
  lab::client::TimelineRecord status{9, 1, 2, false, "server1", "HTTP status 500\nfrom server1"};
  EXPECT_EQ(lab::client::format_timeline_record(status), "request 9 1 2 failed server1 HTTP status 500 from server1\n");
}

TEST(Timeline, OtherLinesAreNotRecords) {
  for (const char* bad : {"", "server1 3", "failures 0", "request", "request x 1 2 ok server1",
                          "request 1 2 ok server1", "request 1 2 3 maybe server1", "request 1 2 3 ok -",
                          "request 1 2 3 ok server1 extra", "request 1 2 3 failed -", "request 1 -2 3 ok s",
                          "requests 1 2 3 ok server1"}) {
    EXPECT_FALSE(lab::client::parse_timeline_record(bad)) << bad;
  }
}

}  // namespace
