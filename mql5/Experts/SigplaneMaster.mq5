//+------------------------------------------------------------------+
//| SigplaneMaster.mq5: publishes this account's positions to a      |
//| sigplane subscription (docs/metatrader.md).                      |
//+------------------------------------------------------------------+
#property copyright   "sigplane"
#property version     "1.00"
#property description "Publishes every open, modify, partial and full close of this account to a sigplane subscription, signed, in order, durably."

// The platform layer first: MQL5's under MetaEditor, the tests' under g++ (mql5/cpp/build.sh).
#include <Sigplane/Platform.mqh>
#include <Sigplane/MasterEa.mqh>

input string ServerUrl             = "wss://sigplane.example.com/v1/master"; // Server URL (wss://host[:port]/v1/master)
input string MasterToken           = "";  // Master token (spm_...)
input string KeyId                 = "";  // MAC key id (shown with the secret)
input string MacSecret             = "";  // MAC secret (64 hex characters)
input int    SigningVersion        = 2;   // Signing: 2, or 1 for the seed's format (no snapshots)
input int    TimerMs               = 10;  // Socket polling interval in ms
input string InstanceName          = "";  // Names the state file when several masters share an account
input string CertificateThumbprint = "";  // Optional: the server certificate's SHA-1 thumbprint (pinning)

SigplaneMasterEa g_master;

int OnInit(void)
  {
   SpMasterConfig config;
   config.serverUrl = ServerUrl;
   config.token = MasterToken;
   config.keyId = KeyId;
   config.macSecret = MacSecret;
   config.signingVersion = SigningVersion;
   config.instance = InstanceName;
   config.pinnedThumbprint = CertificateThumbprint;
   string problem = g_master.Init(config);
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
   g_master.Deinit();
  }

void OnTimer(void)
  {
   g_master.OnTimer();
  }

void OnTick(void)
  {
   g_master.OnTick();
  }

void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result)
  {
   g_master.OnTradeTransaction((int)trans.type, trans.position, trans.price);
  }
