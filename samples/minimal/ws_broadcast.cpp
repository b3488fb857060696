// A WebSocket broadcast server: every text message a client sends goes to
// every client (the sender too), encoded once into one shared frame.
//
//   ws-broadcast [PORT [HANDSHAKE_SECONDS]]
//
// listens on 127.0.0.1:PORT (default 7001; 0: any free port) and drops a
// client that has not sent its whole upgrade request within HANDSHAKE_SECONDS
// (default 10; fractions allowed).
//
// It prints "listening on 127.0.0.1:PORT" once it accepts connections. Any
// path is accepted; browsers' Origin is not checked here (a real server
// compares request.origin with its own, and rejects with forbidden_origin).
#include <howdy.hpp>
#include <howdy/websocket.hpp>  // not in howdy.hpp: it needs OpenSSL

#include <chrono>
#include <cstdio>
#include <cstdlib>

using asio::ip::tcp;

int main(int argc, char** argv) {
  const auto port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 7001);
  const auto handshake_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(argc > 2 ? std::atof(argv[2]) : 10.0));
  howdy::io_context_pool pool(2);
  howdy::broadcast_hub hub(pool.executors());
  howdy::tcp_server server(pool, [&](tcp::socket& socket) -> asio::awaitable<void> {
    auto box = std::make_shared<howdy::outbox>(socket.get_executor());
    howdy::websocket::options options;
    options.messages.max_message_size = 64 * 1024;  // text up to 64 KiB, in one frame or many
    howdy::websocket::message_reader ws(socket, *box, options);
    howdy::broadcast_hub::subscription subscription;
    // A client that sends half a request must not hold its connection forever.
    howdy::watchdog handshake_timer(socket.get_executor(), [&socket] {
      std::error_code ignored;
      socket.close(ignored);  // read_upgrade() then fails
    });
    auto read_loop = [&]() -> asio::awaitable<void> {
      handshake_timer.expires_after(handshake_timeout);
      auto [ec, request] = co_await ws.read_upgrade();  // a bad request got its 4xx
      handshake_timer.disarm();
      if (ec) co_return;
      ws.accept(request);                               // 101 Switching Protocols
      subscription = hub.subscribe(*box);
      for (;;) {
        auto [mec, message] = co_await ws.next();       // pings answered, a close echoed
        if (mec) co_return;                             // error::closed, bad_utf8, message_too_big, ...
        if (message.type != howdy::websocket::opcode::text) continue;
        hub.publish(howdy::websocket::encode_text(message.text()));  // encoded once, for everyone
      }
    };
    co_await howdy::run_duplex(socket, *box, read_loop());
  });
  if (auto ec = server.listen({asio::ip::make_address("127.0.0.1"), port})) {
    std::fprintf(stderr, "ws-broadcast: cannot listen on 127.0.0.1:%u: %s\n", static_cast<unsigned>(port),
                 ec.message().c_str());
    return 1;
  }
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(server.local_endpoint().port()));
  std::fflush(stdout);
  server.start();
  pool.run();
}
