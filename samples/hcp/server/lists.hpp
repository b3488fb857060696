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
#include <unordered_map>
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

// A list of `items` as pages: `size(page)` is a page's frame size,
// `write(out, page, last)` writes it (the _PART type unless `last`).
// `last_page` (if given) is set to the index of the first item on the last page.
template <class T, class Size, class Write>
std::vector<howdy::shared_buffer> paged(std::span<const T> items, std::size_t empty_size, std::uint32_t max_frame,
                                        Size size, Write write, std::size_t* last_page = nullptr) {
  const auto pages = pages_of(items.size(), empty_size, max_frame, [&](std::size_t i) {
    return size(items.subspan(i, 1)) - empty_size;
  });
  if (last_page) *last_page = pages.back().first;
  std::vector<howdy::shared_buffer> out;
  out.reserve(pages.size());
  for (std::size_t p = 0; p < pages.size(); ++p) {
    auto page = items.subspan(pages[p].first, pages[p].second - pages[p].first);
    const bool last = p + 1 == pages.size();
    out.push_back(frame(size(page), [&](auto o) { return write(o, page, last); }));
  }
  return out;
}

// USERS, paged: USERS_PART ... USERS.
template <class Names>
std::vector<howdy::shared_buffer> users_pages(const Names& names, std::uint32_t max_frame,
                                              std::size_t* last_page = nullptr) {
  using name = typename Names::value_type;
  return paged(
      std::span<const name>(names.data(), names.size()), hcp2::users_size({}), max_frame,
      [](auto page) { return hcp2::users_size(page); },
      [](auto o, auto page, bool last) { return last ? hcp2::write_users(o, page) : hcp2::write_users_part(o, page); },
      last_page);
}

// ROSTER, paged: ROSTER_PART ... ROSTER.
inline std::vector<howdy::shared_buffer> roster_pages(std::span<const hcp2::roster_entry> entries,
                                                      std::uint32_t max_frame) {
  return paged(
      entries, hcp2::roster_size({}), max_frame, [](auto page) { return hcp2::roster_size(page); },
      [](auto o, auto page, bool last) { return last ? hcp2::write_roster(o, page) : hcp2::write_roster_part(o, page); });
}

// ROOM_MEMBERS, paged: ROOM_MEMBERS_PART ... ROOM_MEMBERS.
inline std::vector<howdy::shared_buffer> room_members_pages(std::string_view room,
                                                            std::span<const hcp2::roster_entry> members,
                                                            std::uint32_t max_frame) {
  return paged(
      members, hcp2::room_members_size(room, {}), max_frame,
      [&](auto page) { return hcp2::room_members_size(room, page); },
      [&](auto o, auto page, bool last) {
        return last ? hcp2::write_room_members(o, room, page) : hcp2::write_room_members_part(o, room, page);
      });
}

// ROOM_LIST, paged: ROOM_LIST_PART ... ROOM_LIST.
inline std::vector<howdy::shared_buffer> room_list_pages(std::span<const hcp2::room_entry> rooms,
                                                         std::uint32_t max_frame) {
  return paged(
      rooms, hcp2::room_list_size({}), max_frame, [](auto page) { return hcp2::room_list_size(page); },
      [](auto o, auto page, bool last) {
        return last ? hcp2::write_room_list(o, page) : hcp2::write_room_list_part(o, page);
      });
}

// Each name once, with its state at the end of a batch, in the order of its
// first change (a presence or room batch: applying it again changes nothing).
class final_states {
 public:
  void set(std::string_view name, bool online) {
    const std::uint8_t status = online ? hcp2::status_online : 0;
    if (auto [at, fresh] = position_.try_emplace(name, entries_.size()); fresh)
      entries_.push_back({status, name});
    else
      entries_[at->second].status = status;
  }
  std::span<const hcp2::roster_entry> entries() const noexcept { return entries_; }

 private:
  std::vector<hcp2::roster_entry> entries_;  // names point to the caller's strings
  std::unordered_map<std::string_view, std::size_t> position_;
};

inline std::size_t entry_size(const hcp2::roster_entry& e) { return 2 + e.name.size(); }

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
