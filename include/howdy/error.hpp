// Howdy's error codes, one enum and one category per concern, the way Asio
// lays out its own (asio::error::basic_errors, misc_errors, ...):
//
//   howdy::error::framing_errors   "howdy.framing"   framed_reader
//   howdy::error::delivery_errors  "howdy.delivery"  outbox, broadcast_hub
//   howdy::error::registry_errors  "howdy.registry"  name_registry
//   howdy::error::room_errors      "howdy.rooms"     room_directory
//   howdy::error::worker_errors    "howdy.worker"    batch_worker
//
// Each converts to std::error_code, so `ec == howdy::error::end_of_stream`
// reads as it always did. To ask what kind of failure a code is, whoever
// produced it (Howdy or Asio), compare it with a howdy::condition:
//
//   if (ec == howdy::condition::peer_gone) ...  // eof, reset, end_of_stream, ...
//
// The messages are plain words a user may be shown; samples put some of them
// on the wire, so change a message only with its callers in mind.
#pragma once

#include <asio/error.hpp>
#include <string>
#include <system_error>

namespace howdy {
namespace error {

// How a framed_reader fails.
enum framing_errors {
  end_of_stream = 1,  // the peer closed the stream between two frames
  truncated_frame,    // the peer closed the stream inside a frame
  frame_too_large,    // a frame is larger than the configured limit
  malformed_frame,    // the bytes cannot be the start of a valid frame
};

// Why an outbox stopped sending.
enum delivery_errors {
  slow_consumer = 1,  // the subscriber fell behind by more than its outbox limit
  outbox_closed,      // the outbox was closed; nothing more is sent
  shutting_down,      // the outbox was drained and its peer did not take the rest in time
};

// Why a name_registry refused a name.
enum registry_errors {
  name_taken = 1,              // another owner holds the name
  name_reserved,               // the name is reserved
  name_invalid,                // the name breaks the registry's rules
  name_held,                   // the name is protected: only claim_protected() may take it
};

// Why a room_directory refused a join or a leave.
enum room_errors {
  room_limit = 1,  // no more rooms, or no more rooms for this member
  not_a_member,    // the member is not in that room
};

// Why a batch_worker refused a job.
enum worker_errors {
  worker_busy = 1,  // the worker's queue is full
  worker_stopped,   // the worker has stopped and runs nothing more
};

}  // namespace error
}  // namespace howdy

template <>
struct std::is_error_code_enum<howdy::error::framing_errors> : std::true_type {};
template <>
struct std::is_error_code_enum<howdy::error::delivery_errors> : std::true_type {};
template <>
struct std::is_error_code_enum<howdy::error::registry_errors> : std::true_type {};
template <>
struct std::is_error_code_enum<howdy::error::room_errors> : std::true_type {};
template <>
struct std::is_error_code_enum<howdy::error::worker_errors> : std::true_type {};

namespace howdy {
namespace detail {

// One category per enum: the name and the messages differ, nothing else.
template <class Enum>
class error_category final : public std::error_category {
 public:
  constexpr error_category(const char* name, const char* (*describe)(Enum)) noexcept
      : name_(name), describe_(describe) {}
  const char* name() const noexcept override { return name_; }
  std::string message(int ev) const override { return describe_(static_cast<Enum>(ev)); }

