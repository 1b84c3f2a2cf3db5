// The C++ platform layer, all of it (one translation unit per binary).
#ifndef SIGPLANE_CPP_PLATFORM_HPP
#define SIGPLANE_CPP_PLATFORM_HPP

#include <Sigplane/Limits.mqh>
#include "clock-log.hpp"
#include "crypto.hpp"
#include "net.hpp"
#include "db.hpp"
#include "terminal-api.hpp"

#endif
