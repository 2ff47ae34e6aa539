#pragma once
// One SSE client connection (internal to streams/sse_server.cpp). Every step
// runs on the connection's strand; the hub, the auth checker and a catch-up
// reader reach it only by posting to that strand (wake, cutForLag, join) or
// through its catch-up queue (push, under its own mutex).
//
// Life of a session: read the request (10 s), route it by path, check the
// bearer token when the stream asks for one, wait (up to kUnknownPartitionWait)
// while the Last-Event-ID names partitions the pod has not picked up yet (the
// reader checks at once), then answer 200
// text/event-stream with the retry hint, an ew-resume notice when the
// Last-Event-ID could not be used, and events: from a catch-up reader first
// when the client is further back than the ring, then from the ring. Each
// write takes what is there (up to kMaxBatch events) in one gathered write of
// the shared event texts; with nothing to take the session parks on the hub.
// Ends: the client goes (a failed write), a cut (ew-overflow when too far
// behind, ew-reconnect on drain) written after the write in flight, then
// the socket closed; a cut whose reason cannot be written in kCutDeadline
// (a client that stopped reading) closes the socket anyway. A request that
// comes in while the server drains (read, or checked, as the listener
// closed) is answered 200 with the retry hint and ew-reconnect, then closed:
// EventSource reconnects after the hint, to another pod by then, where a 503
// would end it for good (HTML's "fail the connection").

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "streams/catch_up.h"
#include "streams/sse_server.h"
#include "streams/stream_hub.h"

namespace ew::runtime {

class SseSession;

// What the sessions of one server share.
struct SessionContext {
  std::vector<StreamRoute> routes;
  CatchUps* catchUps = nullptr;
  std::atomic<bool> draining{false};
  std::mutex mu;
  std::unordered_map<SseSession*, std::weak_ptr<SseSession>> registry;  // guarded by mu
};

class SseSession : public StreamClient, public CatchUpSink, public std::enable_shared_from_this<SseSession> {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  SseSession(Socket socket, SessionContext& context);
  ~SseSession() override;

  void start();  // reads the request
  // Posts: tell the client to reconnect, then close (server drain).
  void drain(std::chrono::steady_clock::time_point deadline);
  void close();  // posts: closes the socket at once

  // StreamClient
  void wake() override;
  void cutForLag(uint64_t behind) override;
  uint64_t cursorSeq() const override { return seq_.load(); }
  bool inRing() const override { return inRing_.load(); }
  // CatchUpSink
  bool push(std::string frame) override;
  void join(ClientCursor cursor) override;
  void fail(const std::string& reason) override;
  bool gone() const override { return gone_.load(); }

 private:
  // Closes the connection at DEADLINE unless its request has been read by then.
  void closeUnlessReadBy(std::chrono::steady_clock::time_point deadline);
  void onRequest(boost::system::error_code ec);
  void authorized(const StreamRoute& route, std::optional<std::string> lastEventId);
  void begin(const StreamRoute& route, const std::optional<std::string>& lastEventId);
  // The token names a partition the hub lacks and the wait is not over:
  // asks for a check, and begin() again after a moment.
  bool awaitPartitions(const StreamRoute& route, const std::optional<std::string>& lastEventId,
                       const ResumeToken& token);
  bool resumeFrom(Position pos, bool announceExpiry);
  // The server drains: 200, the retry hint and ew-reconnect, then closed.
  void reconnectElsewhere();
  void reject(int status, const std::string& reason, const std::string& body, const std::string& extra = "");
  void cut(const char* event, const std::string& reason, const std::string& message, uint64_t behind,
           std::chrono::steady_clock::duration deadline);
  // cut() without the write: the state of a cut (see fill()).
  void startCut(const char* event, const std::string& reason, const std::string& message, uint64_t behind,
                std::chrono::steady_clock::duration deadline);
  void fill();
  void onWrite(boost::system::error_code ec);
  void armHeartbeat();
  void watchPeer();
  void terminate();

  Socket socket_;  // its executor is the session's strand
  SessionContext& context_;
  boost::asio::steady_timer timer_;     // request deadline, then heartbeats
  boost::asio::steady_timer deadline_;  // a cut's deadline
  boost::beast::flat_buffer buffer_;
  boost::beast::http::request_parser<boost::beast::http::empty_body> parser_;

  // Strand only.
  const StreamRoute* route_ = nullptr;  // once the request is read and routed
  StreamHub* hub_ = nullptr;
  std::optional<ClientCursor> cursor_;  // taking from the ring
  std::deque<std::string> control_;     // written before anything else
  std::string trailer_;                 // the last write (a cut's reason, or an error reply)
  bool streaming_ = false, closing_ = false, finalWrite_ = false, closed_ = false, writing_ = false;
  bool wroteSinceBeat_ = false;
  int partitionWaits_ = 0;
  std::vector<std::string> outText_;
  std::vector<OutgoingEvent> outEvents_;
  std::vector<boost::asio::const_buffer> buffers_;
  size_t eventsInFlight_ = 0;
  std::array<char, 256> peerBytes_{};  // what a streaming client sends (nothing, normally): read to see it leave

  // Read from the hub's tick.
  std::atomic<uint64_t> seq_{0};
  std::atomic<bool> inRing_{false}, gone_{false};

  // The catch-up queue (a catch-up thread pushes, the strand takes).
  std::mutex cuMu_;
  std::condition_variable cuCv_;
  std::deque<std::string> cuQueue_;          // guarded by cuMu_
  std::optional<ClientCursor> pendingJoin_;  // guarded by cuMu_
};

}  // namespace ew::runtime