 private:
  const char* name_;
  const char* (*describe_)(Enum);
};

inline const char* error_message(error::framing_errors e) noexcept {
  switch (e) {
    case error::end_of_stream:
      return "the peer closed the connection";
    case error::truncated_frame:
      return "the peer closed the connection in the middle of a frame";
    case error::frame_too_large:
      return "a frame is larger than the allowed maximum";
    case error::malformed_frame:
      return "received bytes that are not a valid frame";
  }
  return "unknown framing error";
}

inline const char* error_message(error::delivery_errors e) noexcept {
  switch (e) {
    case error::slow_consumer:
      return "the receiver fell too far behind and was cut off";
    case error::outbox_closed:
      return "the outbox is closed";
    case error::shutting_down:
      return "the server is shutting down";
  }
  return "unknown delivery error";
}

inline const char* error_message(error::registry_errors e) noexcept {
  switch (e) {
    case error::name_taken:
      return "that name is already taken";
    case error::name_reserved:
      return "that name is reserved";
    case error::name_invalid:
      return "that name is not allowed";
    case error::name_held:
      return "that name is held for someone else";
  }
  return "unknown registry error";
}

inline const char* error_message(error::room_errors e) noexcept {
  switch (e) {
    case error::room_limit:
      return "too many rooms";
    case error::not_a_member:
      return "not a member of that room";
  }
  return "unknown room error";
}

inline const char* error_message(error::worker_errors e) noexcept {
  switch (e) {
    case error::worker_busy:
      return "too much work is queued; try again later";
    case error::worker_stopped:
      return "the worker has stopped";
  }
  return "unknown worker error";
}

template <class Enum>
const std::error_category& error_category_of(const char* name) noexcept {
  static const error_category<Enum> instance(name, [](Enum e) { return error_message(e); });
  return instance;
}

}  // namespace detail

namespace error {

inline const std::error_category& get_framing_category() noexcept {
  return detail::error_category_of<framing_errors>("howdy.framing");
}
inline const std::error_category& get_delivery_category() noexcept {
  return detail::error_category_of<delivery_errors>("howdy.delivery");
}
inline const std::error_category& get_registry_category() noexcept {
  return detail::error_category_of<registry_errors>("howdy.registry");
}
inline const std::error_category& get_room_category() noexcept {
  return detail::error_category_of<room_errors>("howdy.rooms");
}
inline const std::error_category& get_worker_category() noexcept {
  return detail::error_category_of<worker_errors>("howdy.worker");
}

inline std::error_code make_error_code(framing_errors e) noexcept { return {e, get_framing_category()}; }
inline std::error_code make_error_code(delivery_errors e) noexcept { return {e, get_delivery_category()}; }
inline std::error_code make_error_code(registry_errors e) noexcept { return {e, get_registry_category()}; }
inline std::error_code make_error_code(room_errors e) noexcept { return {e, get_room_category()}; }
inline std::error_code make_error_code(worker_errors e) noexcept { return {e, get_worker_category()}; }

}  // namespace error

// Kinds of failure, for code that reacts to the kind rather than the cause.
// Each matches codes of several categories, Asio's and the system's included.
enum class condition {
  peer_gone = 1,       // the peer went away: EOF, reset, broken pipe, end_of_stream, truncated_frame
  protocol_violation,  // the peer sent what the framing forbids: malformed_frame, frame_too_large
  overloaded,          // too much to do; back off: slow_consumer, worker_busy
};

}  // namespace howdy

template <>
struct std::is_error_condition_enum<howdy::condition> : std::true_type {};

namespace howdy {

namespace detail {

class condition_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "howdy.condition"; }

  std::string message(int ev) const override {
    switch (static_cast<condition>(ev)) {
      case condition::peer_gone:
        return "the peer went away";
      case condition::protocol_violation:
        return "the peer broke the protocol";
      case condition::overloaded:
        return "too much to do; try again later";
    }
    return "unknown howdy condition";
  }

  bool equivalent(const std::error_code& ec, int cond) const noexcept override {
    switch (static_cast<condition>(cond)) {
      case condition::peer_gone:
        // Asio's socket errors are in its own system category, so both spellings.
        return ec == error::end_of_stream || ec == error::truncated_frame || ec == asio::error::eof ||
               ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
               ec == asio::error::broken_pipe || ec == asio::error::not_connected ||
               ec == std::errc::connection_reset || ec == std::errc::connection_aborted ||
               ec == std::errc::broken_pipe || ec == std::errc::not_connected;
      case condition::protocol_violation:
        return ec == error::malformed_frame || ec == error::frame_too_large;
      case condition::overloaded:
        return ec == error::slow_consumer || ec == error::worker_busy;
    }
    return false;
  }
};

}  // namespace detail

inline const std::error_category& get_condition_category() noexcept {
  static const detail::condition_category instance;
  return instance;
}

inline std::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), get_condition_category()};
}

}  // namespace howdy
