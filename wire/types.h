// Fixed-size Solana identifiers: the public vocabulary (qlaster/types.hpp), which the
// wire formats use as they are.
#ifndef QLASTER_WIRE_TYPES_H_
#define QLASTER_WIRE_TYPES_H_

#include "qlaster/types.hpp"

#endif  // QLASTER_WIRE_TYPES_H_
