// howdy::websocket: the codec through howdy::framed_reader (the upgrade request
// then frames, however the stream is cut), every frame through the message
// assembler, and the upgrade parser on the request (or, with the flag, on the
// raw stream). Checks what holds: the first frame of the handshake phase ends
// with the blank line; accepted requests have a canonical key and an
// origin-form target; refusals have an HTTP status; messages respect the size
// limit, text is UTF-8, close codes are ones allowed on the wire.
#include "fuzz_support.hpp"

#include <howdy/utf8.hpp>
#include <howdy/websocket.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

constexpr std::array<std::size_t, 8> max_frames{1, 6, 14, 64, 200, 1024, 8192, 65536};
constexpr std::array<std::size_t, 4> max_messages{0, 10, 1000, 100000};

void check_upgrade(std::string_view text) {
  std::error_code ec;
  howdy::websocket::upgrade_limits limits;
  limits.max_fields = 16;
  auto r = howdy::websocket::parse_upgrade(text, ec, limits);
  FUZZ_CHECK(r.has_value() == !ec);
  if (!r) {
    FUZZ_CHECK(ec.category() == howdy::error::get_websocket_category());
    const int status = howdy::websocket::http_status(ec);
    FUZZ_CHECK(status == 400 || status == 405 || status == 426 || status == 431 || status == 505);
    FUZZ_CHECK(howdy::websocket::error_response(ec).starts_with("HTTP/1.1 "));
    return;
  }
  FUZZ_CHECK(text.ends_with("\r\n\r\n") && text.starts_with("GET /"));
  FUZZ_CHECK(!r->target.empty() && r->target.front() == '/');
  FUZZ_CHECK(!r->host.empty() && r->key.size() == 24);
  FUZZ_CHECK(howdy_fuzz::within(r->origin, text) && howdy_fuzz::within(r->key, text));
  FUZZ_CHECK(howdy::websocket::accept_key(r->key).size() == 28);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace howdy_fuzz;
  namespace ws = howdy::websocket;
  auto in = split(data, size);
  if (!in) return 0;
  if (in->flag) check_upgrade(as_chars(in->stream));
  const bool handshake = (in->variant & 1) != 0;
  in->options.max_frame_size = max_frames[in->max_frame_index];
  ws::message_options mo;
  mo.max_message_size = max_messages[in->variant >> 1 & 3];
  ws::message_assembler assembler(mo);
  bool failed = false;
  std::size_t frames = 0;

  const ws::codec codec(handshake ? ws::codec::phase::handshake : ws::codec::phase::frames, 512);
  read_and_compare(*in, codec, true, [&](const howdy::frame& f, std::size_t) {
    if (handshake && frames++ == 0) {
      const auto text = as_chars(f.bytes);
      FUZZ_CHECK(text.ends_with("\r\n\r\n") && text.find("\r\n\r\n") == text.size() - 4);
      FUZZ_CHECK(f.bytes.size() <= 512);
      check_upgrade(text);
      return;
    }
    FUZZ_CHECK(f.bytes.size() >= 6 && f.payload.size() + 6 <= f.bytes.size());
    if (failed) return;  // the assembler is unusable after an error
    std::error_code ec;
    const auto r = assembler.on_frame(f, ec);
    if (ec) {
      failed = true;
      const auto code = ws::close_code_for(ec);
      FUZZ_CHECK(code == ws::close_code::protocol_error || code == ws::close_code::bad_payload ||
                 code == ws::close_code::too_big);
      return;
    }
    const auto& m = assembler.current();
    switch (r) {
      case ws::message_assembler::result::message:
        FUZZ_CHECK(m.payload.size() <= mo.max_message_size);
        FUZZ_CHECK(m.type == ws::opcode::text || m.type == ws::opcode::binary);
        if (m.type == ws::opcode::text) FUZZ_CHECK(howdy::is_valid_utf8(m.text()));
        break;
      case ws::message_assembler::result::close:
        FUZZ_CHECK(assembler.peer_close_code() == 1005 || ws::is_valid_close_code(assembler.peer_close_code()));
        FUZZ_CHECK(howdy::is_valid_utf8(assembler.peer_close_reason()));
        [[fallthrough]];
      case ws::message_assembler::result::ping:
      case ws::message_assembler::result::pong:
        FUZZ_CHECK(m.payload.size() <= 125);
        break;
      case ws::message_assembler::result::incomplete:
        break;
    }
  });
  return 0;
}
