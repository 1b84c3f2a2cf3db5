//+------------------------------------------------------------------+
//| SigplaneReceiver.mq5: copies a sigplane subscription onto this   |
//| account under the license's copy settings (docs/metatrader.md).  |
//+------------------------------------------------------------------+
#property copyright   "sigplane"
#property version     "1.00"
#property description "Copies a sigplane subscription onto this account, each signal exactly once, with the copy settings of the license."

// The platform layer first: MQL5's under MetaEditor, the tests' under g++ (mql5/cpp/build.sh).
#include <Sigplane/Platform.mqh>
#include <Sigplane/ReceiverEa.mqh>

input string ServerUrl             = "wss://sigplane.example.com/v1/receiver"; // Server URL (wss://host[:port]/v1/receiver)
input string LicenseToken          = "";  // License token (spr_...)
input int    TimerMs               = 10;  // Socket polling interval in ms
input int    Slippage              = 10;  // Largest price deviation of a market order, in points
input string InstanceName          = "";  // Names the state file when several receivers share an account
input string CertificateThumbprint = "";  // Optional: the server certificate's SHA-1 thumbprint (pinning)

SigplaneReceiverEa g_receiver;

int OnInit(void)
  {
   SpReceiverConfig config;
   config.serverUrl = ServerUrl;
   config.token = LicenseToken;
   config.instance = InstanceName;
   config.pinnedThumbprint = CertificateThumbprint;
   PlatformTradeConfigure(Slippage);
   string problem = g_receiver.Init(config);
   if(problem != "")
     {
      PlatformLog(SP_LOG_ERROR, "INIT_FAILED", problem);
      return INIT_PARAMETERS_INCORRECT;
     }
   if(!EventSetMillisecondTimer(TimerMs < 1 ? 1 : TimerMs))
     {
      PlatformLog(SP_LOG_ERROR, "INIT_FAILED", "no timer");
      return INIT_FAILED;
     }
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   g_receiver.Deinit();
  }

void OnTimer(void)
  {
   g_receiver.OnTimer();
  }

void OnTick(void)
  {
   g_receiver.OnTick();
  }
