#include "orquestra/orquestra.hpp"

namespace orquestra {

const char* version() { return ORQUESTRA_VERSION; }

}  // namespace orquestra
