// Which protocol a connection speaks, from its first byte: HCP/1, HCP/2 and
// the seed-002 text protocol share one port.
#pragma once

#include <cstddef>

namespace hcp {

// Protocol detection on the shared port from a connection's first byte.
enum class protocol { hcp1, hcp2, text, unknown };

constexpr protocol detect_protocol(std::byte first) noexcept {
  auto const b = std::to_integer<unsigned>(first);
  if (b == 0x00) return protocol::hcp2;               // high byte of a u32 length < 16 MiB
  if (b >= 0x01 && b <= 0x05) return protocol::hcp1;  // HCP/1 type byte
  if (b == 'R') return protocol::text;                // seed-002 text protocol: "REGISTER"
  return protocol::unknown;
}

}  // namespace hcp
