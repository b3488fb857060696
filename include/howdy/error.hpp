// Howdy's own error codes, in the `howdy` error category.
#pragma once

#include <string>
#include <system_error>

namespace howdy {

enum class error {
  // Framed reader
  end_of_stream = 1,   // the peer closed the stream between two frames
  truncated_frame,     // the peer closed the stream inside a frame
  frame_too_large,     // a frame is larger than the configured limit
  malformed_frame,     // the bytes cannot be the start of a valid frame

  // Outbox and hub
  slow_consumer,       // the subscriber fell behind by more than its outbox limit
  outbox_closed,       // the outbox was closed; nothing more is sent

  // Named registry
  name_taken,          // another owner holds the name
  name_reserved,       // the name is reserved
  name_invalid,        // the name breaks the registry's rules
  name_protected,      // the name belongs to an account; only its owner may claim it

  // Rooms
  room_limit,          // no more rooms, or no more rooms for this member
  not_a_member,        // the member is not in that room

  // Workers
  worker_busy,         // the worker's queue is full
  worker_stopped,      // the worker has stopped and runs nothing more

  // Server plumbing
  handshake_timeout,   // the peer did not finish its handshake in time
  idle_timeout,        // nothing was received for too long
  too_many_connections,
  shutting_down,
};

class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "howdy"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::end_of_stream: return "the peer closed the connection";
      case error::truncated_frame: return "the peer closed the connection in the middle of a frame";
      case error::frame_too_large: return "a frame is larger than the allowed maximum";
      case error::malformed_frame: return "received bytes that are not a valid frame";
      case error::slow_consumer: return "the receiver fell too far behind and was cut off";
      case error::outbox_closed: return "the outbox is closed";
      case error::name_taken: return "that name is already taken";
      case error::name_reserved: return "that name is reserved";
      case error::name_invalid: return "that name is not allowed";
      case error::name_protected: return "that name belongs to a registered user";
      case error::room_limit: return "too many rooms";
      case error::not_a_member: return "not a member of that room";
      case error::worker_busy: return "too much work is queued; try again later";
      case error::worker_stopped: return "the worker has stopped";
      case error::handshake_timeout: return "the handshake did not complete in time";
      case error::idle_timeout: return "the connection was idle for too long";
      case error::too_many_connections: return "the server has reached its connection limit";
      case error::shutting_down: return "the server is shutting down";
    }
    return "unknown howdy error";
  }
};

inline const std::error_category& error_category() noexcept {
  static const error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace howdy

template <>
struct std::is_error_code_enum<howdy::error> : std::true_type {};
