// Howdy: coroutine primitives for servers that hold many connections and fan
// messages out to them. Include this, or only the headers you use.
// Not included here: <howdy/websocket.hpp>, which needs OpenSSL's headers
// (and libcrypto, for its accept key); include it where you speak WebSocket.
#pragma once

#include <howdy/batch_worker.hpp>
#include <howdy/broadcast_hub.hpp>
#include <howdy/codec/delimited.hpp>
#include <howdy/codec/header_body.hpp>
#include <howdy/codec/length_prefixed.hpp>
#include <howdy/error.hpp>
#include <howdy/frame_codec.hpp>
#include <howdy/framed_reader.hpp>
#include <howdy/io_context_pool.hpp>
#include <howdy/name_registry.hpp>
#include <howdy/outbox.hpp>
#include <howdy/rate_limiter.hpp>
#include <howdy/room_directory.hpp>
#include <howdy/shared_buffer.hpp>
#include <howdy/tcp_server.hpp>
#include <howdy/utf8.hpp>
#include <howdy/watchdog.hpp>
