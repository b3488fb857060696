// Which protocol a connection speaks, from its first byte: HCP/1, HCP/2 and
// the seed-002 text protocol share one port.
#pragma once

#include <cstddef>

namespace hcp {

// Protocol detection on the shared port from a connection's first byte.
// Total: every byte that starts neither an HCP/2 frame nor an HCP/1 packet
// goes to the text protocol, whose server answers anything but a REGISTER
// with ERROR 101 (seed 002: "in response to any communication until
// registration is complete").
enum class protocol { hcp1, hcp2, text };

constexpr protocol detect_protocol(std::byte first) noexcept {
  auto const b = std::to_integer<unsigned>(first);
  if (b == 0x00) return protocol::hcp2;               // high byte of a u32 length < 16 MiB
  if (b >= 0x01 && b <= 0x05) return protocol::hcp1;  // HCP/1 type byte
  return protocol::text;                              // "REGISTER ...", or anything else
}

}  // namespace hcp
