// The README's example: every line a client sends goes to every other client.
#include <howdy.hpp>
using asio::ip::tcp;

int main() {
  howdy::io_context_pool pool(2);                     // one io_context per thread
  howdy::broadcast_hub hub(pool.executors());         // subscribers partitioned by thread
  howdy::tcp_server server(pool, [&](tcp::socket& socket) -> asio::awaitable<void> {
    auto box = std::make_shared<howdy::outbox>(socket.get_executor());  // bounded, never blocks
    auto subscription = hub.subscribe(*box);
    howdy::framed_reader reader(socket, howdy::codec::lines());
    auto read_loop = [&]() -> asio::awaitable<void> {
      for (;;) {
        auto [ec, frame] = co_await reader.next();
        if (ec) co_return;                            // end_of_stream, frame_too_large, ...
        hub.publish(howdy::shared_buffer::copy_of(frame.bytes), box.get());  // encoded once
      }
    };
    // The reader beside the outbox's writer (one gather write per burst); when
    // the reader ends, what is queued is flushed.
    co_await howdy::run_duplex(socket, *box, read_loop());
  });
  server.listen({asio::ip::make_address("127.0.0.1"), 7000});
  server.start();
  pool.run();
}
