// The platform layer under MetaEditor: MQL5's own API behind the
// functions PlatformTypes.mqh lists. (The tests' C++ build finds
// cpp/include/Sigplane/Platform.mqh instead, first on its include path.)
#ifndef SIGPLANE_PLATFORM_MQH
#define SIGPLANE_PLATFORM_MQH

#include <Sigplane/Platform/Mql5Platform.mqh>

#endif
