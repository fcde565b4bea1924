// The relay area's FaultLink, built into this area's binary too: the CMake glob gives each area
// only its own sources, and this keeps one copy of the relay.
#include "tests/integration/relay/fault_link.cpp"  // NOLINT(bugprone-suspicious-include)
