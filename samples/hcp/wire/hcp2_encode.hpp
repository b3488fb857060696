// HCP/2 encoders: X_size, write_X and encode_X for every frame (common.hpp
// says what the three forms are for).
#pragma once

#include "common.hpp"
#include "hcp2_frames.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ranges>
#include <span>
#include <string>
#include <string_view>

namespace hcp::hcp2 {

namespace detail {

using hcp::detail::writer;

// Checks the buffer, writes the header and returns a writer at the payload.
inline writer begin(std::span<std::byte> out, std::size_t size, frame_type t) {
  if (size - length_field_size > 0xFFFFFFFFu) hcp::detail::throw_length("hcp2: frame longer than a u32 length");
  if (out.size() < size) hcp::detail::throw_length("hcp2: output buffer too small");
  writer w{out.data()};
  w.u32(static_cast<std::uint32_t>(size - length_field_size));
  w.u8(static_cast<std::uint8_t>(t));
  return w;
}

constexpr std::size_t name_len(std::string_view n) noexcept { return 1 + n.size(); }

inline std::size_t write_name_only(std::span<std::byte> out, frame_type t, std::string_view name) {
  hcp::detail::check_name(name);
  auto const size = header_size + name_len(name);
  begin(out, size, t).name(name);
  return size;
}

template <class Int>
std::size_t write_int_only(std::span<std::byte> out, frame_type t, Int v) {
  auto const size = header_size + sizeof(Int);
  begin(out, size, t).be(v);
  return size;
}

inline std::size_t write_empty(std::span<std::byte> out, frame_type t) {
  begin(out, header_size, t);
  return header_size;
}

// `name` then `text`: REGISTER and LOGIN.
inline std::size_t write_name_text(std::span<std::byte> out, frame_type t, std::string_view name,
                                   std::string_view text) {
  hcp::detail::check_name(name);
  auto const size = header_size + name_len(name) + text.size();
  auto w = begin(out, size, t);
  w.name(name);
  w.bytes(text);
  return size;
}

// `name room` then `name user`: ROOM_JOINED and ROOM_LEFT.
inline std::size_t write_two_names(std::span<std::byte> out, frame_type t, std::string_view a, std::string_view b) {
  hcp::detail::check_name(a);
  hcp::detail::check_name(b);
  auto const size = header_size + name_len(a) + name_len(b);
  auto w = begin(out, size, t);
  w.name(a);
  w.name(b);
  return size;
}

inline std::uint16_t check_count(std::size_t count) {
  if (count > 0xFFFF) hcp::detail::throw_length("hcp2: more than 65535 entries");
  return static_cast<std::uint16_t>(count);
}

constexpr std::size_t roster_entries_size(std::span<const roster_entry> entries) noexcept {
  std::size_t n = 2;
  for (auto const& e : entries) n += 1 + name_len(e.name);
  return n;
}

// u16 count, then count x (u8 status, name): ROSTER and the tail of ROOM_MEMBERS.
inline void write_roster_entries(writer& w, std::span<const roster_entry> entries) {
  w.u16(static_cast<std::uint16_t>(entries.size()));
  for (auto const& e : entries) {
    w.u8(e.status);
    w.name(e.name);
  }
}

inline void check_roster_entries(std::span<const roster_entry> entries) {
  check_count(entries.size());
  for (auto const& e : entries) hcp::detail::check_name(e.name);
}

}  // namespace detail

// Sizes (whole frame, header included).
constexpr std::size_t hello_size() noexcept { return header_size + magic.size() + 1 + 4; }
constexpr std::size_t name_size(std::string_view name) noexcept { return header_size + detail::name_len(name); }
constexpr std::size_t send_size(std::string_view target, std::string_view text) noexcept {
  return header_size + 4 + 1 + detail::name_len(target) + text.size();
}
constexpr std::size_t ping_size() noexcept { return header_size + 8; }
constexpr std::size_t who_size() noexcept { return header_size; }
constexpr std::size_t bye_size() noexcept { return header_size; }
constexpr std::size_t welcome_size(std::string_view server_info) noexcept {
  return header_size + 1 + 4 + server_info.size();
}
constexpr std::size_t name_ok_size(std::string_view name) noexcept { return name_size(name); }
constexpr std::size_t name_refused_size(std::string_view name, std::string_view reason) noexcept {
  return header_size + 2 + detail::name_len(name) + reason.size();
}
template <hcp::detail::name_range R>
std::size_t users_size(R const& names) {
  std::size_t n = header_size + 2;
  for (std::string_view s : names) n += detail::name_len(s);
  return n;
}
inline std::size_t users_size(std::initializer_list<std::string_view> names) {
  return users_size<std::initializer_list<std::string_view>>(names);
}
constexpr std::size_t joined_size(std::string_view name) noexcept { return name_size(name); }
constexpr std::size_t left_size(std::string_view name) noexcept { return name_size(name); }
constexpr std::size_t message_size(std::string_view sender, std::string_view target, std::string_view text) noexcept {
  return header_size + 8 + 8 + 1 + detail::name_len(sender) + detail::name_len(target) + text.size();
}
constexpr std::size_t sent_size() noexcept { return header_size + 4 + 8; }
constexpr std::size_t dropped_size() noexcept { return header_size + 4; }
constexpr std::size_t pong_size() noexcept { return header_size + 8; }
constexpr std::size_t error_size(std::string_view text) noexcept { return header_size + 2 + 4 + text.size(); }
// Accounts, receipts, rooms, history (client frames).
constexpr std::size_t register_size(std::string_view name, std::string_view password) noexcept {
  return header_size + detail::name_len(name) + password.size();
}
constexpr std::size_t login_size(std::string_view name, std::string_view password) noexcept {
  return register_size(name, password);
}
constexpr std::size_t roster_request_size() noexcept { return header_size; }
constexpr std::size_t received_size() noexcept { return header_size + 8; }
constexpr std::size_t join_size(std::string_view room) noexcept { return name_size(room); }
constexpr std::size_t leave_size(std::string_view room) noexcept { return name_size(room); }
constexpr std::size_t rooms_request_size() noexcept { return header_size; }
constexpr std::size_t members_request_size(std::string_view room) noexcept { return name_size(room); }
constexpr std::size_t history_request_size() noexcept { return header_size + 8; }
// (server frames)
constexpr std::size_t roster_size(std::span<const roster_entry> entries) noexcept {
  return header_size + detail::roster_entries_size(entries);
}
constexpr std::size_t delivered_size(std::string_view recipient) noexcept {
  return header_size + 8 + detail::name_len(recipient);
}
constexpr std::size_t not_delivered_size(std::string_view recipient) noexcept {
  return header_size + 8 + 2 + detail::name_len(recipient);
}
constexpr std::size_t room_joined_size(std::string_view room, std::string_view user) noexcept {
  return header_size + detail::name_len(room) + detail::name_len(user);
}
constexpr std::size_t room_left_size(std::string_view room, std::string_view user) noexcept {
  return room_joined_size(room, user);
}
constexpr std::size_t room_list_size(std::span<const room_entry> rooms) noexcept {
  std::size_t n = header_size + 2;
  for (auto const& r : rooms) n += detail::name_len(r.room) + 4;
  return n;
}
constexpr std::size_t room_members_size(std::string_view room, std::span<const roster_entry> members) noexcept {
  return header_size + detail::name_len(room) + detail::roster_entries_size(members);
}
constexpr std::size_t history_end_size() noexcept { return header_size + 8 + 1; }
// PRESENCE, and the non-final pages of long lists: the same layouts as USERS,
// ROSTER, ROOM_MEMBERS and ROOM_LIST.
constexpr std::size_t presence_size(std::span<const roster_entry> entries) noexcept { return roster_size(entries); }
template <hcp::detail::name_range R>
std::size_t users_part_size(R const& names) {
  return users_size(names);
}
constexpr std::size_t roster_part_size(std::span<const roster_entry> entries) noexcept { return roster_size(entries); }
constexpr std::size_t room_members_part_size(std::string_view room, std::span<const roster_entry> members) noexcept {
  return room_members_size(room, members);
}
constexpr std::size_t room_list_part_size(std::span<const room_entry> rooms) noexcept { return room_list_size(rooms); }

// Writers (whole frame into `out`, returns the bytes written).
inline std::size_t write_hello(std::span<std::byte> out, std::uint8_t ver = version, std::uint32_t flags = 0) {
  auto w = detail::begin(out, hello_size(), frame_type::hello);
  w.bytes(magic);
  w.u8(ver);
  w.u32(flags);
  return hello_size();
}
inline std::size_t write_name(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_only(out, frame_type::name, name);
}
inline std::size_t write_send(std::span<std::byte> out, std::uint32_t client_ref, target_kind kind,
                              std::string_view target, std::string_view text) {
  hcp::detail::check_name(target);
  auto const size = send_size(target, text);
  auto w = detail::begin(out, size, frame_type::send);
  w.u32(client_ref);
  w.u8(static_cast<std::uint8_t>(kind));
  w.name(target);
  w.bytes(text);
  return size;
}
inline std::size_t write_ping(std::span<std::byte> out, std::uint64_t token) {
  return detail::write_int_only(out, frame_type::ping, token);
}
inline std::size_t write_who(std::span<std::byte> out) {
  detail::begin(out, who_size(), frame_type::who);
  return who_size();
}
inline std::size_t write_bye(std::span<std::byte> out) {
  detail::begin(out, bye_size(), frame_type::bye);
  return bye_size();
}
inline std::size_t write_welcome(std::span<std::byte> out, std::uint32_t max_frame, std::string_view server_info,
                                 std::uint8_t ver = version) {
  auto const size = welcome_size(server_info);
  auto w = detail::begin(out, size, frame_type::welcome);
  w.u8(ver);
  w.u32(max_frame);
  w.bytes(server_info);
  return size;
}
inline std::size_t write_name_ok(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_only(out, frame_type::name_ok, name);
}
inline std::size_t write_name_refused(std::span<std::byte> out, errc code, std::string_view name,
                                      std::string_view reason) {
  hcp::detail::check_name(name);
  auto const size = name_refused_size(name, reason);
  auto w = detail::begin(out, size, frame_type::name_refused);
  w.u16(static_cast<std::uint16_t>(code));
  w.name(name);
  w.bytes(reason);
  return size;
}
namespace detail {
template <hcp::detail::name_range R>
std::size_t write_name_list(std::span<std::byte> out, frame_type t, R const& names) {
  std::size_t count = 0;
  for (std::string_view n : names) {
    hcp::detail::check_name(n);
    ++count;
  }
  if (count > 0xFFFF) hcp::detail::throw_length("hcp2: more than 65535 users");
  auto const size = users_size(names);
  auto w = begin(out, size, t);
  w.u16(static_cast<std::uint16_t>(count));
  for (std::string_view n : names) w.name(n);
  return size;
}
inline std::size_t write_entries(std::span<std::byte> out, frame_type t, std::span<const roster_entry> entries) {
  check_roster_entries(entries);
  auto const size = roster_size(entries);
  auto w = begin(out, size, t);
  write_roster_entries(w, entries);
  return size;
}
inline std::size_t write_members(std::span<std::byte> out, frame_type t, std::string_view room,
                                 std::span<const roster_entry> members) {
  hcp::detail::check_name(room);
  check_roster_entries(members);
  auto const size = room_members_size(room, members);
  auto w = begin(out, size, t);
  w.name(room);
  write_roster_entries(w, members);
  return size;
}
inline std::size_t write_rooms(std::span<std::byte> out, frame_type t, std::span<const room_entry> rooms) {
  auto const count = check_count(rooms.size());
  for (auto const& r : rooms) hcp::detail::check_name(r.room);
  auto const size = room_list_size(rooms);
  auto w = begin(out, size, t);
  w.u16(count);
  for (auto const& r : rooms) {
    w.name(r.room);
    w.u32(r.members);
  }
  return size;
}
}  // namespace detail

template <hcp::detail::name_range R>
std::size_t write_users(std::span<std::byte> out, R const& names) {
  return detail::write_name_list(out, frame_type::users, names);
}
template <hcp::detail::name_range R>
std::size_t write_users_part(std::span<std::byte> out, R const& names) {
  return detail::write_name_list(out, frame_type::users_part, names);
}
inline std::size_t write_users(std::span<std::byte> out, std::initializer_list<std::string_view> names) {
  return write_users<std::initializer_list<std::string_view>>(out, names);
}
inline std::size_t write_joined(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_only(out, frame_type::joined, name);
}
inline std::size_t write_left(std::span<std::byte> out, std::string_view name) {
  return detail::write_name_only(out, frame_type::left, name);
}
inline std::size_t write_message(std::span<std::byte> out, std::uint64_t id, std::uint64_t timestamp_us,
                                 target_kind kind, std::string_view sender, std::string_view target,
                                 std::string_view text) {
  hcp::detail::check_name(sender);
  hcp::detail::check_name(target);
  auto const size = message_size(sender, target, text);
  auto w = detail::begin(out, size, frame_type::message);
  w.u64(id);
  w.u64(timestamp_us);
  w.u8(static_cast<std::uint8_t>(kind));
  w.name(sender);
  w.name(target);
  w.bytes(text);
  return size;
}
inline std::size_t write_sent(std::span<std::byte> out, std::uint32_t client_ref, std::uint64_t id) {
  auto w = detail::begin(out, sent_size(), frame_type::sent);
  w.u32(client_ref);
  w.u64(id);
  return sent_size();
}
inline std::size_t write_dropped(std::span<std::byte> out, std::uint32_t count) {
  return detail::write_int_only(out, frame_type::dropped, count);
}
inline std::size_t write_pong(std::span<std::byte> out, std::uint64_t token) {
  return detail::write_int_only(out, frame_type::pong, token);
}
inline std::size_t write_error(std::span<std::byte> out, errc code, std::uint32_t client_ref, std::string_view text) {
  auto const size = error_size(text);
  auto w = detail::begin(out, size, frame_type::error);
  w.u16(static_cast<std::uint16_t>(code));
  w.u32(client_ref);
  w.bytes(text);
  return size;
}
inline std::size_t write_register(std::span<std::byte> out, std::string_view name, std::string_view password) {
  return detail::write_name_text(out, frame_type::register_account, name, password);
}
inline std::size_t write_login(std::span<std::byte> out, std::string_view name, std::string_view password) {
  return detail::write_name_text(out, frame_type::login, name, password);
}
inline std::size_t write_roster_request(std::span<std::byte> out) {
  return detail::write_empty(out, frame_type::roster_request);
}
inline std::size_t write_received(std::span<std::byte> out, std::uint64_t id) {
  return detail::write_int_only(out, frame_type::received, id);
}
inline std::size_t write_join(std::span<std::byte> out, std::string_view room) {
  return detail::write_name_only(out, frame_type::join, room);
}
inline std::size_t write_leave(std::span<std::byte> out, std::string_view room) {
  return detail::write_name_only(out, frame_type::leave, room);
}
inline std::size_t write_rooms_request(std::span<std::byte> out) {
  return detail::write_empty(out, frame_type::rooms_request);
}
inline std::size_t write_members_request(std::span<std::byte> out, std::string_view room) {
  return detail::write_name_only(out, frame_type::members_request, room);
}
inline std::size_t write_history_request(std::span<std::byte> out, std::uint64_t after_id) {
  return detail::write_int_only(out, frame_type::history_request, after_id);
}
inline std::size_t write_roster(std::span<std::byte> out, std::span<const roster_entry> entries) {
  return detail::write_entries(out, frame_type::roster, entries);
}
inline std::size_t write_roster_part(std::span<std::byte> out, std::span<const roster_entry> entries) {
  return detail::write_entries(out, frame_type::roster_part, entries);
}
// Entries with status_online are joins, the others leaves.
inline std::size_t write_presence(std::span<std::byte> out, std::span<const roster_entry> entries) {
  return detail::write_entries(out, frame_type::presence, entries);
}
inline std::size_t write_delivered(std::span<std::byte> out, std::uint64_t id, std::string_view recipient) {
  hcp::detail::check_name(recipient);
  auto const size = delivered_size(recipient);
  auto w = detail::begin(out, size, frame_type::delivered);
  w.u64(id);
  w.name(recipient);
  return size;
}
inline std::size_t write_not_delivered(std::span<std::byte> out, std::uint64_t id, errc code,
                                       std::string_view recipient) {
  hcp::detail::check_name(recipient);
  auto const size = not_delivered_size(recipient);
  auto w = detail::begin(out, size, frame_type::not_delivered);
  w.u64(id);
  w.u16(static_cast<std::uint16_t>(code));
  w.name(recipient);
  return size;
}
inline std::size_t write_room_joined(std::span<std::byte> out, std::string_view room, std::string_view user) {
  return detail::write_two_names(out, frame_type::room_joined, room, user);
}
inline std::size_t write_room_left(std::span<std::byte> out, std::string_view room, std::string_view user) {
  return detail::write_two_names(out, frame_type::room_left, room, user);
}
inline std::size_t write_room_list(std::span<std::byte> out, std::span<const room_entry> rooms) {
  return detail::write_rooms(out, frame_type::room_list, rooms);
}
inline std::size_t write_room_list_part(std::span<std::byte> out, std::span<const room_entry> rooms) {
  return detail::write_rooms(out, frame_type::room_list_part, rooms);
}
inline std::size_t write_room_members(std::span<std::byte> out, std::string_view room,
                                      std::span<const roster_entry> members) {
  return detail::write_members(out, frame_type::room_members, room, members);
}
inline std::size_t write_room_members_part(std::span<std::byte> out, std::string_view room,
                                           std::span<const roster_entry> members) {
  return detail::write_members(out, frame_type::room_members_part, room, members);
}
inline std::size_t write_history_end(std::span<std::byte> out, std::uint64_t last_id, bool more) {
  auto w = detail::begin(out, history_end_size(), frame_type::history_end);
  w.u64(last_id);
  w.u8(more ? 1 : 0);
  return history_end_size();
}

// std::string versions.
inline std::string encode_hello(std::uint8_t ver = version, std::uint32_t flags = 0) {
  return hcp::detail::to_string(hello_size(), [&](auto o) { write_hello(o, ver, flags); });
}
inline std::string encode_name(std::string_view name) {
  return hcp::detail::to_string(name_size(name), [&](auto o) { write_name(o, name); });
}
inline std::string encode_send(std::uint32_t client_ref, target_kind kind, std::string_view target,
                               std::string_view text) {
  return hcp::detail::to_string(send_size(target, text),
                                [&](auto o) { write_send(o, client_ref, kind, target, text); });
}
inline std::string encode_ping(std::uint64_t token) {
  return hcp::detail::to_string(ping_size(), [&](auto o) { write_ping(o, token); });
}
inline std::string encode_who() {
  return hcp::detail::to_string(who_size(), [](auto o) { write_who(o); });
}
inline std::string encode_bye() {
  return hcp::detail::to_string(bye_size(), [](auto o) { write_bye(o); });
}
inline std::string encode_welcome(std::uint32_t max_frame, std::string_view server_info, std::uint8_t ver = version) {
  return hcp::detail::to_string(welcome_size(server_info),
                                [&](auto o) { write_welcome(o, max_frame, server_info, ver); });
}
inline std::string encode_name_ok(std::string_view name) {
  return hcp::detail::to_string(name_ok_size(name), [&](auto o) { write_name_ok(o, name); });
}
inline std::string encode_name_refused(errc code, std::string_view name, std::string_view reason) {
  return hcp::detail::to_string(name_refused_size(name, reason),
                                [&](auto o) { write_name_refused(o, code, name, reason); });
}
template <hcp::detail::name_range R>
std::string encode_users(R const& names) {
  return hcp::detail::to_string(users_size(names), [&](auto o) { write_users(o, names); });
}
inline std::string encode_users(std::initializer_list<std::string_view> names) {
  return encode_users<std::initializer_list<std::string_view>>(names);
}
inline std::string encode_joined(std::string_view name) {
  return hcp::detail::to_string(joined_size(name), [&](auto o) { write_joined(o, name); });
}
inline std::string encode_left(std::string_view name) {
  return hcp::detail::to_string(left_size(name), [&](auto o) { write_left(o, name); });
}
inline std::string encode_message(std::uint64_t id, std::uint64_t timestamp_us, target_kind kind,
                                  std::string_view sender, std::string_view target, std::string_view text) {
  return hcp::detail::to_string(message_size(sender, target, text),
                                [&](auto o) { write_message(o, id, timestamp_us, kind, sender, target, text); });
}
inline std::string encode_sent(std::uint32_t client_ref, std::uint64_t id) {
  return hcp::detail::to_string(sent_size(), [&](auto o) { write_sent(o, client_ref, id); });
}
inline std::string encode_dropped(std::uint32_t count) {
  return hcp::detail::to_string(dropped_size(), [&](auto o) { write_dropped(o, count); });
}
inline std::string encode_pong(std::uint64_t token) {
  return hcp::detail::to_string(pong_size(), [&](auto o) { write_pong(o, token); });
}
inline std::string encode_error(errc code, std::uint32_t client_ref, std::string_view text) {
  return hcp::detail::to_string(error_size(text), [&](auto o) { write_error(o, code, client_ref, text); });
}
inline std::string encode_register(std::string_view name, std::string_view password) {
  return hcp::detail::to_string(register_size(name, password), [&](auto o) { write_register(o, name, password); });
}
inline std::string encode_login(std::string_view name, std::string_view password) {
  return hcp::detail::to_string(login_size(name, password), [&](auto o) { write_login(o, name, password); });
}
inline std::string encode_roster_request() {
  return hcp::detail::to_string(roster_request_size(), [](auto o) { write_roster_request(o); });
}
inline std::string encode_received(std::uint64_t id) {
  return hcp::detail::to_string(received_size(), [&](auto o) { write_received(o, id); });
}
inline std::string encode_join(std::string_view room) {
  return hcp::detail::to_string(join_size(room), [&](auto o) { write_join(o, room); });
}
inline std::string encode_leave(std::string_view room) {
  return hcp::detail::to_string(leave_size(room), [&](auto o) { write_leave(o, room); });
}
inline std::string encode_rooms_request() {
  return hcp::detail::to_string(rooms_request_size(), [](auto o) { write_rooms_request(o); });
}
inline std::string encode_members_request(std::string_view room) {
  return hcp::detail::to_string(members_request_size(room), [&](auto o) { write_members_request(o, room); });
}
inline std::string encode_history_request(std::uint64_t after_id) {
  return hcp::detail::to_string(history_request_size(), [&](auto o) { write_history_request(o, after_id); });
}
inline std::string encode_roster(std::span<const roster_entry> entries) {
  return hcp::detail::to_string(roster_size(entries), [&](auto o) { write_roster(o, entries); });
}
inline std::string encode_delivered(std::uint64_t id, std::string_view recipient) {
  return hcp::detail::to_string(delivered_size(recipient), [&](auto o) { write_delivered(o, id, recipient); });
}
inline std::string encode_not_delivered(std::uint64_t id, errc code, std::string_view recipient) {
  return hcp::detail::to_string(not_delivered_size(recipient),
                                [&](auto o) { write_not_delivered(o, id, code, recipient); });
}
inline std::string encode_room_joined(std::string_view room, std::string_view user) {
  return hcp::detail::to_string(room_joined_size(room, user), [&](auto o) { write_room_joined(o, room, user); });
}
inline std::string encode_room_left(std::string_view room, std::string_view user) {
  return hcp::detail::to_string(room_left_size(room, user), [&](auto o) { write_room_left(o, room, user); });
}
inline std::string encode_room_list(std::span<const room_entry> rooms) {
  return hcp::detail::to_string(room_list_size(rooms), [&](auto o) { write_room_list(o, rooms); });
}
inline std::string encode_room_members(std::string_view room, std::span<const roster_entry> members) {
  return hcp::detail::to_string(room_members_size(room, members),
                                [&](auto o) { write_room_members(o, room, members); });
}
inline std::string encode_presence(std::span<const roster_entry> entries) {
  return hcp::detail::to_string(presence_size(entries), [&](auto o) { write_presence(o, entries); });
}
template <hcp::detail::name_range R>
std::string encode_users_part(R const& names) {
  return hcp::detail::to_string(users_size(names), [&](auto o) { write_users_part(o, names); });
}
inline std::string encode_users_part(std::initializer_list<std::string_view> names) {
  return encode_users_part<std::initializer_list<std::string_view>>(names);
}
inline std::string encode_roster_part(std::span<const roster_entry> entries) {
  return hcp::detail::to_string(roster_size(entries), [&](auto o) { write_roster_part(o, entries); });
}
inline std::string encode_room_members_part(std::string_view room, std::span<const roster_entry> members) {
  return hcp::detail::to_string(room_members_size(room, members),
                                [&](auto o) { write_room_members_part(o, room, members); });
}
inline std::string encode_room_list_part(std::span<const room_entry> rooms) {
  return hcp::detail::to_string(room_list_size(rooms), [&](auto o) { write_room_list_part(o, rooms); });
}
inline std::string encode_history_end(std::uint64_t last_id, bool more) {
  return hcp::detail::to_string(history_end_size(), [&](auto o) { write_history_end(o, last_id, more); });
}

}  // namespace hcp::hcp2
