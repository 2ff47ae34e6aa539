#pragma once
// Ends the process once everything the program owns has been stopped and
// joined, without running static destructors and atexit handlers.
//
// Why: cpprestsdk's shared thread pool is still alive during static
// destruction, and a request cancelled moments earlier (a watch stopped
// while its reconnect or TLS handshake is in flight) can complete on one of
// its threads while OpenSSL and Boost.Asio statics are being torn down:
// a segfault after the work is done (cpprestsdk issue #1482 and relatives).
// The operator and the test binaries stop and join all their own threads
// first, flush their output, and then leave through here.
//
// Under LeakSanitizer the leak check runs first (it would otherwise run from
// an atexit handler), so sanitizer builds lose nothing.

namespace ew {

[[noreturn]] void exitProcess(int rc);

}  // namespace ew
