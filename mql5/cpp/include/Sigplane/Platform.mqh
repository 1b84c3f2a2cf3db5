// The C++ platform layer (tests only): found before Include/Sigplane/
// Platform.mqh because the build puts cpp/include first on the include
// path, so the shared code's `#include <Sigplane/Platform.mqh>` means this
// file under g++ and the MQL5 layer under MetaEditor.
#ifndef SIGPLANE_PLATFORM_MQH
#define SIGPLANE_PLATFORM_MQH

#include <Sigplane/PlatformTypes.mqh>
#include "../../platform/platform.hpp"

#endif
