// Uses Howdy through its umbrella header: a frame goes through an outbox over
// a loopback socket pair and comes out of a framed_reader. Prints "ok".
#include <howdy.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdio>
#include <memory>
#include <string>

int main() {
  asio::io_context ctx;
  asio::ip::tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket client(ctx), server(ctx);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);

  auto box = std::make_shared<howdy::outbox>(ctx.get_executor());
  box->push(howdy::shared_buffer::copy_of(std::string_view("hello, howdy\n")));
  box->close();
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { co_await box->run(server); }, asio::detached);

  std::string got;
  std::error_code error;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        howdy::framed_reader reader(client, howdy::codec::lines());
        auto [ec, frame] = co_await reader.async_next(asio::experimental::as_tuple(asio::use_awaitable));
        error = ec;
        if (!ec) got.assign(reinterpret_cast<const char*>(frame.payload.data()), frame.payload.size());
      },
      asio::detached);
  ctx.run();

  std::error_code name_error;
  howdy::name_registry<int> names;
  auto lease = names.claim(got.substr(0, 5), 1, name_error);
  if (error || got != "hello, howdy" || name_error || !names.find("hello")) {
    std::printf("failed: %s\n", error ? error.message().c_str() : got.c_str());
    return 1;
  }
  std::printf("ok\n");
  return 0;
}
