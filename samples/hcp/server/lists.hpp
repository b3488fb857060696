// server/lists.hpp: long lists and presence batches as HCP/2 frames, each
// encoded once. A list longer than one frame (65,535 entries, or the max
// frame's bytes) is paged: every page but the last has the _PART type, the
// last the list's own type (USERS, ROSTER, ROOM_MEMBERS, ROOM_LIST), so a
// client knows the list is complete (docs/protocol.md 2.14). A presence batch
// is one buffer holding one or more frames: PRESENCE frames for clients that
// announced presence batches, JOINED / LEFT (or ROOM_JOINED / ROOM_LEFT)
// frames back to back for the others: one push per recipient either way.
#pragma once

#include "frames.hpp"

#include <howdy.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace hcp {

// [first, last) ranges of entries, one per page: at most 65,535 entries and
// a frame of at most `max_frame` after its length field. `empty_size` is the
// whole frame with no entries, `entry_size(i)` what entry i adds. Always at
// least one page (an empty list is one empty page).
template <class EntrySize>
std::vector<std::pair<std::size_t, std::size_t>> pages_of(std::size_t count, std::size_t empty_size,
                                                          std::uint32_t max_frame, EntrySize entry_size) {
  const std::size_t limit = std::size_t(max_frame) + hcp2::length_field_size;
  std::vector<std::pair<std::size_t, std::size_t>> pages;
  std::size_t first = 0, size = empty_size;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t add = entry_size(i);
    if (i > first && (size + add > limit || i - first == 0xFFFF)) {
      pages.emplace_back(first, i);
      first = i;
      size = empty_size;
    }
    size += add;
  }
  pages.emplace_back(first, count);
  return pages;
}

// USERS, paged: USERS_PART ... USERS. `last_page` (if given) is set to the
// index of the first name on the last page.
template <class Names>
std::vector<howdy::shared_buffer> users_pages(const Names& names, std::uint32_t max_frame,
                                              std::size_t* last_page = nullptr) {
  std::vector<howdy::shared_buffer> out;
  const auto pages = pages_of(names.size(), hcp2::users_size({}), max_frame,
                              [&](std::size_t i) { return 1 + std::string_view(names[i]).size(); });
  if (last_page) *last_page = pages.back().first;
  for (std::size_t p = 0; p < pages.size(); ++p) {
    std::span<const typename Names::value_type> page(names.data() + pages[p].first, pages[p].second - pages[p].first);
    const bool last = p + 1 == pages.size();
    out.push_back(frame(hcp2::users_size(page), [&](auto o) {
      last ? hcp2::write_users(o, page) : hcp2::write_users_part(o, page);
    }));
  }
  return out;
}

inline std::size_t entry_size(const hcp2::roster_entry& e) { return 2 + e.name.size(); }

// ROSTER, paged: ROSTER_PART ... ROSTER.
inline std::vector<howdy::shared_buffer> roster_pages(std::span<const hcp2::roster_entry> entries,
                                                      std::uint32_t max_frame) {
  std::vector<howdy::shared_buffer> out;
  const auto pages =
      pages_of(entries.size(), hcp2::roster_size({}), max_frame, [&](std::size_t i) { return entry_size(entries[i]); });
  for (std::size_t p = 0; p < pages.size(); ++p) {
    auto page = entries.subspan(pages[p].first, pages[p].second - pages[p].first);
    const bool last = p + 1 == pages.size();
    out.push_back(frame(hcp2::roster_size(page), [&](auto o) {
      last ? hcp2::write_roster(o, page) : hcp2::write_roster_part(o, page);
    }));
  }
  return out;
}

// ROOM_MEMBERS, paged: ROOM_MEMBERS_PART ... ROOM_MEMBERS.
inline std::vector<howdy::shared_buffer> room_members_pages(std::string_view room,
                                                            std::span<const hcp2::roster_entry> members,
                                                            std::uint32_t max_frame) {
  std::vector<howdy::shared_buffer> out;
  const auto pages = pages_of(members.size(), hcp2::room_members_size(room, {}), max_frame,
                              [&](std::size_t i) { return entry_size(members[i]); });
  for (std::size_t p = 0; p < pages.size(); ++p) {
    auto page = members.subspan(pages[p].first, pages[p].second - pages[p].first);
    const bool last = p + 1 == pages.size();
    out.push_back(frame(hcp2::room_members_size(room, page), [&](auto o) {
      last ? hcp2::write_room_members(o, room, page) : hcp2::write_room_members_part(o, room, page);
    }));
  }
  return out;
}

// ROOM_LIST, paged: ROOM_LIST_PART ... ROOM_LIST.
inline std::vector<howdy::shared_buffer> room_list_pages(std::span<const hcp2::room_entry> rooms,
                                                         std::uint32_t max_frame) {
  std::vector<howdy::shared_buffer> out;
  const auto pages = pages_of(rooms.size(), hcp2::room_list_size({}), max_frame,
                              [&](std::size_t i) { return 5 + rooms[i].room.size(); });
  for (std::size_t p = 0; p < pages.size(); ++p) {
    auto page = rooms.subspan(pages[p].first, pages[p].second - pages[p].first);
    const bool last = p + 1 == pages.size();
    out.push_back(frame(hcp2::room_list_size(page), [&](auto o) {
      last ? hcp2::write_room_list(o, page) : hcp2::write_room_list_part(o, page);
    }));
  }
  return out;
}

// One buffer of frames written one after the other: `sizes[i]` and
// `write(i, out)` for each.
template <class Size, class Write>
howdy::shared_buffer concatenated(std::size_t count, Size size, Write write) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < count; ++i) total += size(i);
  return howdy::shared_buffer::make(total, [&](std::span<std::byte> out) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < count; ++i) at += write(i, out.subspan(at));
  });
}

// A presence batch for clients with HELLO flag 0x2: PRESENCE frames (several
// when the entries do not fit one), in one buffer.
inline howdy::shared_buffer presence_batch(std::span<const hcp2::roster_entry> entries, std::uint32_t max_frame) {
  const auto pages =
      pages_of(entries.size(), hcp2::presence_size({}), max_frame, [&](std::size_t i) { return entry_size(entries[i]); });
  auto page = [&](std::size_t p) { return entries.subspan(pages[p].first, pages[p].second - pages[p].first); };
  return concatenated(
      pages.size(), [&](std::size_t p) { return hcp2::presence_size(page(p)); },
      [&](std::size_t p, std::span<std::byte> out) { return hcp2::write_presence(out, page(p)); });
}

// The same batch for clients without the flag: JOINED / LEFT frames.
inline howdy::shared_buffer joined_left_batch(std::span<const hcp2::roster_entry> entries) {
  return concatenated(
      entries.size(), [&](std::size_t i) { return hcp2::joined_size(entries[i].name); },
      [&](std::size_t i, std::span<std::byte> out) {
        return (entries[i].status & hcp2::status_online) ? hcp2::write_joined(out, entries[i].name)
                                                         : hcp2::write_left(out, entries[i].name);
      });
}

// A room's batch: ROOM_JOINED / ROOM_LEFT frames, for every member.
inline howdy::shared_buffer room_batch(std::string_view room, std::span<const hcp2::roster_entry> entries) {
  return concatenated(
      entries.size(), [&](std::size_t i) { return hcp2::room_joined_size(room, entries[i].name); },
      [&](std::size_t i, std::span<std::byte> out) {
        return (entries[i].status & hcp2::status_online) ? hcp2::write_room_joined(out, room, entries[i].name)
                                                         : hcp2::write_room_left(out, room, entries[i].name);
      });
}

}  // namespace hcp
