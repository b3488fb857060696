// HCP/2: its frames and codecs (hcp2_frames.hpp), encoders (hcp2_encode.hpp)
// and decoder (hcp2_parse.hpp). Include this unless a file needs only one part.
#pragma once

#include "hcp2_encode.hpp"
#include "hcp2_frames.hpp"
#include "hcp2_parse.hpp"
